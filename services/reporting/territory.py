"""A territory's figures for a school year, as the record stood at a moment: its schools, the
campaign's response rate, equipment indices, classes equipped, usages."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from events.values import school_year_of_rentree
from infra.auth import TERRITORY_LEVELS
from infra.errors import FieldError
from infra.text import control_error
from services.reporting.cell_projector import TRACKING as CELLS_TRACKING
from services.reporting.ent_gar import school_ent
from services.reporting.freshness import projected_through
from services.reporting.sums_from_members import MEMBERS
from services.reporting.territory_sums import YearSums, territory_sums, top_usages

LEVELS = TERRITORY_LEVELS
_FIGURES = ("figures", "usages")  # the sums a territory's figures are made of


class UsageCount(msgspec.Struct):
    code: str
    title: str  # as the territory's académie's catalogue named it at the moment (else the code)
    schools: int


class TerritoryFigures(msgspec.Struct):
    territory: str
    school_year: str
    as_of: datetime
    schools: int
    # The écoles: the schools the campaign asks to declare (collèges and lycées only take part
    # in the label), over which the response rate is counted.
    schools_asked: int
    answered: int  # declared or confirmed for this school year
    answered_on_time: int  # before the campaign closed
    response_rate: float | None
    schools_declared: int  # with answers in force, possibly carried from an earlier year
    index_distribution: dict[str, float]
    teacher_share: float | None
    pupil_share: float | None
    robot_school_share: float | None
    ent_school_share: float | None
    usages_declared: int
    top_usages: list[UsageCount]


class SchoolRow(msgspec.Struct):
    uai: str
    name: str
    kind: str
    commune: str
    answered: bool
    equipment_index: int | None
    classes: int | None
    teacher_classes: int | None
    pupil_classes: int | None
    usages: int
    label_level: int | None = None  # the label awarded that holds for the school year
    ent_index: int | None = None  # None: not using the ENT, or no connections imported


def share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


MAX_CODE = 64  # longer than any code of the register


def territory_errors(level: str, code: str) -> list[FieldError]:
    """What makes `level:code` name no territory at all, whatever the register holds."""
    errors = []
    if level not in LEVELS:
        errors.append(
            FieldError(
                "level",
                f"Niveau de territoire inconnu : « {level} » (circonscription, bassin, "
                "departement, academie ou region).",
            )
        )
    if not code.strip() or len(code) > MAX_CODE:
        errors.append(
            FieldError("code", f"Code de territoire invalide (1 à {MAX_CODE} caractères).")
        )
    elif error := control_error("code", code):
        errors.append(error)
    return errors


def _sql(template: str, level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    return template.replace("{level}", level)


async def territory_exists(conn: asyncpg.Connection, level: str, code: str, at: datetime) -> bool:
    found = await conn.fetchval(
        _sql(
            "SELECT 1 FROM reporting.school_versions WHERE {level} = $1 AND valid_from <= $2 "
            "LIMIT 1",
            level,
        ),
        code,
        at,
    )
    return found is not None


def year_figures(
    level: str, code: str, at: datetime, sums: YearSums, top: list[UsageCount]
) -> TerritoryFigures:
    declared, classes, schools = sums.declared, sums.classes, sums.schools
    return TerritoryFigures(
        territory=f"{level}:{code}",
        school_year=school_year_of_rentree(sums.rentree),
        as_of=at,
        schools=schools,
        schools_asked=sums.asked,
        answered=sums.answered,
        answered_on_time=sums.on_time,
        response_rate=share(sums.answered, sums.asked) if sums.asked else None,
        schools_declared=declared,
        index_distribution={str(i): share(n, declared) for i, n in enumerate(sums.indices())},
        teacher_share=share(sums.teacher, classes) if classes else None,
        pupil_share=share(sums.pupil, classes) if classes else None,
        robot_school_share=share(sums.with_robots, declared) if declared else None,
        ent_school_share=share(sums.with_ent, declared) if declared else None,
        usages_declared=sums.usages,
        top_usages=top,
    )


async def territory_figures_by_year(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, TerritoryFigures]:
    """The territory's figures of every school year from `first` to `last`, as at `at`; the
    most declared usages of the last one only (an evolution shows how many, not which)."""
    sums = await territory_sums(conn, level, code, first, last, at, parts=_FIGURES)
    top = await territory_top_usages(conn, level, code, last, at)
    return {r: year_figures(level, code, at, s, top if r == last else []) for r, s in sums.items()}


async def territory_top_usages(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime, now: bool = False
) -> list[UsageCount]:
    """The ten usages most declared as the school year ended (or at `at`)."""
    found = await top_usages(conn, level, code, rentree, at, now=now)
    names = await usage_names(conn, level, code, [c for c, _ in found], at)
    return [UsageCount(c, names.get(c, (c, ""))[0], n) for c, n in found]


async def usage_names(
    conn: asyncpg.Connection, level: str, code: str, usages: list[str], at: datetime
) -> dict[str, tuple[str, str]]:
    """Each usage's title and summary as named by the latest version recorded by `at` of a
    catalogue of the territory's académies (a région spans several): a later revision does not
    rename a past profile's usages, and a usage since dropped keeps its last name."""
    if not usages:
        return {}
    # An académie's own catalogue needs no lookup of the académies its schools are in.
    academies = (
        "$1"
        if level == "academie"
        else _sql(
            "SELECT DISTINCT academie FROM reporting.school_versions "
            "WHERE {level} = $1 AND valid_from <= $3",
            level,
        )
    )
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON (c.code) c.code, c.title, c.summary
            FROM reporting.usage_catalogue c
            WHERE c.code = ANY($2::text[]) AND c.valid_from <= $3
              AND c.academie IN ({academies})
            ORDER BY c.code, c.valid_from DESC""",
        code,
        usages,
        at,
    )
    return {r["code"]: (r["title"], r["summary"]) for r in rows}


async def territory_figures(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    rentree: int,
    at: datetime,
    with_top_usages: bool = True,
) -> TerritoryFigures:
    """The territory's figures of one school year, as at `at`."""
    sums = (await territory_sums(conn, level, code, rentree, rentree, at, parts=_FIGURES))[rentree]
    top = await territory_top_usages(conn, level, code, rentree, at) if with_top_usages else []
    return year_figures(level, code, at, sums, top)


