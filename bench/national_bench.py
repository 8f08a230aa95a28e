"""Issue 4's figures on a national dataset: rebuild, `as_of` replay, territory profile, PDF.

On the synthetic national dataset (`bench/national_data.py`: 48 000 écoles, five school years,
~3.1 million events in the two logs; `--quick`: 4 800 écoles, a tenth), each figure next to a
baseline measured in the same run:

1. **Rebuild** — `numecole rebuild` (or, while the CLI has no such command,
   `services.reporting.rebuild.rebuild` called by `python -c`) as a process of its own, on the
   dataset's database: events/s over its wall time, the wall time itself and its peak memory
   (the peaks of its two processes added: the rebuild and, beside it, the territory figures';
   `ru_maxrss` of the child from `os.wait4` when it does not say). Baseline: a process reading
   and decoding the same logs with the same reader and chunks (`read_logs`: interleaved as
   recorded, each event decoded; no projection), run before and after the rebuild (the faster
   one is kept). Goals: ratio ≥ 0.5, under 300 s, under 1 GiB. Beside it, two floors of the
   rebuild as it is built: its two passes' reads alone, side by side, nothing projected (the
   ratio it could reach were its folds, encoding and writes free), and PostgreSQL alone storing
   its read models again.
2. **`as_of` replay of one school** — `school_profile(conn, uai, school_year, as_of)` for 500
   random écoles at random moments of the five school years (half with the school year of the
   moment, half without: the default year), one asyncpg connection, after 20 unmeasured reads.
   p50 and p99. Baseline: `SELECT 1` round trips on the same connection. Goal: p99 < 50 ms.
3. **Territory profile of an académie** — `territory_profile(conn, "academie", code, year, at)`
   for every académie at four moments (end of 2022-2023, January 2025, June 2026, now). p50 and
   p99 (goal < 100 ms), same baseline.
4. **PDF per school** — for 100 random écoles, the profile as of now, then
   `render_profile_pdf`, timed alone; median (goal < 200 ms) and p99. Baseline: the one-line PDF
   of `bench/pdf_bench.py`, alternated with the renders.

The read models are analysed (`ANALYZE`) again after the rebuild, before the reads: the rebuild
analyses its new tables before it switches over, but autovacuum would analyse them again at an
unknown moment during the reads.

Opt-in (the full run takes ~12 minutes, a third of it the rebuild; `--quick` ~3):

    python -m bench --only national            # 48 000 écoles
    python -m bench --only national --quick    # 4 800 écoles (~2 minutes)
    python -m bench.national_bench [--quick | --schools N] [--drop-dataset] [--markdown]

A plain `python -m bench` skips it (unless NUMECOLE_BENCH_NATIONAL=1). The dataset is generated
once and cached in the database `numecole_national_<écoles>` (~5 minutes at full scale, timed
apart: it is set-up, not a figure); `python -m bench.national_data --drop` removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import asyncpg

from bench.common import (
    ROOT,
    Figure,
    Options,
    Section,
    Servers,
    describe_machine,
    markdown_table,
    monotonic,
    percentile,
    servers,
    text_table,
)
from bench.national_data import (
    ACADEMIES,
    FULL_SCHOOLS,
    QUICK_SCHOOLS,
    Dataset,
    database_name,
    drop_dataset,
    ensure_dataset,
    sizes,
)
from bench.pdf_bench import one_line_pdf
from events import EVENT_TYPES
from events.values import school_year_on
from infra.relay import SOURCES
from services.reporting.app import READ_SETTINGS
from services.reporting.cell_projection import CellFigures
from services.reporting.pdf import render_profile_pdf
from services.reporting.rebuild import LEFT_TO_RECORD
from services.reporting.school_profile import SchoolProfile, school_profile
from services.reporting.territory_profile import territory_profile

OPT_IN = "NUMECOLE_BENCH_NATIONAL"
RESULT = "NATIONAL-RESULT "  # the line a child process reports on
PROFILES = 500
WARM_UP = 20
PDFS = 100
ROUND_TRIPS = 1000
SEED = 20261123
# Moments of the territory reads, with the school year each is read for.
TERRITORY_MOMENTS = (
    (datetime(2023, 8, 31, 21, tzinfo=UTC), "2022-2023"),
    (datetime(2025, 1, 15, 12, tzinfo=UTC), "2024-2025"),
    (datetime(2026, 6, 30, 12, tzinfo=UTC), "2025-2026"),
    (None, "2025-2026"),  # now
)
FIRST_MOMENT = datetime(2021, 9, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2026, 8, 31, 21, tzinfo=UTC)

# What the child processes run. The rebuild as the CLI would run it, reporting its own figures.
REBUILD_SNIPPET = f"""
import asyncio, json
from infra.settings import DatabaseSettings
from services.reporting.rebuild import rebuild
report = asyncio.run(rebuild(DatabaseSettings.from_env()))
print({RESULT!r} + json.dumps({{"applied": report.applied, "parked": report.parked,
      "seconds": report.seconds}}), flush=True)
