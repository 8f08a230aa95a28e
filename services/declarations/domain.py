"""Aggregates of the declarations service, folded from `events/` Structs.

Each aggregate is a plain object with `id` and `version`; `project_*` functions are the
projector functions the eventsourcing repository uses to rebuild them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from events.declarations import (
    AnswerValue,
    CampaignOpened,
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetails,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageCatalogueRevised,
    UsageDefinition,
    UsageRemoved,
)
from events.envelope import Actor, Event
from events.values import parse_school_year
from infra.event_store import stream_id


def school_id(uai: str) -> uuid.UUID:
    return stream_id("school", uai)


def declarations_id(uai: str) -> uuid.UUID:
    return stream_id("declarations", uai)


def campaign_id(academie: str, school_year: str) -> uuid.UUID:
    return stream_id("campaign", academie, school_year)


def catalogue_id(academie: str) -> uuid.UUID:
    return stream_id("usage-catalogue", academie)


@dataclass
class SchoolRecord:
    """A school as the register knows it."""

    id: uuid.UUID
    version: int
    uai: str
    details: SchoolDetails
    closed_on: date | None = None


def project_school(state: SchoolRecord | None, events_: Iterable[Event]) -> SchoolRecord | None:
    for e in events_:
        if isinstance(e, SchoolRegistered):
            assert e.uai is not None
            state = SchoolRecord(e.originator_id, e.originator_version, e.uai, e.details)
        elif state is not None:
            if isinstance(e, SchoolDetailsChanged):
                state.details = e.details
            elif isinstance(e, SchoolClosed):
                state.closed_on = e.closed_on
            state.version = e.originator_version
    return state


@dataclass
class Campaign:
    id: uuid.UUID
    version: int
    academie: str
    school_year: str
    opens_on: date
    closes_on: date


def project_campaign(state: Campaign | None, events_: Iterable[Event]) -> Campaign | None:
    for e in events_:
        if isinstance(e, CampaignOpened):
            state = Campaign(
                e.originator_id,
                e.originator_version,
                e.academie,
                e.school_year,
                e.opens_on,
                e.closes_on,
            )
    return state


@dataclass
class UsageCatalogue:
    id: uuid.UUID
    version: int
    academie: str
    usages: dict[str, UsageDefinition] = field(default_factory=dict)


def project_catalogue(
    state: UsageCatalogue | None, events_: Iterable[Event]
) -> UsageCatalogue | None:
    for e in events_:
        if isinstance(e, UsageCatalogueRevised):
            state = UsageCatalogue(
                e.originator_id, e.originator_version, e.academie, {u.code: u for u in e.usages}
            )
    return state


@dataclass(frozen=True)
class Answered:
    """The answers of one school year, and how and when they were last given."""

    answers: dict[str, AnswerValue]
    confirmed: bool
    recorded_at: datetime
    actor: Actor


@dataclass
class SchoolDeclarations:
    """Everything one school declared: answers per school year, and its current usages."""

    id: uuid.UUID
    version: int
    uai: str
    years: dict[str, Answered] = field(default_factory=dict)
    usages: set[str] = field(default_factory=set)

    def last_answers_before(self, school_year: str) -> tuple[str, Answered] | None:
        """The most recent answers of a year before `school_year`: what a confirmation repeats."""
        rentree = parse_school_year(school_year)
        earlier = [y for y in self.years if parse_school_year(y) < rentree]
        if not earlier:
            return None
        year = max(earlier, key=parse_school_year)
        return year, self.years[year]


def project_declarations(
    state: SchoolDeclarations | None, events_: Iterable[Event]
) -> SchoolDeclarations | None:
    for e in events_:
        if state is None:
            assert e.uai is not None
            state = SchoolDeclarations(e.originator_id, 0, e.uai)
        if isinstance(e, DeclarationSubmitted | DeclarationConfirmed):
            state.years[e.school_year] = Answered(
                dict(e.answers), isinstance(e, DeclarationConfirmed), e.recorded_at, e.actor
            )
        elif isinstance(e, UsageAdded):
            state.usages.add(e.code)
        elif isinstance(e, UsageRemoved):
            state.usages.discard(e.code)
        state.version = e.originator_version
    return state
