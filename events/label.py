"""Events of the label service (the label numérique workflow), and the level rule they feed.

A référentiel is published once per version (`uai` None); each step of a school's workflow on
one criterion is an event of that school's label board, naming the référentiel version it was
taken under. The level rule is pure and lives here because both the label service (the board)
and reporting (label standing) apply it, like the equipment index in `events.equipment`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import msgspec

from events.envelope import Event

SERVICE = "label"

LEVELS = (1, 2, 3)
# What the platform can show beside a criterion: the equipment index, or the declared ENT use.
DATA_EQUIPMENT_INDEX = "equipment_index"
DATA_ENT_USE = "ent_use"
DATA_KINDS = (DATA_EQUIPMENT_INDEX, DATA_ENT_USE)


class CriterionDefinition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    code: str
    level: int  # 1 minimum conditions, 2 conditions for success, 3 advanced conditions
    title: str
    explanation: str  # the "bulle explicative"
    data: str | None = None  # one of DATA_KINDS when platform data supports the criterion


class DomainDefinition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    code: str
    title: str
    criteria: list[CriterionDefinition]


class ReferentielPublished(Event, frozen=True, kw_only=True):
    """A référentiel version, whole; a later version never changes what was recorded under
    this one."""

    referentiel_version: str
    title: str
    kinds: list[str]  # the kinds of school it applies to: "ecole", "college", "lycee"
    domains: list[DomainDefinition]


class CriterionProposed(Event, frozen=True, kw_only=True):
    referentiel_version: str
    code: str
    comment: str  # the written comment or evidence: a bare click is refused


class CriterionValidated(Event, frozen=True, kw_only=True):
    referentiel_version: str
    code: str


class CriterionRejected(Event, frozen=True, kw_only=True):
    referentiel_version: str
    code: str
    reason: str


class ProposalWithdrawn(Event, frozen=True, kw_only=True):
    referentiel_version: str
    code: str


class ValidationRevoked(Event, frozen=True, kw_only=True):
    referentiel_version: str
    code: str
    reason: str


class CommuneSignature(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The commune's part in an école's application: the commune, as the school register named
    it when the école applied, and who signed for it."""

    name: str
    signatory: str
    office: str  # the signatory's office: "maire", "adjoint au numérique"…


class LabelAwarded(Event, frozen=True, kw_only=True):
    """The school applied (in January): the label is its global level at that moment, valid
    for `school_year` and the next one (`valid_until`). An école applies with its commune."""

    referentiel_version: str
    level: int
    domain_levels: dict[str, int]
    valid_until: str
    # An école's commune; UNSET for a collège, a lycée, or an award recorded before the field.
    # Added within version 1 and left out of the bytes when UNSET: a stored award re-encodes as
    # it was written, and readers that predate the field ignore it.
    commune: CommuneSignature | msgspec.UnsetType = msgspec.UNSET


CRITERION_EVENTS: tuple[type[Event], ...] = (
    CriterionProposed,
    CriterionValidated,
    CriterionRejected,
    ProposalWithdrawn,
    ValidationRevoked,
)

LABEL_EVENTS: tuple[type[Event], ...] = (
    ReferentielPublished,
    *CRITERION_EVENTS,
    LabelAwarded,
)


# -- the level rule ---------------------------------------------------------------------------


def domain_level(criteria: Iterable[CriterionDefinition], validated: Collection[str]) -> int:
    """The highest L such that every criterion of level ≤ L in the domain is validated (0–3)."""
    levels = [(c.level, c.code in validated) for c in criteria]
    reached = 0
    for level in LEVELS:
        if all(ok for lvl, ok in levels if lvl <= level):
            reached = level
        else:
            break
    return reached


def domain_levels(
    domains: Iterable[DomainDefinition], validated: Collection[str]
) -> dict[str, int]:
    return {d.code: domain_level(d.criteria, validated) for d in domains}


def global_level(levels: Mapping[str, int]) -> int:
    """The lowest domain level; 0 for a référentiel without domains."""
    return min(levels.values(), default=0)
