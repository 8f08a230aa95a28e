"""The territory figures' projector as it runs: beside the reporting projector, fed by the relay
through JetStream, it catches up with what the services record and follows a rebuild."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from events.values import Role, school_year_on
from infra.auth import Principal
from infra.relay import SOURCES, run_relay
from infra.settings import DatabaseSettings, NatsSettings
from services.declarations.app import open_application
from services.declarations.demo import CATALOGUE, demo_register, load_demo
from services.reporting import sums_from_cells, sums_from_members
from services.reporting.cell_projector import CellProjector
from services.reporting.model_memory import usage_codes
from services.reporting.projector import Projector
from services.reporting.rebuild import rebuild
from services.reporting.territory_sums import years_of
from tests.integration.test_projector_poison import wait_for

HEAD = "SELECT max(notification_id) FROM declarations.declarations_events"
# The cells are compared with the members' sums, which the reporting projector's tables feed: both
# consumers must have applied the whole log before they are compared.
BOTH_AT_HEAD = (
    f"SELECT bool_and(position = ({HEAD})) FROM ("
    "SELECT position FROM reporting.cell_tracking WHERE source = 'declarations' UNION ALL "
    "SELECT position FROM reporting.tracking WHERE source = 'declarations') AS p "
    "HAVING count(*) = 2"
)


@pytest.fixture
async def running(
    database: DatabaseSettings, nats_settings: NatsSettings
) -> AsyncIterator[asyncpg.Pool]:
    app = open_application(database, pool_size=2)
    load_demo(app)
    app.close()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_relay(list(SOURCES.values()), database, nats_settings, stop)),
        asyncio.create_task(Projector(database, nats_settings).run(stop, idle_timeout=0.2)),
        asyncio.create_task(CellProjector(database, nats_settings).run(stop, idle_timeout=0.2)),
    ]
    pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()


async def parked(pool: asyncpg.Pool) -> list[tuple[str, str, int, str]]:
    """What either projector parked, with its reason: a parked event moves a projector's
    position past it, and its figures then lack it."""
    rows = await pool.fetch(
        "SELECT 'cells' AS projector, source, position, reason FROM reporting.cell_parked "
        "UNION ALL SELECT 'reporting', source, position, reason FROM reporting.parked "
        "ORDER BY 1, 3"
    )
    return [(r["projector"], r["source"], r["position"], r["reason"]) for r in rows]


async def academies_match(pool: asyncpg.Pool) -> int:
    """Each académie's figures now, from the cells and from the members; how many compared."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        first = await conn.fetchval("SELECT min(rentree) FROM reporting.figure_years")
        last = await conn.fetchval("SELECT max(rentree) FROM reporting.figure_years")
        academies = [
            r[0] for r in await conn.fetch("SELECT DISTINCT academie FROM reporting.cells")
        ]
        for code in academies:
            assert await sums_from_cells.covered(conn, "academie", code, first, last, now)
            cells = await sums_from_cells.year_sums(conn, "academie", code, first, last, now)
            members = await sums_from_members.year_sums(conn, "academie", code, first, last, now)
            assert years_of(cells, first, last) == years_of(members, first, last), code
    return len(academies)


async def test_it_catches_up_beside_the_projector_and_follows_a_rebuild(
    running: asyncpg.Pool, database: DatabaseSettings
) -> None:
    await wait_for(running, BOTH_AT_HEAD, True, within=120)
    assert await parked(running) == []
    assert await academies_match(running) == 2
    report = await rebuild(database)
    assert report.parked == 0
    # It notices the new generation and goes on with it: more events, caught up again.
    before = await running.fetchval(HEAD)
    app = open_application(database, pool_size=2)
    for uai in [r.uai for r in demo_register() if r.details.kind == "ecole"][:5]:
        director = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
        app.add_usage(uai, CATALOGUE[-1].code, director)
    app.close()
    assert await running.fetchval(HEAD) > before
    await wait_for(running, BOTH_AT_HEAD, True, within=120)
    assert await parked(running) == []
    assert await academies_match(running) == 2


def write_usages(database: DatabaseSettings, stop: threading.Event) -> dict[str, list[str]]:
    """Directors of both académies add usages, then remove them, round after round, until
    `stop` is set and a round more; each school's usages on record then."""
    ecoles = [r.uai for r in demo_register() if r.details.kind == "ecole"]
    directors = {
        u: Principal(f"directeur-{u}", Role.DIRECTEUR, u) for u in ecoles[:4] + ecoles[-4:]
    }
    codes = [u.code for u in CATALOGUE[-3:]]
    app = open_application(database, pool_size=2)
    last_round, n = False, 0
    try:
        while not last_round:
            last_round = stop.is_set()
            change = app.add_usage if n % 2 == 0 else app.remove_usage
            for uai, director in directors.items():
                for code in codes:
                    change(uai, code, director)
            n += 1
        year = school_year_on(datetime.now(UTC))
        return {uai: app.declaration(uai, year, d).usages for uai, d in directors.items()}
    finally:
        app.close()


async def test_what_is_recorded_while_a_rebuild_runs_reaches_the_models_it_switches_to(
    running: asyncpg.Pool, database: DatabaseSettings
) -> None:
    await wait_for(running, BOTH_AT_HEAD, True, within=120)
    stop = threading.Event()
    idle = await running.fetchval(HEAD)
    writing = asyncio.create_task(asyncio.to_thread(write_usages, database, stop))
    try:
        await wait_for(running, f"SELECT ({HEAD}) > {idle}", True)
        started = await running.fetchval(HEAD)
        report = await rebuild(database)
        switched = await running.fetchval(HEAD)
    finally:
        stop.set()
        on_record = await writing
    assert report.parked == 0
    # Changes were recorded while it ran, and after it switched over.
    assert switched > started
    assert await running.fetchval(HEAD) > switched
    await wait_for(running, BOTH_AT_HEAD, True, within=120)
    assert await parked(running) == []
    projected = await running.fetch(
        "SELECT DISTINCT ON (uai) uai, codes FROM reporting.usage_sets WHERE uai = ANY($1) "
        "ORDER BY uai, valid_from DESC",
        list(on_record),
    )
    assert {r["uai"]: usage_codes(r["codes"]) for r in projected} == on_record
    assert await academies_match(running) == 2
