"""A territory's list of schools gives each school's ENT index as the school's profile has it, at
any moment: from the versions the cells' projection keeps, and from the record over the spans where
it applied a school's events out of the order they were recorded in, or where it has not applied
everything recorded by the moment yet (the small country of `test_cells`)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from events.data_imports import EntConnectionsImported
from events.declarations import DeclarationConfirmed, DeclarationSubmitted
from events.values import school_year_of_rentree
from infra.consumer import Delivery
from infra.settings import DatabaseSettings
from services.reporting import territory
from services.reporting.contribution import year_of
from services.reporting.ent_gar import school_ent
from services.reporting.freshness import projected_through
from services.reporting.projector import ensure_read_models
from services.reporting.territory import territory_schools
from tests.reporting.test_cells import moments, project_apart
from tests.reporting.test_rebuild import project_live

Indices = dict[str, int | None]


async def regions(conn: asyncpg.Connection) -> list[str]:
    """Every school of the country is in one of them."""
    return [r[0] for r in await conn.fetch("SELECT DISTINCT region FROM reporting.cells")]


async def listed(
    conn: asyncpg.Connection, rentree: int, at: datetime, now: bool = False
) -> Indices:
    found: Indices = {}
    for code in await regions(conn):
        found |= {
            r.uai: r.ent_index
            for r in await territory_schools(conn, "region", code, rentree, at, now)
        }
    return found


async def in_profiles(
    conn: asyncpg.Connection, uais: list[str], rentree: int, at: datetime
) -> Indices:
    year = school_year_of_rentree(rentree)
    found: Indices = {}
    for uai in uais:
        ent = await school_ent(conn, uai, year, at)
        found[uai] = None if ent is None else ent.index
    return found


async def assert_lists_agree(
    conn: asyncpg.Connection, at: datetime, now: bool = False
) -> Counter[int | None]:
    """The lists of the school year under way at `at` and of the one before agree with the
    profiles; what they hold."""
    seen: Counter[int | None] = Counter()
    for rentree in (year_of(at) - 1, year_of(at)):
        lists = await listed(conn, rentree, at, now)
        assert lists == await in_profiles(conn, sorted(lists), rentree, at), (rentree, at)
        seen.update(lists.values())
    return seen


def record_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the versions are exact, the lists do not read the record."""

    async def unexpected(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"read from the record: {args[1:]}")

    monkeypatch.setattr(territory, "school_ent", unexpected)


async def test_the_list_gives_each_school_its_profile_s_ent_index_at_any_moment(
    country: DatabaseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        await project_live(country, conn)
        # Applied in the order recorded, no school's versions are in doubt.
        assert await conn.fetchval("SELECT count(*) FROM reporting.school_ent_disorder") == 0
        record_untouched(monkeypatch)
        seen: Counter[int | None] = Counter()
        for at in moments(6, seed=11):
            seen += await assert_lists_agree(conn, at)
        seen += await assert_lists_agree(conn, datetime.now(UTC), now=True)
        # Not vacuous: schools without an index, and every index.
        assert seen[None] > 100
        assert all(seen[i] > 10 for i in range(4)), seen
    finally:
        await conn.close()


def label_log_first(deliveries: list[Delivery]) -> list[Delivery]:
    """The label log delivered before the declarations log, as a bus holding the one back may:
    a school's award is applied before the events recorded before it in the other log."""
    return sorted(deliveries, key=lambda d: d.source != "label")


def first_periods_late(deliveries: list[Delivery]) -> list[Delivery]:
    """Each declaration, and each import of an ENT period 1, 3,000 places later than its
    recording time puts it, its log's positions following (a log's recording times rise with
    its positions: not expected, but not assumed): a school's later periods are applied before
    its first, and its ENT imports before the declaration recorded before them."""

    def late(d: Delivery) -> bool:
        e = d.event
        return isinstance(e, DeclarationSubmitted | DeclarationConfirmed) or (
            isinstance(e, EntConnectionsImported) and e.period == 1
        )

    order = sorted(range(len(deliveries)), key=lambda i: i + 3000 if late(deliveries[i]) else i)
    positions: Counter[str] = Counter()
    moved = []
    for i in order:
        d = deliveries[i]
        positions[d.source] += 1
        moved.append(replace(d, position=positions[d.source]))
    return moved


@pytest.mark.parametrize("order", [label_log_first, first_periods_late])
async def test_a_school_s_events_applied_out_of_order_are_read_from_the_record(
    country: DatabaseSettings,
    monkeypatch: pytest.MonkeyPatch,
    order: Callable[[list[Delivery]], list[Delivery]],
) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        await project_apart(country, conn, order, cells_batch=137)
        spans = await conn.fetch("SELECT * FROM reporting.school_ent_disorder")
        assert len(spans) > 20
        # Inside the spans in doubt (the lists read those schools' from the record), and out.
        rng = random.Random(5)
        inside = [
            s["valid_from"] + (s["valid_to"] - s["valid_from"]) / 2 for s in rng.sample(spans, 6)
        ]
        seen: Counter[int | None] = Counter()
        for at in inside + moments(3, seed=2):
            seen += await assert_lists_agree(conn, at)
        assert sum(seen[i] for i in range(4)) > 50
        # Once everything is applied, the versions are exact again.
        record_untouched(monkeypatch)
        await assert_lists_agree(conn, datetime.now(UTC), now=True)
    finally:
        await conn.close()


async def test_a_moment_the_cells_have_not_reached_is_read_from_the_record(
    country: DatabaseSettings,
) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        # The reporting projector has applied everything, the territory figures' only half.
        half = await project_apart(country, conn, lambda log: log[: len(log) // 2])
        reached = max(d.event.recorded_at for d in half if d.event is not None)
        after = reached + timedelta(days=120)
        assert not await projected_through(conn, after, "reporting.cell_tracking")
        seen = await assert_lists_agree(conn, after)
        assert sum(seen[i] for i in range(4)) > 50
    finally:
        await conn.close()
