"""A territory's figures for a school year, as the record stood at a moment: its schools, the
campaign's response rate, equipment indices, classes equipped, usages."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg
import msgspec

from infra.auth import TERRITORY_LEVELS

LEVELS = TERRITORY_LEVELS

# Schools of a territory as the register stood at $3 ($1: the territory's code), and the version
# of each school's declaration in force then for the latest school year up to $2. Each member's
# rows are looked up on their keys (LATERAL): joining the whole national tables would make a
# territory's figures as slow as the country is large.
_MEMBERS_ONLY = """
    members AS (
        SELECT uai, name, kind, commune, academie FROM reporting.school_versions
        WHERE {level} = $1 AND valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at})
          AND closed_on IS NULL)"""
_MEMBERS = (
    _MEMBERS_ONLY.replace("{at}", "$3")
    + """,
    effective AS (
        SELECT d.* FROM members m CROSS JOIN LATERAL (
            SELECT * FROM reporting.declaration_versions d
            WHERE d.uai = m.uai AND d.rentree <= $2 AND d.valid_from <= $3
            ORDER BY d.rentree DESC, d.valid_from DESC LIMIT 1) d)"""
)


class UsageCount(msgspec.Struct):
    code: str
    schools: int


class TerritoryFigures(msgspec.Struct):
    territory: str
    school_year: str
    as_of: datetime
    schools: int
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


def share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


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


async def campaign_closes(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, date]:
    """When the campaign of each year closed, in the territory's académie (the latest close of
    its académies for a région)."""
    rows = await conn.fetch(
        _sql(
            """SELECT c.rentree, max(c.closes_on) AS closes FROM reporting.campaign_versions c
               WHERE c.rentree BETWEEN $2 AND $3 AND c.recorded_at <= $4 AND c.academie IN (
                   SELECT DISTINCT academie FROM reporting.school_versions
                   WHERE {level} = $1 AND valid_from <= $4)
               GROUP BY c.rentree""",
            level,
        ),
        code,
        first,
        last,
        at,
    )
    return {r["rentree"]: r["closes"] for r in rows}


# Every school year from $2 to $4 in one pass ($1 the territory's code, $3 the moment): each
# member's declarations are read once (the latest version of each rentrée recorded by $3, and when
# it first answered for it), and each year takes the latest rentrée up to it: the declaration in
# force that year (its own, or the latest earlier one carried forward).
EFFECTIVE_BY_YEAR = (
    _MEMBERS_ONLY.replace("{at}", "$3")
    + """,
    versions AS (
        SELECT m.uai, v.*, lead(v.rentree) OVER (PARTITION BY m.uai ORDER BY v.rentree) AS next
        FROM members m CROSS JOIN LATERAL (
            SELECT DISTINCT ON (d.rentree) d.rentree, d.classes, d.teacher_classes,
                   d.pupil_classes, d.robots, d.ent, d.equipment_index,
                   min(d.valid_from) OVER (PARTITION BY d.rentree) AS first_at
            FROM reporting.declaration_versions d
            WHERE d.uai = m.uai AND d.rentree <= $4 AND d.valid_from <= $3
            ORDER BY d.rentree, d.valid_from DESC) v),
    years AS (SELECT r FROM generate_series($2::int, $4::int) AS r),
    -- A rentrée's answers are in force until the member's next answered rentrée.
    effective AS (
        SELECT y.r AS year, v.* FROM versions v JOIN years y
          ON v.rentree <= y.r AND (v.next IS NULL OR y.r < v.next))"""
)

# The figures of every year; $5/$6 the campaigns' closing dates by rentrée.
_FIGURES = (
    EFFECTIVE_BY_YEAR
    + """,
    closes AS (SELECT * FROM unnest($5::int[], $6::date[]) AS c(r, closes_on))
    SELECT y.r, (SELECT count(*) FROM members) AS schools,
           count(e.uai) FILTER (WHERE e.rentree = y.r) AS answered,
           count(e.uai) FILTER (WHERE e.rentree = y.r
               AND (c.closes_on IS NULL OR e.first_at::date <= c.closes_on)) AS on_time,
           count(e.uai) AS declared, sum(e.classes) AS classes,
           sum(e.teacher_classes) AS teacher, sum(e.pupil_classes) AS pupil,
           count(*) FILTER (WHERE e.robots > 0) AS with_robots,
           count(*) FILTER (WHERE e.ent) AS with_ent,
           count(*) FILTER (WHERE e.equipment_index = 0) AS i0,
           count(*) FILTER (WHERE e.equipment_index = 1) AS i1,
           count(*) FILTER (WHERE e.equipment_index = 2) AS i2,
           count(*) FILTER (WHERE e.equipment_index = 3) AS i3
    FROM years y LEFT JOIN effective e ON e.year = y.r LEFT JOIN closes c ON c.r = y.r
    GROUP BY y.r"""
)

# Usages of the members as each school year from $3 to $4 ended (or at $2, for the current
# one): each member's set in force then, one lookup a member and a year.
_USAGES = (
    _MEMBERS_ONLY.replace("{at}", "$2")
    + """,
    years AS (
        SELECT r, least($2, make_timestamptz(r + 1, 9, 1, 0, 0, 0, 'UTC')) AS until
        FROM generate_series($3::int, $4::int) AS r),
    held AS (
        SELECT y.r, u.codes FROM members m CROSS JOIN years y CROSS JOIN LATERAL (
            SELECT s.codes FROM reporting.usage_sets s
            WHERE s.uai = m.uai AND s.valid_from <= y.until
            ORDER BY s.valid_from DESC LIMIT 1) u)
    SELECT h.r, c.code, count(*) AS schools FROM held h CROSS JOIN unnest(h.codes) AS c(code)
    GROUP BY h.r, c.code ORDER BY h.r, count(*) DESC, c.code"""
)


async def territory_figures_by_year(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, TerritoryFigures]:
    """The territory's figures of every school year from `first` to `last`, as at `at`."""
    closes = await campaign_closes(conn, level, code, first, last, at)
    rows = await conn.fetch(
        _sql("WITH " + _FIGURES, level),
        code,
        first,
        at,
        last,
        list(closes),
        list(closes.values()),
    )
    usages = await territory_usages_by_year(conn, level, code, first, last, at)
    return {row["r"]: _figures(level, code, at, row, usages[row["r"]]) for row in rows}


