"""Fixtures shared by the reporting tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.national_data import generate
from infra.settings import AuthSettings, DatabaseSettings
from tests.reporting.seeded_api import Client, seeded_client


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with seeded_client(database, auth) as c:
        yield c


COUNTRY_SCHOOLS = 240


@pytest.fixture
async def country(database: DatabaseSettings) -> DatabaseSettings:
    """Five years of a small country (the national bench's generator): registers, moves and
    closures, campaigns, declarations, usages, ENT and GAR imports, label awards."""
    await generate(database, COUNTRY_SCHOOLS, say=lambda _: None)
    return database
