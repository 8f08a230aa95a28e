"""The reporting projector: a durable JetStream consumer that keeps the read models.

Each batch of messages is applied with the tracking positions in one transaction, then acked,
so a redelivered or duplicated event changes nothing. Positions are per source (the write
service's notification id, carried in a header): an event at or below its source's position is a
copy; an event above `position + 1` reveals a gap, which is filled straight from the source's log
in PostgreSQL, the system of record. An event that cannot be applied is parked with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

import events
from events.envelope import Event
from infra.jetstream import connect, ensure_stream
from infra.relay import POSITION_HEADER, SOURCE_HEADER, SOURCES, Source
from infra.settings import DatabaseSettings, NatsSettings
from services.reporting.projection import Projection

log = structlog.get_logger("projector")

DURABLE = "reporting"
# Held by each batch's transaction; `rebuild` takes it to switch generations between batches.
PROJECTOR_LOCK = 4243


def schema_sql() -> list[str]:
    """The read models' DDL, one idempotent file per concern, applied in name order."""
    folder = resources.files("services.reporting").joinpath("sql")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [f.read_text() for f in files]


def schema_fingerprint() -> str:
    return hashlib.sha256("\n".join(schema_sql()).encode()).hexdigest()[:16]


async def ensure_read_models(conn: asyncpg.Connection) -> None:
    """Create the read models; when their definition changed, drop them and start afresh. They
    are disposable: with positions back at 0, the projector refills them from the logs."""
    fingerprint = schema_fingerprint()
    # Several processes start at once; the advisory lock keeps their DDL from interleaving.
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        if await conn.fetchval("SELECT to_regclass('reporting.meta')") is not None:
            current = await conn.fetchval(
                "SELECT value FROM reporting.meta WHERE key = 'fingerprint'"
            )
            if current == fingerprint:
                return
        if await conn.fetchval("SELECT to_regnamespace('reporting')") is not None:
            log.warning("read_models_reset", reason="definition changed", fingerprint=fingerprint)
            await conn.execute("DROP SCHEMA reporting CASCADE")
        for sql in schema_sql():
            await conn.execute(sql)
        await conn.execute(
            "CREATE TABLE reporting.meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        await conn.executemany(
            "INSERT INTO reporting.meta VALUES ($1, $2)",
            [("fingerprint", fingerprint), ("generation", str(uuid.uuid4()))],
        )


@dataclass
class Delivery:
    msg: Msg | None
    source: str
    position: int
    data: bytes
    subject: str


def delivery_of(msg: Msg) -> Delivery | None:
    headers = msg.headers or {}
    try:
        return Delivery(
            msg, headers[SOURCE_HEADER], int(headers[POSITION_HEADER]), msg.data, msg.subject
        )
    except (KeyError, ValueError):
        return None


class GenerationChanged(Exception):
    """`rebuild` switched the read models while this connection was open: reconnect."""


async def generation_of(conn: asyncpg.Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT value FROM reporting.meta WHERE key = 'generation'"
    )
    return value


async def positions_for_update(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PROJECTOR_LOCK)
    await conn.execute(
        "INSERT INTO reporting.tracking (source) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        list(SOURCES),
    )
    rows = await conn.fetch("SELECT source, position FROM reporting.tracking FOR UPDATE")
    return {r["source"]: r["position"] for r in rows}


async def save_positions(conn: asyncpg.Connection, positions: dict[str, int]) -> None:
    await conn.executemany(
        "UPDATE reporting.tracking SET position = $2, updated_at = now() WHERE source = $1",
        list(positions.items()),
    )


LOG_CHUNK = 5000


async def read_log(
    conn: asyncpg.Connection, source: Source, after: int, before: int | None
) -> AsyncIterator[list[Delivery]]:
    """Events of a source's log in (after, before), straight from PostgreSQL, a chunk at a time."""
    while True:
        rows = await conn.fetch(
            f"SELECT notification_id, state FROM {source.qualified_table} "  # noqa: S608
            "WHERE notification_id > $1 AND ($2::bigint IS NULL OR notification_id < $2) "
            "ORDER BY notification_id LIMIT $3",
            after,
            before,
            LOG_CHUNK,
        )
        if not rows:
            return
        yield [Delivery(None, source.service, r["notification_id"], r["state"], "") for r in rows]
        after = rows[-1]["notification_id"]


async def park(conn: asyncpg.Connection, d: Delivery, reason: str) -> None:
    log.error(
        "event_parked", source=d.source, position=d.position, subject=d.subject, reason=reason
    )
    await conn.execute(
        "INSERT INTO reporting.parked (source, position, subject, reason, data) "
        "VALUES ($1, $2, $3, $4, $5)",
        d.source,
        d.position,
        d.subject,
        reason,
        d.data,
    )


async def apply_deliveries(
    conn: asyncpg.Connection, deliveries: Sequence[Delivery], positions: dict[str, int]
) -> int:
    """Apply, in order, what is new; fill gaps from the log. Returns how many were applied."""
    projection = Projection(conn)
    applied = 0
    for d in deliveries:
        current = positions.get(d.source)
        if current is None or d.position <= current:
            continue
        if d.position > current + 1:
            filled = 0
            async for chunk in read_log(conn, SOURCES[d.source], current, d.position):
                for m in chunk:
                    await projection.apply(events.decode(m.data), m.source, m.position, m.data)
                await projection.flush()
                filled += len(chunk)
            if filled:
                log.warning("gap_filled", source=d.source, after=current, count=filled)
            applied += filled
        event: Event = events.decode(d.data)
        await projection.apply(event, d.source, d.position, d.data)
        positions[d.source] = d.position
        applied += 1
    await projection.flush()
    return applied


