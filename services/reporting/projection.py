"""How each event changes the read models, on an open transaction.

Frequent events are folded and written a batch at a time (`PendingWrites`, `FOLDS`); the rare
others have a handler each, registered with `@handles`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from events.declarations import CampaignOpened, UsageCatalogueRevised
from events.envelope import Event
from events.values import parse_school_year
from services.reporting.declaration_projection import RegisterAndDeclarations
from services.reporting.label_projection import LabelSteps
from services.reporting.model_memory import ModelMemory
from services.reporting.pending_writes import Fold, PendingWrites

Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]
HANDLERS: dict[type[Event], Handler] = {}
# In the order they flush: the register first (label standing reads the schools' kinds).
FOLDS: tuple[type[Fold], ...] = (RegisterAndDeclarations, LabelSteps)


def handles(*types: type[Event]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


class Projection:
    """Applies events, in order, on one open transaction; `flush` before committing."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        models: ModelMemory | None = None,
        cells: bool = True,
    ) -> None:
        """`models`: a rebuild's complete memory (live: a new one, filled as needed);
        `cells`: whether to keep the territory figures too (a rebuild keeps them apart)."""
        self.conn = conn
        self.pending = PendingWrites(FOLDS, models, with_cells=cells)

    async def apply(self, event: Event, source: str, position: int, data: bytes) -> None:
        """Apply `event`, found at `position` of `source`'s log as the bytes `data`."""
        if not self.pending.add(event):
            handler = HANDLERS.get(type(event))
            if handler is not None:
                # Keep the order of writes: what is folded so far goes first.
                await self.flush()
                await handler(self.conn, event)

    async def flush(self) -> None:
        if self.pending:
            await self.pending.flush(self.conn)

    async def dump(self) -> None:
        """A rebuild's current rows, once everything is applied (`model_memory.py`)."""
        await self.pending.dump(self.conn)


@handles(CampaignOpened)
async def _campaign(conn: asyncpg.Connection, e: CampaignOpened) -> None:
    await conn.execute(
        "INSERT INTO reporting.campaign_versions VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT DO NOTHING",
        e.academie,
        e.school_year,
        parse_school_year(e.school_year),
        e.opens_on,
        e.closes_on,
        e.recorded_at,
    )
    await conn.execute(
        """INSERT INTO reporting.campaigns VALUES ($1, $2, $3, $4)
           ON CONFLICT (academie, school_year) DO UPDATE SET opens_on = $3, closes_on = $4""",
        e.academie,
        e.school_year,
        e.opens_on,
        e.closes_on,
    )


@handles(UsageCatalogueRevised)
async def _catalogue(conn: asyncpg.Connection, e: UsageCatalogueRevised) -> None:
    await conn.executemany(
        """INSERT INTO reporting.usage_catalogue VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING""",
        [
            (e.academie, e.recorded_at, u.code, u.title, u.summary, e.catalogue_version)
            for u in e.usages
        ],
    )
