"""Projector catch-up in events/s, as a ratio to a bare nats-py fetch-and-ack loop.

N events are recorded through the real write path (the declarations Application, in process, a
few threads each the director of schools of its own), then the relay, run as a real process,
publishes them to a fresh stream. Then, alternately, `rounds` times:

(a) baseline: a bare nats-py pull consumer (a new durable on the same stream, fetching as many
    messages at a time as the projector does) fetches and acks every message;
(b) the projector, run as a real process (`python -m infra.cli run projector`) on empty read
    models, catches up until `reporting.tracking` reaches the last notification id;
(c) the territory figures' projector (`run territories`), which runs beside it, the same way
    (`reporting.cell_tracking`): its own figure, against the same baseline.

Both are timed from the moment their durable consumer exists. The best of each is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bench.common import (
    Component,
    Figure,
    Options,
    Section,
    Servers,
    answers,
    campaign_dates,
    cpu_seconds,
    fresh_database,
    fresh_stream,
    monotonic,
    register_csv,
    school_uais,
    start_component,
)
from events.declarations import UsageDefinition
from events.values import Role, school_year_on
from infra.auth import Principal
from infra.settings import DatabaseSettings, NatsSettings
from services.declarations.app import open_application
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from services.reporting.cell_projector import DURABLE as CELLS_DURABLE
from services.reporting.cell_projector import PARKED as CELL_PARKED
from services.reporting.cell_projector import TRACKING as CELL_TRACKING
from services.reporting.projector import DURABLE

ACADEMIE = "montpellier"
WRITER_THREADS = 8
USAGE_CODES = ("ENT_VIE_SCOLAIRE", "ROBOTIQUE", "WEB_RADIO", "PROGRAMMATION", "CLASSE_MOBILE")
POLL_SECONDS = 0.02


# -------------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Recorded:
    last_position: int
    seconds: float


def _write_share(
    app: DeclarationsApplication, schools: Sequence[str], years: Sequence[str], count: int
) -> None:
    """`count` events for `schools`: mostly declarations, one in seven a usage added/removed."""
    usages: dict[str, set[str]] = {uai: set() for uai in schools}
    for k in range(count):
        uai = schools[k % len(schools)]
        director = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
        if k % 7 == 6:
            code = USAGE_CODES[(k // 7) % len(USAGE_CODES)]
            if code in usages[uai]:
                app.remove_usage(uai, code, director)
                usages[uai].discard(code)
            else:
                app.add_usage(uai, code, director)
                usages[uai].add(code)
        else:
            year = years[(k // len(schools)) % len(years)]
            app.submit_declaration(uai, year, answers(1 + (k * 7) % 60, k), director)


def record_events(database: DatabaseSettings, schools: int, total: int) -> Recorded:
    """Seed a register, campaigns and a usage catalogue, then declarations and usages, until
    `total` events are recorded (or just the seed, when it is more)."""
    started = monotonic()
    app = open_application(database, pool_size=WRITER_THREADS)
    try:
        admin = Principal("bench-admin", Role.ADMIN, f"academie:{ACADEMIE}")
        uais = school_uais(schools)
        app.import_register(parse_register(register_csv(uais)), admin)
        current = school_year_on(datetime.now(UTC))
        rentree = int(current[:4])
        years = [f"{y}-{y + 1}" for y in range(rentree - 2, rentree + 1)]
        for year in years:
            opens_on, closes_on = campaign_dates(year)
            app.open_campaign(ACADEMIE, year, opens_on, closes_on, admin)
        position = app.revise_catalogue(
            ACADEMIE,
            [UsageDefinition(code=c, title=c.replace("_", " ").capitalize(), summary="")
             for c in USAGE_CODES],
            admin,
        )  # fmt: skip
        remaining = max(0, total - position)
        shares = [uais[t::WRITER_THREADS] for t in range(WRITER_THREADS)]
        counts = [
            remaining // WRITER_THREADS + (1 if t < remaining % WRITER_THREADS else 0)
            for t in range(WRITER_THREADS)
        ]
        with ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="bench-writer") as pool:
            futures = [
                pool.submit(_write_share, app, shares[t], years, counts[t])
                for t in range(WRITER_THREADS)
            ]
            for f in futures:
                f.result()
        last = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    return Recorded(last, monotonic() - started)


# -------------------------------------------------------------------------------- polling


async def _fetch_position(conn: asyncpg.Connection, table: str, source: str) -> int | None:
    """The position of `source` in `table` (schema.table), None while the table or row is
    missing."""
    if await conn.fetchval("SELECT to_regclass($1)", table) is None:
        return None
    value = await conn.fetchval(
        f"SELECT position FROM {table} WHERE source = $1",  # fixed names only
        source,
    )
    return int(value) if value is not None else None


def _deadline(seconds: float) -> float:
    """A deadline on the running loop's clock: every wait below is bounded."""
    return asyncio.get_running_loop().time() + seconds


