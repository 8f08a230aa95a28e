"""How label events change the read models (label standing in profiles and territories).

Criterion steps set the criterion's state and recompute the school's levels with the shared rule
(`events.label`), against the référentiel in force for the school's kind; a new référentiel
version recomputes every school of its kinds; an award is kept with its period of validity.

The events of a batch are applied in order at the flush, from what the memory holds
(`model_memory.py`); a rebuild writes the criteria and standings once, at the end.
"""

from __future__ import annotations

from datetime import datetime
from sys import intern
from typing import Any, ClassVar

import asyncpg
import msgspec

from events.envelope import Event
from events.label import (
    CommuneSignature,
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    LabelAwarded,
    ProposalWithdrawn,
    ReferentielPublished,
    ValidationRevoked,
    domain_levels,
    global_level,
)
from events.values import parse_school_year
from services.reporting.model_memory import ModelMemory, Referentiel, Row
from services.reporting.pending_writes import columns

STATE_AFTER: dict[type[Event], str] = {
    CriterionProposed: "proposed",
    CriterionValidated: "validated",
    CriterionRejected: "rejected",
    ProposalWithdrawn: "not_proposed",
    ValidationRevoked: "revoked",
}
CRITERION_STATE = 2  # in a row of reporting.label_criteria


def standing(
    referentiels: list[Referentiel],
    uai: str,
    kind: str | None,
    fallback: str | None,
    criteria: dict[str, Row],
    at: datetime,
) -> Row | None:
    """The school's levels against the latest référentiel for its kind, or (the school not yet
    in the register) the fallback, the one its last step was taken under."""
    ref = next((r for r in referentiels if kind is not None and kind in r[2]), None)
    if ref is None:
        ref = next((r for r in referentiels if r[0] == fallback), None)
    if ref is None:
        return None
    validated = {code for code, row in criteria.items() if row[CRITERION_STATE] == "validated"}
    levels = domain_levels(ref[3], validated)
    return (uai, ref[0], msgspec.json.encode(levels).decode(), global_level(levels), at)


def _trigger(
    stepped: dict[str, tuple[str | None, datetime]], uai: str, fallback: str | None, at: datetime
) -> None:
    """The school's levels to compute again, as of `at` (the latest of its changes), against
    its kind's référentiel or else `fallback` (the last step's; None: the one it had)."""
    before = stepped.get(uai)
    if before is None:
        stepped[uai] = (fallback, at)
    else:
        stepped[uai] = (fallback or before[0], max(before[1], at))