"""
# The baseline: the same logs, the same chunks, in the same order (interleaved as recorded),
# each event decoded, nothing projected. Only the events of the types in READ_TYPES (JSON), if
# set: what the territory figures' pass reads.
READ_TYPES = "NUMECOLE_BENCH_READ_TYPES"
READ_SNIPPET = f"""
import asyncio, json, os, time
import asyncpg
from infra.consumer import read_logs  # as the rebuild's passes read
from infra.relay import SOURCES
from services.reporting.rebuild_pass import CHUNK, COLLECT_EVERY, collected_every

async def main():
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    started, read = time.monotonic(), 0
    try:
        sources = [
            s for s in SOURCES.values()
            if await conn.fetchval("SELECT to_regclass($1)", f"{{s.schema}}.{{s.table}}")
        ]
        with collected_every(COLLECT_EVERY) as chunk_done:
            types = json.loads(os.environ.get({READ_TYPES!r}, "null"))
            async for chunk in read_logs(conn, sources, {{}}, None, CHUNK, types):
                assert all(d.event is not None for d in chunk)  # decoded
                read += len(chunk)
                chunk_done()
    finally:
        await conn.close()
    print({RESULT!r} + json.dumps({{"applied": read, "parked": 0,
          "seconds": time.monotonic() - started}}), flush=True)

