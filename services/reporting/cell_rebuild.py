"""The territory figures' part of a rebuild (`cell_projection.py`), in a process of its own.

The cells' fold needs nothing the other read models hold, and most of its work is Python: run
beside the rest of the rebuild, it uses the machine's other core instead of doubling the
rebuild's time. It reads the same logs up to the same positions, in the same order, keeps the
facts and sums in memory and saves them at the end. A chunk that cannot be applied makes it start
over, that chunk an event at a time (the one that fails is parked).

    python -m services.reporting.cell_rebuild --schema reporting_next \\
        --before '{"declarations": 1001, "label": 501}'

prints one line `cells-result {"applied": …, "parked": …, "seconds": …, "max_rss_kib": …}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import asyncpg
import structlog

from infra.consumer import Delivery
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.reporting.cell_memory import CellMemory
from services.reporting.cell_projection import CellFigures
from services.reporting.cell_projector import TABLES
from services.reporting.projector import park
from services.reporting.rebuild import Retargeted
from services.reporting.rebuild_pass import RebuildPass

log = structlog.get_logger("rebuild")

RESULT = "cells-result "


@dataclass
class CellsReport:
    applied: int = 0
    parked: int = 0
    seconds: float = 0.0
    max_rss_kib: int = 0


_PARKED_HERE = "territory figures: "


def _cells_pass(
    conn: asyncpg.Connection, target: Retargeted, before: dict[str, int]
) -> RebuildPass[CellMemory]:
    async def start() -> CellMemory:
        for table in TABLES:
            await target.execute(f"TRUNCATE reporting.{table}")
        await target.execute(
            "DELETE FROM reporting.parked WHERE reason LIKE $1", _PARKED_HERE + "%"
        )
        return CellMemory(complete=True)

    async def apply(deliveries: list[Delivery], memory: CellMemory) -> None:
        async with conn.transaction():
            fold = CellFigures(memory)
            for d in deliveries:
                if d.event is not None and type(d.event) in CellFigures.types:
                    fold.add(d.event)
            await fold.flush(target)

    async def finish(memory: CellMemory) -> None:
        await memory.dump(target)

    async def park_one(d: Delivery, exc: Exception) -> None:
        await park(target, d, f"{_PARKED_HERE}{type(exc).__name__}: {exc}")

    sources = [SOURCES[s] for s in before]
    # Only what the cells' fold takes (label steps, nearly a quarter of the logs, it does not).
    types = [t.type_name() for t in CellFigures.types]
    return RebuildPass(conn, sources, before, start, apply, finish, park_one, types=types)


async def project_cells(
    database: DatabaseSettings, schema: str, before: dict[str, int]
) -> CellsReport:
    """The cells of every event before the positions `before`, into `schema`."""
    started = time.monotonic()
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        done = await _cells_pass(conn, Retargeted(conn, schema), before).run()
    finally:
        await conn.close()
    return CellsReport(
        applied=done.applied,
        parked=done.parked,
        seconds=time.monotonic() - started,
        max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


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
