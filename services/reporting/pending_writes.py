"""The frequent events of a batch, folded in memory and written with one statement a table.

Declarations and usages are most of the log; writing them row by row would make the projector
slower than the bus that feeds it. Later events of a batch win over earlier ones for the same
key, exactly as applying them one by one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from events.declarations import DeclarationConfirmed, DeclarationSubmitted, UsageAdded, UsageRemoved
from events.envelope import Event
from events.equipment import equipment_of
from events.values import parse_school_year

DeclarationRow = tuple[
    str, str, int, str, int, int, int, int, int, str, bool, bool, bool, bool, bool, datetime, str
]
_json = msgspec.json.Encoder()


@dataclass
class PendingWrites:
    declarations: dict[tuple[str, int], DeclarationRow] = field(default_factory=dict)
    usage_changes: list[tuple[UUID, str, str, bool, str, int, datetime]] = field(
        default_factory=list
    )
    usages: dict[tuple[str, str], tuple[bool, datetime]] = field(default_factory=dict)
    activity: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.declarations or self.usage_changes or self.activity)

    def count(self, event: Event) -> None:
        assert event.uai is not None
        n, last = self.activity.get(event.uai, (0, event.recorded_at))
        self.activity[event.uai] = (n + 1, max(last, event.recorded_at))

    def declaration(self, e: DeclarationSubmitted | DeclarationConfirmed) -> None:
        assert e.uai is not None
        a = e.answers
        eq = equipment_of(a)
        rentree = parse_school_year(e.school_year)
        robots = a.get("A3", 0)
        internet = a.get("A2", "NE_SAIT_PAS")
        self.declarations[(e.uai, rentree)] = (
            e.uai,
            e.school_year,
            rentree,
            _json.encode(a).decode(),
            eq.classes,
            eq.teacher,
            eq.pupil,
            eq.index,
            robots if isinstance(robots, int) else 0,
            internet if isinstance(internet, str) else "NE_SAIT_PAS",
            a.get("A4") is True,
            a.get("A5") is True,
            a.get("A6") is True,
            a.get("A7") is True,
            isinstance(e, DeclarationConfirmed),
            e.recorded_at,
            e.actor.user_id,
        )

    def usage(self, e: UsageAdded | UsageRemoved) -> None:
        assert e.uai is not None
        added = isinstance(e, UsageAdded)
        self.usage_changes.append(
            (e.event_id, e.uai, e.code, added, e.school_year, parse_school_year(e.school_year),
             e.recorded_at)
        )  # fmt: skip
        self.usages[(e.uai, e.code)] = (added, e.recorded_at)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.declarations:
            await conn.execute(
                """INSERT INTO reporting.declarations
                   SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::jsonb[], $5::int[],
                       $6::int[], $7::int[], $8::smallint[], $9::int[], $10::text[], $11::bool[],
                       $12::bool[], $13::bool[], $14::bool[], $15::bool[], $16::timestamptz[],
                       $17::text[])
                   ON CONFLICT (uai, rentree) DO UPDATE SET answers = EXCLUDED.answers,
                       classes = EXCLUDED.classes, teacher_classes = EXCLUDED.teacher_classes,
                       pupil_classes = EXCLUDED.pupil_classes,
                       equipment_index = EXCLUDED.equipment_index, robots = EXCLUDED.robots,
                       internet = EXCLUDED.internet, web_radio = EXCLUDED.web_radio,
                       web_tv = EXCLUDED.web_tv, fab_lab = EXCLUDED.fab_lab, ent = EXCLUDED.ent,
                       confirmed = EXCLUDED.confirmed, recorded_at = EXCLUDED.recorded_at,
                       recorded_by = EXCLUDED.recorded_by""",
                *map(list, zip(*self.declarations.values(), strict=True)),
            )
        if self.usage_changes:
            await conn.execute(
                """INSERT INTO reporting.usage_changes
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[],
                       $5::text[], $6::int[], $7::timestamptz[])
                   ON CONFLICT (event_id) DO NOTHING""",
                *map(list, zip(*self.usage_changes, strict=True)),
            )
        added = [(u, c, at) for (u, c), (is_added, at) in self.usages.items() if is_added]
        removed = [(u, c) for (u, c), (is_added, _) in self.usages.items() if not is_added]
        if added:
            await conn.execute(
                """INSERT INTO reporting.school_usages
                   SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *map(list, zip(*added, strict=True)),
            )
        if removed:
            await conn.execute(
                """DELETE FROM reporting.school_usages s
                   USING unnest($1::text[], $2::text[]) AS r(uai, code)
                   WHERE s.uai = r.uai AND s.code = r.code""",
                *map(list, zip(*removed, strict=True)),
            )
        if self.activity:
            await conn.execute(
                """INSERT INTO reporting.school_activity
                   SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[])
                   ON CONFLICT (uai) DO UPDATE
                   SET events = school_activity.events + EXCLUDED.events,
                       last_recorded_at = greatest(school_activity.last_recorded_at,
                                                   EXCLUDED.last_recorded_at)""",
                list(self.activity),
                [n for n, _ in self.activity.values()],
                [at for _, at in self.activity.values()],
            )
        self.declarations.clear()
        self.usage_changes.clear()
        self.usages.clear()
        self.activity.clear()
