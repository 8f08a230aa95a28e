"""How each event changes the read models, on an open transaction.

Frequent events are folded and written a batch at a time (`PendingWrites`); the others have a
handler each, registered with `@handles` (other services' events register theirs on import)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from events.declarations import (
    CampaignOpened,
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageCatalogueRevised,
    UsageRemoved,
)
from events.envelope import Event
from events.values import region_of
from services.reporting.pending_writes import PendingWrites

Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]
HANDLERS: dict[type[Event], Handler] = {}


def handles(*types: type[Event]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


class Projection:
    """Applies events, in order, on one open transaction; `flush` before committing."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.pending = PendingWrites()

    async def apply(self, event: Event) -> None:
        if isinstance(event, DeclarationSubmitted | DeclarationConfirmed):
            self.pending.declaration(event)
        elif isinstance(event, UsageAdded | UsageRemoved):
            self.pending.usage(event)
        else:
            handler = HANDLERS.get(type(event))
            if handler is not None:
                # Keep the order of writes: what is folded so far goes first.
                await self.flush()
                await handler(self.conn, event)
        if event.uai is not None:
            self.pending.count(event)

    async def flush(self) -> None:
        if self.pending:
            await self.pending.flush(self.conn)


@handles(SchoolRegistered, SchoolDetailsChanged)
async def _school(conn: asyncpg.Connection, e: SchoolRegistered | SchoolDetailsChanged) -> None:
    d = e.details
    await conn.execute(
        """INSERT INTO reporting.schools (uai, name, kind, pupils, commune, circonscription, bassin,
               departement, academie, region, registered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (uai) DO UPDATE SET name = $2, kind = $3, pupils = $4, commune = $5,
               circonscription = $6, bassin = $7, departement = $8, academie = $9, region = $10""",
        e.uai,
        d.name,
        d.kind,
        d.pupils,
        d.commune,
        d.circonscription,
        d.bassin,
        d.departement,
        d.academie,
        region_of(d.academie),
        e.recorded_at,
    )


@handles(SchoolClosed)
async def _closed(conn: asyncpg.Connection, e: SchoolClosed) -> None:
    await conn.execute(
        "UPDATE reporting.schools SET closed_on = $2 WHERE uai = $1", e.uai, e.closed_on
    )


@handles(CampaignOpened)
async def _campaign(conn: asyncpg.Connection, e: CampaignOpened) -> None:
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
    await conn.execute("DELETE FROM reporting.usage_catalogue WHERE academie = $1", e.academie)
    await conn.executemany(
        "INSERT INTO reporting.usage_catalogue VALUES ($1, $2, $3, $4, $5)",
        [(e.academie, u.code, u.title, u.summary, e.catalogue_version) for u in e.usages],
    )


# Handlers of other services' events register themselves on import.
from services.reporting import label_projection  # noqa: E402, F401
