"""How the académie's ENT and GAR imports change the read models (`sql/003_ent_gar.sql`).

Append-only: each import is a row (ENT) or a set of rows (GAR) at its `recorded_at`; the reads
take the latest recorded by the moment they answer for."""

from __future__ import annotations

import asyncpg

from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.values import parse_school_year
from services.reporting.projection import handles


@handles(EntConnectionsImported)
async def _ent_connections(conn: asyncpg.Connection, e: EntConnectionsImported) -> None:
    c = e.connections
    await conn.execute(
        """INSERT INTO reporting.ent_connections (uai, school_year, rentree, period, recorded_at,
               pupil_connections, parent_connections, teacher_connections, enrolled_pupils,
               pupils_source, file_sha256)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (uai, rentree, period, recorded_at) DO NOTHING""",
        e.uai,
        e.school_year,
        parse_school_year(e.school_year),
        e.period,
        e.recorded_at,
        c.pupils,
        c.parents,
        c.teachers,
        e.enrolled_pupils,
        e.pupils_source,
        e.file_sha256,
    )


@handles(GarAccessesImported)
async def _gar_accesses(conn: asyncpg.Connection, e: GarAccessesImported) -> None:
    rentree = parse_school_year(e.school_year)
    await conn.executemany(
        """INSERT INTO reporting.gar_accesses (uai, school_year, rentree, recorded_at, resource,
               accesses, file_sha256)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (uai, rentree, recorded_at, resource) DO NOTHING""",
        [
            (e.uai, e.school_year, rentree, e.recorded_at, r.resource, r.accesses, e.file_sha256)
            for r in e.resources
        ],
    )
