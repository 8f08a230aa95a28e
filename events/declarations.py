"""Events of the declarations service: the school register, campaigns, usage catalogue,
declarations of equipment and usages."""

from __future__ import annotations

from datetime import date

import msgspec

from events.envelope import Event

SERVICE = "declarations"

# Answer values: integers for counts, booleans for yes/no, strings for choices.
AnswerValue = int | bool | str


class SchoolDetails(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    name: str
    kind: str  # "ecole", "college", "lycee"
    pupils: int
    commune: str
    circonscription: str | None
    bassin: str | None
    departement: str
    academie: str


class SchoolRegistered(Event, frozen=True, kw_only=True):
    details: SchoolDetails


class SchoolDetailsChanged(Event, frozen=True, kw_only=True):
    """The register changed some of a school's facts (a move between circonscriptions, a new
    pupil count); `details` is the school as it now stands, `changed` names the fields."""

    details: SchoolDetails
    changed: list[str]


class SchoolClosed(Event, frozen=True, kw_only=True):
    closed_on: date


class CampaignOpened(Event, frozen=True, kw_only=True):
    academie: str
    opens_on: date
    closes_on: date


class UsageDefinition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    code: str
    title: str
    summary: str


class UsageCatalogueRevised(Event, frozen=True, kw_only=True):
    """A new version of an académie's usage catalogue; `usages` is the whole catalogue."""

    academie: str
    catalogue_version: int
    usages: list[UsageDefinition]


class DeclarationSubmitted(Event, frozen=True, kw_only=True):
    """The director answered the 13 questions for `school_year` (first answer or update)."""

    answers: dict[str, AnswerValue]


class DeclarationConfirmed(Event, frozen=True, kw_only=True):
    """The director confirmed last answers unchanged for `school_year`."""

    answers: dict[str, AnswerValue]
    confirmed_from: str


class UsageAdded(Event, frozen=True, kw_only=True):
    code: str


class UsageRemoved(Event, frozen=True, kw_only=True):
    code: str


DECLARATION_EVENTS: tuple[type[Event], ...] = (
    SchoolRegistered,
    SchoolDetailsChanged,
    SchoolClosed,
    CampaignOpened,
    UsageCatalogueRevised,
    DeclarationSubmitted,
    DeclarationConfirmed,
    UsageAdded,
    UsageRemoved,
)