asyncio.run(main())
"""


def requested(argv: Sequence[str] | None = None) -> bool:
    """Whether this run asked for the national bench by name (or the environment opts in)."""
    if os.environ.get(OPT_IN) == "1":
        return True
    args = list(sys.argv[1:] if argv is None else argv)
    named = any(a == "--only=national" for a in args)
    return named or any(a == "--only" and b == "national" for a, b in itertools.pairwise(args))


# -------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ChildRun:
    wall: float  # seconds, from start to exit
    peak_mib: float  # ru_maxrss of this child
    applied: int
    parked: int
    inner: float  # seconds, as the child measured them
    cells_mib: float = 0.0  # the rebuild's territory figures process, within peak_mib
    cells_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.applied / self.wall if self.wall > 0 else 0.0


def rebuild_command() -> tuple[list[str], str]:
    """`numecole rebuild` when the CLI has it, otherwise the function through `python -c`."""
    import infra.cli

    for action in infra.cli.parser()._actions:
        if isinstance(action, argparse._SubParsersAction) and "rebuild" in action.choices:
            return [sys.executable, "-m", "infra.cli", "rebuild"], "`python -m infra.cli rebuild`"
    return [sys.executable, "-c", REBUILD_SNIPPET], "`rebuild()` via `python -c`"


# `numecole rebuild`'s summary (`infra.audit_commands.rebuild_summary`), its numbers written
# the French way (1 234 567,8): "… reconstruits : 315 258 événements en 69,7 s (…), 0
# écarté(s)." then "Pic de mémoire : 210 Mio (reconstruction) + 590 Mio (chiffres des
# territoires, en parallèle : 61,2 s)." The two processes run side by side, so their peaks add
# up (wait4 would only give the larger one).
_NUMBER = r"(\d[\d\u202f]*(?:,\d+)?)"
CLI_SUMMARY = re.compile(rf"reconstruits : {_NUMBER} événements en {_NUMBER} s .*?{_NUMBER} écarté")
CLI_MEMORY = re.compile(
    rf"Pic de mémoire : {_NUMBER} Mio .*?\+ {_NUMBER} Mio \(chiffres des territoires, "
    rf"en parallèle : {_NUMBER} s"
)


def _number(french: str) -> float:
    return float(french.replace("\u202f", "").replace(",", "."))


def cli_summary(output: str) -> dict[str, float]:
    """The figures of the last rebuild summary in `output` ({} without one)."""
    found = CLI_SUMMARY.findall(output)
    if not found:
        return {}
    applied, seconds, parked = map(_number, found[-1])
    summary = {"applied": int(applied), "seconds": seconds, "parked": int(parked)}
    memory = CLI_MEMORY.findall(output)
    if memory:
        main, cells, cells_seconds = map(_number, memory[-1])
        summary |= {"peak_mib": int(main) + int(cells), "cells_mib": int(cells),
                    "cells_seconds": cells_seconds}  # fmt: skip
    return summary


def run_child(
    cmd: list[str],
    database_url: str,
    log: Path,
    events_in_log: int,
    extra_env: dict[str, str] | None = None,
) -> ChildRun:
    """Run a process to its end; its wall time, its own peak RSS and what it reported."""
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0
    env = {**os.environ, **(extra_env or {}), "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("NUMECOLE_LOG_FORMAT", "json")
    started = monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    with log.open("rb") as f:
        f.seek(offset)
        output = f.read().decode(errors="replace")
    reported = [line for line in output.splitlines() if line.startswith(RESULT)]
    result = json.loads(reported[-1][len(RESULT) :]) if reported else cli_summary(output)
    if not result:
        # Its figures unread, the bench would report made-up ones (the wall time, one process's
        # memory). `numecole rebuild` exits 1 when it parked events: its figures still count.
        raise RuntimeError(
            f"{cmd[:3]} exited with {proc.returncode}, reporting no figures:\n{output[-3000:]}"
        )
    return ChildRun(
        wall=wall,
        peak_mib=float(result.get("peak_mib", usage.ru_maxrss / 1024)),
        applied=int(result.get("applied", events_in_log)),
        parked=int(result.get("parked", 0)),
        inner=float(result.get("seconds", wall)),
        cells_mib=float(result.get("cells_mib", 0)),
        cells_seconds=float(result.get("cells_seconds", 0)),
    )


async def reads_side_by_side(read_cmd: list[str], url: str, logs: Path, in_log: int) -> float:
    """Seconds the rebuild's two passes take to read and decode what they read, side by side as
    the rebuild runs them (each pass the types it folds, decoded in full), with nothing
    projected, encoded or written: what this shape of rebuild pays before any of its own work."""
    cell_types = json.dumps([t.type_name() for t in CellFigures.types])
    started = monotonic()
    await asyncio.gather(
        asyncio.to_thread(
            run_child,
            read_cmd,
            url,
            logs / "read-models.log",
            in_log,
            {READ_TYPES: json.dumps([t for t in EVENT_TYPES if t not in LEFT_TO_RECORD])},
        ),
        asyncio.to_thread(
            run_child, read_cmd, url, logs / "read-cells.log", in_log, {READ_TYPES: cell_types}
        ),
    )
    return monotonic() - started


# -------------------------------------------------------------------------------- reads


def ms_since(started: float) -> float:
    return (monotonic() - started) * 1000


async def round_trips(conn: asyncpg.Connection, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = monotonic()
        await conn.fetchval("SELECT 1")
        times.append(ms_since(started))
    return times


@dataclass
class Replays:
    times: list[float] = field(default_factory=list)
    missing: int = 0  # no profile (the school was not registered, or closed, at that moment)
    with_year: int = 0


async def profile_replays(
    conn: asyncpg.Connection, uais: Sequence[str], rng: random.Random, n: int
) -> Replays:
    plan = []
    for _ in range(WARM_UP + n):
        at = FIRST_MOMENT + (LAST_MOMENT - FIRST_MOMENT) * rng.random()
        plan.append((rng.choice(uais), school_year_on(at) if rng.random() < 0.5 else None, at))
    replays = Replays()
    for k, (uai, year, at) in enumerate(plan):
        started = monotonic()
        profile = await school_profile(conn, uai, year, at)
        elapsed = ms_since(started)
        if k < WARM_UP:
            continue
        replays.times.append(elapsed)
        replays.missing += profile is None
        replays.with_year += year is not None
    return replays


async def territory_reads(conn: asyncpg.Connection, academies: Sequence[str]) -> list[float]:
    times = []
    for academie in academies[:2]:  # warm-up
        await territory_profile(conn, "academie", academie, "2025-2026", datetime.now(UTC))
    for moment, year in TERRITORY_MOMENTS:
        for academie in academies:
            at = moment or datetime.now(UTC)
            started = monotonic()
            await territory_profile(conn, "academie", academie, year, at)
            times.append(ms_since(started))
    return times


@dataclass
class Renders:
    profile_ms: list[float] = field(default_factory=list)
    render_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    kib: list[float] = field(default_factory=list)


async def pdf_renders(conn: asyncpg.Connection, uais: Sequence[str]) -> Renders:
    renders = Renders()
    profiles: list[SchoolProfile] = []
    for uai in uais:
        started = monotonic()
        profile = await school_profile(conn, uai, None)
        renders.profile_ms.append(ms_since(started))
        if profile is not None:
            profiles.append(profile)
    render_profile_pdf(profiles[0])  # warm-up: fonts, caches
    one_line_pdf()
    gc.collect()
    for profile in profiles:
        started = monotonic()
        one_line_pdf()
        renders.baseline_ms.append(ms_since(started))
        started = monotonic()
        pdf = render_profile_pdf(profile)
        renders.render_ms.append(ms_since(started))
        renders.kib.append(len(pdf) / 1024)
    return renders


# -------------------------------------------------------------------------------- the bench


async def log_heads(url: str) -> dict[str, int]:
    conn: asyncpg.Connection = await asyncpg.connect(url)
    try:
        return {
            name: int(
                await conn.fetchval(
                    f"SELECT coalesce(max(notification_id), 0) FROM {s.qualified_table}"
                )
            )
            for name, s in SOURCES.items()
        }
    finally:
        await conn.close()


async def after_rebuild(url: str) -> tuple[dict[str, int], int, int, dict[str, int]]:
    """Tracked positions, parked events and projected schools; then ANALYZE the read models
    (their sizes, in bytes, by table, are returned)."""
    conn: asyncpg.Connection = await asyncpg.connect(url)
    try:
        positions = {
            r["source"]: int(r["position"])
            for r in await conn.fetch("SELECT source, position FROM reporting.tracking")
        }
        parked = int(await conn.fetchval("SELECT count(*) FROM reporting.parked"))
        schools = int(await conn.fetchval("SELECT count(*) FROM reporting.schools"))
        await conn.execute("ANALYZE")
        rows = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'reporting' AND c.relkind = 'r' ORDER BY 2 DESC"
        )
        return positions, parked, schools, {r["relname"]: int(r["bytes"]) for r in rows}
    finally:
        await conn.close()


FLOOR = "bench_write_floor"


async def write_floor(url: str) -> float:
    """Seconds PostgreSQL alone takes to store the rebuilt read models again: each table copied
    by `INSERT … SELECT` into an empty one, then indexed as the original is (the order a
    rebuild loads them in), in one transaction. No Python touches a row: what any rebuild
    writing these read models pays at least, beside reading the logs."""
    conn: asyncpg.Connection = await asyncpg.connect(url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'reporting' ORDER BY 1"
            )
        ]
        indexes = [
            r["indexdef"].replace(" ON reporting.", f" ON {FLOOR}.")
            for r in await conn.fetch(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'reporting'"
            )
        ]
        await conn.execute(f"DROP SCHEMA IF EXISTS {FLOOR} CASCADE")
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(f"CREATE SCHEMA {FLOOR}")
            for t in tables:
                await conn.execute(
                    f"CREATE TABLE {FLOOR}.{t} (LIKE reporting.{t} INCLUDING DEFAULTS)"
                )
                await conn.execute(f"INSERT INTO {FLOOR}.{t} SELECT * FROM reporting.{t}")
            for sql in indexes:
                await conn.execute(sql)
        seconds = time.perf_counter() - started
        await conn.execute(f"DROP SCHEMA {FLOOR} CASCADE")
        return seconds
    finally:
        await conn.close()


def gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def thousands(n: float) -> str:
    return f"{n:,.0f}".replace(",", " ")


def dataset_note(dataset: Dataset, on_disk: dict[str, int]) -> str:
    made = (
        f"cached (generated earlier in {dataset.generated_seconds:.0f} s)"
        if dataset.cached
        else f"generated in {dataset.generated_seconds:.0f} s (set-up, not a figure)"
    )
    circonscriptions = (dataset.schools + 31) // 32
    return (
        f"dataset `{database_name(dataset.schools)}`: {thousands(dataset.schools)} écoles, "
        f"{len(ACADEMIES)} académies, 101 départements, ~{thousands(circonscriptions)} "
        f"circonscriptions, recorded {dataset.first:%Y-%m-%d} → {dataset.last:%Y-%m-%d}; "
        f"{thousands(dataset.total)} events (declarations log {thousands(dataset.events['declarations'])}, "
        f"label log {thousands(dataset.events['label'])}), {gb(dataset.state_bytes)} of event "
        f"bytes, logs on disk {gb(on_disk['declarations'] + on_disk['label'])} with indexes; {made}."
    )


async def measure(srv: Servers, schools: int, workdir: Path) -> Section:
    say = print
    section = Section(f"national ({thousands(schools)} écoles)")
    say(f"  dataset {database_name(schools)}…", flush=True)
    # Generated (when not cached) by a process of its own: this one would otherwise grow by the
    # generator's memory, which the children it forks inherit in their peak RSS (`ru_maxrss`
    # keeps the high-water mark across exec), measured at ~700 MiB for the rebuild itself.
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench.national_data", "--schools", str(schools)],
        env={**os.environ, "DATABASE_URL": srv.postgres_url},
        cwd=ROOT,
        check=True,
    )
    assert made.returncode == 0
    dataset = await ensure_dataset(srv.postgres_url, schools, lambda m: print(m, flush=True))
    url = dataset.database.url
    on_disk = await sizes(dataset.database)
    heads = await log_heads(url)
    in_log = sum(heads.values())
    logs = workdir / "logs"

    # 1. The rebuild, between two read-and-decode passes.
    read_cmd = [sys.executable, "-c", READ_SNIPPET]
    rebuild_cmd, rebuild_how = rebuild_command()
    say("  read + decode (baseline)…", flush=True)
    reads = [await asyncio.to_thread(run_child, read_cmd, url, logs / "read.log", in_log)]
    say(f"  rebuild ({rebuild_how}) of {thousands(in_log)} events…", flush=True)
    rebuilt = await asyncio.to_thread(run_child, rebuild_cmd, url, logs / "rebuild.log", in_log)
    say("  read + decode (baseline, again)…", flush=True)
    reads.append(await asyncio.to_thread(run_child, read_cmd, url, logs / "read.log", in_log))
    best_read = max(reads, key=lambda r: r.per_second)
    say("  the rebuild's two reads side by side, no projection…", flush=True)
    both_reads = await reads_side_by_side(read_cmd, url, logs, in_log)
    positions, parked, projected, models = await after_rebuild(url)

    # 2–4. Reads on one connection, set up as the reporting service sets up its pool.
    rng = random.Random(SEED)
    conn: asyncpg.Connection = await asyncpg.connect(url, server_settings=READ_SETTINGS)
    try:
        uais = [r["uai"] for r in await conn.fetch("SELECT uai FROM reporting.schools ORDER BY 1")]
        academies = [
            r["academie"]
            for r in await conn.fetch("SELECT DISTINCT academie FROM reporting.schools ORDER BY 1")
        ]
        say("  round trips, profiles, territories, PDFs…", flush=True)
        trips = await round_trips(conn, ROUND_TRIPS)
        replays = await profile_replays(conn, uais, rng, PROFILES)
        trips += await round_trips(conn, ROUND_TRIPS)
        territories = await territory_reads(conn, academies)
        renders = await pdf_renders(conn, rng.sample(uais, PDFS))
    finally:
        await conn.close()
    say("  write floor (PostgreSQL alone storing the read models again)…", flush=True)
    floor = await write_floor(url)

    trip50, trip99 = percentile(trips, 50), percentile(trips, 99)
    section.figures += [
        Figure("rebuild rate", rebuilt.per_second, "events/s", best_read.per_second,
               "read + decode, events/s", goal="≥ 0.5"),
        Figure("rebuild wall time", rebuilt.wall, "s", best_read.wall, "read + decode, s",
               goal="< 300 s", digits=1),
        Figure("read models' write floor", floor, "s", best_read.wall, "read + decode, s",
               digits=1),
        Figure("both passes' reads side by side, no projection", in_log / both_reads,
               "events/s", best_read.per_second, "read + decode, events/s"),
        Figure("rebuild peak memory", rebuilt.peak_mib, "MiB", best_read.peak_mib,
               "read + decode, MiB", goal="< 1024 MiB", digits=1),
        Figure("as_of school profile p50", percentile(replays.times, 50), "ms", trip50,
               "SELECT 1 p50, ms", digits=2),
        Figure("as_of school profile p99", percentile(replays.times, 99), "ms", trip99,
               "SELECT 1 p99, ms", goal="< 50 ms", digits=2),
        Figure("académie profile p50", percentile(territories, 50), "ms", trip50,
               "SELECT 1 p50, ms", digits=1),
        Figure("académie profile p99", percentile(territories, 99), "ms", trip99,
               "SELECT 1 p99, ms", goal="< 100 ms", digits=1),
        Figure("PDF render median", median(renders.render_ms), "ms",
               median(renders.baseline_ms), "one-line PDF, ms", goal="< 200 ms", digits=1),
        Figure("PDF render p99", percentile(renders.render_ms, 99), "ms",
               percentile(renders.baseline_ms, 99), "one-line PDF p99, ms", digits=1),
        Figure("profile + PDF median (info)",
               median(p + r for p, r in zip(renders.profile_ms, renders.render_ms, strict=False)),
               "ms", digits=1),
    ]  # fmt: skip
    behind = {s: heads[s] - positions.get(s, 0) for s in heads if heads[s] != positions.get(s, 0)}
    section.notes += [
        dataset_note(dataset, on_disk),
        f"rebuild: {rebuild_how}, {thousands(rebuilt.applied)} events applied, {parked} parked, "
        f"ratio {rebuilt.per_second / best_read.per_second:.4f}, "
        f"{thousands(projected)} schools projected"
        + (f", positions BEHIND the logs: {behind}" if behind else ", positions at the heads")
        + f"; {rebuilt.wall:.1f} s wall ({rebuilt.inner:.1f} s inside rebuild(), the "
        f"territory figures' process {rebuilt.cells_seconds:.1f} s beside it); peak memory "
        f"{rebuilt.peak_mib - rebuilt.cells_mib:.0f} + {rebuilt.cells_mib:.0f} MiB (the two "
        "processes); "
        f"read + decode {', '.join(f'{r.per_second:,.0f}'.replace(',', ' ') for r in reads)} "
        f"events/s ({', '.join(f'{r.wall:.1f} s' for r in reads)}; before, after).",
        "read models after the rebuild: "
        + ", ".join(f"{name} {n / 1e6:,.0f} MB" for name, n in list(models.items())[:6])
        + f" (all: {gb(sum(models.values()))}); ANALYZE run before the reads.",
        f"as_of replays: {len(replays.times)} reads of random écoles at random moments "
        f"{FIRST_MOMENT:%Y-%m-%d} → {LAST_MOMENT:%Y-%m-%d}, {replays.with_year} with the school "
        f"year of the moment, the others the default one; {replays.missing} without a profile "
        f"(closed or not yet registered); max {max(replays.times):.1f} ms.",
        f"académie profiles: {len(academies)} académies × {len(TERRITORY_MOMENTS)} moments, "
        f"max {max(territories):.1f} ms.",
        f"PDF: {len(renders.render_ms)} profiles as of now, {median(renders.kib):.1f} KiB median; "
        f"building the profile {median(renders.profile_ms):.1f} ms median, "
        f"{percentile(renders.profile_ms, 99):.1f} ms p99.",
    ]
    if parked:
        section.notes.append(f"PARKED events during the rebuild: {parked}")
    return section


async def run(srv: Servers, options: Options, workdir: Path) -> Section:
    """The bench harness's entry point: only when asked for by name (it takes a while)."""
    if not requested():
        return Section(
            "national",
            notes=[
                "skipped: opt-in, ~12 min at full scale "
                "(`python -m bench --only national [--quick]`, or NUMECOLE_BENCH_NATIONAL=1)"
            ],
        )
    return await measure(srv, QUICK_SCHOOLS if options.quick else FULL_SCHOOLS, workdir)


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    schools = args.schools or (QUICK_SCHOOLS if args.quick else FULL_SCHOOLS)
    with servers(workdir) as srv:
        machine = await describe_machine(srv)
        print("Numécole national bench —", machine["date"], flush=True)
        for key, value in machine.items():
            if key != "date":
                print(f"  {key:11} {value}", flush=True)
        try:
            section = await measure(srv, schools, workdir)
        finally:
            if args.drop_dataset:
                drop_dataset(srv.postgres_url, schools)
    print("\n" + text_table([section]))
    if args.markdown:
        print("\n" + markdown_table([section]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.national_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SCHOOLS} écoles")
    parser.add_argument("--schools", type=int, help=f"écoles (default {FULL_SCHOOLS})")
    parser.add_argument("--drop-dataset", action="store_true", help="drop the dataset after")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="numecole-national-"))
    print(f"work directory (logs): {workdir}", file=sys.stderr)
    return asyncio.run(main_async(args, workdir))


if __name__ == "__main__":
    sys.exit(main())
