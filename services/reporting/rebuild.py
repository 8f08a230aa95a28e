"""`numecole rebuild`: every read model recomputed from the PostgreSQL logs, blue/green.

The new models are built in the schema `reporting_next` while `reporting` keeps serving and the
live projector keeps applying. Once the rebuild has reached the head of the logs, it takes the
projector's lock, applies the last events, and swaps the schemas in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
import uuid
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

import events
from events.codec import ALL_EVENTS
from events.data_imports import EntConnectionsImported, GarAccessesImported
from infra import consumer
from infra.consumer import Delivery
from infra.relay import SOURCES, Source
from infra.settings import DatabaseSettings
from services.reporting.cell_events import USAGES, FactsDecoding
from services.reporting.cell_projector import CELLS_LOCK
from services.reporting.cell_projector import TABLES as CELL_TABLES
from services.reporting.cell_projector import TRACKING as CELL_TRACKING
from services.reporting.model_memory import ModelMemory
from services.reporting.projection import Projection
from services.reporting.projector import (
    PROJECTOR_LOCK,
    ensure_read_models,
    park,
    schema_fingerprint,
    schema_sql,
)
from services.reporting.rebuild_pass import CHUNK, RebuildPass

log = structlog.get_logger("rebuild")

LIVE, NEXT = "reporting", "reporting_next"
# Held by a rebuild's connection from start to end: one rebuild at a time (the lock goes with
# the connection, whatever ends the process).
REBUILD_LOCK = 4245


class RebuildRunning(Exception):
    """Another rebuild is under way: this one has not touched anything."""

    def __init__(self) -> None:
        super().__init__(
            "Une reconstruction des modèles de lecture est déjà en cours : "
            "attendez qu'elle se termine avant d'en lancer une autre."
        )


def read_logs(
    conn: asyncpg.Connection,
    sources: list[Source],
    after: dict[str, int],
    before: dict[str, int] | None = None,
) -> AsyncIterator[list[Delivery]]:
    """The logs as the rebuild reads them: interleaved in the order they were recorded, each
    event decoded."""
    return consumer.read_logs(conn, sources, after, before, CHUNK)


async def _start_cells(
    database: DatabaseSettings, before: dict[str, int], generation: str
) -> Process:
    """The territory figures' pass, in a process of its own. Its standard input stays open
    while this process lives: it ends with it (`--parent-stdin`)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.reporting.cell_rebuild", "--schema", NEXT,
        "--before", json.dumps(before), "--generation", generation, "--parent-stdin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": database.url},
    )  # fmt: skip


async def _finish_cells(cells: Process) -> dict[str, Any]:
    assert cells.stdout is not None
    out = await cells.stdout.read()
    await cells.wait()
    for line in out.decode().splitlines():
        if line.startswith("cells-result ") and cells.returncode == 0:
            result: dict[str, Any] = json.loads(line.removeprefix("cells-result "))
            return result
    raise RuntimeError(f"the territory figures' rebuild failed (exit {cells.returncode})")