async def territory_usages_by_year(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, list[UsageCount]]:
    """The members' usages as each school year from `first` to `last` ended (or at `at`), most
    declared first."""
    usages: dict[int, list[UsageCount]] = {r: [] for r in range(first, last + 1)}
    for u in await conn.fetch(_sql("WITH " + _USAGES, level), code, at, first, last):
        usages[u["r"]].append(UsageCount(u["code"], u["schools"]))
    return usages


def _figures(
    level: str, code: str, at: datetime, row: asyncpg.Record, usages: list[UsageCount]
) -> TerritoryFigures:
    declared, classes = row["declared"], row["classes"] or 0
    schools = row["schools"]
    rentree = row["r"]
    return TerritoryFigures(
        territory=f"{level}:{code}",
        school_year=f"{rentree}-{rentree + 1}",
        as_of=at,
        schools=schools,
        answered=row["answered"],
        answered_on_time=row["on_time"],
        response_rate=share(row["answered"], schools) if schools else None,
        schools_declared=declared,
        index_distribution={str(i): share(row[f"i{i}"], declared) for i in range(4)},
        teacher_share=share(row["teacher"] or 0, classes) if classes else None,
        pupil_share=share(row["pupil"] or 0, classes) if classes else None,
        robot_school_share=share(row["with_robots"], declared) if declared else None,
        ent_school_share=share(row["with_ent"], declared) if declared else None,
        usages_declared=sum(u.schools for u in usages),
        top_usages=usages[:10],
    )


async def territory_figures(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> TerritoryFigures:
    """The territory's figures of one school year, as at `at` (each member's declaration in
    force found with one index lookup; `territory_figures_by_year` reads several years)."""
    closes = (await campaign_closes(conn, level, code, rentree, rentree, at)).get(rentree)
    row = await conn.fetchrow(
        _sql(
            "WITH "
            + _MEMBERS
            + """,
            answered AS (
                SELECT a.valid_from FROM members m CROSS JOIN LATERAL (
                    SELECT d.valid_from FROM reporting.declaration_versions d
                    WHERE d.uai = m.uai AND d.rentree = $2 AND d.valid_from <= $3
                    ORDER BY d.valid_from LIMIT 1) a)
            SELECT $2::int AS r, (SELECT count(*) FROM members) AS schools,
                   (SELECT count(*) FROM answered) AS answered,
                   (SELECT count(*) FROM answered
                      WHERE $4::date IS NULL OR valid_from::date <= $4::date) AS on_time,
                   count(*) AS declared, sum(classes) AS classes,
                   sum(teacher_classes) AS teacher, sum(pupil_classes) AS pupil,
                   count(*) FILTER (WHERE robots > 0) AS with_robots,
                   count(*) FILTER (WHERE ent) AS with_ent,
                   count(*) FILTER (WHERE equipment_index = 0) AS i0,
                   count(*) FILTER (WHERE equipment_index = 1) AS i1,
                   count(*) FILTER (WHERE equipment_index = 2) AS i2,
                   count(*) FILTER (WHERE equipment_index = 3) AS i3
            FROM effective""",
            level,
        ),
        code,
        rentree,
        at,
        closes,
    )
    assert row is not None
    # Usages as the school year ended (or now, for the current one), like a school's evolution.
    usages = (await territory_usages_by_year(conn, level, code, rentree, rentree, at))[rentree]
    return _figures(level, code, at, row, usages)


async def territory_schools(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> list[SchoolRow]:
    rows = await conn.fetch(
        _sql(
            "WITH "
            + _MEMBERS
            + """,
            usages AS (
                SELECT m.uai, cardinality(u.codes) AS n FROM members m CROSS JOIN LATERAL (
                    SELECT s.codes FROM reporting.usage_sets s
                    WHERE s.uai = m.uai AND s.valid_from <= $3
                    ORDER BY s.valid_from DESC LIMIT 1) u)
            SELECT m.uai, m.name, m.kind, m.commune, e.rentree = $2 AS answered,
                   e.equipment_index, e.classes, e.teacher_classes, e.pupil_classes,
                   coalesce(u.n, 0) AS usages
            FROM members m LEFT JOIN effective e USING (uai) LEFT JOIN usages u USING (uai)
            ORDER BY m.uai""",
            level,
        ),
        code,
        rentree,
        at,
    )
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
        )
        for r in rows
    ]
