"""How the académie's ENT and GAR imports change the read models (`sql/003_ent_gar.sql`).

Append-only: each import is a row (ENT) or a set of rows (GAR) at its `recorded_at`; the reads
take the latest recorded by the moment they answer for. A batch's imports are written with one
statement a table; a row already there (the same import applied again) is left as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg

from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.envelope import Event
from events.values import parse_school_year
from services.reporting.pending_writes import columns, folds


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
        else:
            self.gar.extend(
                (e.uai, e.school_year, rentree, e.recorded_at, r.resource, r.accesses,
                 e.file_sha256)
                for r in e.resources
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
            await conn.execute(
                """INSERT INTO reporting.gar_accesses (uai, school_year, rentree, recorded_at,
                       resource, accesses, file_sha256)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[],
                       $5::text[], $6::bigint[], $7::text[])
                   ON CONFLICT (uai, rentree, recorded_at, resource) DO NOTHING""",
                *columns(self.gar),
            )
        self.ent.clear()
        self.gar.clear()