class Retargeted:
    """An asyncpg connection whose statements address another schema than `reporting`: the
    projection's own code, unchanged, writes the new generation."""

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def _sql(self, query: str) -> str:
        return query.replace(f"{LIVE}.", f"{self.schema}.")

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self.conn.execute(self._sql(query), *args, **kwargs)

    async def executemany(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self.conn.executemany(self._sql(query), *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self.conn.fetch(self._sql(query), *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self.conn.fetchrow(self._sql(query), *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self.conn.fetchval(self._sql(query), *args, **kwargs)

    async def copy_records_to_table(self, table: str, **kwargs: Any) -> Any:
        if kwargs.get("schema_name") == LIVE:
            kwargs["schema_name"] = self.schema
        return await self.conn.copy_records_to_table(table, **kwargs)

    def transaction(self) -> Any:
        return self.conn.transaction()


def retarget_ddl(sql: str, schema: str) -> str:
    return sql.replace(f"{LIVE}.", f"{schema}.").replace(
        f"CREATE SCHEMA IF NOT EXISTS {LIVE};", f"CREATE SCHEMA IF NOT EXISTS {schema};"
    )


@dataclass
class RebuildReport:
    applied: int = 0
    parked: int = 0
    seconds: float = 0.0
    positions: dict[str, int] = field(default_factory=dict)
    max_rss_kib: int = 0  # this process's peak
    models_seconds: float = 0.0  # until every read model but the territory figures was done
    models_cpu_seconds: float = 0.0  # of this process by then (user and system)
    cells_seconds: float = 0.0  # the territory figures' process, meanwhile
    cells_cpu_seconds: float = 0.0
    cells_max_rss_kib: int = 0

    @property
    def per_second(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


# Appended to by the reporting pass, never read by it: their keys and indexes are built once,
# after the copy, in one sort each, instead of maintained row by row.
_LOADED_THEN_INDEXED = (
    "declaration_versions", "usage_sets", "label_awards", "school_versions", "schools",
    "label_criteria", "label_standing",
)  # fmt: skip


async def _take_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the keys and indexes of `_LOADED_THEN_INDEXED` in the new schema; the statements
    that build them again, as the DDL defines them."""
    again: list[str] = []
    for c in await conn.fetch(
        """SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) AS definition
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = $1 AND t.relname = ANY($2::text[]) AND c.contype IN ('p', 'u')""",
        NEXT,
        list(_LOADED_THEN_INDEXED),
    ):
        table = f'{NEXT}."{c["relname"]}"'
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{c["conname"]}"')
        again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{c["conname"]}" {c["definition"]}')
    for i in await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 "
        "AND tablename = ANY($2::text[])",
        NEXT,
        list(_LOADED_THEN_INDEXED),
    ):
        await conn.execute(f'DROP INDEX {NEXT}."{i["indexname"]}"')
        again.append(i["indexdef"])
    return again


# Kept by the territory figures' process; the positions and parked events by neither pass.
_NOT_MINE = (*CELL_TABLES, "meta", "tracking", "cell_tracking", "parked", "cell_parked")
_PARKED_BY_CELLS = "territory figures: "


# What the reporting models read from the record itself (`on_record.py`): their pass leaves
# these out. It reads every other event, of a type it folds or not (one that does not decode,
# of a type this code may not know, is parked and reported).
LEFT_TO_RECORD = (EntConnectionsImported.type_name(), GarAccessesImported.type_name())


def _models_pass(
    conn: asyncpg.Connection,
    target: Retargeted,
    sources: list[Source],
    before: dict[str, int],
    progress: Callable[[int], None] | None,
) -> RebuildPass[ModelMemory]:
    """Every read model but the territory figures (`cell_rebuild.py`), its folds' state in one
    complete memory."""

    async def start() -> ModelMemory:
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", NEXT):
            if r["tablename"] not in _NOT_MINE:
                await target.execute(f'TRUNCATE reporting."{r["tablename"]}"')
        await target.execute(
            "DELETE FROM reporting.parked WHERE reason NOT LIKE $1", _PARKED_BY_CELLS + "%"
        )
        return ModelMemory(complete=True)

    async def apply(deliveries: list[Delivery], memory: ModelMemory) -> None:
        async with conn.transaction():
            projection = Projection(target, memory, cells=False)
            for d in deliveries:
                event = d.event if d.event is not None else events.decode(d.data)
                await projection.apply(event, d.source, d.position, d.data)
            await projection.flush()

    async def finish(memory: ModelMemory) -> None:
        async with conn.transaction():
            await Projection(target, memory, cells=False).dump()

    async def park_one(d: Delivery, exc: Exception) -> None:
        await park(target, d, f"{type(exc).__name__}: {exc}")

    return RebuildPass(
        conn, sources, before, start, apply, finish, park_one, progress, skipped=LEFT_TO_RECORD,
        decode=FactsDecoding(ALL_EVENTS, lean=USAGES),
    )  # fmt: skip


async def log_ends(conn: asyncpg.Connection, sources: list[Source]) -> dict[str, int]:
    """The position just after the head of each log: what a rebuild's passes read up to."""
    ends = {}
    for source in sources:
        head: int | None = await conn.fetchval(
            f"SELECT max(notification_id) FROM {source.qualified_table}"  # noqa: S608
        )
        ends[source.service] = (head or 0) + 1
    return ends


async def events_before(
    conn: asyncpg.Connection, sources: list[Source], before: dict[str, int]
) -> int:
    """How many events the logs hold before these positions."""
    found = 0
    for source in sources:
        found += await conn.fetchval(
            f"SELECT count(*) FROM {source.qualified_table} "  # noqa: S608
            "WHERE notification_id < $1",
            before[source.service],
        )
    return found


async def new_generation(conn: asyncpg.Connection) -> tuple[str, list[str]]:
    """The schema `NEXT` made anew (what a rebuild before this one left of it dropped), empty,
    under a new generation; the statements that build its keys and indexes after the copy."""
    await conn.execute(f"DROP SCHEMA IF EXISTS {NEXT} CASCADE")
    generation = str(uuid.uuid4())
    async with conn.transaction():
        for sql in schema_sql():
            await conn.execute(retarget_ddl(sql, NEXT))
        target = Retargeted(conn, NEXT)
        await target.execute(
            "CREATE TABLE reporting.meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        await target.executemany(
            "INSERT INTO reporting.meta VALUES ($1, $2)",
            [("fingerprint", schema_fingerprint()), ("generation", generation)],
        )
        indexes = await _take_indexes(conn)
    return generation, indexes


async def rebuild(
    database: DatabaseSettings, progress: Callable[[int], None] | None = None
) -> RebuildReport:
    """Raises `RebuildRunning`, having changed nothing, while another rebuild is under way."""
    started = time.monotonic()
    report = RebuildReport()
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_LOCK):
            raise RebuildRunning()
        await ensure_read_models(conn)
        sources = [
            s
            for s in SOURCES.values()
            if await conn.fetchval("SELECT to_regclass($1)", f"{s.schema}.{s.table}") is not None
        ]
        # The new models serve only once switched over (below, flushed): their chunks' commits
        # need not wait for the disk.
        await conn.execute("SET synchronous_commit = off")
        generation, indexes = await new_generation(conn)
        target = Retargeted(conn, NEXT)
        # While the live models serve: everything up to the head of each log, chunk by chunk;
        # the territory figures in another process meanwhile, up to the same positions.
        before = await log_ends(conn, sources)
        cells = await _start_cells(database, before, generation)
        try:
            models = await _models_pass(conn, target, sources, before, progress).run()
            for statement in indexes:
                await conn.execute(statement)
            report.models_seconds = time.monotonic() - started
            usage = resource.getrusage(resource.RUSAGE_SELF)
            report.models_cpu_seconds = usage.ru_utime + usage.ru_stime
            cells_report = await _finish_cells(cells)
        finally:
            if cells.returncode is None:
                cells.kill()
                await cells.wait()
            assert cells.stdin is not None
            cells.stdin.close()
        # Every event of the logs was rebuilt from, those of the types the pass left to the
        # record itself (or to the territory figures) too.
        report.applied = await events_before(conn, sources, before) - models.parked
        report.parked = models.parked
        positions = {s.service: 0 for s in sources} | models.positions
        report.parked += cells_report["parked"]
        report.cells_seconds = cells_report["seconds"]
        report.cells_cpu_seconds = cells_report["cpu_seconds"]
        report.cells_max_rss_kib = cells_report["max_rss_kib"]
        # Statistics for the planner before the new models serve; autovacuum would get there
        # at an unknown moment.
        for table in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1", NEXT
        ):
            await conn.execute(f'ANALYZE {NEXT}."{table["tablename"]}"')
        # The tail, with the live projectors held, then the switch, flushed before it returns.
        await conn.execute("SET synchronous_commit = on")
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PROJECTOR_LOCK)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CELLS_LOCK)
            async for chunk in read_logs(conn, sources, positions):
                projection = Projection(target)
                for d in chunk:
                    event = d.event if d.event is not None else events.decode(d.data)
                    await projection.apply(event, d.source, d.position, d.data)
                    positions[d.source] = d.position
                await projection.flush()
                report.applied += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            for tracking in ("reporting.tracking", CELL_TRACKING):
                await target.executemany(
                    f"INSERT INTO {tracking} (source, position) VALUES ($1, $2) "  # noqa: S608
                    "ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position",
                    [(s, p) for s, p in positions.items()]
                    + [(s, 0) for s in SOURCES if s not in positions],
                )
            await conn.execute(f"ALTER SCHEMA {LIVE} RENAME TO reporting_old")
            await conn.execute(f"ALTER SCHEMA {NEXT} RENAME TO {LIVE}")
            await conn.execute("DROP SCHEMA reporting_old CASCADE")
        report.positions = positions
    finally:
        await conn.close()
    report.seconds = time.monotonic() - started
    report.max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    log.info(
        "rebuilt",
        applied=report.applied,
        parked=report.parked,
        seconds=round(report.seconds, 2),
        models_seconds=round(report.models_seconds, 2),
        models_cpu_seconds=round(report.models_cpu_seconds, 2),
        cells_seconds=round(report.cells_seconds, 2),
        cells_cpu_seconds=round(report.cells_cpu_seconds, 2),
        per_second=round(report.per_second),
    )
    return report
