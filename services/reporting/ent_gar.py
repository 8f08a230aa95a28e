"""ENT and GAR figures read from the read models: a school's ENT index and connections, its GAR
resources, and a territory's distribution of ENT indices, per school year.

Every read answers as the record stood at a moment (`as_of`, default now): only what was
recorded by then counts, as in the profiles. The ENT index is computed here, from the raw
connections, under the rule in force for the year (`events.ent.rule_for`): a new rule changes
every index without a replay. Whether a school uses the ENT is its declaration's A7 for the
year, or the latest earlier one carried forward (as in the profile); a school that does not, or
that declared nothing, has no index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
import msgspec

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


def _total(r: asyncpg.Record) -> int:
    total: int = r["pupil_connections"] + r["parent_connections"] + r["teacher_connections"]
    return total


def _school_ent(uai: str, rentree: int, rows: list[asyncpg.Record]) -> SchoolEnt:
    rule = rule_for(rentree)
    periods: list[EntPeriod] = []
    figures: list[PeriodFigures] = []
    for r in sorted(rows, key=lambda r: r["period"]):
        f = PeriodFigures(r["period"], _total(r), r["enrolled_pupils"])
        figures.append(f)
        value = ratio(f.connections, f.pupils)
        periods.append(
            EntPeriod(
                period=r["period"],
                pupil_connections=r["pupil_connections"],
                parent_connections=r["parent_connections"],
                teacher_connections=r["teacher_connections"],
                connections=f.connections,
                enrolled_pupils=r["enrolled_pupils"],
                pupils_source=r["pupils_source"],
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


async def _ent_rows(
    conn: asyncpg.Connection, uai: str, at: datetime, rentree: int | None
) -> dict[int, list[asyncpg.Record]]:
    """The figures in force at `at` of each period, by rentrée (one rentrée, or all)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (rentree, period) * FROM reporting.ent_connections "
        "WHERE uai = $1 AND recorded_at <= $2 AND ($3::integer IS NULL OR rentree = $3) "
        "ORDER BY rentree, period, recorded_at DESC",
        uai,
        at,
        rentree,
    )
    by_rentree: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_rentree[r["rentree"]].append(r)
    return by_rentree


async def school_ent(
    conn: asyncpg.Connection, uai: str, school_year: str, as_of: datetime | None = None
) -> SchoolEnt | None:
    """The school's ENT index of `school_year`; None when it does not use the ENT (A7) or no
    connections were imported for the year."""
    at, rentree = _moment(as_of), parse_school_year(school_year)
    if not _uses_ent_in(await _uses_ent(conn, uai, at), rentree):
        return None
    rows = (await _ent_rows(conn, uai, at, rentree)).get(rentree)
    return _school_ent(uai, rentree, rows) if rows else None


async def school_ent_years(
    conn: asyncpg.Connection, uai: str, as_of: datetime | None = None
) -> dict[int, SchoolEnt]:
    """The ENT index of every school year with connections imported, by rentrée, for the years
    the school used the ENT (for its evolution)."""
    at = _moment(as_of)
    declared = await _uses_ent(conn, uai, at)
    return {
        rentree: _school_ent(uai, rentree, rows)
        for rentree, rows in sorted((await _ent_rows(conn, uai, at, None)).items())
        if _uses_ent_in(declared, rentree)
    }


async def _gar_rows(
    conn: asyncpg.Connection, uai: str, at: datetime, rentree: int | None
) -> dict[int, list[asyncpg.Record]]:
    """The resources of the latest import by `at` of each school year (one, or all)."""
    rows = await conn.fetch(
        """SELECT l.rentree, r.resource, r.accesses
           FROM (SELECT DISTINCT ON (rentree) rentree, resources, accesses
                 FROM reporting.gar_accesses
                 WHERE uai = $1 AND recorded_at <= $2 AND ($3::integer IS NULL OR rentree = $3)
                 ORDER BY rentree, recorded_at DESC) l,
                unnest(l.resources, l.accesses) AS r(resource, accesses)""",
        uai,
        at,
        rentree,
    )
    by_rentree: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_rentree[r["rentree"]].append(r)
    return by_rentree


def _school_gar(uai: str, rentree: int, rows: list[asyncpg.Record]) -> SchoolGar:
    resources = sorted(
        (GarResource(r["resource"], r["accesses"]) for r in rows),
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
    rows = (await _gar_rows(conn, uai, _moment(as_of), rentree)).get(rentree)
    return _school_gar(uai, rentree, rows) if rows else None


async def school_gar_years(
    conn: asyncpg.Connection, uai: str, as_of: datetime | None = None
) -> dict[int, SchoolGar]:
    """The school's GAR resources of every school year imported, by rentrée."""
    by_rentree = await _gar_rows(conn, uai, _moment(as_of), None)
    return {
        rentree: _school_gar(uai, rentree, rows) for rentree, rows in sorted(by_rentree.items())
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
