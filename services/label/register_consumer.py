"""`numecole run label-register`: a durable JetStream consumer (`infra.consumer`) of the
declarations service's events that keeps the label service's register (see `register.py`)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy

from events.envelope import Event
from infra import consumer
from infra.consumer import LogConsumer
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.label.register import apply_register_event, ensure_register

DURABLE = "label-register"
SOURCE = SOURCES["declarations"]


class Delivery(consumer.Delivery):
    """A declarations event: its source goes without saying."""

    def __init__(self, msg: Msg | None, position: int, data: bytes, subject: str) -> None:
        super().__init__(msg, SOURCE.service, position, data, subject)


class RegisterApplier:
    """Writes as it goes: nothing waits for `flush`."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def apply(self, event: Event, source: str, position: int, data: bytes) -> None:
        await apply_register_event(self.conn, event)

    async def flush(self) -> None:
        return None


class RegisterConsumer(LogConsumer):
    name = "label_register"
    durable = DURABLE
    subjects = f"{SOURCE.service}.>"
    sources = (SOURCE.service,)
    tracking = "label.register_tracking"
    parked = "label.register_parked"
    # The durable was created so, and JetStream cannot change a consumer's ack policy.
    ack_policy = AckPolicy.EXPLICIT

    def applier(self, conn: asyncpg.Connection) -> RegisterApplier:
        return RegisterApplier(conn)

    async def prepare(self, conn: asyncpg.Connection) -> None:
        await ensure_register(conn)


async def position_for_update(conn: asyncpg.Connection) -> int:
    return (await RegisterConsumer().positions_for_update(conn))[SOURCE.service]


async def read_log(
    conn: asyncpg.Connection, after: int, before: int | None
) -> list[consumer.Delivery]:
    """Declarations events in (after, before), straight from PostgreSQL."""
    return [d async for chunk in consumer.read_log(conn, SOURCE, after, before) for d in chunk]


async def apply_deliveries(
    conn: asyncpg.Connection, deliveries: Sequence[consumer.Delivery], position: int
) -> int:
    """Apply in order what is new, filling gaps from the log; return the new position."""
    positions = {SOURCE.service: position}
    await RegisterConsumer().apply_deliveries(conn, deliveries, positions)
    return positions[SOURCE.service]


async def catch_up(database: DatabaseSettings) -> int:
    """Bring the register up to date from PostgreSQL alone (demo loading, tests)."""
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await ensure_register(conn)
        return await RegisterConsumer().catch_up_from_log(conn)
    finally:
        await conn.close()
