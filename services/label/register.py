"""The label service's own read model of the school register and of the data that supports
criteria (equipment index, ENT use), fed from the declarations service's events.

Who may act on a school's label depends on where the school stands in the register *now*: a
school that moved to another circonscription leaves its former adviser's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import asyncpg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from events.declarations import (
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetailsChanged,
    SchoolRegistered,
)
from events.envelope import Event
from events.equipment import Equipment, equipment_of
from events.values import parse_school_year
from infra.auth import SchoolPlace

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS label;
CREATE TABLE IF NOT EXISTS label.register_tracking (
    source text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS label.register_parked (
    id bigserial PRIMARY KEY,
    source text,
    position bigint,
    subject text,
    reason text NOT NULL,
    data bytea,
    parked_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS label.register_schools (
    uai text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    commune text NOT NULL,
    circonscription text,
    bassin text,
    departement text NOT NULL,
    academie text NOT NULL,
    closed_on date,
    updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS label.school_data (
    uai text PRIMARY KEY,
    school_year text NOT NULL,
    rentree integer NOT NULL,
    ent boolean NOT NULL,
    classes integer NOT NULL,
    teacher_classes integer NOT NULL,
    pupil_classes integer NOT NULL,
    recorded_at timestamptz NOT NULL
);
"""
# Several processes may start at once; the lock keeps their DDL from interleaving.
LOCKED_SCHEMA_SQL = "SELECT pg_advisory_xact_lock(4343);" + SCHEMA_SQL


@dataclass(frozen=True)
class RegisteredSchool:
    uai: str
    name: str
    kind: str
    commune: str
    circonscription: str | None
    bassin: str | None
    departement: str
    academie: str
    closed_on: date | None = None

    @property
    def place(self) -> SchoolPlace:
        return SchoolPlace(
            self.uai, self.circonscription, self.bassin, self.departement, self.academie
        )


@dataclass(frozen=True)
class SchoolData:
    """What the school's latest declaration says that a criterion can be checked against."""

    school_year: str
    ent: bool
    equipment: Equipment


class SchoolRegister(Protocol):
    def lookup(self, uai: str) -> tuple[RegisteredSchool, SchoolData | None] | None: ...


_SCHOOL_FIELDS = (
    "uai",
    "name",
    "kind",
    "commune",
    "circonscription",
    "bassin",
    "departement",
    "academie",
    "closed_on",
)


def _from_row(row: dict[str, Any]) -> tuple[RegisteredSchool, SchoolData | None]:
    school = RegisteredSchool(**{k: row[k] for k in _SCHOOL_FIELDS})
    if row["school_year"] is None:
        return school, None
    equipment = Equipment(row["classes"], row["teacher_classes"], row["pupil_classes"])
    return school, SchoolData(row["school_year"], row["ent"], equipment)


class PostgresRegister:
    """Synchronous look-ups for the use cases (which run in worker threads)."""

    def __init__(self, url: str, max_size: int = 8) -> None:
        self.pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True)
        with self.pool.connection() as conn:
            conn.execute(LOCKED_SCHEMA_SQL)

    def lookup(self, uai: str) -> tuple[RegisteredSchool, SchoolData | None] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT s.*, d.school_year, d.ent, d.classes, d.teacher_classes, "
                "d.pupil_classes FROM label.register_schools s "
                "LEFT JOIN label.school_data d USING (uai) WHERE s.uai = %s",
                (uai,),
            )
            row = cur.fetchone()
        return _from_row(row) if row else None

    def close(self) -> None:
        self.pool.close()


async def ensure_register(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute(LOCKED_SCHEMA_SQL)


async def _school(conn: asyncpg.Connection, uai: str, e: Event, details: Any) -> None:
    await conn.execute(
        """INSERT INTO label.register_schools (uai, name, kind, commune, circonscription, bassin,
               departement, academie, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (uai) DO UPDATE SET name = $2, kind = $3, commune = $4,
               circonscription = $5, bassin = $6, departement = $7, academie = $8,
               updated_at = $9""",
        uai,
        details.name,
        details.kind,
        details.commune,
        details.circonscription,
        details.bassin,
        details.departement,
        details.academie,
        e.recorded_at,
    )


async def _declared(
    conn: asyncpg.Connection, uai: str, e: DeclarationSubmitted | DeclarationConfirmed
) -> None:
    eq = equipment_of(e.answers)
    # Only the latest school year counts; an update of an older year changes nothing here.
    await conn.execute(
        """INSERT INTO label.school_data VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (uai) DO UPDATE SET school_year = $2, rentree = $3, ent = $4,
               classes = $5, teacher_classes = $6, pupil_classes = $7, recorded_at = $8
           WHERE label.school_data.rentree <= $3""",
        uai,
        e.school_year,
        parse_school_year(e.school_year),
        e.answers.get("A7") is True,
        eq.classes,
        eq.teacher,
        eq.pupil,
        e.recorded_at,
    )


async def apply_register_event(conn: asyncpg.Connection, e: Event) -> None:
    """Fold one declarations event into the register (other events change nothing)."""
    if e.uai is None:
        return
    if isinstance(e, SchoolRegistered | SchoolDetailsChanged):
        await _school(conn, e.uai, e, e.details)
    elif isinstance(e, SchoolClosed):
        await conn.execute(
            "UPDATE label.register_schools SET closed_on = $2 WHERE uai = $1", e.uai, e.closed_on
        )
    elif isinstance(e, DeclarationSubmitted | DeclarationConfirmed):
        await _declared(conn, e.uai, e)
