"""A bad event is parked with its reason, never retried forever, and the events after it are
still applied; a rebuild under a running projector loses and parks nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from infra.relay import SOURCES, run_relay
from infra.settings import DatabaseSettings, NatsSettings
from services.declarations.app import open_application
from services.declarations.demo import ADMIN
from services.declarations.register_csv import parse_register
from services.reporting.projector import Projector
from services.reporting.rebuild import rebuild
from tests.support import REGISTER_CSV


async def wait_for(pool: asyncpg.Pool, query: str, expected: object, within: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    found: object = None
    while loop.time() < deadline:
        try:
            found = await pool.fetchval(query)
        except asyncpg.UndefinedTableError:
            found = None  # the projector has not created the read models yet
        if found == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query} never gave {expected!r}: {found!r}")


@pytest.fixture
async def running(
    database: DatabaseSettings, nats_settings: NatsSettings
) -> AsyncIterator[asyncpg.Pool]:
    app = open_application(database, pool_size=1)
    app.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)
    app.close()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_relay(list(SOURCES.values()), database, nats_settings, stop)),
        asyncio.create_task(Projector(database, nats_settings).run(stop, idle_timeout=0.2)),
    ]
    pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2)
    try:
        await wait_for(pool, "SELECT count(*) FROM reporting.schools", 4)
        yield pool
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()


def open_campaign(database: DatabaseSettings, school_year: str) -> None:
    rentree = int(school_year[:4])
    app = open_application(database, pool_size=1)
    app.open_campaign("montpellier", school_year, date(rentree, 6, 21), date(rentree, 9, 27), ADMIN)
    app.close()


async def test_a_bad_row_in_the_log_is_parked_and_the_stream_goes_on(
    running: asyncpg.Pool, database: DatabaseSettings
) -> None:
    # A row no code can read, as a bug or a hand-made fix might leave in the log.
    await running.execute(
        "INSERT INTO declarations.declarations_events (originator_id, originator_version, "
        "topic, state) VALUES ($1, 1, 'Garbage', $2)",
        uuid.uuid4(),
        b'{"type": "NotAnEvent"}',
    )
    open_campaign(database, "2024-2025")
    await wait_for(running, "SELECT count(*) FROM reporting.campaign_versions", 1)
    parked = await running.fetch("SELECT source, position, subject, reason FROM reporting.parked")
    assert len(parked) == 1
    assert parked[0]["source"] == "declarations"
    assert parked[0]["position"] == 5
    assert parked[0]["subject"].endswith("declarations._.Undecodable")
    assert "unknown event type 'NotAnEvent'" in parked[0]["reason"]
    # Parked once, not retried: a later event does not bring it back.
    open_campaign(database, "2025-2026")
    await wait_for(running, "SELECT count(*) FROM reporting.campaign_versions", 2)
    assert await running.fetchval("SELECT count(*) FROM reporting.parked") == 1


async def test_a_rebuild_under_a_running_projector_loses_and_parks_nothing(
    running: asyncpg.Pool, database: DatabaseSettings
) -> None:
    open_campaign(database, "2024-2025")
    await wait_for(running, "SELECT count(*) FROM reporting.campaign_versions", 1)
    report = await rebuild(database)
    assert report.parked == 0
    # The projector notices the new generation and goes on with it.
    open_campaign(database, "2025-2026")
    await wait_for(running, "SELECT count(*) FROM reporting.campaign_versions", 2)
    assert await running.fetchval("SELECT count(*) FROM reporting.parked") == 0
    assert await running.fetchval("SELECT count(*) FROM reporting.schools") == 4


async def test_parking_a_bad_event_after_a_gap_still_applies_the_gap(
    database: DatabaseSettings,
) -> None:
    from infra.consumer import Delivery
    from services.reporting.projector import Projector

    app = open_application(database, pool_size=1)
    app.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)  # positions 1–4
    app.close()
    conn = await asyncpg.connect(database.url)
    try:
        garbage = b'{"type": "NotAnEvent"}'
        await conn.execute(
            "INSERT INTO declarations.declarations_events (originator_id, originator_version, "
            "topic, state) VALUES ($1, 1, 'Garbage', $2)",
            uuid.uuid4(),
            garbage,
        )  # position 5
        projector = Projector()
        await projector.prepare(conn)
        # 1 and 2 applied; 3 and 4 never came by the bus; the bad event 5 does.
        await conn.execute(
            "INSERT INTO reporting.tracking (source, position) VALUES ('declarations', 2) "
            "ON CONFLICT (source) DO UPDATE SET position = 2"
        )
        await projector._apply_batch(conn, [Delivery(None, "declarations", 5, garbage, "")])
        assert await conn.fetchval("SELECT count(*) FROM reporting.schools") == 2  # 3 and 4
        assert await conn.fetchval("SELECT position FROM reporting.parked") == 5
        assert (
            await conn.fetchval(
                "SELECT position FROM reporting.tracking WHERE source = 'declarations'"
            )
            == 5
        )
    finally:
        await conn.close()
