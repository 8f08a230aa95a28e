"""The territory figures kept in cells are, at every moment, what reading the territory's
members gives: every level, every school year, random moments of five years of a small country
(the national bench's generator, 240 écoles: registers, moves and closures, campaigns,
declarations, usages, ENT and GAR imports, label awards), projected as the live projector does.
Applied out of the order they were recorded in, the moments in doubt are read from the members,
and the figures once all is applied are the same."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from infra.consumer import Delivery, read_logs
from infra.relay import SOURCES
from infra.settings import DatabaseSettings, NatsSettings
from services.reporting import sums_from_cells, sums_from_members
from services.reporting.cell_projection import CellFigures
from services.reporting.cell_projector import CellProjector
from services.reporting.projector import Projector, ensure_read_models
from services.reporting.territory_sums import YearSums, territory_sums, years_of
from tests.reporting.conftest import COUNTRY_SCHOOLS as SCHOOLS
from tests.reporting.test_rebuild import project_live
from tests.reporting.timeline import Timeline, at

FIRST = datetime(2021, 5, 1, tzinfo=UTC)
LEVELS = sums_from_cells.LEVELS


def moments(n: int, seed: int) -> list[datetime]:
    rng = random.Random(seed)
    span = int((datetime(2026, 8, 1, tzinfo=UTC) - FIRST).total_seconds())
    found = [FIRST + timedelta(seconds=rng.randrange(span)) for _ in range(n)]
    # As school years ended, and now.
    found += [datetime(y, 8, 31, 21, 59, 59, tzinfo=UTC) for y in range(2022, 2026)]
    return [*found, datetime.now(UTC)]


async def territories(conn: asyncpg.Connection, per_level: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    found: list[tuple[str, str]] = []
    for level in LEVELS:
        codes = sorted(
            r[0]
            for r in await conn.fetch(
                f"SELECT DISTINCT {level} FROM reporting.cells WHERE {level} IS NOT NULL"
            )
        )
        found += [(level, c) for c in rng.sample(codes, min(per_level, len(codes)))]
    return found


async def held_years(conn: asyncpg.Connection, at: datetime) -> tuple[int, int] | None:
    row = await conn.fetchrow(
        "SELECT min(rentree) AS lo, max(rentree) AS hi FROM reporting.figure_years "
        "WHERE since <= $1",
        at,
    )
    return None if row is None or row["lo"] is None else (row["lo"], row["hi"])


async def assert_usage_totals_agree(conn: asyncpg.Connection) -> None:
    """Every row of a cell's moment carries the same usage total: the sum of its usages' counts
    then (written in several batches when the moment spans them)."""
    wrong = await conn.fetch(
        """SELECT m.cell, m.rentree, m.valid_from FROM (
               SELECT DISTINCT cell, rentree, valid_from FROM reporting.cell_usages) m
           CROSS JOIN LATERAL (
               SELECT array_agg(DISTINCT k.total) AS totals FROM reporting.cell_usages k
               WHERE (k.cell, k.rentree, k.valid_from) = (m.cell, m.rentree, m.valid_from)) t
           CROSS JOIN LATERAL (
               SELECT sum(u.schools) AS total FROM (
                   SELECT DISTINCT ON (k.code) k.schools FROM reporting.cell_usages k
                   WHERE k.cell = m.cell AND k.rentree = m.rentree
                     AND k.valid_from <= m.valid_from
                   ORDER BY k.code, k.valid_from DESC) u) s
           WHERE t.totals <> ARRAY[s.total::int]"""
    )
    assert not wrong, wrong[:5]


def differences(
    a: dict[int, YearSums], b: dict[int, YearSums]
) -> dict[int, dict[str, tuple[int, int]]]:
    found = {}
    for r in a:
        x, y = msgspec.structs.asdict(a[r]), msgspec.structs.asdict(b[r])
        if x != y:
            found[r] = {k: (x[k], y[k]) for k in x if x[k] != y[k]}
    return found


async def projectors_and_log(
    database: DatabaseSettings, conn: asyncpg.Connection
) -> tuple[Projector, CellProjector, list[Delivery]]:
    """The two live projectors, on the read models' generation, and every event of the logs."""
    unused = NatsSettings(url="nats://unused")
    projector, cells = Projector(database, unused), CellProjector(database, unused)
    generation = await conn.fetchval("SELECT value FROM reporting.meta WHERE key = 'generation'")
    projector.generation = cells.generation = generation
    deliveries = [d async for chunk in read_logs(conn, list(SOURCES.values()), {}) for d in chunk]
    return projector, cells, deliveries


async def project_apart(
    database: DatabaseSettings,
    conn: asyncpg.Connection,
    cells_take: Callable[[list[Delivery]], list[Delivery]],
    cells_batch: int = 500,
) -> list[Delivery]:
    """The reporting projector applies every event of the logs, the territory figures' those
    `cells_take` gives, in its order; those."""
    projector, cells, deliveries = await projectors_and_log(database, conn)
    for start in range(0, len(deliveries), 500):
        await projector._apply_batch(conn, deliveries[start : start + 500])
    taken = cells_take(deliveries)
    for start in range(0, len(taken), cells_batch):
        await cells._apply_batch(conn, taken[start : start + cells_batch])
    return taken


