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

from infra.consumer import Delivery, read_logs
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.reporting.cell_memory import CellMemory
from services.reporting.cell_projection import CellFigures
from services.reporting.projector import park
from services.reporting.rebuild import CHUNK, Retargeted, collected_every

log = structlog.get_logger("rebuild")

RESULT = "cells-result "


@dataclass
class CellsReport:
    applied: int = 0
    parked: int = 0
    seconds: float = 0.0
    max_rss_kib: int = 0


# What a pass writes, emptied when it starts over.
_TABLES = (
    "cells", "figure_years", "cell_figures", "cell_usages", "cell_gar_resources", "cell_disorder",
    "school_facts", "cell_sums", "cell_campaigns",
)  # fmt: skip
_PARKED_HERE = "territory figures: "


class _ChunkFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(f"chunk {index}")
        self.index = index


async def _apply(
    conn: asyncpg.Connection, target: Retargeted, deliveries: list[Delivery], memory: CellMemory
) -> None:
    async with conn.transaction():
        fold = CellFigures(memory)
        for d in deliveries:
            if d.event is not None and type(d.event) in CellFigures.types:
                fold.add(d.event)
        await fold.flush(target)


async def _apply_alone(
    conn: asyncpg.Connection, target: Retargeted, d: Delivery, memory: CellMemory
) -> bool:
    """One event, undone in memory if it fails (then parked): False when it was."""
    memory.begin()
    try:
        await _apply(conn, target, [d], memory)
    except (asyncpg.PostgresConnectionError, OSError):
        raise
    except Exception as exc:
        memory.rollback()
        await park(target, d, f"{_PARKED_HERE}{type(exc).__name__}: {exc}")
        return False
    memory.commit()
    return True


async def _pass(
    conn: asyncpg.Connection, target: Retargeted, before: dict[str, int], careful: set[int]
) -> CellsReport:
    """Every chunk at once, but those of `careful`, an event at a time (a chunk that fails
    raises `_ChunkFailed`: what it changed in memory cannot be told apart, the pass starts
    over). Nothing is copied to undo in the common case, where nothing fails."""
    report = CellsReport()
    for table in _TABLES:
        await target.execute(f"TRUNCATE reporting.{table}")
    await target.execute("DELETE FROM reporting.parked WHERE reason LIKE $1", _PARKED_HERE + "%")
    memory = CellMemory(complete=True)
    sources = [SOURCES[s] for s in before]
    with collected_every(20) as chunk_done:
        index = 0
        async for chunk in read_logs(conn, sources, {}, before, CHUNK):
            if index in careful:
                for d in chunk:
                    applied = await _apply_alone(conn, target, d, memory)
                    report.applied += applied
                    report.parked += not applied
            else:
                try:
                    await _apply(conn, target, chunk, memory)
                except (asyncpg.PostgresConnectionError, OSError):
                    raise
                except Exception as exc:
                    raise _ChunkFailed(index) from exc
                report.applied += len(chunk)
            index += 1
            chunk_done()
    await memory.dump(target)
    return report


async def project_cells(
    database: DatabaseSettings, schema: str, before: dict[str, int]
) -> CellsReport:
    """The cells of every event before the positions `before`, into `schema`."""
    started = time.monotonic()
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        target = Retargeted(conn, schema)
        careful: set[int] = set()
        while True:
            try:
                report = await _pass(conn, target, before, careful)
                break
            except _ChunkFailed as failed:
                log.warning("territory_figures_started_over", chunk=failed.index)
                careful.add(failed.index)
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
