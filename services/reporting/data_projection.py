"""How the académie's ENT and GAR imports change the read models (`sql/003_ent_gar.sql`).

Append-only: each import is a row at its `recorded_at` (a GAR list with its resources and accès
side by side); the reads take the latest recorded by the moment they answer for. A batch's imports are written with one
statement a table; a row already there (the same import applied again) is left as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
import msgspec

from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.envelope import Event
from events.values import parse_school_year
from services.reporting.pending_writes import columns, folds

_encode = msgspec.json.Encoder().encode


def _json(value: object) -> str:
    return _encode(value).decode()


@folds
@dataclass
class DataImports:
    types: ClassVar[tuple[type[Event], ...]] = (EntConnectionsImported, GarAccessesImported)

    ent: list[tuple[Any, ...]] = field(default_factory=list)
    gar: list[tuple[Any, ...]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ent or self.gar)

    def add(self, e: EntConnectionsImported | GarAccessesImported) -> None:
        rentree = parse_school_year(e.school_year)
        if isinstance(e, EntConnectionsImported):
            c = e.connections
            self.ent.append(
                (e.uai, e.school_year, rentree, e.period, e.recorded_at, c.pupils, c.parents,
                 c.teachers, e.enrolled_pupils, e.pupils_source, e.file_sha256)
            )  # fmt: skip
        elif e.resources:
            accesses: dict[str, int] = {}
            for r in e.resources:
                accesses.setdefault(r.resource, r.accesses)  # a resource's first line stands
            self.gar.append(
                (e.uai, e.school_year, rentree, e.recorded_at, list(accesses),
                 list(accesses.values()), e.file_sha256)
            )  # fmt: skip

    async def flush(self, conn: asyncpg.Connection) -> None:
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
