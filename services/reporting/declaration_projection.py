"""How the register, declarations and usages change the read models (`sql/001_declarations.sql`).

A school's facts are versioned by the moment they were recorded (`school_versions`, each closed
by the next); its current row is kept beside them (`schools`). Declarations are append-only
versions. Usages are kept as each school's whole set after each moment it changed.

The events of a batch are collected, then applied in order at the flush, from what the memory
holds (`model_memory.py`): a live batch loads what it needs of the read models; a rebuild holds
everything and only appends, writing the current rows once at the end (`dump`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import asyncpg

from events.declarations import (
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageRemoved,
)
from events.envelope import Event
from events.equipment import equipment_of
from events.values import parse_school_year, region_of
from services.reporting.model_memory import (
    SCHOOL_CLOSED_ON,
    SCHOOL_REGISTERED_AT,
    VERSION_FROM,
    ModelMemory,
    Row,
    stored_codes,
)
from services.reporting.pending_writes import columns

RegisterEvent = SchoolRegistered | SchoolDetailsChanged | SchoolClosed


def declaration_row(e: DeclarationSubmitted | DeclarationConfirmed) -> Row:
    """The row of `declaration_versions` a declaration adds."""
    assert e.uai is not None
    a = e.answers
    eq = equipment_of(a)
    robots = a.get("A3", 0)
    internet = a.get("A2", "NE_SAIT_PAS")
    return (
        e.uai, parse_school_year(e.school_year), e.recorded_at, eq.classes, eq.teacher, eq.pupil,
        eq.index, robots if isinstance(robots, int) else 0,
        internet if isinstance(internet, str) else "NE_SAIT_PAS",
        a.get("A4") is True, a.get("A5") is True, a.get("A6") is True, a.get("A7") is True,
        isinstance(e, DeclarationConfirmed), e.actor.user_id,
    )  # fmt: skip


class RegisterAndDeclarations:
    types: ClassVar[tuple[type[Event], ...]] = (
        SchoolRegistered, SchoolDetailsChanged, SchoolClosed, DeclarationSubmitted,
        DeclarationConfirmed, UsageAdded, UsageRemoved,
    )  # fmt: skip

    def __init__(self, memory: ModelMemory) -> None:
        self.memory = memory
        self.register: list[RegisterEvent] = []
        self.declarations: list[Row] = []
        # Usage changes in recording order: (uai, code, added, recorded_at).
        self.usage_changes: list[tuple[str, str, bool, datetime]] = []

    def __bool__(self) -> bool:
        return bool(self.register or self.declarations or self.usage_changes)

    def add(self, event: Any) -> None:
        if isinstance(event, DeclarationSubmitted | DeclarationConfirmed):
            self.declarations.append(declaration_row(event))
        elif isinstance(event, UsageAdded | UsageRemoved):
            assert event.uai is not None
            self.usage_changes.append(
                (event.uai, event.code, isinstance(event, UsageAdded), event.recorded_at)
            )
        else:
            self.register.append(event)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.register:
            await self._write_register(conn)
        if self.declarations:
            # Append-only, and each event is applied once (positions): a binary COPY.
            await conn.copy_records_to_table(
                "declaration_versions", schema_name="reporting", records=self.declarations
            )
        if self.usage_changes:
            await self._write_usage_sets(conn)
        self.register.clear()
        self.declarations.clear()
        self.usage_changes.clear()

    async def dump(self, conn: asyncpg.Connection) -> None:
        """A rebuild's current rows, and what it held back, into the new tables."""
        m = self.memory
        await conn.copy_records_to_table(
            "schools", schema_name="reporting", records=list(m.schools.values())
        )
        await conn.copy_records_to_table(
            "school_versions", schema_name="reporting", records=list(m.latest.values())
        )
        await conn.copy_records_to_table(
            "usage_sets",
            schema_name="reporting",
            records=[(u, at, stored_codes(codes)) for u, (at, codes) in m.held_sets.items()],
        )

    # -- the register ----------------------------------------------------------------------------

    async def _write_register(self, conn: asyncpg.Connection) -> None:
        m = self.memory
        # A closure copies the school's latest version: live, it may be in the read models only.
        await m.load_latest_versions(
            conn, {e.uai for e in self.register if isinstance(e, SchoolClosed) and e.uai}
        )
        touched: set[str] = set()
        closures: dict[str, Any] = {}
        ended: list[Row] = []  # versions closed by a later one
        created: dict[str, datetime] = {}  # school -> its first version created here
        for e in self.register:
            assert e.uai is not None
            uai, at = e.uai, e.recorded_at
            if isinstance(e, SchoolClosed):
                closures[uai] = e.closed_on
                if (row := m.schools.get(uai)) is not None:
                    m.schools[uai] = (
                        *row[:SCHOOL_CLOSED_ON],
                        e.closed_on,
                        *row[SCHOOL_CLOSED_ON + 1 :],
                    )
                latest = m.latest.get(uai)
                if latest is None or not latest[VERSION_FROM] < at:
                    continue  # nothing registered before it: nothing to close
                # A new version of the school, the same but closed, from the moment recorded.
                version: Row = (uai, at, None, *latest[3:-1], e.closed_on)
            else:
                d = e.details
                facts = (
                    d.name, d.kind, d.pupils, d.commune, d.circonscription, d.bassin,
                    d.departement, d.academie, region_of(d.academie),
                )  # fmt: skip
                known = m.schools.get(uai)
                m.schools[uai] = (
                    uai, *facts,
                    known[SCHOOL_CLOSED_ON] if known else None,
                    known[SCHOOL_REGISTERED_AT] if known else at,
                )  # fmt: skip
                touched.add(uai)
                if isinstance(e, SchoolRegistered) or "kind" in e.changed:
                    m.kind_changes[uai] = at
                version = (uai, at, None, *facts, None)
            self._new_version(version, created, ended)
        if m.complete:
            if ended:
                await conn.copy_records_to_table(
                    "school_versions", schema_name="reporting", records=ended
                )
            return
        if touched:
            await conn.execute(
                """INSERT INTO reporting.schools
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],
                       $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::date[], $12::timestamptz[])
                   ON CONFLICT (uai) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                       pupils = EXCLUDED.pupils, commune = EXCLUDED.commune,
                       circonscription = EXCLUDED.circonscription, bassin = EXCLUDED.bassin,
                       departement = EXCLUDED.departement, academie = EXCLUDED.academie,
                       region = EXCLUDED.region,
                       closed_on = coalesce(EXCLUDED.closed_on, schools.closed_on)""",
                *columns([m.schools[u] for u in sorted(touched)]),
            )
        if closures:
            await conn.execute(
                """UPDATE reporting.schools s SET closed_on = c.closed_on
                   FROM unnest($1::text[], $2::date[]) AS c(uai, closed_on) WHERE s.uai = c.uai""",
                list(closures),
                list(closures.values()),
            )
        if created:
            # The version in force before the batch ends where the batch's first one starts.
            await conn.execute(
                """UPDATE reporting.school_versions v SET valid_to = k.valid_from
                   FROM unnest($1::text[], $2::timestamptz[]) AS k(uai, valid_from)
                   WHERE v.uai = k.uai AND v.valid_to IS NULL AND v.valid_from < k.valid_from""",
                list(created),
                list(created.values()),
            )
            await conn.execute(
                """INSERT INTO reporting.school_versions
                   SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[],
                       $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[],
                       $10::text[], $11::text[], $12::text[], $13::date[])
                   ON CONFLICT (uai, valid_from) DO NOTHING""",
                *columns(ended + [m.latest[u] for u in created]),
            )

    def _new_version(self, version: Row, created: dict[str, datetime], ended: list[Row]) -> None:
        """`version` becomes its school's latest, closing the one before it. A school's
        register events are one aggregate's, recorded one after the other."""
        m, uai, at = self.memory, version[0], version[VERSION_FROM]
        before = m.latest.get(uai)
        # Live, a latest version not created in this flush is in the read models already: the
        # batch's UPDATE closes it.
        if before is not None and before[VERSION_FROM] < at and (m.complete or uai in created):
            ended.append((*before[:2], at, *before[3:]))
        m.latest[uai] = version
        created.setdefault(uai, at)

    # -- usages ----------------------------------------------------------------------------------

    async def _write_usage_sets(self, conn: asyncpg.Connection) -> None:
        """Each touched school's whole set after each of its changes, from its set before the
        batch, in recording order."""
        m = self.memory
        await m.load_usage_sets(conn, {c[0] for c in self.usage_changes})
        sets: dict[tuple[str, datetime], tuple[str, ...]] = {}
        for uai, code, added, at in self.usage_changes:
            codes = m.usage_sets.get(uai, ())
            if added and code not in codes:
                codes = tuple(sorted((*codes, code)))
            elif not added and code in codes:
                codes = tuple(c for c in codes if c != code)
            m.usage_sets[uai] = codes
            sets[(uai, at)] = codes  # changes recorded at one moment: one version
        if m.complete:
            ready = []
            for (uai, at), codes in sets.items():
                held = m.held_sets.get(uai)
                if held is not None and held[0] != at:
                    ready.append((uai, held[0], stored_codes(held[1])))
                m.held_sets[uai] = (at, codes)
            if ready:
                await conn.copy_records_to_table(
                    "usage_sets", schema_name="reporting", records=ready
                )
            return
        await conn.execute(
            """INSERT INTO reporting.usage_sets (uai, valid_from, codes)
               SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[])
               ON CONFLICT (uai, valid_from) DO UPDATE SET codes = EXCLUDED.codes""",
            [u for u, _ in sets],
            [at for _, at in sets],
            [stored_codes(codes) for codes in sets.values()],
        )
