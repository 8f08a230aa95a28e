"""What the reporting projection's folds know between events (the cells' is `cell_memory.py`).

The live projector starts each batch with an empty memory: a fold loads from the read models
what its events need (a school's latest version, usage set, criteria), as a cache for the
batch's transaction. A rebuild keeps one `complete` memory from the first event to the last:
what is absent does not exist, nothing is read back, the versioned tables are appended to, and
the tables of current state (schools, criteria, standings…) are written once, at the end.

A rebuild that must apply one event alone undoes what the event changed if it fails: every
entry is about one school (`snapshot`, `restore`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from events.label import DomainDefinition

Row = tuple[Any, ...]
# A référentiel as the standings need it: version, seq, kinds, domains (newest first in lists).
Referentiel = tuple[str, int, list[str], list[DomainDefinition]]

_domains = msgspec.json.Decoder(list[DomainDefinition])
_decode_codes = msgspec.json.Decoder(list[str]).decode
_encode_codes = msgspec.json.Encoder().encode


def usage_codes(stored: str) -> list[str]:
    """The codes of a set of `usage_sets` (a JSON array, as asyncpg gives a jsonb)."""
    return _decode_codes(stored)


def stored_codes(codes: tuple[str, ...]) -> str:
    """A set of usage codes as `usage_sets` stores it."""
    return _encode_codes(codes).decode()


# Column positions in the rows of `reporting.schools` and `reporting.school_versions`.
SCHOOL_KIND, SCHOOL_CLOSED_ON, SCHOOL_REGISTERED_AT = 2, 10, 11
VERSION_FROM = 1


@dataclass
class ModelMemory:
    complete: bool = False
    schools: dict[str, Row] = field(default_factory=dict)  # rows of reporting.schools
    latest: dict[str, Row] = field(default_factory=dict)  # each school's latest version
    usage_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A rebuild's usage set of each school at its latest moment, written once a later moment
    # comes (two changes recorded at one moment are one version).
    held_sets: dict[str, tuple[datetime, tuple[str, ...]]] = field(default_factory=dict)
    criteria: dict[str, dict[str, Row]] = field(default_factory=dict)  # uai -> code -> row
    standings: dict[str, Row] = field(default_factory=dict)
    # Schools whose kind the register's events of this flush set or changed (their levels may
    # follow another référentiel), from when.
    kind_changes: dict[str, datetime] = field(default_factory=dict)
    # A rebuild computes each school's levels once, at the end: what its last change asks
    # (the fallback référentiel, from when).
    pending_standings: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    referentiels: list[Referentiel] | None = None
    # A rebuild's record of what the table's key would refuse: awards given.
    awards: set[tuple[str, str]] = field(default_factory=set)
    _saved: tuple[str | None, dict[str, Any]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.complete:
            self.referentiels = []

    # -- loading (live: what a batch needs, once per transaction) ----------------------------

    async def load_latest_versions(self, conn: asyncpg.Connection, uais: set[str]) -> None:
        wanted = [u for u in uais if u not in self.latest]
        if self.complete or not wanted:
            return
        for r in await conn.fetch(
            "SELECT * FROM reporting.school_versions WHERE uai = ANY($1::text[]) "
            "AND valid_to IS NULL ORDER BY valid_from",
            wanted,
        ):
            self.latest[r["uai"]] = tuple(r)

    async def load_usage_sets(self, conn: asyncpg.Connection, uais: set[str]) -> None:
        wanted = [u for u in uais if u not in self.usage_sets]
        if self.complete or not wanted:
            return
        found = {
            r["uai"]: tuple(usage_codes(r["codes"]))
            for r in await conn.fetch(
                """SELECT t.uai, s.codes FROM unnest($1::text[]) AS t(uai)
                   CROSS JOIN LATERAL (
                       SELECT codes FROM reporting.usage_sets s WHERE s.uai = t.uai
                       ORDER BY s.valid_from DESC LIMIT 1) s""",
                wanted,
            )
        }
        for uai in wanted:
            self.usage_sets[uai] = found.get(uai, ())

    async def load_criteria(self, conn: asyncpg.Connection, uais: set[str]) -> None:
        wanted = [u for u in uais if u not in self.criteria]
        if self.complete or not wanted:
            return
        for uai in wanted:
            self.criteria[uai] = {}
        for r in await conn.fetch(
            "SELECT * FROM reporting.label_criteria WHERE uai = ANY($1::text[])", wanted
        ):
            self.criteria[r["uai"]][r["code"]] = tuple(r)

    async def load_referentiels(self, conn: asyncpg.Connection) -> list[Referentiel]:
        if self.referentiels is None:
            self.referentiels = [
                (r["version"], r["seq"], list(r["kinds"]), _domains.decode(r["domains"]))
                for r in await conn.fetch(
                    "SELECT version, seq, kinds, domains::text AS domains "
                    "FROM reporting.label_referentiels ORDER BY seq DESC"
                )
            ]
        return self.referentiels

    async def kinds(self, conn: asyncpg.Connection, uais: list[str]) -> dict[str, str | None]:
        """Each school's kind as the register stands (live: as the batch has written it)."""
        if self.complete:
            return {
                u: row[SCHOOL_KIND] if (row := self.schools.get(u)) is not None else None
                for u in uais
            }
        found = {
            r["uai"]: r["kind"]
            for r in await conn.fetch(
                "SELECT uai, kind FROM reporting.schools WHERE uai = ANY($1::text[])", uais
            )
        }
        return {u: found.get(u) for u in uais}

    async def schools_with_standing(
        self, conn: asyncpg.Connection, kinds: list[str] | None, uais: list[str] | None = None
    ) -> list[str]:
        """The schools with a standing (a rebuild's: to compute) whose kind is one of `kinds`
        (if given), among `uais` (if given)."""
        if self.complete:
            return [
                u
                for u in (self.pending_standings if uais is None else uais)
                if u in self.pending_standings
                and (
                    kinds is None
                    or ((row := self.schools.get(u)) is not None and row[SCHOOL_KIND] in kinds)
                )
            ]
        return [
            r["uai"]
            for r in await conn.fetch(
                """SELECT st.uai FROM reporting.label_standing st
                   JOIN reporting.schools s USING (uai)
                   WHERE ($1::text[] IS NULL OR s.kind = ANY($1::text[]))
                     AND ($2::text[] IS NULL OR st.uai = ANY($2::text[]))""",
                kinds,
                uais,
            )
        ]

    # -- undoing one event (a rebuild's) ------------------------------------------------------

    def begin(self, uai: str | None) -> None:
        self._saved = (uai, self.snapshot(uai))

    def commit(self) -> None:
        self._saved = None

    def rollback(self) -> None:
        if self._saved is not None:
            self.restore(*self._saved)
            self._saved = None

    _BY_SCHOOL = (
        "schools",
        "latest",
        "usage_sets",
        "held_sets",
        "criteria",
        "standings",
    )

    def snapshot(self, uai: str | None) -> dict[str, Any]:
        """What an event about `uai` may change (about no school: the référentiels and the
        standings to compute)."""
        if uai is None:
            return {
                "referentiels": copy.copy(self.referentiels),
                "pending_standings": dict(self.pending_standings),
            }
        saved: dict[str, Any] = {
            name: copy.copy(getattr(self, name).get(uai)) for name in self._BY_SCHOOL
        }
        saved["awards"] = {a for a in self.awards if a[0] == uai}
        return saved

    def restore(self, uai: str | None, saved: dict[str, Any]) -> None:
        if uai is None:
            self.referentiels = saved["referentiels"]
            self.pending_standings = saved["pending_standings"]
            return
        for name in self._BY_SCHOOL:
            entries = getattr(self, name)
            if saved[name] is None:
                entries.pop(uai, None)
            else:
                entries[uai] = saved[name]
        self.awards = {a for a in self.awards if a[0] != uai} | saved["awards"]
