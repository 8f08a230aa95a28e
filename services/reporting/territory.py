"""A territory's figures for a school year, as the record stood at a moment: its schools, the
campaign's response rate, equipment indices, classes equipped, usages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import msgspec

LEVELS = ("circonscription", "bassin", "departement", "academie", "region")

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


async def campaign_close(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> date | None:
    """When the campaign of that year closed, in the territory's académie (the latest close of
    its académies for a région)."""
    closes: date | None = await conn.fetchval(
        _sql(
            """SELECT max(c.closes_on) FROM reporting.campaign_versions c
               WHERE c.rentree = $2 AND c.recorded_at <= $3 AND c.academie IN (
                   SELECT DISTINCT academie FROM reporting.school_versions
                   WHERE {level} = $1 AND valid_from <= $3)""",
            level,
        ),
        code,
        rentree,
        at,
    )
    return closes


async def territory_figures(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> TerritoryFigures:
    closes = await campaign_close(conn, level, code, rentree, at)
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
            SELECT (SELECT count(*) FROM members) AS schools,
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
    usages = await conn.fetch(
        _sql(
            "WITH "
            + _MEMBERS_ONLY.replace("{at}", "$2")
            + """,
            latest AS (
                SELECT u.code, u.added FROM members m CROSS JOIN LATERAL (
                    SELECT DISTINCT ON (c.code) c.code, c.added FROM reporting.usage_changes c
                    WHERE c.uai = m.uai AND c.recorded_at <= least($2, $3)
                    ORDER BY c.code, c.recorded_at DESC, c.event_id DESC) u)
            SELECT code, count(*) AS schools FROM latest
            WHERE added GROUP BY code ORDER BY count(*) DESC, code""",
            level,
        ),
        code,
        at,
        datetime(rentree + 1, 9, 1, tzinfo=UTC),
    )
    declared, classes = row["declared"], row["classes"] or 0
    schools = row["schools"]
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
        usages_declared=sum(u["schools"] for u in usages),
        top_usages=[UsageCount(u["code"], u["schools"]) for u in usages[:10]],
    )


async def territory_schools(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> list[SchoolRow]:
    rows = await conn.fetch(
        _sql(
            "WITH "
            + _MEMBERS
            + """,
            usages AS (
                SELECT m.uai, count(*) FILTER (WHERE u.added) AS n
                FROM members m CROSS JOIN LATERAL (
                    SELECT DISTINCT ON (c.code) c.added FROM reporting.usage_changes c
                    WHERE c.uai = m.uai AND c.recorded_at <= $3
                    ORDER BY c.code, c.recorded_at DESC, c.event_id DESC) u
                GROUP BY m.uai)
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
