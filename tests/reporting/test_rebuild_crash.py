"""A rebuild that is killed, or that finds another under way, leaves the live read models serving
as they were; what it started ends with it and writes nothing into the next one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.reporting.cell_projector import TABLES as CELL_TABLES
from services.reporting.cell_rebuild import ORPHANED, project_cells
from services.reporting.rebuild import (
    NEXT,
    REBUILD_LOCK,
    RebuildRunning,
    _start_cells,
    log_ends,
    new_generation,
    rebuild,
)
from services.reporting.rebuild_pass import Superseded
from tests.reporting.test_rebuild import checksums, demo_projected

ROOT = Path(__file__).resolve().parents[2]


async def cell_rows(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM {NEXT}.{t}") for t in CELL_TABLES}


async def waiting_truncate(conn: asyncpg.Connection) -> bool:
    """Whether a backend waits for a lock to empty the next generation's territory figures."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'TRUNCATE reporting_next.%')"
    )
    return found


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


async def test_a_second_rebuild_is_refused_while_one_runs_and_changes_nothing(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    other: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        live = await checksums(conn)
        # Another rebuild under way: it holds the lock.
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_LOCK)
        with pytest.raises(RebuildRunning, match="déjà en cours"):
            await rebuild(database)
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "infra.cli", "rebuild"],
            env={**os.environ, "DATABASE_URL": database.url, "NUMECOLE_LOG_LEVEL": "warning"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert cli.returncode == 2, cli.stderr
        assert "Une reconstruction des modèles de lecture est déjà en cours" in cli.stderr
        assert await conn.fetchval(f"SELECT to_regnamespace('{NEXT}')") is None
        assert await checksums(conn) == live
        # Once it has ended, a rebuild goes ahead.
        await other.execute("SELECT pg_advisory_unlock($1)", REBUILD_LOCK)
        report = await rebuild(database)
        assert report.parked == 0
        assert await checksums(conn) == live
    finally:
        await other.close()
        await conn.close()


async def test_a_territory_pass_of_a_generation_replaced_writes_nothing(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    try:
        before = await log_ends(conn, list(SOURCES.values()))
        generation, _ = await new_generation(conn)
        done = await project_cells(database, NEXT, before, generation)
        assert done.applied > 100
        written = await cell_rows(conn)
        assert written["cell_figures"] > 10
        kept = await checksums(conn, NEXT)
        # Another rebuild has taken the schema over: the pass of the first one finds out in its
        # first transaction, before emptying anything.
        await conn.execute(f"UPDATE {NEXT}.meta SET value = 'another' WHERE key = 'generation'")
        with pytest.raises(Superseded):
            await project_cells(database, NEXT, before, generation)
        assert await cell_rows(conn) == written
        assert await checksums(conn, NEXT) == kept
        # The schema dropped altogether: the same.
        await conn.execute(f"DROP SCHEMA {NEXT} CASCADE")
        with pytest.raises(Superseded):
            await project_cells(database, NEXT, before, generation)
    finally:
        await conn.close()


async def test_the_territory_pass_ends_with_the_rebuild_that_started_it(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    holder: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        before = await log_ends(conn, list(SOURCES.values()))
        generation, _ = await new_generation(conn)
        # The pass is held at its start, as a slow one would be, by a reader of its table.
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(f"LOCK TABLE {NEXT}.cell_figures IN ACCESS SHARE MODE")
        cells = await _start_cells(database, before, generation)
        await until(lambda: waiting_truncate(conn))
        # The rebuild gone (its end of the pipe closed, as its death closes it).
        assert cells.stdin is not None
        cells.stdin.close()
        assert await asyncio.wait_for(cells.wait(), timeout=20) == ORPHANED
        # Its backend, waiting for the lock, finds out once it has it: nothing written.
        await transaction.rollback()
        await until(lambda: _no_waiting(conn))
        assert set((await cell_rows(conn)).values()) == {0}
    finally:
        await holder.close()
        await conn.close()


async def _no_waiting(conn: asyncpg.Connection) -> bool:
    return not await waiting_truncate(conn)


async def test_a_killed_rebuild_leaves_the_live_models_serving_and_the_next_one_succeeds(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    holder: asyncpg.Connection = await asyncpg.connect(database.url)
    proc = None
    try:
        live = await checksums(conn)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "infra.cli", "rebuild",
            env={**os.environ, "DATABASE_URL": database.url, "NUMECOLE_LOG_LEVEL": "warning"},
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        async def next_made() -> bool:
            found = await conn.fetchval(f"SELECT to_regclass('{NEXT}.cell_figures')")
            return found is not None

        # Its territory figures' pass held at its start, the rebuild waits for it: killed then,
        # in the middle of everything.
        await until(next_made)
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(f"LOCK TABLE {NEXT}.cell_figures IN ACCESS SHARE MODE")
        await until(lambda: waiting_truncate(conn))
        children = await asyncio.to_thread(_children, proc.pid)
        assert len(children) == 1
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), timeout=10) == -signal.SIGKILL
        # Its territory figures' pass ends too, held as it is; its backend once it has the lock.
        await until(lambda: asyncio.to_thread(_ended, children[0]))
        await transaction.rollback()
        await until(lambda: _no_waiting(conn))
        assert set((await cell_rows(conn)).values()) == {0}
        # The live models, untouched, serve on; the next rebuild starts afresh and succeeds.
        assert await checksums(conn) == live
        report = await rebuild(database)
        assert report.parked == 0
        assert await checksums(conn) == live
        assert await conn.fetchval(f"SELECT to_regnamespace('{NEXT}')") is None
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await holder.close()
        await conn.close()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # ended, not yet reaped by anyone
