"""Fixtures shared by the reporting tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.settings import AuthSettings, DatabaseSettings
from tests.reporting.seeded_api import Client, seeded_client


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with seeded_client(database, auth) as c:
        yield c
