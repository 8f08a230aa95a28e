"""How the académie's ENT and GAR imports change the read models (`sql/003_ent_gar.sql`).

Append-only: each import is a row at its `recorded_at` (a GAR list with its resources and accès
side by side); the reads take the latest recorded by the moment they answer for. A batch's
imports are written with one statement a table; a row already there (the same import applied
again) is left as it is. A rebuild copies them, leaving out what the table's key would: a row
the same as one of the school's at its latest import moment."""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import msgspec

from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.envelope import Event
from events.values import parse_school_year
from services.reporting.model_memory import ModelMemory, Row
from services.reporting.pending_writes import columns

_encode = msgspec.json.Encoder().encode


def _json(value: object) -> str:
    return _encode(value).decode()


class DataImports:
    types: ClassVar[tuple[type[Event], ...]] = (EntConnectionsImported, GarAccessesImported)

    def __init__(self, memory: ModelMemory) -> None:
        self.memory = memory
        self.ent: list[Row] = []
        self.gar: list[Row] = []

    def __bool__(self) -> bool:
        return bool(self.ent or self.gar)

    def add(self, e: EntConnectionsImported | GarAccessesImported) -> None:
        rentree = parse_school_year(e.school_year)
        if isinstance(e, EntConnectionsImported):
            c = e.connections
            if self.memory.complete and self._seen(
                e.uai, e.recorded_at, ("ent", rentree, e.period)
            ):
                return
            self.ent.append(
                (e.uai, e.school_year, rentree, e.period, e.recorded_at, c.pupils, c.parents,
                 c.teachers, e.enrolled_pupils, e.pupils_source, e.file_sha256)
            )  # fmt: skip
        elif e.resources:
            accesses: dict[str, int] = {}
            for r in e.resources:
                accesses.setdefault(r.resource, r.accesses)  # a resource's first line stands
            if self.memory.complete and self._seen(e.uai, e.recorded_at, ("gar", rentree)):
                return
            self.gar.append(
                (e.uai, e.school_year, rentree, e.recorded_at, list(accesses),
                 list(accesses.values()), e.file_sha256)
            )  # fmt: skip

    def _seen(self, uai: str | None, at: Any, key: Row) -> bool:
        """Whether the school has this key at this moment already (then recording it)."""
        assert uai is not None
        memory = self.memory.imports
        moment, keys = memory.get(uai, (None, frozenset()))
        if moment != at:
            keys = frozenset()
        elif key in keys:
            return True
        memory[uai] = (at, keys | {key})
        return False

    async def dump(self, conn: asyncpg.Connection) -> None:
        """Nothing is held back."""

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.memory.complete:
            if self.ent:
                await conn.copy_records_to_table(
                    "ent_connections", schema_name="reporting", records=self.ent
                )
            if self.gar:
                await conn.copy_records_to_table(
                    "gar_accesses", schema_name="reporting", records=self.gar
                )
            self.ent.clear()
            self.gar.clear()
            return
        if self.ent:
            await conn.execute(
                """INSERT INTO reporting.ent_connections (uai, school_year, rentree, period,
                       recorded_at, pupil_connections, parent_connections, teacher_connections,
                       enrolled_pupils, pupils_source, file_sha256)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::smallint[],
                       $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::text[],
                       $11::text[])
                   ON CONFLICT (uai, rentree, period, recorded_at) DO NOTHING""",
                *columns(self.ent),
            )
        if self.gar:
            # Each list travels as JSON: unnest cannot take arrays of uneven arrays.
            await conn.execute(
                """INSERT INTO reporting.gar_accesses (uai, school_year, rentree, recorded_at,
                       resources, accesses, file_sha256)
                   SELECT g.uai, g.school_year, g.rentree, g.recorded_at,
                          ARRAY(SELECT jsonb_array_elements_text(g.resources)),
                          ARRAY(SELECT jsonb_array_elements_text(g.accesses)::bigint),
                          g.file_sha256
                   FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[],
                       $5::jsonb[], $6::jsonb[], $7::text[])
                       AS g(uai, school_year, rentree, recorded_at, resources, accesses,
                            file_sha256)
                   ON CONFLICT (uai, rentree, recorded_at) DO NOTHING""",
                *columns([(*g[:4], _json(g[4]), _json(g[5]), g[6]) for g in self.gar]),
            )
        self.ent.clear()
        self.gar.clear()
