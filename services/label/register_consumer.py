"""`numecole run label-register`: a durable JetStream consumer of the declarations service's
events that keeps the label service's register (see `register.py`).

Like the reporting projector: a batch is applied with its position in one transaction, then
acked; a copy (at or below the position) changes nothing; a gap is filled from the declarations
log in PostgreSQL, the system of record; an event that cannot be applied is parked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

import events
from infra.jetstream import connect, ensure_stream
from infra.relay import POSITION_HEADER, SOURCE_HEADER, SOURCES
from infra.settings import DatabaseSettings, NatsSettings
from services.label.register import apply_register_event, ensure_register

log = structlog.get_logger("label_register")

DURABLE = "label-register"
SOURCE = SOURCES["declarations"]


@dataclass
class Delivery:
    msg: Msg | None
    position: int
    data: bytes
    subject: str


def delivery_of(msg: Msg) -> Delivery | None:
    headers = msg.headers or {}
    try:
        if headers[SOURCE_HEADER] != SOURCE.service:
            return None
        return Delivery(msg, int(headers[POSITION_HEADER]), msg.data, msg.subject)
    except (KeyError, ValueError):
        return None


async def position_for_update(conn: asyncpg.Connection) -> int:
    await conn.execute(
        "INSERT INTO label.register_tracking (source) VALUES ($1) ON CONFLICT DO NOTHING",
        SOURCE.service,
    )
    position: int = await conn.fetchval(
        "SELECT position FROM label.register_tracking WHERE source = $1 FOR UPDATE",
        SOURCE.service,
    )
    return position


async def save_position(conn: asyncpg.Connection, position: int) -> None:
    await conn.execute(
        "UPDATE label.register_tracking SET position = $2, updated_at = now() WHERE source = $1",
        SOURCE.service,
        position,
    )


async def read_log(conn: asyncpg.Connection, after: int, before: int | None) -> list[Delivery]:
    """Declarations events in (after, before), straight from PostgreSQL."""
    if await conn.fetchval("SELECT to_regclass($1)", f"{SOURCE.schema}.{SOURCE.table}") is None:
        return []
    rows = await conn.fetch(
        f"SELECT notification_id, state FROM {SOURCE.qualified_table} "  # noqa: S608
        "WHERE notification_id > $1 AND ($2::bigint IS NULL OR notification_id < $2) "
        "ORDER BY notification_id",
        after,
        before,
    )
    return [Delivery(None, r["notification_id"], r["state"], "") for r in rows]


async def apply_deliveries(
    conn: asyncpg.Connection, deliveries: Sequence[Delivery], position: int
) -> int:
    """Apply in order what is new, filling gaps from the log; return the new position."""
    for d in deliveries:
        if d.position <= position:
            continue
        if d.position > position + 1:
            missing = await read_log(conn, position, d.position)
            if missing:
                log.warning("gap_filled", after=position, count=len(missing))
            for m in missing:
                await apply_register_event(conn, events.decode(m.data))
        await apply_register_event(conn, events.decode(d.data))
        position = d.position
    return position


async def _apply_batch(conn: asyncpg.Connection, batch: Sequence[Delivery]) -> None:
    try:
        async with conn.transaction():
            position = await position_for_update(conn)
            await save_position(conn, await apply_deliveries(conn, batch, position))
    except (asyncpg.PostgresConnectionError, OSError):
        raise
    except Exception as exc:
        if len(batch) == 1:
            await _park(conn, batch[0], f"{type(exc).__name__}: {exc}")
            return
        log.warning("batch_failed_retrying_one_by_one", size=len(batch))
        for d in batch:
            await _apply_batch(conn, [d])


async def _park(conn: asyncpg.Connection, d: Delivery, reason: str) -> None:
    async with conn.transaction():
        position = await position_for_update(conn)
        if d.position <= position:
            return
        log.error("event_parked", position=d.position, subject=d.subject, reason=reason)
        await conn.execute(
            "INSERT INTO label.register_parked (source, position, subject, reason, data) "
            "VALUES ($1, $2, $3, $4, $5)",
            SOURCE.service,
            d.position,
            d.subject,
            reason,
            d.data,
        )
        await save_position(conn, d.position)


async def catch_up_from_log(conn: asyncpg.Connection, upto: int | None = None) -> int:
    """Apply what the log holds after our position (up to `upto` included, or everything):
    nothing may depend on JetStream alone keeping an event. Returns how many were read."""
    async with conn.transaction():
        position = await position_for_update(conn)
    missing = await read_log(conn, position, None if upto is None else upto + 1)
    for start in range(0, len(missing), 500):
        await _apply_batch(conn, missing[start : start + 500])
    return len(missing)


async def catch_up(database: DatabaseSettings) -> int:
    """Bring the register up to date from PostgreSQL alone (demo loading, tests)."""
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await ensure_register(conn)
        return await catch_up_from_log(conn)
    finally:
        await conn.close()


async def _relayed_position(conn: asyncpg.Connection) -> int | None:
    if await conn.fetchval("SELECT to_regclass('relay.positions')") is None:
        return None
    position: int | None = await conn.fetchval(
        "SELECT position FROM relay.positions WHERE source = $1", SOURCE.service
    )
    return position


class RegisterConsumer:
    def __init__(self, database: DatabaseSettings, nats: NatsSettings, batch: int = 500) -> None:
        self.database = database
        self.nats = nats
        self.batch = batch

    async def run(self, stop: asyncio.Event, idle_timeout: float = 1.0) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.database.url)
        await ensure_register(conn)
        nc = await connect(self.nats, name="numecole-label-register")
        js = nc.jetstream()
        await ensure_stream(js, self.nats)
        sub = await js.pull_subscribe(
            f"{self.nats.subject_root}.{SOURCE.service}.>",
            durable=DURABLE,
            stream=self.nats.stream,
            config=ConsumerConfig(
                durable_name=DURABLE,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=20_000,
            ),
        )
        log.info("label_register_started", stream=self.nats.stream)
        quiet = 0
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.batch, timeout=idle_timeout)
                except TimeoutError:  # nats' own, or asyncio's that nats-py also raises
                    quiet += 1
                    if quiet >= 2:
                        relayed = await _relayed_position(conn)
                        if relayed is not None:
                            await catch_up_from_log(conn, relayed)
                        quiet = 0
                    continue
                quiet = 0
                batch = []
                for msg in msgs:
                    d = delivery_of(msg)
                    if d is None:
                        log.error("message_without_position", subject=msg.subject)
                        await msg.term()
                        continue
                    batch.append(d)
                await _apply_batch(conn, batch)
                for d in batch:
                    assert d.msg is not None
                    await d.msg.ack()
        finally:
            await sub.unsubscribe()
            await nc.close()
            await conn.close()
            log.info("label_register_stopped")