async def _consumer_exists(js: JetStreamContext, stream: str, durable: str) -> bool:
    try:
        await js.consumer_info(stream, durable)
    except NotFoundError:
        return False
    return True


async def _delete_consumer(js: JetStreamContext, stream: str, durable: str) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, durable)


# -------------------------------------------------------------------------------- the relay


@dataclass(frozen=True)
class Relayed:
    per_second: float
    peak_mib: float | None


async def relay_all(
    database: DatabaseSettings, stream: NatsSettings, dev_key: str, last: int, logs: Path
) -> Relayed:
    """Run the relay as a process until the stream holds every recorded event."""
    component = start_component("relay", database, stream, dev_key, logs)
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    nc = await nats.connect(stream.url)
    try:
        js = nc.jetstream()
        loop = asyncio.get_running_loop()
        deadline = _deadline(max(120.0, last / 100))
        started: float | None = None
        while True:
            component.check_alive()
            if loop.time() > deadline:
                raise RuntimeError(f"the relay did not publish {last} events in time")
            position = await _fetch_position(conn, "relay.positions", "declarations")
            if position is not None and started is None:
                started = monotonic()
            if position is not None and position >= last:
                info = await js.stream_info(stream.stream)
                if info.state.messages >= last:
                    break
            await asyncio.sleep(POLL_SECONDS)
        elapsed = monotonic() - (started or monotonic())
    finally:
        await nc.close()
        await conn.close()
        peak = component.stop()
    return Relayed(last / elapsed if elapsed > 0 else 0.0, peak)


# -------------------------------------------------------------------------------- (a) baseline


@dataclass(frozen=True)
class Consumed:
    per_second: float  # from the moment its durable consumer exists
    cores: float  # CPU of the consuming process meanwhile, in cores


async def bare_consume(stream: NatsSettings, durable: str, total: int, batch: int) -> Consumed:
    """A bare pull consumer configured as the projector's (cumulative acks): fetch `batch` at a
    time and ack the last message of each, until `total` are consumed. Timed from the moment the
    durable exists."""
    nc = await nats.connect(stream.url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"{stream.subject_root}.>",
            durable=durable,
            stream=stream.stream,
            config=ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.ALL,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=20_000,
            ),
        )
        started, cpu = monotonic(), cpu_seconds()
        loop = asyncio.get_running_loop()
        deadline = _deadline(max(120.0, total / 100))
        consumed = 0
        while consumed < total:
            if loop.time() > deadline:
                raise RuntimeError(f"bare consumer stuck at {consumed}/{total}")
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except NatsTimeout:
                continue
            if msgs:
                await msgs[-1].ack()
            consumed += len(msgs)
        elapsed, cpu = monotonic() - started, cpu_seconds() - cpu
        await nc.flush()
        await sub.unsubscribe()
        await _delete_consumer(js, stream.stream, durable)
    finally:
        await nc.close()
    return Consumed(consumed / elapsed, cpu / elapsed)


# -------------------------------------------------------------------------------- (b) projector


@dataclass(frozen=True)
class Projected:
    per_second: float  # from the moment its durable consumer exists
    with_start: float  # from the moment the process is started
    cores: float  # CPU of the projector process while catching up, in cores
    peak_mib: float | None
    parked: int


@dataclass(frozen=True)
class Consumer:
    """A read models' consumer as the bench runs it: its component, durable and tables."""

    component: str
    durable: str
    tracking: str
    parked: str


PROJECTOR = Consumer("projector", DURABLE, "reporting.tracking", "reporting.parked")
TERRITORIES = Consumer("territories", CELLS_DURABLE, CELL_TRACKING, CELL_PARKED)


