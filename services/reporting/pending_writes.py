"""The frequent events of a batch, folded in memory and written with one statement a table.

Register changes, declarations, usages, ENT and GAR imports and label steps are nearly all of the
log; writing them event by event would make the projector slower than the bus that feeds it, and
a rebuild of the national log take a quarter of an hour. Each kind of event has a `Fold`; later
events of a batch win over earlier ones for the same key, exactly as applying them one by one
would. Versioned tables keep every version with the moment it was recorded, closing the previous
one. Folds flush in the order they were registered (the register first: label standing reads the
schools' kinds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import asyncpg
import msgspec

from events.declarations import (
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageRemoved,
)
from events.envelope import Event
from events.equipment import equipment_of
from events.values import parse_school_year, region_of
from services.reporting.cell_memory import CellMemory
from services.reporting.cell_projection import CellFigures

_json = msgspec.json.Encoder()


def columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows to one list a column, the shape `unnest($1::t[], …)` takes."""
    return [list(c) for c in zip(*rows, strict=True)]


def with_valid_to(
    versions: dict[tuple[Any, ...], tuple[Any, ...]], key_len: int
) -> list[tuple[Any, ...]]:
    """Versions keyed by (key…, valid_from), in recording order: each gets the valid_from of the
    next version of the same key as its valid_to (None for the last)."""
    rows: list[tuple[Any, ...]] = []
    last_index: dict[tuple[Any, ...], int] = {}
    for version_key, row in versions.items():
        key = version_key[:key_len]
        if key in last_index:
            i = last_index[key]
            rows[i] = (*rows[i][: key_len + 1], version_key[key_len], *rows[i][key_len + 2 :])
        last_index[key] = len(rows)
        rows.append(row)
    return rows


def first_versions(
    versions: dict[tuple[Any, ...], tuple[Any, ...]], key_len: int
) -> list[tuple[Any, ...]]:
    """(key…, valid_from) of the earliest version of each key in the batch."""
    first: dict[tuple[Any, ...], Any] = {}
    for version_key in versions:
        first.setdefault(version_key[:key_len], version_key[key_len])
    return [(*k, v) for k, v in first.items()]


class Fold(Protocol):
    """Events of some types, folded in memory, written by `flush` (which then forgets them)."""

    types: ClassVar[tuple[type[Event], ...]]

    def add(self, event: Any) -> None: ...

    def __bool__(self) -> bool: ...

    async def flush(self, conn: asyncpg.Connection) -> None: ...


FOLDS: list[type[Fold]] = []


def folds(cls: type[Fold]) -> type[Fold]:
    """Register a fold (other services' events register theirs on import), flushed after those
    registered before it."""
    FOLDS.append(cls)
    return cls


class PendingWrites:
    """A batch's folds, and the territory figures they change."""

    def __init__(self, memory: CellMemory | None = None, cells: bool = True) -> None:
        self.folds = [cls() for cls in FOLDS]
        self.by_type = {t: f for f in self.folds for t in f.types}
        # Sees its events besides the fold or handler that owns them, and flushes after them.
        self.cells = CellFigures(memory)
        self.cell_types = CellFigures.types if cells else ()

    def __bool__(self) -> bool:
        return bool(self.cells) or any(self.folds)

    def add(self, event: Event) -> bool:
        """Fold `event`; False when no fold takes its type (a handler may)."""
        if type(event) in self.cell_types:
            self.cells.add(event)
        fold = self.by_type.get(type(event))
        if fold is None:
            return False
        fold.add(event)
        return True

    async def flush(self, conn: asyncpg.Connection) -> None:
        for fold in self.folds:
            if fold:
                await fold.flush(conn)
        if self.cells:
            await self.cells.flush(conn)


