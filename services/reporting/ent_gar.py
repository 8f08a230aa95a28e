"""ENT and GAR figures: a school's ENT index and connections, its GAR resources (read from the
record, `on_record.py`), and a territory's distribution of ENT indices (from the read
models), per school year.

Every read answers as the record stood at a moment (`as_of`, default now): only what was
recorded by then counts, as in the profiles. The ENT index is computed here, from the raw
connections, under the rule in force for the year (`events.ent.rule_for`): a new rule changes
every index without a replay. Whether a school uses the ENT is its declaration's A7 for the
year, or the latest earlier one carried forward (as in the profile); a school that does not, or
that declared nothing, has no index.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import msgspec

from events.data_imports import EntConnectionsImported
from events.ent import (
    PeriodFigures,
    explanation,
    index_for,
    next_step,
    periods_reached,
    ratio,
    reaches,
    rule_for,
)
from events.values import parse_school_year, school_year_of_rentree
from services.reporting.on_record import ent_in_force, gar_in_force
from services.reporting.territory_sums import YearSums, territory_sums


class EntPeriod(msgspec.Struct):
    period: int
    pupil_connections: int
    parent_connections: int
    teacher_connections: int
    connections: int  # the three profiles together: what the index counts
    enrolled_pupils: int
    pupils_source: str  # "fichier" (the file's effectif) or "registre"
    ratio: float | None  # connections per enrolled pupil, rounded to 2 decimals
    reached: bool  # the period reached the rule's ratio


class SchoolEnt(msgspec.Struct):
    """A school's ENT index of one school year, from the periods imported so far."""

    uai: str
    school_year: str
    rentree: int
    index: int  # 0–3
    explanation: str
    next_step: str | None
    rule_since: int  # the rentrée of the rule the index was computed under
    periods_reached: int
    connections: int  # every period, every profile
    periods: list[EntPeriod]


class GarResource(msgspec.Struct):
    resource: str
    accesses: int


class SchoolGar(msgspec.Struct):
    """The GAR resources a school used in one school year (most accessed first)."""

    uai: str
    school_year: str
    rentree: int
    resources_used: int  # resources with at least one access
    accesses: int
    resources: list[GarResource]


class EntDistribution(msgspec.Struct):
    """A territory's ENT use for one school year, among its open schools that declared.

    `using_ent_share` is the share of declared schools using the ENT (A7); `index_distribution`
    gives, for "0" to "3", the share of the schools using the ENT that have that index (schools
    using it with no connections imported yet have none: `schools_without_figures`). Shares are
    percentages, None without schools to divide by."""

    territory: str
    school_year: str
    schools_declared: int
    schools_using_ent: int
    using_ent_share: float | None
    schools_without_figures: int
    index_distribution: dict[str, float | None]


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _moment(as_of: datetime | None) -> datetime:
    now = datetime.now(UTC)
    return min(as_of, now) if as_of is not None else now


def _school_ent(uai: str, rentree: int, imports: list[EntConnectionsImported]) -> SchoolEnt:
    rule = rule_for(rentree)
    periods: list[EntPeriod] = []
    figures: list[PeriodFigures] = []
    for e in sorted(imports, key=lambda e: e.period):
        c = e.connections
        f = PeriodFigures(e.period, c.total, e.enrolled_pupils)
        figures.append(f)
        value = ratio(f.connections, f.pupils)
        periods.append(
            EntPeriod(
                period=e.period,
                pupil_connections=c.pupils,
                parent_connections=c.parents,
                teacher_connections=c.teachers,
                connections=f.connections,
                enrolled_pupils=e.enrolled_pupils,
                pupils_source=e.pupils_source,
                ratio=round(float(value), 2) if value is not None else None,
                reached=reaches(f, rule),
            )
        )
    reached = periods_reached(figures, rule)
    return SchoolEnt(
        uai=uai,
        school_year=school_year_of_rentree(rentree),
        rentree=rentree,
        index=index_for(reached, rule),
        explanation=explanation(reached, len(periods), rule),
        next_step=next_step(reached, rule),
        rule_since=rule.since,
        periods_reached=reached,
        connections=sum(p.connections for p in periods),
        periods=periods,
    )


