"""How each event changes the read models: one function an event type, on an open transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

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
from events.equipment import equipment_of
from events.values import parse_school_year, region_of

Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]
HANDLERS: dict[type[Event], Handler] = {}


def handles(*types: type[Event]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


async def apply(conn: asyncpg.Connection, event: Event) -> None:
    handler = HANDLERS.get(type(event))
    if handler is not None:
        await handler(conn, event)
    if event.uai is not None:
        await conn.execute(
            """INSERT INTO reporting.school_activity VALUES ($1, 1, $2)
               ON CONFLICT (uai) DO UPDATE SET events = school_activity.events + 1,
                   last_recorded_at = greatest(school_activity.last_recorded_at, $2)""",
            event.uai,
            event.recorded_at,
        )


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


@handles(DeclarationSubmitted, DeclarationConfirmed)
async def _declaration(
    conn: asyncpg.Connection, e: DeclarationSubmitted | DeclarationConfirmed
) -> None:
    a = e.answers
    eq = equipment_of(a)
    await conn.execute(
        """INSERT INTO reporting.declarations VALUES
               ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT (uai, rentree) DO UPDATE SET answers = $4, classes = $5,
               teacher_classes = $6, pupil_classes = $7, equipment_index = $8, robots = $9,
               internet = $10, web_radio = $11, web_tv = $12, fab_lab = $13, ent = $14,
               confirmed = $15, recorded_at = $16, recorded_by = $17""",
        e.uai,
        e.school_year,
        parse_school_year(e.school_year),
        msgspec.json.encode(a).decode(),
        eq.classes,
        eq.teacher,
        eq.pupil,
        eq.index,
        a.get("A3", 0),
        a.get("A2", "NE_SAIT_PAS"),
        a.get("A4") is True,
        a.get("A5") is True,
        a.get("A6") is True,
        a.get("A7") is True,
        isinstance(e, DeclarationConfirmed),
        e.recorded_at,
        e.actor.user_id,
    )


@handles(UsageAdded, UsageRemoved)
async def _usage(conn: asyncpg.Connection, e: UsageAdded | UsageRemoved) -> None:
    added = isinstance(e, UsageAdded)
    await conn.execute(
        """INSERT INTO reporting.usage_changes VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (event_id) DO NOTHING""",
        e.event_id,
        e.uai,
        e.code,
        added,
        e.school_year,
        parse_school_year(e.school_year),
        e.recorded_at,
    )
    if added:
        await conn.execute(
            "INSERT INTO reporting.school_usages VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            e.uai,
            e.code,
            e.recorded_at,
        )
    else:
        await conn.execute(
            "DELETE FROM reporting.school_usages WHERE uai = $1 AND code = $2", e.uai, e.code
        )


# Handlers of other services' events register themselves on import.
from services.reporting import label_projection  # noqa: E402, F401
