"""A territory's evolution read for all its years at once gives, year by year, what reading
each year alone gives: the same declarations in force, usages as the year ended, ENT indices,
labels and ENT/GAR totals (the demo: five school years of every kind of event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from infra.settings import DatabaseSettings
from services.reporting.ent_gar import territory_ent_by_year
from services.reporting.label_standing import territory_shares_by_year
from services.reporting.territory import (
    TerritoryFigures,
    territory_figures,
    territory_figures_by_year,
)
from services.reporting.territory_profile import ent_gar_totals_by_year, territory_profile
from tests.reporting.test_rebuild import demo_projected

T = TypeVar("T")
MOMENTS = (
    datetime(2023, 1, 20, 9, tzinfo=UTC),
    datetime(2025, 6, 30, 12, tzinfo=UTC),
    None,  # now
)


def only_last_top(figures: T, rentree: int, last: int) -> T:
    """What an evolution shows of a year's figures: its most declared usages for the last year
    only."""
    if isinstance(figures, TerritoryFigures) and rentree < last:
        return msgspec.structs.replace(figures, top_usages=[])
    return figures


async def test_every_year_read_at_once_is_each_year_read_alone(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    try:
        first = await conn.fetchval("SELECT min(rentree) FROM reporting.campaign_versions")
        last = await conn.fetchval("SELECT max(rentree) FROM reporting.campaign_versions")
        assert last - first >= 3
        academie = await conn.fetchval("SELECT min(academie) FROM reporting.schools")
        circonscription = await conn.fetchval(
            "SELECT min(circonscription) FROM reporting.schools WHERE academie = $1", academie
        )
        checked = 0
        for level, code in (("academie", academie), ("circonscription", circonscription)):
            for moment in MOMENTS:
                at = moment or datetime.now(UTC)
                readers = (
                    territory_figures_by_year,
                    territory_ent_by_year,
                    territory_shares_by_year,
                    ent_gar_totals_by_year,
                )
                for read in readers:
                    together = await read(conn, level, code, first, last, at)
                    assert sorted(together) == list(range(first, last + 1))
                    for r in range(first, last + 1):
                        alone = (await read(conn, level, code, r, r, at))[r]
                        assert together[r] == only_last_top(alone, r, last), (
                            read.__name__,
                            level,
                            moment,
                            r,
                        )
                        checked += 1
                # The one-year figures (a school's comparison) are read by their own queries.
                figures = await territory_figures_by_year(conn, level, code, first, last, at)
                for r in range(first, last + 1):
                    one = await territory_figures(conn, level, code, r, at)
                    assert figures[r] == only_last_top(one, r, last), (level, moment, r)
        # The figures differ from one year to the next: the comparison above is not vacuous.
        figures = await territory_figures_by_year(
            conn, "academie", academie, first, last, datetime.now(UTC)
        )
        assert len({f.usages_declared for f in figures.values()}) > 1
        # The demo's usages came in over the years: a past moment knew fewer of them.
        then = await territory_figures(conn, "academie", academie, first + 1, MOMENTS[0])
        assert 0 < then.usages_declared < figures[last].usages_declared
        assert then.top_usages
        assert len({f.teacher_share for f in figures.values()}) > 1
        profile = await territory_profile(
            conn, "academie", academie, f"{last}-{last + 1}", datetime.now(UTC)
        )
        assert [y.rentree for y in profile.evolution] == list(range(first, last + 1))
        assert profile.evolution[-1].usages_declared == profile.figures.usages_declared
        assert sum(y.ent_connections for y in profile.evolution) > 0
        assert sum(y.label.labelled for y in profile.evolution) > 0
        assert checked == 2 * len(MOMENTS) * 4 * (last - first + 1)
    finally:
        await conn.close()