class Projector:
    def __init__(self, database: DatabaseSettings, nats: NatsSettings, batch: int = 500) -> None:
        self.generation: str | None = None
        self.database = database
        self.nats = nats
        self.batch = batch
        self.applied = 0

    async def _positions(self, conn: asyncpg.Connection) -> dict[str, int]:
        positions = await positions_for_update(conn)
        if await generation_of(conn) != self.generation:
            raise GenerationChanged
        return positions

    async def _apply_batch(self, conn: asyncpg.Connection, batch: list[Delivery]) -> None:
        try:
            async with conn.transaction():
                positions = await self._positions(conn)
                self.applied += await apply_deliveries(conn, batch, positions)
                await save_positions(conn, positions)
        except (asyncpg.PostgresConnectionError, OSError, GenerationChanged):
            raise
        except Exception:
            log.warning("batch_failed_retrying_one_by_one", size=len(batch))
            for d in batch:
                await self._apply_one(conn, d)

    async def _apply_one(self, conn: asyncpg.Connection, d: Delivery) -> None:
        try:
            async with conn.transaction():
                positions = await self._positions(conn)
                self.applied += await apply_deliveries(conn, [d], positions)
                await save_positions(conn, positions)
        except (asyncpg.PostgresConnectionError, OSError, GenerationChanged):
            raise
        except Exception as exc:
            # A poison event is parked with its reason, never retried forever; but first, the
            # record may hold intact bytes of a message damaged on its way.
            if d.msg is not None and await self._apply_from_log(conn, d):
                return
            async with conn.transaction():
                positions = await self._positions(conn)
                if d.position > positions.get(d.source, d.position):
                    await park(conn, d, f"{type(exc).__name__}: {exc}")
                    positions[d.source] = d.position
                    await save_positions(conn, positions)

    async def _apply_from_log(self, conn: asyncpg.Connection, d: Delivery) -> bool:
        """True when the log's own bytes for this position applied."""
        source = SOURCES.get(d.source)
        if source is None:
            return False
        async for chunk in read_log(conn, source, d.position - 1, d.position + 1):
            if chunk[0].data == d.data:
                return False
            try:
                async with conn.transaction():
                    positions = await self._positions(conn)
                    self.applied += await apply_deliveries(conn, chunk, positions)
                    await save_positions(conn, positions)
            except (asyncpg.PostgresConnectionError, OSError, GenerationChanged):
                raise
            except Exception:
                return False  # the record itself cannot be applied: park it
            log.warning("applied_from_log", source=d.source, position=d.position)
            return True
        return False

    async def catch_up_from_log(self, conn: asyncpg.Connection) -> None:
        """When the bus is quiet but the relay went further than we did, read the rest from
        PostgreSQL: nothing may depend on JetStream alone keeping an event."""
        relayed = (
            await conn.fetch("SELECT source, position FROM relay.positions")
            if await conn.fetchval("SELECT to_regclass('relay.positions')")
            else []
        )
        ours = {
            r["source"]: r["position"]
            for r in await conn.fetch("SELECT source, position FROM reporting.tracking")
        }
        for r in relayed:
            source = SOURCES.get(r["source"])
            if source is None or r["position"] <= ours.get(source.service, 0):
                continue
            async for missing in read_log(
                conn, source, ours.get(source.service, 0), r["position"] + 1
            ):
                log.warning("caught_up_from_log", source=source.service, count=len(missing))
                await self._apply_batch(conn, missing)

    async def run(self, stop: asyncio.Event, idle_timeout: float = 1.0) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.database.url)
        await ensure_read_models(conn)
        self.generation = await generation_of(conn)
        nc = await connect(self.nats, name="numecole-projector")
        js = nc.jetstream()
        await ensure_stream(js, self.nats)
        sub = await js.pull_subscribe(
            f"{self.nats.subject_root}.>",
            durable=DURABLE,
            stream=self.nats.stream,
            config=ConsumerConfig(
                durable_name=DURABLE,
                # One ack, after the batch is committed, acknowledges the whole batch.
                ack_policy=AckPolicy.ALL,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=20_000,
            ),
        )
        log.info("projector_started", stream=self.nats.stream)
        quiet = 0
        # The next batch is fetched while the current one is written: NATS and PostgreSQL
        # round trips overlap instead of adding up.
        fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
        try:
            while not stop.is_set():
                try:
                    msgs = await fetching
                except TimeoutError:  # nats raises its own or asyncio's, both TimeoutError
                    fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
                    quiet += 1
                    if quiet >= 2:
                        await self.catch_up_from_log(conn)
                        quiet = 0
                    continue
                fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
                quiet = 0
                batch: list[Delivery] = []
                for msg in msgs:
                    d = delivery_of(msg)
                    if d is None:
                        log.error("message_without_position", subject=msg.subject)
                        await msg.term()
                        continue
                    batch.append(d)
                started = time.perf_counter()
                try:
                    await self._apply_batch(conn, batch)
                except GenerationChanged:
                    log.info("read_models_switched_reconnecting")
                    await conn.close()
                    conn = await asyncpg.connect(self.database.url)
                    self.generation = await generation_of(conn)
                    await self._apply_batch(conn, batch)
                log.debug(
                    "batch_applied",
                    size=len(batch),
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )
                if batch:
                    assert batch[-1].msg is not None
                    await batch[-1].msg.ack()
        finally:
            fetching.cancel()
            # Unacked messages are simply redelivered: no need to drain a pull subscription.
            await sub.unsubscribe()
            await nc.close()
            await conn.close()
            log.info("projector_stopped", applied=self.applied)
