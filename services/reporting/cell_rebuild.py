"""The territory figures' part of a rebuild (`cell_projection.py`), in a process of its own.

The cells' fold needs nothing the other read models hold, and most of its work is Python: run
beside the rest of the rebuild, it uses the machine's other core instead of doubling the
rebuild's time. It reads the same logs up to the same positions, in the same order, keeps the
facts and sums in memory and saves them at the end.

    python -m services.reporting.cell_rebuild --schema reporting_next \\
        --before '{"declarations": 1001, "label": 501}'

prints one line `cells-result {"applied": …, "parked": …, "seconds": …, "max_rss_kib": …}`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import asyncpg
import structlog

from infra.consumer import Delivery, read_logs
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.reporting.cell_memory import CellMemory
from services.reporting.cell_projection import CellFigures
from services.reporting.projector import park
from services.reporting.rebuild import CHUNK, Retargeted

log = structlog.get_logger("rebuild")

RESULT = "cells-result "


@dataclass
class CellsReport:
    applied: int = 0
    parked: int = 0
    seconds: float = 0.0
    max_rss_kib: int = 0


async def _apply(
    conn: asyncpg.Connection, target: Retargeted, deliveries: list[Delivery], memory: CellMemory
) -> None:
    memory.begin()
    try:
        async with conn.transaction():
            fold = CellFigures(memory)
            for d in deliveries:
                if d.event is not None and type(d.event) in CellFigures.types:
                    fold.add(d.event)
            await fold.flush(target)
    except BaseException:
        memory.rollback()
        raise
    memory.commit()


async def project_cells(
    database: DatabaseSettings, schema: str, before: dict[str, int]
) -> CellsReport:
    """The cells of every event before the positions `before`, into `schema`."""
    started = time.monotonic()
    report = CellsReport()
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        target = Retargeted(conn, schema)
        memory = CellMemory(complete=True)
        sources = [SOURCES[s] for s in before]
        async for chunk in read_logs(conn, sources, {}, before, CHUNK):
            # The facts kept in memory are many long-lived objects: left to the collector, it
            # would walk all of them again and again (a third of this process's time).
            gc.freeze()
            try:
                await _apply(conn, target, chunk, memory)
                report.applied += len(chunk)
            except (asyncpg.PostgresConnectionError, OSError):
                raise
            except Exception:
                for d in chunk:
                    try:
                        await _apply(conn, target, [d], memory)
                        report.applied += 1
                    except (asyncpg.PostgresConnectionError, OSError):
                        raise
                    except Exception as exc:
                        await park(target, d, f"territory figures: {type(exc).__name__}: {exc}")
                        report.parked += 1
        await memory.dump(target)
    finally:
        await conn.close()
    report.seconds = time.monotonic() - started
    report.max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reporting.cell_rebuild")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--before", required=True, help="JSON: source -> position (excluded)")
    args = parser.parse_args(argv)
    before = {str(k): int(v) for k, v in json.loads(args.before).items()}
    report = asyncio.run(project_cells(DatabaseSettings.from_env(), args.schema, before))
    print(RESULT + json.dumps(asdict(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