async def _uses_ent(conn: asyncpg.Connection, uai: str, at: datetime) -> dict[int, bool]:
    """A7 of each rentrée the school had declared for by `at`."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (rentree) rentree, ent FROM reporting.declaration_versions "
        "WHERE uai = $1 AND valid_from <= $2 ORDER BY rentree, valid_from DESC",
        uai,
        at,
    )
    return {r["rentree"]: r["ent"] for r in rows}


def _uses_ent_in(declared: dict[int, bool], rentree: int) -> bool:
    """The year's answer, or the latest earlier one carried forward."""
    earlier = [r for r in declared if r <= rentree]
    return bool(earlier) and declared[max(earlier)]


async def school_ent(
    conn: asyncpg.Connection, uai: str, school_year: str, as_of: datetime | None = None
) -> SchoolEnt | None:
    """The school's ENT index of `school_year`; None when it does not use the ENT (A7) or no
    connections were imported for the year."""
    at, rentree = _moment(as_of), parse_school_year(school_year)
    if not _uses_ent_in(await _uses_ent(conn, uai, at), rentree):
        return None
    imports = (await ent_in_force(conn, uai, at, rentree)).get(rentree)
    return _school_ent(uai, rentree, list(imports.values())) if imports else None


async def school_ent_years(
    conn: asyncpg.Connection, uai: str, as_of: datetime | None = None
) -> dict[int, SchoolEnt]:
    """The ENT index of every school year with connections imported, by rentrée, for the years
    the school used the ENT (for its evolution)."""
    at = _moment(as_of)
    declared = await _uses_ent(conn, uai, at)
    return {
        rentree: _school_ent(uai, rentree, list(imports.values()))
        for rentree, imports in sorted((await ent_in_force(conn, uai, at, None)).items())
        if _uses_ent_in(declared, rentree)
    }


def _school_gar(uai: str, rentree: int, accesses: list[tuple[str, int]]) -> SchoolGar:
    resources = sorted(
        (GarResource(resource, n) for resource, n in accesses),
        key=lambda g: (-g.accesses, g.resource.casefold()),
    )
    return SchoolGar(
        uai=uai,
        school_year=school_year_of_rentree(rentree),
        rentree=rentree,
        resources_used=sum(1 for g in resources if g.accesses > 0),
        accesses=sum(g.accesses for g in resources),
        resources=resources,
    )


async def school_gar(
    conn: asyncpg.Connection, uai: str, school_year: str, as_of: datetime | None = None
) -> SchoolGar | None:
    """The school's GAR resources of `school_year`; None when nothing was imported for it."""
    rentree = parse_school_year(school_year)
    accesses = (await gar_in_force(conn, uai, _moment(as_of), rentree)).get(rentree)
    return _school_gar(uai, rentree, accesses) if accesses else None


async def school_gar_years(
    conn: asyncpg.Connection, uai: str, as_of: datetime | None = None
) -> dict[int, SchoolGar]:
    """The school's GAR resources of every school year imported, by rentrée."""
    by_rentree = await gar_in_force(conn, uai, _moment(as_of), None)
    return {
        rentree: _school_gar(uai, rentree, accesses)
        for rentree, accesses in sorted(by_rentree.items())
    }


def ent_distribution(level: str, code: str, sums: YearSums) -> EntDistribution:
    """The ENT use and indices of a territory's schools for one school year."""
    using = sums.with_ent
    return EntDistribution(
        territory=f"{level}:{code}",
        school_year=school_year_of_rentree(sums.rentree),
        schools_declared=sums.declared,
        schools_using_ent=using,
        using_ent_share=_share(using, sums.declared),
        schools_without_figures=using - sums.ent_figures,
        index_distribution={str(i): _share(n, using) for i, n in enumerate(sums.ent_indices())},
    )


async def territory_ent_by_year(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    first: int,
    last: int,
    as_of: datetime | None = None,
) -> dict[int, EntDistribution]:
    """The ENT use and indices of a territory's schools (`level` one of LEVELS), for
    every school year from the rentrée `first` to `last`."""
    sums = await territory_sums(
        conn, level, code, first, last, _moment(as_of), parts=("figures", "ent")
    )
    return {r: ent_distribution(level, code, s) for r, s in sums.items()}


async def territory_ent_distribution(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    school_year: str,
    as_of: datetime | None = None,
) -> EntDistribution:
    """The ENT use and indices of a territory's schools for one school year."""
    rentree = parse_school_year(school_year)
    return (await territory_ent_by_year(conn, level, code, rentree, rentree, as_of))[rentree]


async def academie_ent_distribution(
    conn: asyncpg.Connection, academie: str, school_year: str, as_of: datetime | None = None
) -> EntDistribution:
    """The académie's ENT distribution, to situate a school in its profile."""
    return await territory_ent_distribution(conn, "academie", academie, school_year, as_of)