async def project_all(
    database: DatabaseSettings,
    stream: NatsSettings,
    dev_key: str,
    last: int,
    logs: Path,
    consumer: Consumer = PROJECTOR,
) -> Projected:
    """Run a consumer as a process on empty read models until it has applied `last`."""
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    nc = await nats.connect(stream.url)
    component: Component | None = None
    try:
        js = nc.jetstream()
        await conn.execute("DROP SCHEMA IF EXISTS reporting CASCADE")
        await _delete_consumer(js, stream.stream, consumer.durable)
        loop = asyncio.get_running_loop()
        deadline = _deadline(max(180.0, last / 50))
        launched = monotonic()
        component = start_component(consumer.component, database, stream, dev_key, logs)
        while not await _consumer_exists(js, stream.stream, consumer.durable):
            component.check_alive()
            if loop.time() > deadline:
                raise RuntimeError("the projector's consumer never appeared")
            await asyncio.sleep(POLL_SECONDS / 2)
        started, cpu = monotonic(), cpu_seconds(component.proc.pid)
        while True:
            component.check_alive()
            if loop.time() > deadline:
                raise RuntimeError(f"the projector did not reach {last} in time")
            position = await _fetch_position(conn, consumer.tracking, "declarations")
            if position is not None and position >= last:
                break
            await asyncio.sleep(POLL_SECONDS)
        done, cpu = monotonic(), cpu_seconds(component.proc.pid) - cpu
        peak = component.stop()
        parked = int(await conn.fetchval(f"SELECT count(*) FROM {consumer.parked}"))
    finally:
        if component is not None:
            component.stop()
        await nc.close()
        await conn.close()
    return Projected(
        last / (done - started), last / (done - launched), cpu / (done - started), peak, parked
    )


# -------------------------------------------------------------------------------- the bench


async def run(srv: Servers, options: Options, workdir: Path) -> Section:
    dev_key = "bench-" + workdir.name
    logs = workdir / "logs"
    section = Section("projector")
    with fresh_database(srv) as database:
        async with fresh_stream(srv) as stream:
            recorded = await asyncio.to_thread(
                record_events, database, options.schools, options.events
            )
            last = recorded.last_position
            relayed = await relay_all(database, stream, dev_key, last, logs)
            bare: list[Consumed] = []
            real: list[Projected] = []
            cells: list[Projected] = []
            for n in range(options.rounds):
                bare.append(await bare_consume(stream, f"bench_bare_{n}", last, options.batch))
                real.append(await project_all(database, stream, dev_key, last, logs))
                cells.append(await project_all(database, stream, dev_key, last, logs, TERRITORIES))
    best = max(real, key=lambda p: p.per_second)
    peaks = [p.peak_mib for p in real if p.peak_mib is not None]
    section.figures += [
        Figure(
            "projector catch-up", best.per_second, "events/s",
            max(b.per_second for b in bare), "bare nats-py fetch+ack", goal="≥ 0.7",
        ),
        Figure(
            "territory figures catch-up", max(c.per_second for c in cells), "events/s",
            max(b.per_second for b in bare), "bare nats-py fetch+ack",
        ),
        Figure("relay catch-up (info)", relayed.per_second, "events/s"),
        Figure("peak memory, relay", relayed.peak_mib or 0.0, "MiB", digits=1),
        Figure("peak memory, projector", max(peaks, default=0.0), "MiB", digits=1),
    ]  # fmt: skip
    section.notes += [
        f"{last} events recorded in process in {recorded.seconds:.1f} s "
        f"({last / recorded.seconds:.0f}/s, {WRITER_THREADS} threads, {options.schools} écoles); "
        f"batch {options.batch}; best of {options.rounds} alternated rounds.",
        "rounds, events/s: bare "
        + ", ".join(f"{b.per_second:.0f}" for b in bare)
        + "; projector "
        + ", ".join(f"{p.per_second:.0f}" for p in real)
        + " (counting its process start: "
        + ", ".join(f"{p.with_start:.0f}" for p in real)
        + "); territory figures' projector "
        + ", ".join(f"{c.per_second:.0f}" for c in cells)
        + ".",
        "CPU, cores: bare consumer "
        + ", ".join(f"{b.cores:.2f}" for b in bare)
        + "; projector process "
        + ", ".join(f"{p.cores:.2f}" for p in real)
        + "; territory figures' process "
        + ", ".join(f"{c.cores:.2f}" for c in cells)
        + " (PostgreSQL's not counted).",
    ]
    if any(p.parked for p in [*real, *cells]):
        section.notes.append(f"PARKED events: {[p.parked for p in [*real, *cells]]}")
    return section
