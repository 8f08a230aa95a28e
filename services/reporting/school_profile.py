"""A school's profile, read from the read models: equipment, usages, comparison, evolution."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import msgspec

from events.ent import NO_INDEX
from events.equipment import EXPLANATIONS, next_step
from events.values import parse_school_year, school_year_of_rentree, school_year_on
from infra.auth import SchoolPlace
from services.reporting.ent_gar import (
    EntDistribution,
    SchoolEnt,
    SchoolGar,
    ent_distribution,
    school_ent_years,
    school_gar_years,
)
from services.reporting.label_standing import SchoolLabel, label_share, school_label
from services.reporting.model_memory import usage_codes
from services.reporting.territory import TerritoryFigures, usage_names, year_figures
from services.reporting.territory_sums import territory_sums


class Usage(msgspec.Struct):
    code: str
    title: str
    summary: str


class EquipmentOut(msgspec.Struct):
    index: int
    explanation: str
    next_step: str | None
    classes: int
    teacher_classes: int
    teacher_share: float
    pupil_classes: int
    pupil_share: float


class DeclarationInfo(msgspec.Struct):
    school_year: str
    confirmed: bool
    recorded_at: datetime
    carried_forward: bool  # answers of an earlier year, not yet confirmed for this one


class Comparison(msgspec.Struct):
    """The académie's schools for the same school year."""

    territory: str
    schools: int
    schools_declared: int
    teacher_share: float | None
    pupil_share: float | None
    robot_school_share: float | None
    ent_school_share: float | None
    index_distribution: dict[str, float]
    usages_declared: int
    # Schools using the ENT-école, and their ENT indices (share of those schools).
    ent_index_distribution: EntDistribution | None = None


class YearPoint(msgspec.Struct):
    rentree: int
    school_year: str
    equipment_index: int | None
    classes: int | None
    teacher_classes: int | None
    pupil_classes: int | None
    usages_declared: int
    ent_index: int | None = None
    ent_connections: int | None = None
    gar_resources_used: int | None = None
    gar_accesses: int | None = None


class SchoolProfile(msgspec.Struct):
    uai: str
    name: str
    kind: str
    commune: str
    circonscription: str | None
    bassin: str | None
    departement: str
    academie: str
    school_year: str
    produced_at: datetime
    as_of: datetime  # only what was recorded by then counts
    declaration: DeclarationInfo | None
    equipment: EquipmentOut | None
    internet: str | None
    robots: int | None
    web_radio: bool | None
    web_tv: bool | None
    fab_lab: bool | None
    ent: bool | None
    usages: list[Usage]
    academie_comparison: Comparison
    evolution: list[YearPoint]
    # Label numérique: the award held in the school year, the board's levels, the shares of
    # labelled schools of the circonscription or bassin and of the académie, as of `as_of`.
    label: SchoolLabel | None = None
    # The ENT-école index of the year (None: no ENT-école, another ENT, or no figures yet).
    ent_index: SchoolEnt | None = None
    ent_explanation: str = NO_INDEX
    gar: SchoolGar | None = None


def share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


_VALID_AT = "valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)"


