"""Real PostgreSQL and NATS for the suite: the configured ones (DATABASE_URL / NATS_URL) when
set, otherwise embedded servers started for the session. Each test gets a database and a stream
of its own."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from infra.embedded import EmbeddedNats, EmbeddedPostgres
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings


@dataclass(frozen=True)
class Servers:
    postgres_url: str  # a maintenance database on the server
    nats_url: str


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started: list[EmbeddedPostgres | EmbeddedNats] = []
    pg_url = os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("NATS_URL")
    root: Path = tmp_path_factory.mktemp("servers")
    if not pg_url:
        pg = EmbeddedPostgres(root / "postgres")
        pg_url = pg.start()
        started.append(pg)
    if not nats_url:
        nats = EmbeddedNats(root / "nats")
        nats_url = nats.start()
        started.append(nats)
    try:
        yield Servers(pg_url, nats_url)
    finally:
        for server in reversed(started):
            server.stop()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def fresh_database(servers: Servers) -> Iterator[DatabaseSettings]:
    """A database of its own on the server, dropped after use."""
    name = f"numecole_test_{secrets.token_hex(6)}"
    with psycopg.connect(servers.postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield DatabaseSettings(url=_with_database(servers.postgres_url, name))
    finally:
        with psycopg.connect(servers.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_stream(servers: Servers) -> NatsSettings:
    """A subject root and a stream of their own (the stream is made by whoever first needs it)."""
    root = f"nt{secrets.token_hex(5)}"
    return NatsSettings(url=servers.nats_url, subject_root=root, stream=root.upper())


async def drop_stream(settings: NatsSettings) -> None:
    import nats

    nc = await nats.connect(settings.url)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(settings.stream)
    await nc.close()


@pytest.fixture
def database(servers: Servers) -> Iterator[DatabaseSettings]:
    with fresh_database(servers) as settings:
        yield settings


@pytest.fixture
async def nats_settings(servers: Servers) -> AsyncIterator[NatsSettings]:
    settings = fresh_stream(servers)
    yield settings
    await drop_stream(settings)


@pytest.fixture(scope="session")
def auth() -> AuthSettings:
    return AuthSettings(dev_key=secrets.token_urlsafe(32))
