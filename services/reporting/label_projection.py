"""How label events change the read models (label standing in profiles and territories).

Criterion steps set the criterion's state and recompute the school's levels with the shared rule
(`events.label`), against the référentiel in force for the school's kind; a new référentiel
version recomputes every school of its kinds; an award is kept with its period of validity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

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
from services.reporting.pending_writes import columns, folds
from services.reporting.projection import handles

STATE_AFTER: dict[type[Event], str] = {
    CriterionProposed: "proposed",
    CriterionValidated: "validated",
    CriterionRejected: "rejected",
    ProposalWithdrawn: "not_proposed",
    ValidationRevoked: "revoked",
}
_domains = msgspec.json.Decoder(list[DomainDefinition])


async def refresh_standings(
    conn: asyncpg.Connection, schools: dict[str, tuple[str | None, datetime]]
) -> None:
    """Recompute the levels of `schools` (uai -> (fallback référentiel version, moment)): the
    latest référentiel for the school's kind, or (the school not yet projected) the fallback,
    the one its last step was taken under."""
    if not schools:
        return
    referentiels = [
        (r["version"], r["kinds"], _domains.decode(r["domains"]))
        for r in await conn.fetch(
            "SELECT version, kinds, domains::text AS domains FROM reporting.label_referentiels "
            "ORDER BY seq DESC"
        )
    ]
    uais = list(schools)
    rows = await conn.fetch(
        """SELECT u.uai, s.kind,
                  coalesce((SELECT array_agg(c.code) FROM reporting.label_criteria c
                            WHERE c.uai = u.uai AND c.state = 'validated'), '{}') AS validated
           FROM unnest($1::text[]) AS u(uai) LEFT JOIN reporting.schools s USING (uai)""",
        uais,
    )
    standings: list[tuple[str, str, str, int, datetime]] = []
    for row in rows:
        uai, kind = row["uai"], row["kind"]
        fallback, at = schools[uai]
        ref = next((r for r in referentiels if kind is not None and kind in r[1]), None)
        if ref is None:
            ref = next((r for r in referentiels if r[0] == fallback), None)
        if ref is None:
            continue
        levels = domain_levels(ref[2], set(row["validated"]))
        levels_json = msgspec.json.encode(levels).decode()
        standings.append((uai, ref[0], levels_json, global_level(levels), at))
    if standings:
        await conn.execute(
            """INSERT INTO reporting.label_standing
               SELECT uai, version, levels::jsonb, level, at
               FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[],
                   $5::timestamptz[]) AS n(uai, version, levels, level, at)
               ON CONFLICT (uai) DO UPDATE SET referentiel_version = EXCLUDED.referentiel_version,
                   domain_levels = EXCLUDED.domain_levels, global_level = EXCLUDED.global_level,
                   updated_at = EXCLUDED.updated_at""",
            *columns(standings),
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
    await refresh_standings(conn, {row["uai"]: (None, e.recorded_at) for row in schools})


@folds
@dataclass
class LabelSteps:
    """Criterion steps and awards: each criterion's last state, every step, and the levels of
    each school stepped in the batch, recomputed once at the flush."""

    types: ClassVar[tuple[type[Event], ...]] = (*STATE_AFTER, LabelAwarded)

    criteria: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    stepped: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    awards: list[tuple[Any, ...]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.steps or self.awards)

    def add(self, e: Any) -> None:
        assert e.uai is not None
        if isinstance(e, LabelAwarded):
            self.awards.append(
                (e.uai, e.school_year, parse_school_year(e.school_year), e.valid_until,
                 parse_school_year(e.valid_until), e.level,
                 msgspec.json.encode(e.domain_levels).decode(), e.referentiel_version,
                 e.occurred_at, e.actor.user_id, e.recorded_at)
            )  # fmt: skip
            return
        state = STATE_AFTER[type(e)]
        self.criteria[(e.uai, e.code)] = (
            e.uai, e.code, state, e.referentiel_version, e.occurred_at, e.actor.user_id,
            e.actor.role,
        )  # fmt: skip
        self.steps.append(
            (e.event_id, e.uai, e.originator_version, e.code, state, e.referentiel_version,
             e.recorded_at)
        )  # fmt: skip
        self.stepped[e.uai] = (e.referentiel_version, e.recorded_at)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.criteria:
            await conn.execute(
                """INSERT INTO reporting.label_criteria
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                       $5::timestamptz[], $6::text[], $7::text[])
                   ON CONFLICT (uai, code) DO UPDATE SET state = EXCLUDED.state,
                       referentiel_version = EXCLUDED.referentiel_version,
                       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
                       updated_role = EXCLUDED.updated_role""",
                *columns(list(self.criteria.values())),
            )
            await conn.execute(
                """INSERT INTO reporting.label_steps
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[],
                       $5::text[], $6::text[], $7::timestamptz[])
                   ON CONFLICT (event_id) DO NOTHING""",
                *columns(self.steps),
            )
            await refresh_standings(conn, self.stepped)
        if self.awards:
            await conn.execute(
                """INSERT INTO reporting.label_awards
                   SELECT uai, school_year, rentree, valid_until, valid_until_rentree, level,
                          levels::jsonb, version, awarded_at, awarded_by, recorded_at
                   FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[],
                       $6::smallint[], $7::text[], $8::text[], $9::timestamptz[], $10::text[],
                       $11::timestamptz[]) AS n(uai, school_year, rentree, valid_until,
                       valid_until_rentree, level, levels, version, awarded_at, awarded_by,
                       recorded_at)
                   ON CONFLICT (uai, school_year) DO NOTHING""",
                *columns(self.awards),
            )
        self.criteria.clear()
        self.steps.clear()
        self.stepped.clear()
        self.awards.clear()
