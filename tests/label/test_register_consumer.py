"""The label service's register, fed for real: declarations → relay → JetStream → consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from events.values import Role
from infra.auth import Principal
from infra.relay import SOURCES, run_relay
from infra.settings import DatabaseSettings, NatsSettings
from services.declarations.app import open_application
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from services.label.register import ensure_register
from services.label.register_consumer import (
    Delivery,
    RegisterConsumer,
    apply_deliveries,
    catch_up,
    position_for_update,
    read_log,
)
from tests.support import REGISTER_CSV, answers

ADMIN = Principal("admin", Role.ADMIN, "region:occitanie")
DIRECTOR = Principal("directeur", Role.DIRECTEUR, "0340001S")
MOVED_CSV = REGISTER_CSV.replace(
    "0340001S;École Jules Ferry;école;210;Montpellier;34-C1",
    "0340001S;École Jules Ferry;école;210;Montpellier;34-C2",
)


@pytest.fixture
def declarations(database: DatabaseSettings) -> DeclarationsApplication:
    app = open_application(database, pool_size=2)
    app.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)
    app.open_campaign("montpellier", "2026-2027", date(2026, 6, 21), date(2026, 9, 27), ADMIN)
    app.submit_declaration("0340001S", "2026-2027", answers(A7=True), DIRECTOR)
    return app


async def wait_for(conn: asyncpg.Connection, sql: str, expected: object) -> None:
    for _ in range(200):
        if await conn.fetchval(sql) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{sql} never returned {expected!r}: {await conn.fetchval(sql)!r}")


@contextlib.asynccontextmanager
async def running(database: DatabaseSettings, nats: NatsSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_relay(list(SOURCES.values()), database, nats, stop, 0.1)),
        asyncio.create_task(RegisterConsumer(database, nats).run(stop, idle_timeout=0.2)),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_the_consumer_keeps_the_register_and_the_supporting_data(
    database: DatabaseSettings, nats_settings: NatsSettings, declarations: DeclarationsApplication
) -> None:
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    await ensure_register(conn)
    try:
        async with running(database, nats_settings):
            await wait_for(conn, "SELECT count(*) FROM label.register_schools", 4)
            await wait_for(conn, "SELECT count(*) FROM label.school_data", 1)
            row = await conn.fetchrow("SELECT * FROM label.school_data")
            assert row is not None
            assert (row["uai"], row["ent"], row["classes"]) == ("0340001S", True, 8)
            # The register moves an école: the label register follows.
            declarations.import_register(parse_register(MOVED_CSV.encode()), ADMIN)
            await wait_for(
                conn,
                "SELECT circonscription FROM label.register_schools WHERE uai = '0340001S'",
                "34-C2",
            )
        kind = await conn.fetchval("SELECT kind FROM label.register_schools WHERE uai = '0340501K'")
        assert kind == "college"
        position = await conn.fetchval("SELECT position FROM label.register_tracking")
        assert position == declarations.recorder.max_notification_id()
    finally:
        await conn.close()
        declarations.close()


async def test_copies_change_nothing_and_gaps_are_filled_from_the_log(
    database: DatabaseSettings, declarations: DeclarationsApplication
) -> None:
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await ensure_register(conn)
        log = await read_log(conn, 0, None)
        assert [d.position for d in log] == [1, 2, 3, 4, 5, 6]
        async with conn.transaction():
            await position_for_update(conn)
            # Only the last event arrives: the five before it are read from the log first.
            position = await apply_deliveries(conn, [log[-1]], 0)
            assert position == 6
            # A copy of an applied event is skipped.
            again = Delivery(None, 3, b"not even an event", "")
            assert await apply_deliveries(conn, [again], position) == 6
        assert await conn.fetchval("SELECT count(*) FROM label.register_schools") == 4
        assert await conn.fetchval("SELECT count(*) FROM label.school_data") == 1
        # Catching up from PostgreSQL alone (as `numecole up --demo` does) gets everything.
        await conn.execute("TRUNCATE label.register_schools, label.register_tracking")
    finally:
        await conn.close()
        declarations.close()
    assert await catch_up(database) == 6
    conn = await asyncpg.connect(database.url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM label.register_schools") == 4
        assert await catch_up(database) == 0
    finally:
        await conn.close()
