"""The demo's timeline: steps run in the order of their moments, and its clock only goes forward,
never before what a log holds nor past the present."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from infra.timeline import Timeline


def day(n: int) -> datetime:
    return datetime(2023, 1, n, 8, tzinfo=UTC)


def test_steps_run_in_the_order_of_their_moments_with_the_clock_at_each() -> None:
    timeline = Timeline()
    seen: list[tuple[str, datetime]] = []

    def note(name: str) -> None:
        seen.append((name, timeline()))

    for name, moment in (("c", day(3)), ("a", day(1)), ("b", day(2)), ("a2", day(1))):
        timeline.at(moment, partial(note, name))
    timeline.run()
    assert seen == [("a", day(1)), ("a2", day(1)), ("b", day(2)), ("c", day(3))]
    # Run steps are gone: a second run records nothing again.
    timeline.run()
    assert len(seen) == 4


def test_the_clock_never_goes_before_its_floor_or_an_earlier_run() -> None:
    timeline = Timeline(floor=day(5))
    seen: list[datetime] = []
    timeline.at(day(2), lambda: seen.append(timeline()))
    timeline.at(day(9), lambda: seen.append(timeline()))
    timeline.run()
    timeline.at(day(7), lambda: seen.append(timeline()))
    timeline.run()
    assert seen == [day(5), day(9), day(9)]


def test_the_clock_never_passes_the_present() -> None:
    timeline = Timeline()
    seen: list[datetime] = []
    timeline.at(datetime.now(UTC) + timedelta(days=3), lambda: seen.append(timeline()))
    before = datetime.now(UTC)
    timeline.run()
    assert seen[0] <= datetime.now(UTC)
    assert seen[0] >= before - timedelta(seconds=1)
