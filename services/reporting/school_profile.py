"""A school's profile, read from the read models: equipment, usages, comparison, evolution."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import msgspec

from events.equipment import EXPLANATIONS, next_step
from events.values import parse_school_year, school_year_of_rentree, school_year_on
from infra.auth import SchoolPlace


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


class YearPoint(msgspec.Struct):
    rentree: int
    school_year: str
    equipment_index: int | None
    classes: int | None
    teacher_classes: int | None
    pupil_classes: int | None
    usages_declared: int


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


def share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


async def school_place(conn: asyncpg.Connection, uai: str) -> SchoolPlace | None:
    row = await conn.fetchrow(
        "SELECT uai, circonscription, bassin, departement, academie FROM reporting.schools "
        "WHERE uai = $1",
        uai,
    )
    return SchoolPlace(**dict(row)) if row else None


async def default_school_year(conn: asyncpg.Connection, academie: str) -> str:
    latest = await conn.fetchval(
        "SELECT max(school_year) FROM reporting.campaigns WHERE academie = $1", academie
    )
    return str(latest) if latest else school_year_on(datetime.now(UTC))


def usages_at(changes: list[asyncpg.Record], until: datetime | None) -> set[str]:
    current: set[str] = set()
    for c in changes:
        if until is not None and c["recorded_at"] > until:
            break
        if c["added"]:
            current.add(c["code"])
        else:
            current.discard(c["code"])
    return current


def end_of(rentree: int) -> datetime:
    return datetime(rentree + 1, 9, 1, tzinfo=UTC)


async def academie_comparison(conn: asyncpg.Connection, academie: str, rentree: int) -> Comparison:
    row = await conn.fetchrow(
        """WITH eff AS (
               SELECT DISTINCT ON (d.uai) d.*
               FROM reporting.declarations d JOIN reporting.schools s USING (uai)
               WHERE s.academie = $1 AND d.rentree <= $2 AND s.closed_on IS NULL
               ORDER BY d.uai, d.rentree DESC)
           SELECT count(*) AS declared, sum(classes) AS classes,
                  sum(teacher_classes) AS teacher, sum(pupil_classes) AS pupil,
                  count(*) FILTER (WHERE robots > 0) AS with_robots,
                  count(*) FILTER (WHERE ent) AS with_ent,
                  count(*) FILTER (WHERE equipment_index = 0) AS i0,
                  count(*) FILTER (WHERE equipment_index = 1) AS i1,
                  count(*) FILTER (WHERE equipment_index = 2) AS i2,
                  count(*) FILTER (WHERE equipment_index = 3) AS i3,
                  (SELECT count(*) FROM reporting.schools
                     WHERE academie = $1 AND closed_on IS NULL) AS schools,
                  (SELECT count(*) FROM reporting.school_usages u
                     JOIN reporting.schools s2 USING (uai) WHERE s2.academie = $1) AS usages
           FROM eff""",
        academie,
        rentree,
    )
    assert row is not None
    declared = row["declared"]
    classes = row["classes"] or 0
    return Comparison(
        territory=f"academie:{academie}",
        schools=row["schools"],
        schools_declared=declared,
        teacher_share=share(row["teacher"] or 0, classes) if classes else None,
        pupil_share=share(row["pupil"] or 0, classes) if classes else None,
        robot_school_share=share(row["with_robots"], declared) if declared else None,
        ent_school_share=share(row["with_ent"], declared) if declared else None,
        index_distribution={str(i): share(row[f"i{i}"], declared) for i in range(4)},
        usages_declared=row["usages"],
    )


async def school_profile(
    conn: asyncpg.Connection, uai: str, school_year: str | None, today: date | None = None
) -> SchoolProfile | None:
    school = await conn.fetchrow("SELECT * FROM reporting.schools WHERE uai = $1", uai)
    if school is None:
        return None
    year = school_year or await default_school_year(conn, school["academie"])
    rentree = parse_school_year(year)
    declarations = await conn.fetch(
        "SELECT * FROM reporting.declarations WHERE uai = $1 ORDER BY rentree", uai
    )
    changes = await conn.fetch(
        "SELECT code, added, recorded_at FROM reporting.usage_changes WHERE uai = $1 "
        "ORDER BY recorded_at, event_id",
        uai,
    )
    effective = next((d for d in reversed(declarations) if d["rentree"] <= rentree), None)
    now = datetime.now(UTC)
    current_rentree = parse_school_year(school_year_on(today or now.date()))
    codes = usages_at(changes, None if rentree >= current_rentree else end_of(rentree))
    catalogue = {
        r["code"]: Usage(r["code"], r["title"], r["summary"])
        for r in await conn.fetch(
            "SELECT code, title, summary FROM reporting.usage_catalogue WHERE academie = $1",
            school["academie"],
        )
    }
    equipment = None
    if effective is not None:
        c, t, p = effective["classes"], effective["teacher_classes"], effective["pupil_classes"]
        index = effective["equipment_index"]
        equipment = EquipmentOut(
            index, EXPLANATIONS[index], next_step(c, t, p), c, t, share(t, c), p, share(p, c)
        )
    by_rentree = {d["rentree"]: d for d in declarations}
    first = min([*by_rentree, rentree]) if by_rentree else rentree
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
                usages_declared=len(
                    usages_at(changes, None if r >= current_rentree else end_of(r))
                ),
            )
        )
    e = effective
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
        produced_at=now,
        declaration=DeclarationInfo(
            e["school_year"], e["confirmed"], e["recorded_at"], e["rentree"] != rentree
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
        usages=[catalogue.get(c, Usage(c, c, "")) for c in sorted(codes)],
        academie_comparison=await academie_comparison(conn, school["academie"], rentree),
        evolution=evolution,
    )