async def school_version(conn: asyncpg.Connection, uai: str, at: datetime) -> asyncpg.Record | None:
    """The school as the register stood at `at` (None: not registered then)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT * FROM reporting.school_versions WHERE uai = $1 AND {_VALID_AT}",  # noqa: S608
        uai,
        at,
    )
    return row


async def school_place(
    conn: asyncpg.Connection, uai: str, at: datetime | None = None
) -> SchoolPlace | None:
    row = await school_version(conn, uai, at or datetime.now(UTC))
    if row is None:
        return None
    return SchoolPlace(
        row["uai"], row["circonscription"], row["bassin"], row["departement"], row["academie"]
    )


async def default_school_year(conn: asyncpg.Connection, academie: str, at: datetime) -> str:
    """The latest campaign opened by `at`, or the school year `at` falls in."""
    latest = await conn.fetchval(
        "SELECT max(school_year) FROM reporting.campaign_versions "
        "WHERE academie = $1 AND recorded_at <= $2",
        academie,
        at,
    )
    return str(latest) if latest else school_year_on(at)


def usages_at(sets: list[asyncpg.Record], until: datetime) -> list[str]:
    """The codes of the latest set recorded by `until` (`sets` in recording order)."""
    latest = None
    for s in sets:
        if s["valid_from"] > until:
            break
        latest = s["codes"]
    return [] if latest is None else usage_codes(latest)


def end_of(rentree: int) -> datetime:
    """The last moment of a school year (31 August, midnight, Paris time is close enough: UTC)."""
    return datetime(rentree + 1, 9, 1, tzinfo=UTC)


def comparison_of(figures: TerritoryFigures, ent: EntDistribution | None = None) -> Comparison:
    return Comparison(
        ent_index_distribution=ent,
        territory=figures.territory,
        schools=figures.schools,
        schools_declared=figures.schools_declared,
        teacher_share=figures.teacher_share,
        pupil_share=figures.pupil_share,
        robot_school_share=figures.robot_school_share,
        ent_school_share=figures.ent_school_share,
        index_distribution=figures.index_distribution,
        usages_declared=figures.usages_declared,
    )


async def school_profile(
    conn: asyncpg.Connection,
    uai: str,
    school_year: str | None,
    as_of: datetime | None = None,
    now: bool = False,
) -> SchoolProfile | None:
    """The profile of a school for a school year, as the record stood at `as_of` (default now):
    only what was recorded by then counts, so a past answer never changes (`now`: the present,
    as far as the projections have gone)."""
    produced = datetime.now(UTC)
    at = min(as_of or produced, produced)
    school = await school_version(conn, uai, at)
    if school is None:
        return None
    year = school_year or await default_school_year(conn, school["academie"], at)
    rentree = parse_school_year(year)
    versions = await conn.fetch(
        "SELECT DISTINCT ON (rentree) * FROM reporting.declaration_versions "
        "WHERE uai = $1 AND valid_from <= $2 ORDER BY rentree, valid_from DESC",
        uai,
        at,
    )
    sets = await conn.fetch(
        "SELECT valid_from, codes FROM reporting.usage_sets "
        "WHERE uai = $1 AND valid_from <= $2 ORDER BY valid_from",
        uai,
        at,
    )
    effective = next((d for d in reversed(versions) if d["rentree"] <= rentree), None)
    usages_moment = min(at, end_of(rentree))
    codes = usages_at(sets, usages_moment)
    names = await usage_names(conn, "academie", school["academie"], codes, usages_moment)
    equipment = None
    if effective is not None:
        c, t, p = effective["classes"], effective["teacher_classes"], effective["pupil_classes"]
        index = effective["equipment_index"]
        equipment = EquipmentOut(
            index, EXPLANATIONS[index], next_step(c, t, p), c, t, share(t, c), p, share(p, c)
        )
    ent_years = await school_ent_years(conn, uai, at)
    gar_years = await school_gar_years(conn, uai, at)
    by_rentree = {d["rentree"]: d for d in versions}
    first_campaign = await conn.fetchval(
        "SELECT min(rentree) FROM reporting.campaign_versions "
        "WHERE academie = $1 AND recorded_at <= $2",
        school["academie"],
        at,
    )
    first = min([*by_rentree, rentree, *([first_campaign] if first_campaign else [])])
    evolution = []
    for r in range(first, rentree + 1):
        d = by_rentree.get(r)
        evolution.append(
            YearPoint(
                rentree=r,
                school_year=school_year_of_rentree(r),
                equipment_index=d["equipment_index"] if d else None,
                classes=d["classes"] if d else None,
                teacher_classes=d["teacher_classes"] if d else None,
                pupil_classes=d["pupil_classes"] if d else None,
                usages_declared=len(usages_at(sets, min(at, end_of(r)))),
                ent_index=ent_years[r].index if r in ent_years else None,
                ent_connections=ent_years[r].connections if r in ent_years else None,
                gar_resources_used=gar_years[r].resources_used if r in gar_years else None,
                gar_accesses=gar_years[r].accesses if r in gar_years else None,
            )
        )
    e = effective
    # The académie's sums of the year, read once for the comparison, its ENT and label shares.
    code = school["academie"]
    sums = (await territory_sums(conn, "academie", code, rentree, rentree, at, now=now))[rentree]
    return SchoolProfile(
        uai=uai,
        name=school["name"],
        kind=school["kind"],
        commune=school["commune"],
        circonscription=school["circonscription"],
        bassin=school["bassin"],
        departement=school["departement"],
        academie=school["academie"],
        school_year=year,
        produced_at=produced,
        as_of=at,
        declaration=DeclarationInfo(
            school_year_of_rentree(e["rentree"]),
            e["confirmed"],
            e["valid_from"],
            e["rentree"] != rentree,
        )
        if e
        else None,
        equipment=equipment,
        internet=e["internet"] if e else None,
        robots=e["robots"] if e else None,
        web_radio=e["web_radio"] if e else None,
        web_tv=e["web_tv"] if e else None,
        fab_lab=e["fab_lab"] if e else None,
        ent=e["ent"] if e else None,
        usages=[Usage(c, *names.get(c, (c, ""))) for c in sorted(codes)],
        academie_comparison=comparison_of(
            year_figures("academie", code, at, sums, []), ent_distribution("academie", code, sums)
        ),
        evolution=evolution,
        label=await school_label(conn, uai, rentree, at, label_share("academie", code, sums)),
        ent_index=ent_years.get(rentree),
        ent_explanation=ent_years[rentree].explanation if rentree in ent_years else NO_INDEX,
        gar=gar_years.get(rentree),
    )