async def territory_schools(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    rentree: int,
    at: datetime,
    now: bool = False,
) -> list[SchoolRow]:
    """The territory's schools as at `at`: each one's declaration in force for the school year,
    its number of usages, the level of its label and its ENT index for the year (four lookups a
    school; the label's walks its primary key backwards, as the school years sort as their
    rentrées do). The ENT indices are those the cells' projection keeps (`now`: as far as it has
    gone); where it has not applied everything recorded by `at`, or applied a school's events
    out of order then, the school's is computed from the record."""
    rows = await conn.fetch(
        _sql(
            "WITH "
            + MEMBERS.replace("{at}", "$3")
            + """
            SELECT m.uai, m.name, m.kind, m.commune, d.rentree = $2 AS answered,
                   d.equipment_index, d.classes, d.teacher_classes, d.pupil_classes,
                   coalesce(u.n, 0) AS usages, a.level AS label_level, e.ent_index
            FROM members m
            LEFT JOIN LATERAL (
                SELECT d.rentree, d.equipment_index, d.classes, d.teacher_classes,
                       d.pupil_classes
                FROM reporting.declaration_versions d
                WHERE d.uai = m.uai AND d.rentree <= $2 AND d.valid_from <= $3
                ORDER BY d.rentree DESC, d.valid_from DESC LIMIT 1) d ON true
            LEFT JOIN LATERAL (
                SELECT jsonb_array_length(s.codes) AS n FROM reporting.usage_sets s
                WHERE s.uai = m.uai AND s.valid_from <= $3
                ORDER BY s.valid_from DESC LIMIT 1) u ON true
            LEFT JOIN LATERAL (
                SELECT a.level FROM reporting.label_awards a
                WHERE a.uai = m.uai AND a.rentree <= $2 AND a.valid_until_rentree >= $2
                  AND coalesce(a.recorded_at, a.awarded_at) <= $3
                ORDER BY a.school_year DESC LIMIT 1) a ON true
            LEFT JOIN LATERAL (
                SELECT v.ent_index FROM reporting.school_ent_versions v
                WHERE v.uai = m.uai AND v.rentree = $2 AND v.valid_from <= $3
                ORDER BY v.valid_from DESC LIMIT 1) e ON true
            ORDER BY m.uai""",
            level,
        ),
        code,
        rentree,
        at,
    )
    complete = now or await projected_through(conn, at, CELLS_TRACKING)
    inexact = {
        r["uai"]
        for r in await conn.fetch(
            "SELECT uai FROM reporting.school_ent_disorder WHERE valid_from <= $1 AND valid_to > $1",
            at,
        )
    }
    school_year = school_year_of_rentree(rentree)
    indices: dict[str, int | None] = {}
    for r in rows:
        if complete and r["uai"] not in inexact:
            indices[r["uai"]] = r["ent_index"]
        else:
            ent = await school_ent(conn, r["uai"], school_year, at)
            indices[r["uai"]] = None if ent is None else ent.index
    return [
        SchoolRow(
            uai=r["uai"],
            name=r["name"],
            kind=r["kind"],
            commune=r["commune"],
            answered=bool(r["answered"]),
            equipment_index=r["equipment_index"],
            classes=r["classes"],
            teacher_classes=r["teacher_classes"],
            pupil_classes=r["pupil_classes"],
            usages=r["usages"],
            label_level=r["label_level"],
            ent_index=indices[r["uai"]],
        )
        for r in rows
    ]
