"""How label events change the read models (label standing in profiles and territories).

Criterion steps set the criterion's state and recompute the school's levels with the shared rule
(`events.label`), against the référentiel in force for the school's kind; a new référentiel
version recomputes every school of its kinds; an award is kept with its period of validity.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from events.envelope import Event
from events.label import (
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    DomainDefinition,
    LabelAwarded,
    ProposalWithdrawn,
    ReferentielPublished,
    ValidationRevoked,
    domain_levels,
    global_level,
)
from events.values import parse_school_year
from services.reporting.projection import handles

STATE_AFTER: dict[type[Event], str] = {
    CriterionProposed: "proposed",
    CriterionValidated: "validated",
    CriterionRejected: "rejected",
    ProposalWithdrawn: "not_proposed",
    ValidationRevoked: "revoked",
}
_domains = msgspec.json.Decoder(list[DomainDefinition])


async def refresh_standing(
    conn: asyncpg.Connection, uai: str, fallback_version: str | None, at: datetime
) -> None:
    """Recompute a school's levels: the latest référentiel for its kind, or (the school not yet
    projected) the one its last step was taken under."""
    ref = await conn.fetchrow(
        """SELECT r.version, r.domains::text AS domains FROM reporting.label_referentiels r
           JOIN reporting.schools s ON s.kind = ANY(r.kinds)
           WHERE s.uai = $1 ORDER BY r.seq DESC LIMIT 1""",
        uai,
    )
    if ref is None and fallback_version is not None:
        ref = await conn.fetchrow(
            "SELECT version, domains::text AS domains FROM reporting.label_referentiels "
            "WHERE version = $1",
            fallback_version,
        )
    if ref is None:
        return
    validated = {
        r["code"]
        for r in await conn.fetch(
            "SELECT code FROM reporting.label_criteria WHERE uai = $1 AND state = 'validated'",
            uai,
        )
    }
    levels = domain_levels(_domains.decode(ref["domains"]), validated)
    await conn.execute(
        """INSERT INTO reporting.label_standing VALUES ($1, $2, $3::jsonb, $4, $5)
           ON CONFLICT (uai) DO UPDATE SET referentiel_version = $2, domain_levels = $3::jsonb,
               global_level = $4, updated_at = $5""",
        uai,
        ref["version"],
        msgspec.json.encode(levels).decode(),
        global_level(levels),
        at,
    )


@handles(ReferentielPublished)
async def _referentiel(conn: asyncpg.Connection, e: ReferentielPublished) -> None:
    await conn.execute(
        """INSERT INTO reporting.label_referentiels VALUES ($1, $2, $3, $4, $5::jsonb, $6)
           ON CONFLICT (version) DO NOTHING""",
        e.referentiel_version,
        e.originator_version,
        e.title,
        e.kinds,
        msgspec.json.encode(e.domains).decode(),
        e.recorded_at,
    )
    schools = await conn.fetch(
        """SELECT st.uai FROM reporting.label_standing st
           JOIN reporting.schools s USING (uai) WHERE s.kind = ANY($1::text[])""",
        e.kinds,
    )
    for row in schools:
        await refresh_standing(conn, row["uai"], None, e.recorded_at)


@handles(*STATE_AFTER)
async def _criterion(
    conn: asyncpg.Connection,
    e: CriterionProposed
    | CriterionValidated
    | CriterionRejected
    | ProposalWithdrawn
    | ValidationRevoked,
) -> None:
    await conn.execute(
        """INSERT INTO reporting.label_criteria VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (uai, code) DO UPDATE SET state = $3, referentiel_version = $4,
               updated_at = $5, updated_by = $6, updated_role = $7""",
        e.uai,
        e.code,
        STATE_AFTER[type(e)],
        e.referentiel_version,
        e.occurred_at,
        e.actor.user_id,
        e.actor.role,
    )
    await conn.execute(
        """INSERT INTO reporting.label_steps VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (event_id) DO NOTHING""",
        e.event_id,
        e.uai,
        e.originator_version,
        e.code,
        STATE_AFTER[type(e)],
        e.referentiel_version,
        e.recorded_at,
    )
    assert e.uai is not None
    await refresh_standing(conn, e.uai, e.referentiel_version, e.recorded_at)


@handles(LabelAwarded)
async def _award(conn: asyncpg.Connection, e: LabelAwarded) -> None:
    await conn.execute(
        """INSERT INTO reporting.label_awards VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9,
               $10, $11)
           ON CONFLICT (uai, school_year) DO NOTHING""",
        e.uai,
        e.school_year,
        parse_school_year(e.school_year),
        e.valid_until,
        parse_school_year(e.valid_until),
        e.level,
        msgspec.json.encode(e.domain_levels).decode(),
        e.referentiel_version,
        e.occurred_at,
        e.actor.user_id,
        e.recorded_at,
    )
