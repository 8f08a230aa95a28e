"""A past to record: steps at chosen moments, run in the order of those moments, with the clock
the applications record with reading the moment of the step being run (the demo's history)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    act: Callable[[], object] = field(compare=False)


class Timeline:
    """A clock (`timeline()` is the moment being recorded) and the steps it runs.

    Its moments only go forward, never earlier than `floor` (a log's recording times must rise
    with its positions, so a past is recorded only after what a log already holds) and never
    later than the moment `run` starts."""

    def __init__(self, floor: datetime | None = None) -> None:
        self.moment = floor or datetime(1, 1, 1, tzinfo=UTC)
        self._steps: list[_Step] = []

    def __call__(self) -> datetime:
        return self.moment

    def at(self, moment: datetime, act: Callable[[], object]) -> None:
        """Run `act` at `moment`; steps at the same moment run in the order they were given."""
        self._steps.append(_Step(moment, len(self._steps), act))

    def run(self) -> None:
        present = datetime.now(UTC)
        for step in sorted(self._steps):
            self.moment = max(self.moment, min(step.at, present))
            step.act()
        self._steps.clear()