async def test_cells_give_the_members_figures_at_any_moment(country: DatabaseSettings) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        await project_live(country, conn)
        assert await conn.fetchval("SELECT count(*) FROM reporting.school_facts") == SCHOOLS
        compared = top_compared = 0
        for level, code in await territories(conn, per_level=10, seed=4):
            for at in moments(14, seed=len(code)):
                years = await held_years(conn, at)
                if years is None:
                    continue
                first, last = years
                assert await sums_from_cells.covered(conn, level, code, first, last, at)
                cells = years_of(
                    await sums_from_cells.year_sums(conn, level, code, first, last, at), first, last
                )
                members = years_of(
                    await sums_from_members.year_sums(conn, level, code, first, last, at),
                    first,
                    last,
                )
                assert not differences(cells, members), (
                    level,
                    code,
                    at,
                    differences(cells, members),
                )
                compared += last - first + 1
                top = await sums_from_cells.top_usages(conn, level, code, last, at, 10)
                assert top == await sums_from_members.top_usages(conn, level, code, last, at, 10)
                top_compared += bool(top)
        # Not vacuous: many years compared, with figures of every kind.
        assert compared > 400
        assert top_compared > 50
        largest = await conn.fetchval(
            "SELECT academie FROM reporting.schools GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        now = await territory_sums(conn, "academie", largest, 2022, 2025, datetime.now(UTC))
        for field in ("answered", "declared", "usages", "ent_figures", "gar_accesses", "labelled"):
            assert sum(getattr(s, field) for s in now.values()) > 0, field
        # Applied in the order recorded, no moment of any cell is in doubt.
        assert await conn.fetchval("SELECT count(*) FROM reporting.cell_disorder") == 0
        await assert_usage_totals_agree(conn)
    finally:
        await conn.close()


async def test_out_of_order_moments_are_read_from_the_members(country: DatabaseSettings) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        # One log after the other: every award comes after the later events of its school.
        await project_live(country, conn, interleaved=False)
        spans = await conn.fetch("SELECT * FROM reporting.cell_disorder")
        assert len(spans) > 20
        rng = random.Random(7)
        inside = 0
        for level, code in await territories(conn, per_level=4, seed=9):
            # Moments inside the spans in doubt, and others.
            for at in [s["valid_from"] for s in rng.sample(spans, 10)] + moments(6, seed=3):
                years = await held_years(conn, at)
                if years is None:
                    continue
                first, last = years
                read = await territory_sums(conn, level, code, first, last, at)
                members = years_of(
                    await sums_from_members.year_sums(conn, level, code, first, last, at),
                    first,
                    last,
                )
                assert not differences(read, members), (level, code, at)
                inside += not await sums_from_cells.covered(conn, level, code, first, last, at)
        assert inside > 0
        # Once everything is applied, the cells are exact again.
        now = datetime.now(UTC)
        for level, code in await territories(conn, per_level=4, seed=10):
            assert await sums_from_cells.covered(conn, level, code, 2021, 2025, now)
            cells = years_of(
                await sums_from_cells.year_sums(conn, level, code, 2021, 2025, now), 2021, 2025
            )
            members = years_of(
                await sums_from_members.year_sums(conn, level, code, 2021, 2025, now), 2021, 2025
            )
            assert not differences(cells, members), (level, code)
        # Steps added to a moment written by an earlier batch gave all its rows their total.
        await assert_usage_totals_agree(conn)
    finally:
        await conn.close()


async def test_a_past_moment_the_cells_have_not_reached_is_read_from_the_members(
    country: DatabaseSettings,
) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        # The reporting projector has applied everything, the territory figures' only half.
        half = await project_apart(country, conn, lambda log: log[: len(log) // 2])
        reached = max(d.event.recorded_at for d in half if d.event is not None)
        largest = await conn.fetchval(
            "SELECT academie FROM reporting.schools GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        before, after = reached - timedelta(days=30), reached + timedelta(days=30)
        years = await held_years(conn, before)
        assert years is not None
        first, last = years
        # Before where they are: from the cells; after: not yet, the members answer exactly.
        assert await sums_from_cells.covered(conn, "academie", largest, first, last, before)
        assert not await sums_from_cells.covered(conn, "academie", largest, first, last, after)
        read = await territory_sums(conn, "academie", largest, first, last, after)
        members = years_of(
            await sums_from_members.year_sums(conn, "academie", largest, first, last, after),
            first,
            last,
        )
        assert not differences(read, members)
        # The present is read as far as they have gone, like every read model.
        now = datetime.now(UTC)
        assert await sums_from_cells.covered(conn, "academie", largest, first, last, now, now=True)
    finally:
        await conn.close()


async def test_the_cells_judge_on_time_answers_by_the_campaigns_they_have_seen(
    country: DatabaseSettings,
) -> None:
    conn = await asyncpg.connect(country.url)
    try:
        await ensure_read_models(conn)
        # The territory figures' projector runs ahead of the reporting one: when it applies a
        # declaration, the reporting tables know no campaign yet.
        projector, cells, deliveries = await projectors_and_log(country, conn)
        for start in range(0, len(deliveries), 500):
            await cells._apply_batch(conn, deliveries[start : start + 500])
        for start in range(0, len(deliveries), 500):
            await projector._apply_batch(conn, deliveries[start : start + 500])
        now = datetime.now(UTC)
        late = 0
        for code in [
            r[0] for r in await conn.fetch("SELECT DISTINCT academie FROM reporting.cells")
        ]:
            assert await sums_from_cells.covered(conn, "academie", code, 2021, 2025, now)
            from_cells = years_of(
                await sums_from_cells.year_sums(conn, "academie", code, 2021, 2025, now), 2021, 2025
            )
            members = years_of(
                await sums_from_members.year_sums(conn, "academie", code, 2021, 2025, now),
                2021,
                2025,
            )
            assert not differences(from_cells, members), (code, differences(from_cells, members))
            late += sum(s.answered - s.on_time for s in members.values())
        # Not vacuous: some answers came after their campaign closed.
        assert late > 0
    finally:
        await conn.close()


async def test_a_moment_stepped_in_several_batches_gives_all_its_rows_one_usage_total(
    database: DatabaseSettings,
) -> None:
    """A register import moves two schools at one moment; the territory figures' projector
    applies the two moves in two batches: the moment's usage rows in the new cell, written by
    each batch, carry the total after both."""
    conn = await asyncpg.connect(database.url)
    try:
        line = await Timeline(conn).start(database)
        recorded = [
            await line.register("0340001S", "2024-09-02T08:00:00"),
            await line.register("0340002T", "2024-09-02T08:00:00"),
            await line.usage("0340001S", "PROGRAMMATION", "2024-09-16T10:00:00"),
            await line.usage("0340002T", "ROBOTIQUE", "2024-09-17T10:00:00"),
            await line.move("0340001S", "2024-10-01T10:00:00", departement="30"),
            await line.move("0340002T", "2024-10-01T10:00:00", departement="30"),
        ]
        for event in recorded:  # one batch each, as the live projector may cut them
            fold = CellFigures()
            fold.add(event)
            async with conn.transaction():
                await fold.flush(conn)
        moved = at("2024-10-01T10:00:00")
        rows = await conn.fetch(
            "SELECT code, schools, total FROM reporting.cell_usages WHERE valid_from = $1 "
            "ORDER BY total > 0, code",
            moved,
        )
        # Left behind in the Hérault: none; arrived in the Gard: two usages declared (each
        # batch wrote the row of its school's usage).
        assert [tuple(r) for r in rows] == [
            ("PROGRAMMATION", 0, 0), ("ROBOTIQUE", 0, 0),
            ("PROGRAMMATION", 1, 2), ("ROBOTIQUE", 1, 2),
        ]  # fmt: skip
        await assert_usage_totals_agree(conn)
        gard = await sums_from_cells.year_sums(conn, "departement", "30", 2024, 2024, moved)
        assert gard[2024]["usages"] == 2
        before = await sums_from_cells.year_sums(
            conn, "departement", "34", 2024, 2024, moved - timedelta(seconds=1)
        )
        assert before[2024]["usages"] == 2
    finally:
        await conn.close()


async def test_a_change_of_kind_moves_a_school_out_of_the_ecoles_the_campaign_asks(
    database: DatabaseSettings,
) -> None:
    """The register says an école is in fact a collège: it still counts among the schools, no
    longer among those the campaign asks, in the cells as in the members, from then on."""
    conn = await asyncpg.connect(database.url)
    try:
        line = await Timeline(conn).start(database)
        recorded = [
            await line.register("0340001S", "2024-09-02T08:00:00"),
            await line.register("0340002T", "2024-09-02T08:00:00"),
            await line.move(
                "0340002T", "2024-10-01T10:00:00", kind="college", circonscription=None,
                bassin="34-B1",
            ),
        ]  # fmt: skip
        fold = CellFigures()
        for event in recorded:
            fold.add(event)
        async with conn.transaction():
            await fold.flush(conn)
        for moment, expected in (("2024-09-15T00:00:00", (2, 2)), ("2024-10-15T00:00:00", (2, 1))):
            for level, code in (("departement", "34"), ("academie", "montpellier")):
                cells = await sums_from_cells.year_sums(conn, level, code, 2024, 2024, at(moment))
                members = await sums_from_members.year_sums(
                    conn, level, code, 2024, 2024, at(moment)
                )
                for sums in (cells, members):
                    assert (sums[2024]["schools"], sums[2024]["asked"]) == expected, (
                        moment,
                        level,
                    )
    finally:
        await conn.close()
