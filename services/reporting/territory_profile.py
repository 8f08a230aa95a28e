"""A territory's profile: its figures for a school year, their evolution, and its schools."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg
import msgspec

from events.values import parse_school_year
from infra.auth import SchoolPlace
from services.reporting.ent_gar import EntDistribution, territory_ent_by_year
from services.reporting.label_standing import LabelShare, territory_shares_by_year
from services.reporting.territory import (
    LEVELS,
    SchoolRow,
    TerritoryFigures,
    territory_figures_by_year,
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


class EntGarTotals(msgspec.Struct):
    connections: int
    accesses: int
    resources_used: int


async def ent_gar_totals_by_year(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, EntGarTotals]:
    """The territory's ENT connections (last import of each period) and GAR accès (last list of
    each school) for every school year from `first` to `last`, as recorded by `at`."""
    if level not in LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    rows = await conn.fetch(
        f"""WITH members AS (
                SELECT uai FROM reporting.school_versions
                WHERE {level} = $1 AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)),
            ent AS (
                SELECT c.rentree, c.n FROM members m CROSS JOIN LATERAL (
                    SELECT DISTINCT ON (e.rentree, e.period) e.rentree,
                           e.pupil_connections + e.parent_connections + e.teacher_connections AS n
                    FROM reporting.ent_connections e
                    WHERE e.uai = m.uai AND e.rentree BETWEEN $2 AND $4 AND e.recorded_at <= $3
                    ORDER BY e.rentree, e.period, e.recorded_at DESC) c),
            gar AS (
                SELECT g.rentree, g.resource, g.accesses FROM members m CROSS JOIN LATERAL (
                    SELECT l.rentree, max(l.recorded_at) AS at FROM reporting.gar_accesses l
                    WHERE l.uai = m.uai AND l.rentree BETWEEN $2 AND $4 AND l.recorded_at <= $3
                    GROUP BY l.rentree) l
                JOIN reporting.gar_accesses g
                  ON g.uai = m.uai AND g.rentree = l.rentree AND g.recorded_at = l.at),
            -- Each CTE summed once for all years (a subquery a year would redo its lookups).
            ent_sums AS (SELECT rentree, sum(n) AS n FROM ent GROUP BY rentree),
            gar_sums AS (
                SELECT rentree, sum(accesses) AS accesses,
                       count(DISTINCT resource) FILTER (WHERE accesses > 0) AS resources
                FROM gar GROUP BY rentree)
            SELECT y.r, coalesce(e.n, 0) AS connections, coalesce(g.accesses, 0) AS accesses,
                   coalesce(g.resources, 0) AS resources
            FROM generate_series($2::int, $4::int) AS y(r)
            LEFT JOIN ent_sums e ON e.rentree = y.r LEFT JOIN gar_sums g ON g.rentree = y.r""",  # noqa: S608
        code,
        first,
        at,
        last,
    )
    return {
        r["r"]: EntGarTotals(int(r["connections"]), int(r["accesses"]), int(r["resources"]))
        for r in rows
    }


async def first_rentree(conn: asyncpg.Connection) -> int | None:
    first: int | None = await conn.fetchval("SELECT min(rentree) FROM reporting.campaign_versions")
    return first


async def territory_profile(
    conn: asyncpg.Connection, level: str, code: str, school_year: str, at: datetime
) -> TerritoryProfile:
    rentree = parse_school_year(school_year)
    start = min(await first_rentree(conn) or rentree, rentree)
    # Each concern once for every year of the evolution (a pass over each member's rows), not
    # once a year.
    figures = await territory_figures_by_year(conn, level, code, start, rentree, at)
    totals = await ent_gar_totals_by_year(conn, level, code, start, rentree, at)
    ent = await territory_ent_by_year(conn, level, code, start, rentree, at)
    labels = await territory_shares_by_year(conn, level, code, start, rentree, at)
    evolution = [
        TerritoryYear(
            rentree=r,
            school_year=f.school_year,
            schools=f.schools,
            response_rate=f.response_rate,
            index_distribution=f.index_distribution,
            teacher_share=f.teacher_share,
            pupil_share=f.pupil_share,
            usages_declared=f.usages_declared,
            ent=ent[r],
            ent_connections=totals[r].connections,
            gar_accesses=totals[r].accesses,
            gar_resources_used=totals[r].resources_used,
            label=labels[r],
        )
        for r, f in sorted(figures.items())
    ]
    return TerritoryProfile(
        level=level,
        code=code,
        produced_at=datetime.now(at.tzinfo),
        figures=figures[rentree],
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