class LabelSteps:
    """Criterion steps, référentiels and awards: each criterion's last state and
    the levels of each school stepped in the batch, recomputed once at the flush."""

    types: ClassVar[tuple[type[Event], ...]] = (*STATE_AFTER, LabelAwarded, ReferentielPublished)

    def __init__(self, memory: ModelMemory) -> None:
        self.memory = memory
        self.events: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self.events or self.memory.kind_changes)

    def add(self, e: Any) -> None:
        self.events.append(e)

    async def flush(self, conn: asyncpg.Connection) -> None:
        m, batch = self.memory, self.events
        self.events = []
        await m.load_criteria(conn, {e.uai for e in batch if type(e) in STATE_AFTER})
        referentiels = await m.load_referentiels(conn)
        criteria: dict[tuple[str, str], Row] = {}
        awards: list[Row] = []
        stepped: dict[str, tuple[str | None, datetime]] = {}
        for e in batch:
            if isinstance(e, ReferentielPublished):
                await self._publish(conn, e, referentiels, stepped)
            elif isinstance(e, LabelAwarded):
                assert e.uai is not None
                if m.complete:
                    if (e.uai, e.school_year) in m.awards:
                        continue  # a school's first award of a year stands
                    m.awards.add((e.uai, e.school_year))
                commune = e.commune if isinstance(e.commune, CommuneSignature) else None
                awards.append(
                    (e.uai, e.school_year, parse_school_year(e.school_year), e.valid_until,
                     parse_school_year(e.valid_until), e.level,
                     msgspec.json.encode(e.domain_levels).decode(), e.referentiel_version,
                     e.occurred_at, e.actor.user_id, e.recorded_at,
                     commune and commune.name, commune and commune.signatory,
                     commune and commune.office)
                )  # fmt: skip
            else:
                state = STATE_AFTER[type(e)]
                # Interned: a rebuild holds every criterion of the country, the same few
                # codes, versions, people and roles again and again.
                row = (
                    intern(e.uai), intern(e.code), state, intern(e.referentiel_version), e.occurred_at,
                    intern(e.actor.user_id), intern(e.actor.role),
                )  # fmt: skip
                m.criteria.setdefault(e.uai, {})[e.code] = criteria[(e.uai, e.code)] = row
                _trigger(stepped, e.uai, e.referentiel_version, e.recorded_at)
        # A school that changed kind may follow another référentiel now (whichever of the two
        # came first in the batch, the latest moment is its levels').
        changed, m.kind_changes = m.kind_changes, {}
        if changed:
            with_standing = await m.schools_with_standing(conn, None, list(changed))
            for uai in {*with_standing, *(u for u in changed if u in stepped)}:
                _trigger(stepped, uai, None, changed[uai])
        if m.complete:
            if awards:
                await conn.copy_records_to_table(
                    "label_awards", schema_name="reporting", records=awards
                )
        else:
            await self._write(conn, list(criteria.values()), awards)
        await self._refresh_standings(conn, referentiels, stepped)

    async def _publish(
        self,
        conn: asyncpg.Connection,
        e: ReferentielPublished,
        referentiels: list[Referentiel],
        stepped: dict[str, tuple[str | None, datetime]],
    ) -> None:
        """A new version: the levels of every school of its kinds with a standing, again."""
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
        if all(r[0] != e.referentiel_version for r in referentiels):
            referentiels.append((e.referentiel_version, e.originator_version, e.kinds, e.domains))
            referentiels.sort(key=lambda r: -r[1])
        # Stepped earlier in the batch or before it, their levels follow the new version.
        schools = set(await self.memory.schools_with_standing(conn, e.kinds))
        kinds = await self.memory.kinds(conn, [u for u in stepped if u not in schools])
        schools.update(u for u, kind in kinds.items() if kind in e.kinds)
        for uai in schools:
            _trigger(stepped, uai, None, e.recorded_at)

    async def _refresh_standings(
        self,
        conn: asyncpg.Connection,
        referentiels: list[Referentiel],
        stepped: dict[str, tuple[str | None, datetime]],
    ) -> None:
        if not stepped:
            return
        m = self.memory
        if m.complete:
            # Computed once, at the end, from the last change of each (`dump`): every change
            # of what they depend on (steps, référentiels, the kind) is one.
            for uai, (fallback, at) in stepped.items():
                _trigger(m.pending_standings, uai, fallback, at)
            return
        await m.load_criteria(conn, set(stepped))
        kinds = await m.kinds(conn, list(stepped))
        standings = [
            row
            for uai, (fallback, at) in stepped.items()
            if (
                row := standing(
                    referentiels, uai, kinds[uai], fallback, m.criteria.get(uai, {}), at
                )
            )
        ]
        if standings:
            await conn.execute(
                """INSERT INTO reporting.label_standing
                   SELECT uai, version, levels::jsonb, level, at
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[],
                       $5::timestamptz[]) AS n(uai, version, levels, level, at)
                   ON CONFLICT (uai) DO UPDATE SET
                       referentiel_version = EXCLUDED.referentiel_version,
                       domain_levels = EXCLUDED.domain_levels,
                       global_level = EXCLUDED.global_level, updated_at = EXCLUDED.updated_at""",
                *columns(standings),
            )

    async def dump(self, conn: asyncpg.Connection) -> None:
        """A rebuild's criteria and standings, into the new tables."""
        m = self.memory
        uais = list(m.pending_standings)
        kinds = await m.kinds(conn, uais)
        referentiels = m.referentiels or []
        for uai in uais:
            fallback, at = m.pending_standings[uai]
            row = standing(referentiels, uai, kinds[uai], fallback, m.criteria.get(uai, {}), at)
            if row is not None:
                m.standings[uai] = row
        await conn.copy_records_to_table(
            "label_criteria",
            schema_name="reporting",
            records=[row for rows in m.criteria.values() for row in rows.values()],
        )
        await conn.copy_records_to_table(
            "label_standing",
            schema_name="reporting",
            records=list(m.standings.values()),
        )

    async def _write(
        self, conn: asyncpg.Connection, criteria: list[Row], awards: list[Row]
    ) -> None:
        if criteria:
            await conn.execute(
                """INSERT INTO reporting.label_criteria
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                       $5::timestamptz[], $6::text[], $7::text[])
                   ON CONFLICT (uai, code) DO UPDATE SET state = EXCLUDED.state,
                       referentiel_version = EXCLUDED.referentiel_version,
                       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
                       updated_role = EXCLUDED.updated_role""",
                *columns(criteria),
            )
        if awards:
            await conn.execute(
                """INSERT INTO reporting.label_awards
                   SELECT uai, school_year, rentree, valid_until, valid_until_rentree, level,
                          levels::jsonb, version, awarded_at, awarded_by, recorded_at, commune,
                          commune_signatory, commune_office
                   FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[],
                       $6::smallint[], $7::text[], $8::text[], $9::timestamptz[], $10::text[],
                       $11::timestamptz[], $12::text[], $13::text[], $14::text[])
                       AS n(uai, school_year, rentree, valid_until, valid_until_rentree, level,
                       levels, version, awarded_at, awarded_by, recorded_at, commune,
                       commune_signatory, commune_office)
                   ON CONFLICT (uai, school_year) DO NOTHING""",
                *columns(awards),
            )
