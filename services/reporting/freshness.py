"""Read-your-writes: a read may wait, briefly, for the projection to reach a write's position."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import asyncpg

import events
from infra.errors import FieldError, InvalidInput
from infra.relay import SOURCES


def parse_after(value: str) -> tuple[str, int]:
    source, _, position = value.partition(":")
    if source not in SOURCES or not position.isdigit():
        raise InvalidInput(
            [
                FieldError(
                    "after",
                    f"Position invalide : « {value} » (attendu par exemple declarations:42).",
                )
            ]
        )
    return source, int(position)


async def wait_for_position(
    pool: asyncpg.Pool, source: str, position: int, within: float = 5.0
) -> bool:
    """True once the projection has applied `position` of `source`; False after `within` seconds."""
    deadline = time.monotonic() + within
    delay = 0.005
    while True:
        reached = await pool.fetchval(
            "SELECT position FROM reporting.tracking WHERE source = $1", source
        )
        if reached is not None and reached >= position:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


async def projected_through(
    conn: asyncpg.Connection, at: datetime, tracking: str = "reporting.tracking"
) -> bool:
    """Whether every event recorded up to `at` is in the read models (those a consumer keeps
    its positions in `tracking` for): the next event of each source's log that it has not
    applied was recorded after `at` (or there is none)."""
    positions = {
        r["source"]: r["position"]
        for r in await conn.fetch(f"SELECT source, position FROM {tracking}")  # noqa: S608
    }
    for source in SOURCES.values():
        exists = await conn.fetchval("SELECT to_regclass($1)", f"{source.schema}.{source.table}")
        if exists is None:
            continue
        state = await conn.fetchval(
            f"SELECT state FROM {source.qualified_table} WHERE notification_id > $1 "  # noqa: S608
            "ORDER BY notification_id LIMIT 1",
            positions.get(source.service, 0),
        )
        if state is not None and events.decode(state).recorded_at <= at:
            return False
    return True


async def wait_projected_through(pool: asyncpg.Pool, at: datetime, within: float = 5.0) -> None:
    """Wait until a past moment is complete in the read models, so that what is answered for it
    never changes afterwards; 503 when the projection is too far behind."""
    deadline = time.monotonic() + within
    while True:
        async with pool.acquire() as conn:
            if await projected_through(conn, at):
                return
        if time.monotonic() >= deadline:
            raise StillProjecting(at)
        await asyncio.sleep(0.05)


class StillProjecting(Exception):
    """The read models do not yet hold everything recorded up to the moment asked for."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"read models not yet complete up to {at.isoformat()}")
