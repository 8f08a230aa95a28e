"""Read-your-writes: a read may wait, briefly, for the projection to reach a write's position."""

from __future__ import annotations

import asyncio
import time

import asyncpg

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
