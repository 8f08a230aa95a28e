"""A territory's profile: its figures for a school year, their evolution, and its schools."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg
import msgspec

from events.values import parse_school_year
from infra.auth import SchoolPlace
from services.reporting.ent_gar import EntDistribution, territory_ent_distribution
from services.reporting.label_standing import LabelShare, territory_share
from services.reporting.territory import (
    LEVELS,
    SchoolRow,
    TerritoryFigures,
    territory_figures,
    territory_schools,
)


class TerritoryYear(msgspec.Struct):
    rentree: int
    school_year: str
    schools: int
    response_rate: float | None
    index_distribution: dict[str, float]
    teacher_share: float | None
    pupil_share: float | None
    usages_declared: int
    ent: EntDistribution
    ent_connections: int
    gar_accesses: int
    gar_resources_used: int
    label: LabelShare


class TerritoryProfile(msgspec.Struct):
    level: str
    code: str
    produced_at: datetime
    figures: TerritoryFigures
    evolution: list[TerritoryYear]
    schools: list[SchoolRow]


async def territory_places(
    conn: asyncpg.Connection, level: str, code: str, at: datetime
) -> list[SchoolPlace]:
    if level not in LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    rows = await conn.fetch(
        f"""SELECT DISTINCT uai, circonscription, bassin, departement, academie
            FROM reporting.school_versions WHERE {level} = $1 AND valid_from <= $2""",  # noqa: S608
        code,
        at,
    )
    return [SchoolPlace(**dict(r)) for r in rows]


async def ent_gar_totals(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> tuple[int, int, int]:
    """The territory's ENT connections (last import of each period) and GAR accès (last list of
    each school) for one school year, as recorded by `at`."""
    if level not in LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    row = await conn.fetchrow(
        f"""WITH members AS (
                SELECT uai FROM reporting.school_versions
                WHERE {level} = $1 AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)),
            ent AS (
                SELECT c.n FROM members m CROSS JOIN LATERAL (
                    SELECT DISTINCT ON (e.period)
                           e.pupil_connections + e.parent_connections + e.teacher_connections AS n
                    FROM reporting.ent_connections e
                    WHERE e.uai = m.uai AND e.rentree = $2 AND e.recorded_at <= $3
                    ORDER BY e.period, e.recorded_at DESC) c),
            gar AS (
                SELECT g.resource, g.accesses FROM members m CROSS JOIN LATERAL (
                    SELECT max(l.recorded_at) AS at FROM reporting.gar_accesses l
                    WHERE l.uai = m.uai AND l.rentree = $2 AND l.recorded_at <= $3) l
                JOIN reporting.gar_accesses g
                  ON g.uai = m.uai AND g.rentree = $2 AND g.recorded_at = l.at)
            SELECT (SELECT coalesce(sum(n), 0) FROM ent) AS connections,
                   (SELECT coalesce(sum(accesses), 0) FROM gar) AS accesses,
                   (SELECT count(DISTINCT resource) FROM gar WHERE accesses > 0) AS resources""",  # noqa: S608
        code,
        rentree,
        at,
    )
    assert row is not None
    return int(row["connections"]), int(row["accesses"]), int(row["resources"])


async def first_rentree(conn: asyncpg.Connection) -> int | None:
    first: int | None = await conn.fetchval("SELECT min(rentree) FROM reporting.campaign_versions")
    return first


async def territory_profile(
    conn: asyncpg.Connection, level: str, code: str, school_year: str, at: datetime
) -> TerritoryProfile:
    rentree = parse_school_year(school_year)
    figures = await territory_figures(conn, level, code, rentree, at)
    start = min(await first_rentree(conn) or rentree, rentree)
    evolution = []
    for r in range(start, rentree + 1):
        f = figures if r == rentree else await territory_figures(conn, level, code, r, at)
        connections, accesses, resources = await ent_gar_totals(conn, level, code, r, at)
        evolution.append(
            TerritoryYear(
                rentree=r,
                school_year=f.school_year,
                schools=f.schools,
                response_rate=f.response_rate,
                index_distribution=f.index_distribution,
                teacher_share=f.teacher_share,
                pupil_share=f.pupil_share,
                usages_declared=f.usages_declared,
                ent=await territory_ent_distribution(conn, level, code, f.school_year, at),
                ent_connections=connections,
                gar_accesses=accesses,
                gar_resources_used=resources,
                label=await territory_share(conn, level, code, r, at),
            )
        )
    return TerritoryProfile(
        level=level,
        code=code,
        produced_at=datetime.now(figures.as_of.tzinfo),
        figures=figures,
        evolution=evolution,
        schools=await territory_schools(conn, level, code, rentree, at),
    )


CSV_HEADER = (
    "uai", "nom", "type", "commune", "a_repondu", "indice_equipement", "classes",
    "classes_equipement_enseignant", "classes_equipement_eleves", "usages",
)  # fmt: skip


def schools_csv(rows: list[SchoolRow]) -> str:
    """The school rows as a French spreadsheet reads them: `;`-separated, UTF-8 with BOM."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [r.uai, r.name, r.kind, r.commune, "oui" if r.answered else "non",
             "" if r.equipment_index is None else r.equipment_index,
             "" if r.classes is None else r.classes,
             "" if r.teacher_classes is None else r.teacher_classes,
             "" if r.pupil_classes is None else r.pupil_classes, r.usages]
        )  # fmt: skip
    return out.getvalue()
