"""The demo records its school years as they happened: each step at its moment, each log's
recording times rising with its positions, so that any school replays as it stood on a past day."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import asyncpg

import events
from events.values import Role
from infra.auth import Principal
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.demo import demo_register, load_demo
from services.declarations.register_csv import RegisterRow
from services.reporting.school_profile import school_profile
from tests.reporting.test_rebuild import demo_projected


async def recorded_times(conn: asyncpg.Connection, service: str) -> list[tuple[str, datetime]]:
    """A log's events, as (type, recording time), in the order of their positions."""
    source = SOURCES[service]
    rows = await conn.fetch(
        f"SELECT topic, state FROM {source.qualified_table} ORDER BY notification_id"
    )
    return [(r["topic"], events.decode(r["state"]).recorded_at) for r in rows]


def rising(times: list[tuple[str, datetime]]) -> bool:
    return all(a[1] <= b[1] for a, b in pairwise(times))


async def test_the_demo_replays_each_school_as_it_stood_on_a_past_day(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    try:
        declarations = await recorded_times(conn, "declarations")
        label = await recorded_times(conn, "label")
        assert rising(declarations)
        assert rising(label)
        now = datetime.now(UTC)
        assert declarations[0][1] < datetime(2021, 6, 1, tzinfo=UTC)
        assert label[0][1] < declarations[-1][1] <= now
        # Answers for a school year come during its campaign, or soon after: in its rentrée's
        # calendar year, and in every year of the demo.
        submitted = [e for e in declarations if e[0] == "DeclarationSubmitted"]
        assert {t.year for _, t in submitted} == set(range(2021, 2027))
        awards = [t for topic, t in label if topic == "LabelAwarded"]
        assert awards
        assert {t.month for t in awards} == {1}

        uai = next(r.uai for r in demo_register() if r.details.kind == "ecole")
        in_2023_2024 = datetime(2024, 3, 1, 12, tzinfo=UTC)
        then = await school_profile(conn, uai, None, in_2023_2024)
        today = await school_profile(conn, uai, None, now, now=True)
        assert then is not None
        assert today is not None
        assert then.school_year == "2023-2024"
        assert [y.school_year for y in then.evolution][-1] == "2023-2024"
        assert then.declaration is not None
        assert then.declaration.recorded_at <= in_2023_2024
        assert then.as_of == in_2023_2024
        assert len(today.evolution) > len(then.evolution)
        # Read today, the years that had ended by then are as they were; the year then under
        # way has gained what came after (ENT periods, GAR accès).
        ended = await school_profile(conn, uai, "2023-2024", now, now=True)
        assert ended is not None
        assert ended.evolution[:-1] == then.evolution[:-1]
        assert ended.evolution[-1].school_year == "2023-2024"
        assert ended.evolution[-1] != then.evolution[-1]
        assert then.evolution[-1].gar_accesses is None
        assert ended.evolution[-1].gar_accesses
    finally:
        await conn.close()


async def test_the_demo_records_after_what_a_log_already_holds(
    database: DatabaseSettings,
) -> None:
    """Loaded into a log that already holds today's events, the demo's past cannot be recorded
    before them: its steps are recorded from then on, in their order."""
    app = open_application(database, pool_size=2)
    first: RegisterRow = demo_register()[0]
    app.import_register([first], Principal("admin", Role.ADMIN, "*"))
    before = app.last_recorded_at()
    assert before is not None
    loaded = load_demo(app)
    app.close()
    assert loaded > 100
    conn = await asyncpg.connect(database.url)
    try:
        declarations = await recorded_times(conn, "declarations")
        assert rising(declarations)
        assert declarations[0][1] == before
    finally:
        await conn.close()
