"""A school's history is read from the record itself: every event of every log about the school,
in the order it was recorded, page after page, as the record stood at any moment."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg
import pytest

import events
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.demo import load_demo
from services.label.demo import load_demo as load_label_demo
from services.reporting.history import school_history

Place = tuple[datetime, str, int]


@pytest.fixture
async def recorded(database: DatabaseSettings) -> asyncpg.Connection:
    app = open_application(database, pool_size=2)
    load_demo(app)
    app.close()
    assert await asyncio.to_thread(load_label_demo, database) > 50
    conn = await asyncpg.connect(database.url)
    yield conn
    await conn.close()


async def every_event(conn: asyncpg.Connection) -> dict[str, list[Place]]:
    """Each school's events, found by decoding every row of every log."""
    found: dict[str, list[Place]] = {}
    for source in SOURCES.values():
        for r in await conn.fetch(f"SELECT notification_id, state FROM {source.qualified_table}"):
            e = events.decode(r["state"])
            if e.uai is not None:
                found.setdefault(e.uai, []).append(
                    (e.recorded_at, source.service, r["notification_id"])
                )
    return {uai: sorted(places) for uai, places in found.items()}


async def pages(conn: asyncpg.Connection, uai: str, size: int, until: datetime) -> list[Place]:
    seen: list[Place] = []
    cursor = None
    while True:
        page = await school_history(conn, uai, size, cursor, until)
        assert len(page.entries) <= size
        seen += [(e.recorded_at, e.source, e.position) for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            return seen


async def test_pages_hold_every_event_of_both_logs_once_in_recorded_order(
    recorded: asyncpg.Connection,
) -> None:
    expected = await every_event(recorded)
    both = [u for u, places in expected.items() if {p[1] for p in places} == set(SOURCES)]
    assert len(both) >= 5  # schools with declarations and label steps
    far = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
    for uai in both[:5]:
        for size in (1, 3, 50):
            assert await pages(recorded, uai, size, far) == expected[uai], (uai, size)
    # As the record stood at a moment: what was recorded by then, nothing after.
    uai = both[0]
    middle = expected[uai][len(expected[uai]) // 2][0]
    assert await pages(recorded, uai, 4, middle) == [p for p in expected[uai] if p[0] <= middle]


async def test_an_entry_says_who_did_what_in_which_role(recorded: asyncpg.Connection) -> None:
    expected = await every_event(recorded)
    uai = next(u for u, places in expected.items() if {p[1] for p in places} == set(SOURCES))
    far = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
    page = await school_history(recorded, uai, 500, None, far)
    source = SOURCES[page.entries[-1].source]
    state = await recorded.fetchval(
        f"SELECT state FROM {source.qualified_table} WHERE notification_id = $1",
        page.entries[-1].position,
    )
    event = events.decode(state)
    last = page.entries[-1]
    assert (last.type, last.event_id, last.user_id, last.role) == (
        event.type_name(),
        str(event.event_id),
        event.actor.user_id,
        event.actor.role,
    )
    assert (last.school_year, last.occurred_at) == (event.school_year, event.occurred_at)
    assert last.content["type"] == event.type_name()


async def test_the_record_is_searched_by_its_index_by_school(recorded: asyncpg.Connection) -> None:
    for source in SOURCES.values():
        plan = await recorded.fetch(
            f"EXPLAIN (FORMAT TEXT) SELECT notification_id FROM {source.qualified_table} "
            f'WHERE "{source.schema}".event_school(state) = $1 ORDER BY '
            f'"{source.schema}".event_recorded_at(state), notification_id LIMIT 10',
            "0340001S",
        )
        text = "\n".join(r[0] for r in plan)
        assert f"Index Scan using {source.table}_school" in text, text
