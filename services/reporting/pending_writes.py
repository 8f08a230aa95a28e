"""The frequent events of a batch, folded and written with one statement a table.

Register changes, declarations, usages, ENT and GAR imports and label steps are nearly all of the
log; writing them event by event would make the projector slower than the bus that feeds it, and
a rebuild of the national log take a quarter of an hour. Each kind of event has a `Fold`; it
applies its events in order when flushed, as applying them one by one would. Folds flush in the
order given (the register first: label standing reads the schools' kinds), then the territory
figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import asyncpg

from events.envelope import Event
from services.reporting.cell_events import FACTS
from services.reporting.cell_projection import CellFigures
from services.reporting.model_memory import ModelMemory


def columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows to one list a column, the shape `unnest($1::t[], …)` takes."""
    return [list(c) for c in zip(*rows, strict=True)]


class Fold(Protocol):
    """Events of some types, collected by `add`, applied and written by `flush` (which then
    forgets them); a rebuild's are written whole at the end by `dump`."""

    types: ClassVar[tuple[type[Event], ...]]

    def __init__(self, memory: ModelMemory) -> None: ...

    def add(self, event: Any) -> None: ...

    def __bool__(self) -> bool: ...

    async def flush(self, conn: asyncpg.Connection) -> None: ...

    async def dump(self, conn: asyncpg.Connection) -> None: ...


class PendingWrites:
    """A batch's folds, and the territory figures they change."""

    def __init__(
        self,
        folds: Sequence[type[Fold]],
        models: ModelMemory | None = None,
        with_cells: bool = True,
    ) -> None:
        """`with_cells`: whether to keep the territory figures too (a rebuild keeps them
        apart)."""
        self.models = models or ModelMemory()
        self.folds = [cls(self.models) for cls in folds]
        self.by_type = {t: f for f in self.folds for t in f.types}
        # A rebuild may decode some frequent events as their `FACTS`: folded as the events.
        self.by_type |= {lean: self.by_type[t] for lean, t in FACTS.items() if t in self.by_type}
        # Sees its events besides the fold or handler that owns them, and flushes after them.
        self.cells = CellFigures()
        self.cell_types = CellFigures.folded if with_cells else frozenset()

    def __bool__(self) -> bool:
        return bool(self.cells) or any(self.folds)

    def add(self, event: Event) -> bool:
        """Fold `event`; False when no fold takes its type (a handler may)."""
        if type(event) in self.cell_types:
            self.cells.add(event)
        fold = self.by_type.get(type(event))
        if fold is None:
            return False
        fold.add(event)
        return True

    async def flush(self, conn: asyncpg.Connection) -> None:
        for fold in self.folds:
            if fold:
                await fold.flush(conn)
        if self.cells:
            await self.cells.flush(conn)

    async def dump(self, conn: asyncpg.Connection) -> None:
        """A rebuild's current rows, once everything is applied."""
        for fold in self.folds:
            await fold.dump(conn)
