"""The relay: publishes a write service's recorded events to JetStream, in order, exactly as stored.

It reads the service's notification log (the eventsourcing events table, gap-safe because the
library serialises inserts) after its tracked position, publishes each event with
`Nats-Msg-Id` = event id, waits for every ack, then advances its position. A crash between
publish and advance republishes: JetStream's duplicate window and the projector's positions both
drop the copies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import structlog
from nats.js import JetStreamContext

import events
from events.subjects import NO_SCHOOL, subject_for
from infra.jetstream import connect, ensure_stream
from infra.settings import DatabaseSettings, NatsSettings

log = structlog.get_logger("relay")

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS relay;
CREATE TABLE IF NOT EXISTS relay.positions (
    source text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

# Header names shared with the consumers.
SOURCE_HEADER = "Numecole-Source"
POSITION_HEADER = "Numecole-Position"


@dataclass(frozen=True)
class Source:
    """A write service's notification log."""

    service: str
    schema: str
    table: str

    @property
    def channel(self) -> str:
        # The eventsourcing recorder NOTIFYs this channel after each insert.
        return self.table

    @property
    def qualified_table(self) -> str:
        return f'"{self.schema}"."{self.table}"'


SOURCES = {
    "declarations": Source("declarations", "declarations", "declarations_events"),
    "label": Source("label", "label", "label_events"),
}


async def read_position(conn: asyncpg.Connection, source: Source) -> int:
    await conn.execute(
        "INSERT INTO relay.positions (source) VALUES ($1) ON CONFLICT DO NOTHING", source.service
    )
    position: int = await conn.fetchval(
        "SELECT position FROM relay.positions WHERE source = $1", source.service
    )
    return position


async def table_exists(conn: asyncpg.Connection, source: Source) -> bool:
    found = await conn.fetchval("SELECT to_regclass($1)", f"{source.schema}.{source.table}")
    return found is not None


async def relay_batch(
    conn: asyncpg.Connection,
    js: JetStreamContext,
    source: Source,
    position: int,
    nats: NatsSettings,
    limit: int = 1000,
) -> int:
    """Publish the events after `position`; return the new position (unchanged when none)."""
    rows = await conn.fetch(
        f"SELECT notification_id, state FROM {source.qualified_table} "  # noqa: S608
        "WHERE notification_id > $1 ORDER BY notification_id LIMIT $2",
        position,
        limit,
    )
    if not rows:
        return position
    pending = []
    for row in rows:
        state: bytes = row["state"]
        at: int = row["notification_id"]
        try:
            event = events.decode(state)
        except events.EventDecodeError as exc:
            # Published all the same, so the consumers park it with its reason: a bad row must
            # not stop every event after it.
            log.error("undecodable_event", source=source.service, position=at, error=str(exc))
            subject = f"{nats.subject_root}.{source.service}.{NO_SCHOOL}.Undecodable"
            msg_id = f"{source.service}-{at}"
        else:
            subject = subject_for(source.service, event, nats.subject_root)
            msg_id = str(event.event_id)
        pending.append(
            await js.publish_async(
                subject,
                state,
                stream=nats.stream,
                headers={
                    "Nats-Msg-Id": msg_id,
                    SOURCE_HEADER: source.service,
                    POSITION_HEADER: str(at),
                },
            )
        )
    await asyncio.gather(*pending)
    new_position: int = rows[-1]["notification_id"]
    await conn.execute(
        "UPDATE relay.positions SET position = $2, updated_at = now() WHERE source = $1",
        source.service,
        new_position,
    )
    log.debug("relayed", source=source.service, count=len(rows), position=new_position)
    return new_position


async def run_relay(
    sources: list[Source],
    database: DatabaseSettings,
    nats: NatsSettings,
    stop: asyncio.Event,
    idle_seconds: float = 1.0,
) -> None:
    nc = await connect(nats, name="numecole-relay")
    js = nc.jetstream(publish_async_max_pending=4000)
    await ensure_stream(js, nats)
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    listener: asyncpg.Connection = await asyncpg.connect(database.url)
    wake = asyncio.Event()
    try:
        await conn.execute(SCHEMA_SQL)
        for source in sources:
            await listener.add_listener(source.channel, lambda *_: wake.set())
        positions = {s.service: await read_position(conn, s) for s in sources}
        log.info("relay_started", positions=positions)
        while not stop.is_set():
            moved = False
            for source in sources:
                if not await table_exists(conn, source):
                    continue
                new = await relay_batch(conn, js, source, positions[source.service], nats)
                moved = moved or new != positions[source.service]
                positions[source.service] = new
            if moved:
                continue
            wake.clear()
            stop_wait = asyncio.ensure_future(stop.wait())
            wake_wait = asyncio.ensure_future(wake.wait())
            await asyncio.wait(
                [stop_wait, wake_wait], timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            stop_wait.cancel()
            wake_wait.cancel()
    finally:
        await listener.close()
        await conn.close()
        await nc.drain()
        log.info("relay_stopped")
