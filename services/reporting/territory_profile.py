"""A territory's profile: its figures for a school year, their evolution, and its schools."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg
import msgspec

from events.values import parse_school_year
from infra.auth import SchoolPlace
from services.reporting.ent_gar import EntDistribution, ent_distribution
from services.reporting.label_standing import LabelShare, label_share
from services.reporting.territory import (
    LEVELS,
    SchoolRow,
    TerritoryFigures,
    territory_schools,
    territory_top_usages,
    year_figures,
)
from services.reporting.territory_sums import YearSums, territory_sums


class TerritoryYear(msgspec.Struct):
    rentree: int
    school_year: str
    schools: int
    schools_asked: int  # the écoles, which the campaign asks to declare
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


def ent_gar_totals(sums: YearSums) -> EntGarTotals:
    return EntGarTotals(sums.ent_connections, sums.gar_accesses, sums.gar_resources)


async def ent_gar_totals_by_year(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, EntGarTotals]:
    """The territory's ENT connections (last import of each period) and GAR accès (last list of
    each school) for every school year from `first` to `last`, as recorded by `at`."""
    sums = await territory_sums(conn, level, code, first, last, at, parts=("totals",))
    return {r: ent_gar_totals(s) for r, s in sums.items()}


async def first_rentree(conn: asyncpg.Connection) -> int | None:
    first: int | None = await conn.fetchval("SELECT min(rentree) FROM reporting.campaign_versions")
    return first


async def territory_profile(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    school_year: str,
    at: datetime,
    now: bool = False,
) -> TerritoryProfile:
    rentree = parse_school_year(school_year)
    start = min(await first_rentree(conn) or rentree, rentree)
    sums = await territory_sums(conn, level, code, start, rentree, at, now=now)
    top = await territory_top_usages(conn, level, code, rentree, at, now)
    evolution = []
    for r, year in sorted(sums.items()):
        f = year_figures(level, code, at, year, [])
        evolution.append(
            TerritoryYear(
                rentree=r,
                school_year=f.school_year,
                schools=f.schools,
                schools_asked=f.schools_asked,
                response_rate=f.response_rate,
                index_distribution=f.index_distribution,
                teacher_share=f.teacher_share,
                pupil_share=f.pupil_share,
                usages_declared=f.usages_declared,
                ent=ent_distribution(level, code, year),
                ent_connections=year.ent_connections,
                gar_accesses=year.gar_accesses,
                gar_resources_used=year.gar_resources,
                label=label_share(level, code, year),
            )
        )
    return TerritoryProfile(
        level=level,
        code=code,
        produced_at=datetime.now(at.tzinfo),
        figures=year_figures(level, code, at, sums[rentree], top),
        evolution=evolution,
        schools=await territory_schools(conn, level, code, rentree, at, now),
    )


CSV_HEADER = (
    "uai", "nom", "type", "commune", "a_repondu", "indice_equipement", "classes",
    "classes_equipement_enseignant", "classes_equipement_eleves", "usages", "niveau_label",
    "indice_ent",
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
             "" if r.pupil_classes is None else r.pupil_classes, r.usages,
             "" if r.label_level is None else r.label_level,
             "" if r.ent_index is None else r.ent_index]
        )  # fmt: skip
    return out.getvalue()