@folds
@dataclass
class RegisterAndDeclarations:
    types: ClassVar[tuple[type[Event], ...]] = (
        SchoolRegistered, SchoolDetailsChanged, DeclarationSubmitted, DeclarationConfirmed,
        UsageAdded, UsageRemoved,
    )  # fmt: skip

    schools: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    school_versions: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    declaration_versions: list[tuple[Any, ...]] = field(default_factory=list)
    # Usage changes in recording order: (uai, code, added, recorded_at).
    usage_changes: list[tuple[str, str, bool, datetime]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.schools or self.declaration_versions or self.usage_changes)

    def add(self, event: Any) -> None:
        if isinstance(event, SchoolRegistered | SchoolDetailsChanged):
            self.school(event)
        elif isinstance(event, DeclarationSubmitted | DeclarationConfirmed):
            self.declaration(event)
        else:
            self.usage(event)

    def school(self, e: SchoolRegistered | SchoolDetailsChanged) -> None:
        assert e.uai is not None
        d = e.details
        facts = (
            d.name, d.kind, d.pupils, d.commune, d.circonscription, d.bassin, d.departement,
            d.academie, region_of(d.academie),
        )  # fmt: skip
        registered_at = self.schools[e.uai][-1] if e.uai in self.schools else e.recorded_at
        self.schools[e.uai] = (e.uai, *facts, registered_at)
        self.school_versions[(e.uai, e.recorded_at)] = (e.uai, e.recorded_at, None, *facts, None)

    def declaration(self, e: DeclarationSubmitted | DeclarationConfirmed) -> None:
        assert e.uai is not None
        a = e.answers
        eq = equipment_of(a)
        rentree = parse_school_year(e.school_year)
        robots = a.get("A3", 0)
        internet = a.get("A2", "NE_SAIT_PAS")
        facts = (
            eq.classes, eq.teacher, eq.pupil, eq.index,
            robots if isinstance(robots, int) else 0,
            internet if isinstance(internet, str) else "NE_SAIT_PAS",
            a.get("A4") is True, a.get("A5") is True, a.get("A6") is True, a.get("A7") is True,
            isinstance(e, DeclarationConfirmed),
        )  # fmt: skip
        self.declaration_versions.append((e.uai, rentree, e.recorded_at, *facts, e.actor.user_id))

    def usage(self, e: UsageAdded | UsageRemoved) -> None:
        assert e.uai is not None
        self.usage_changes.append((e.uai, e.code, isinstance(e, UsageAdded), e.recorded_at))

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.schools:
            await conn.execute(
                """INSERT INTO reporting.schools (uai, name, kind, pupils, commune,
                       circonscription, bassin, departement, academie, region, registered_at)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],
                       $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::timestamptz[])
                   ON CONFLICT (uai) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                       pupils = EXCLUDED.pupils, commune = EXCLUDED.commune,
                       circonscription = EXCLUDED.circonscription, bassin = EXCLUDED.bassin,
                       departement = EXCLUDED.departement, academie = EXCLUDED.academie,
                       region = EXCLUDED.region""",
                *columns(list(self.schools.values())),
            )
            await conn.execute(
                """UPDATE reporting.school_versions v SET valid_to = k.valid_from
                   FROM unnest($1::text[], $2::timestamptz[]) AS k(uai, valid_from)
                   WHERE v.uai = k.uai AND v.valid_to IS NULL AND v.valid_from < k.valid_from""",
                *columns(first_versions(self.school_versions, 1)),
            )
            await conn.execute(
                """INSERT INTO reporting.school_versions
                   SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[],
                       $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[],
                       $10::text[], $11::text[], $12::text[], $13::date[])
                   ON CONFLICT (uai, valid_from) DO NOTHING""",
                *columns(with_valid_to(self.school_versions, 1)),
            )
        if self.declaration_versions:
            # Append-only, and each event is applied once (positions): a binary COPY.
            await conn.copy_records_to_table(
                "declaration_versions", schema_name="reporting", records=self.declaration_versions
            )
        if self.usage_changes:
            await self.write_usage_sets(conn)
        self.schools.clear()
        self.school_versions.clear()
        self.declaration_versions.clear()
        self.usage_changes.clear()

    async def write_usage_sets(self, conn: asyncpg.Connection) -> None:
        """Each touched school's whole set after each of its changes, from its latest set before
        the batch, replayed in recording order."""
        touched = sorted({c[0] for c in self.usage_changes})
        current = {
            r["uai"]: set(r["codes"])
            for r in await conn.fetch(
                """SELECT t.uai, s.codes FROM unnest($1::text[]) AS t(uai)
                   CROSS JOIN LATERAL (
                       SELECT codes FROM reporting.usage_sets s WHERE s.uai = t.uai
                       ORDER BY s.valid_from DESC LIMIT 1) s""",
                touched,
            )
        }
        sets: dict[tuple[str, datetime], list[str]] = {}
        for uai, code, added, at in self.usage_changes:
            codes = current.setdefault(uai, set())
            if added:
                codes.add(code)
            else:
                codes.discard(code)
            sets[(uai, at)] = sorted(codes)  # changes recorded at one moment: one version
        # Each set travels as a JSON array: unnest cannot take arrays of uneven arrays.
        await conn.execute(
            """INSERT INTO reporting.usage_sets (uai, valid_from, codes)
               SELECT k.uai, k.at, ARRAY(SELECT jsonb_array_elements_text(k.codes))
               FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[]) AS k(uai, at, codes)
               ON CONFLICT (uai, valid_from) DO UPDATE SET codes = EXCLUDED.codes""",
            [u for u, _ in sets],
            [at for _, at in sets],
            [_json.encode(codes).decode() for codes in sets.values()],
        )
