"""The territory figures' part of a rebuild (`cell_projection.py`), in a process of its own.

The cells' fold needs nothing the other read models hold, and most of its work is Python: run
beside the rest of the rebuild, it uses the machine's other core instead of doubling the
rebuild's time. It reads the same logs up to the same positions, in the same order, keeps the
facts and sums in memory and saves them at the end. A chunk that cannot be applied makes it start
over, that chunk an event at a time (the one that fails is parked).

    python -m services.reporting.cell_rebuild --schema reporting_next \\
        --before '{"declarations": 1001, "label": 501}' --generation GENERATION [--parent-stdin]

prints one line `cells-result {"applied": …, "parked": …, "seconds": …, "cpu_seconds": …,
"max_rss_kib": …}`.

It writes only while the schema's generation (`meta`) is the one it was given, checked in each
of its transactions: a pass left running by a rebuild that ended (killed, say) never writes into
the next one's tables. With `--parent-stdin` it ends as soon as its standard input does, which
the rebuild holds open for as long as it lives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass

import asyncpg
import structlog

from infra.consumer import Delivery
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.reporting.cell_events import FactsDecoding
from services.reporting.cell_memory import CellMemory
from services.reporting.cell_projection import CellFigures
from services.reporting.cell_projector import TABLES
from services.reporting.projector import park
from services.reporting.rebuild import Retargeted
from services.reporting.rebuild_pass import RebuildPass, Superseded

log = structlog.get_logger("rebuild")

RESULT = "cells-result "
ORPHANED = 3  # the exit status once the rebuild that started it is gone


@dataclass
class CellsReport:
    applied: int = 0
    parked: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process, user and system
    max_rss_kib: int = 0


_PARKED_HERE = "territory figures: "


async def _fence(target: Retargeted, generation: str) -> None:
    """Raise `Superseded` unless the schema is still of `generation`; within a transaction,
    it stays so until the end of it (a rebuild replacing the schema waits for the lock)."""
    try:
        found = await target.fetchval("SELECT value FROM reporting.meta WHERE key = 'generation'")
    except asyncpg.UndefinedTableError:
        found = None
    if found != generation:
        raise Superseded(f"{target.schema} is of generation {found}, not {generation}")


def _cells_pass(
    conn: asyncpg.Connection,
    reader: asyncpg.Connection,
    target: Retargeted,
    before: dict[str, int],
    generation: str,
) -> RebuildPass[CellMemory]:
    async def start() -> CellMemory:
        async with conn.transaction():
            await _fence(target, generation)
            for table in TABLES:
                await target.execute(f"TRUNCATE reporting.{table}")
            await target.execute(
                "DELETE FROM reporting.parked WHERE reason LIKE $1", _PARKED_HERE + "%"
            )
        return CellMemory(complete=True)

    async def apply(deliveries: list[Delivery], memory: CellMemory) -> None:
        async with conn.transaction():
            await _fence(target, generation)
            fold = CellFigures(memory)
            for d in deliveries:
                if d.event is not None and type(d.event) in CellFigures.folded:
                    fold.add(d.event)
            await fold.flush(target)

    async def finish(memory: CellMemory) -> None:
        async with conn.transaction():
            await _fence(target, generation)
            await memory.dump(target)

    async def park_one(d: Delivery, exc: Exception) -> None:
        await park(target, d, f"{_PARKED_HERE}{type(exc).__name__}: {exc}")

    sources = [SOURCES[s] for s in before]
    # Only what the cells' fold takes (label steps, nearly a quarter of the logs, it does not).
    types = [t.type_name() for t in CellFigures.types]
    return RebuildPass(
        conn, sources, before, start, apply, finish, park_one, types=types,
        decode=FactsDecoding(CellFigures.types), reader=reader,
    )  # fmt: skip


async def project_cells(
    database: DatabaseSettings, schema: str, before: dict[str, int], generation: str
) -> CellsReport:
    """The cells of every event before the positions `before`, into `schema` while it is of
    `generation` (`Superseded` once it is not)."""
    started = time.monotonic()
    async with AsyncExitStack() as connections:
        conn: asyncpg.Connection = await asyncpg.connect(database.url)
        connections.push_async_callback(conn.close)
        reader: asyncpg.Connection = await asyncpg.connect(database.url)
        connections.push_async_callback(reader.close)
        # What it writes serves only once its rebuild switches over, in a transaction of its
        # own that waits for its commit to be flushed: each of its chunks need not.
        await conn.execute("SET synchronous_commit = off")
        done = await _cells_pass(conn, reader, Retargeted(conn, schema), before, generation).run()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CellsReport(
        applied=done.applied,
        parked=done.parked,
        seconds=time.monotonic() - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reporting.cell_rebuild")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--before", required=True, help="JSON: source -> position (excluded)")
    parser.add_argument("--generation", required=True, help="of the schema (its meta table)")
    parser.add_argument("--parent-stdin", action="store_true", help="end when standard input does")
    args = parser.parse_args(argv)
    before = {str(k): int(v) for k, v in json.loads(args.before).items()}
    if args.parent_stdin:
        threading.Thread(target=_end_with_parent, daemon=True).start()
    try:
        report = asyncio.run(
            project_cells(DatabaseSettings.from_env(), args.schema, before, args.generation)
        )
    except Superseded as exc:
        log.warning("cells_pass_superseded", reason=str(exc))
        return ORPHANED
    print(RESULT + json.dumps(asdict(report)), flush=True)
    return 0


def _end_with_parent() -> None:
    """Its rebuild writes nothing to this process's standard input and holds it open: the end
    of it is the end of that process. Ended at once, its connection gone, PostgreSQL rolls back
    what it was writing."""
    # The file descriptor itself: a read of `sys.stdin` would hold its lock, which the
    # interpreter's shutdown waits for.
    while os.read(0, 4096):
        pass
    try:
        log.warning("cells_pass_orphaned")  # its standard output may have gone with it
    finally:
        os._exit(ORPHANED)


if __name__ == "__main__":
    sys.exit(main())
