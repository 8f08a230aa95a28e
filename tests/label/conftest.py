"""The label service on real PostgreSQL, with a register of four schools and both référentiels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from infra.settings import AuthSettings, DatabaseSettings
from services.label.app import create_app
from tests.label.support import Clock, feed_register, publish_shipped, register_events


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(
    database: DatabaseSettings, auth: AuthSettings, clock: Clock
) -> AsyncIterator[AsyncTestClient[Any]]:
    await feed_register(database, register_events())
    async with AsyncTestClient(create_app(database, auth, clock)) as c:
        await publish_shipped(c, auth)
        yield c
