"""Profiles and territories as the record stood at any moment, and the history of a school."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from infra.settings import DatabaseSettings
from services.reporting.history import school_history
from services.reporting.school_profile import school_profile
from services.reporting.territory import territory_figures, territory_schools
from tests.reporting.timeline import Timeline, at

A, B = "0340001S", "0340002T"


@pytest.fixture
async def timeline(database: DatabaseSettings) -> AsyncIterator[Timeline]:
    conn = await asyncpg.connect(database.url)
    try:
        yield await Timeline(conn).start(database)
    finally:
        await conn.close()


async def test_a_profile_as_of_a_date_shows_only_what_was_recorded_by_then(
    timeline: Timeline,
) -> None:
    await timeline.register(A, "2024-01-10T09:00:00")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    # June: nothing equipped. October: the director corrects, everything is equipped.
    await timeline.declare(A, "2024-2025", "2024-06-25T10:00:00", B1=0, B2=0, B3=0, C3=0)
    await timeline.declare(A, "2024-2025", "2024-10-05T10:00:00", B1=8, B2=0, B3=8, C3=8)
    conn = timeline.conn

    july = await school_profile(conn, A, "2024-2025", at("2024-07-01T00:00:00"))
    december = await school_profile(conn, A, "2024-2025", at("2024-12-01T00:00:00"))
    before = await school_profile(conn, A, "2024-2025", at("2024-01-01T00:00:00"))

    assert july is not None
    assert july.equipment is not None
    assert july.equipment.index == 0
    assert december is not None
    assert december.equipment is not None
    assert december.equipment.index == 3
    assert before is None  # the school was not registered yet


async def test_what_is_answered_for_a_past_moment_never_changes_when_later_events_arrive(
    timeline: Timeline,
) -> None:
    await timeline.register(A, "2024-01-10T09:00:00")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.declare(A, "2024-2025", "2024-06-25T10:00:00", B1=4, B2=4, B3=0, C3=4)
    moment = at("2024-08-31T12:00:00")
    first = await school_profile(timeline.conn, A, "2024-2025", moment)
    # Later: a new answer, a usage, a move to another circonscription.
    await timeline.catalogue("2024-09-01T08:00:00", "PROGRAMMATION")
    await timeline.declare(A, "2024-2025", "2024-09-15T10:00:00", B1=0, B2=0, B3=0, C3=0)
    await timeline.usage(A, "PROGRAMMATION", "2024-09-16T10:00:00")
    await timeline.move(A, "2024-09-20T10:00:00", circonscription="34-C2")
    again = await school_profile(timeline.conn, A, "2024-2025", moment)
    assert first is not None
    assert again is not None
    assert msgspec_equal(first, again, ignore=("produced_at",))


def msgspec_equal(a: object, b: object, ignore: tuple[str, ...]) -> bool:
    import msgspec

    left, right = msgspec.to_builtins(a), msgspec.to_builtins(b)
    for key in ignore:
        left.pop(key), right.pop(key)
    return bool(left == right)


async def test_a_territory_is_replayed_with_its_members_of_the_time(timeline: Timeline) -> None:
    await timeline.register(A, "2024-01-10T09:00:00", circonscription="34-C1")
    await timeline.register(B, "2024-01-10T09:00:00", circonscription="34-C1")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.declare(A, "2024-2025", "2024-07-01T10:00:00")
    # B moves to another circonscription in February 2025.
    await timeline.move(B, "2025-02-01T10:00:00", circonscription="34-C2")
    conn = timeline.conn

    january = await territory_figures(
        conn, "circonscription", "34-C1", 2024, at("2025-01-15T00:00:00")
    )
    march = await territory_figures(
        conn, "circonscription", "34-C1", 2024, at("2025-03-15T00:00:00")
    )
    other = await territory_schools(
        conn, "circonscription", "34-C2", 2024, at("2025-03-15T00:00:00")
    )

    assert (january.schools, january.answered, january.response_rate) == (2, 1, 50.0)
    assert (march.schools, march.answered, march.response_rate) == (1, 1, 100.0)
    assert [s.uai for s in other] == [B]
    assert other[0].answered is False


async def test_the_response_rate_counts_late_answers_apart(timeline: Timeline) -> None:
    await timeline.register(A, "2024-01-10T09:00:00")
    await timeline.register(B, "2024-01-10T09:00:00")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.declare(A, "2024-2025", "2024-09-01T10:00:00")
    await timeline.declare(B, "2024-2025", "2024-11-02T10:00:00")  # after the campaign closed
    figures = await territory_figures(
        timeline.conn, "academie", "montpellier", 2024, at("2025-01-01T00:00:00")
    )
    assert (figures.answered, figures.answered_on_time) == (2, 1)


async def test_the_response_rate_is_over_the_ecoles_the_campaign_asks(timeline: Timeline) -> None:
    """A collège counts among the territory's schools, but only écoles declare their
    equipment: when all of them answered, the campaign is answered in full."""
    college = "0340501K"
    await timeline.register(A, "2024-01-10T09:00:00")
    await timeline.register(B, "2024-01-10T09:00:00")
    await timeline.register(
        college, "2024-01-10T09:00:00", kind="college", circonscription=None, bassin="34-B1"
    )
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.declare(A, "2024-2025", "2024-09-01T10:00:00")
    figures = await territory_figures(
        timeline.conn, "academie", "montpellier", 2024, at("2024-09-10T00:00:00")
    )
    assert (figures.schools, figures.schools_asked, figures.answered) == (3, 2, 1)
    assert figures.response_rate == 50.0
    await timeline.declare(B, "2024-2025", "2024-09-12T10:00:00")
    figures = await territory_figures(
        timeline.conn, "academie", "montpellier", 2024, at("2024-09-20T00:00:00")
    )
    assert (figures.schools, figures.schools_asked, figures.answered) == (3, 2, 2)
    assert figures.response_rate == 100.0


async def test_usages_of_a_past_year_are_those_it_ended_with(timeline: Timeline) -> None:
    await timeline.register(A, "2023-01-10T09:00:00")
    await timeline.catalogue("2023-01-10T09:00:00", "PROGRAMMATION", "FABLAB")
    await timeline.campaign("2023-2024", "2023-06-21T08:00:00", date(2023, 9, 27))
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.usage(A, "PROGRAMMATION", "2023-10-01T10:00:00")
    await timeline.usage(A, "FABLAB", "2024-03-01T10:00:00")
    await timeline.usage(A, "PROGRAMMATION", "2024-10-01T10:00:00", added=False)
    now = at("2025-01-01T00:00:00")
    past = await school_profile(timeline.conn, A, "2023-2024", now)
    current = await school_profile(timeline.conn, A, "2024-2025", now)
    assert past is not None
    assert current is not None
    assert [u.code for u in past.usages] == ["FABLAB", "PROGRAMMATION"]
    assert [u.code for u in current.usages] == ["FABLAB"]
    assert [p.usages_declared for p in current.evolution] == [2, 1]


async def test_usages_are_named_as_the_catalogue_named_them_then(timeline: Timeline) -> None:
    await timeline.register(A, "2023-01-10T09:00:00")
    await timeline.catalogue("2023-01-10T09:00:00", "PROGRAMMATION", "FABLAB")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.usage(A, "PROGRAMMATION", "2024-10-01T10:00:00")
    await timeline.usage(A, "FABLAB", "2024-10-02T10:00:00")
    november = at("2024-11-01T00:00:00")
    then = await school_profile(timeline.conn, A, None, november)
    # January: the académie renames a usage and drops the other one from its catalogue.
    renamed = {"PROGRAMMATION": "Programmation et robotique"}
    await timeline.catalogue("2025-01-05T09:00:00", "PROGRAMMATION", titles=renamed)
    again = await school_profile(timeline.conn, A, None, november)
    now = await school_profile(timeline.conn, A, None, at("2025-02-01T00:00:00"))
    assert then is not None
    assert again is not None
    assert now is not None
    assert [(u.code, u.title) for u in then.usages] == [
        ("FABLAB", "Fablab"),
        ("PROGRAMMATION", "Programmation"),
    ]
    assert again.usages == then.usages
    # The school still declares the dropped usage: it keeps the last name the catalogue gave it.
    assert [(u.code, u.title) for u in now.usages] == [
        ("FABLAB", "Fablab"),
        ("PROGRAMMATION", "Programmation et robotique"),
    ]


async def test_the_history_pages_through_every_event_with_its_actor(timeline: Timeline) -> None:
    await timeline.register(A, "2024-01-10T09:00:00")
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    for day in range(1, 6):
        await timeline.declare(
            A, "2024-2025", f"2024-07-0{day}T10:00:00", A1=day + 1, B1=0, B2=0, B3=0, C3=0
        )
    until = at("2030-01-01T00:00:00")
    seen, cursor, pages = [], None, 0
    while True:
        page = await school_history(timeline.conn, A, 2, cursor, until)
        seen.extend(page.entries)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert [e.type for e in seen] == ["SchoolRegistered"] + ["DeclarationSubmitted"] * 5
    assert [e.content["answers"]["A1"] for e in seen[1:]] == [2, 3, 4, 5, 6]
    assert {(e.user_id, e.role) for e in seen[1:]} == {(f"dir-{A}", "directeur")}
    early = await school_history(timeline.conn, A, 100, None, at("2024-07-02T23:00:00"))
    assert len(early.entries) == 3


async def test_a_territory_counts_the_usages_each_school_year_ended_with(
    timeline: Timeline,
) -> None:
    await timeline.register(A, "2023-01-10T09:00:00")
    await timeline.catalogue("2023-01-10T09:00:00", "PROGRAMMATION", "FABLAB")
    await timeline.usage(A, "PROGRAMMATION", "2023-10-01T10:00:00")
    await timeline.usage(A, "FABLAB", "2023-11-01T10:00:00")
    await timeline.usage(A, "FABLAB", "2024-10-01T10:00:00", added=False)
    now = at("2025-06-01T00:00:00")
    ended = await territory_figures(timeline.conn, "academie", "montpellier", 2023, now)
    current = await territory_figures(timeline.conn, "academie", "montpellier", 2024, now)
    assert (ended.usages_declared, current.usages_declared) == (2, 1)
    assert [u.code for u in current.top_usages] == ["PROGRAMMATION"]


async def test_a_territory_names_its_most_declared_usages_as_its_catalogue_did(
    timeline: Timeline,
) -> None:
    await timeline.register(A, "2023-01-10T09:00:00")
    await timeline.register(B, "2023-01-10T09:00:00")
    await timeline.catalogue("2023-01-10T09:00:00", "PROGRAMMATION", "FABLAB")
    await timeline.usage(A, "PROGRAMMATION", "2023-10-01T10:00:00")
    await timeline.usage(B, "PROGRAMMATION", "2023-10-01T11:00:00")
    await timeline.usage(A, "FABLAB", "2023-11-01T10:00:00")
    renamed = {"PROGRAMMATION": "Programmation et robotique"}
    await timeline.catalogue("2024-01-05T09:00:00", "PROGRAMMATION", titles=renamed)
    for level, code in (
        ("academie", "montpellier"),
        ("departement", "34"),
        ("region", "occitanie"),
    ):
        before = await territory_figures(
            timeline.conn, level, code, 2023, at("2023-12-01T00:00:00")
        )
        after = await territory_figures(timeline.conn, level, code, 2023, at("2024-02-01T00:00:00"))
        assert [(u.code, u.title, u.schools) for u in before.top_usages] == [
            ("PROGRAMMATION", "Programmation", 2),
            ("FABLAB", "Fablab", 1),
        ], level
        # FABLAB left the catalogue: the académie's last name for it stays.
        assert [(u.code, u.title) for u in after.top_usages] == [
            ("PROGRAMMATION", "Programmation et robotique"),
            ("FABLAB", "Fablab"),
        ], level
