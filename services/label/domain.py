"""A school's label board: the workflow of each criterion and the awards, folded from events.

One aggregate per school (`board_id`): every step on any criterion and every award is an event of
that stream, so a step is checked against the board as it stands and two people acting on the
same proposal at once cannot both succeed (the event store refuses the second write).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from events.envelope import Actor, Event
from events.label import (
    CommuneSignature,
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    LabelAwarded,
    ProposalWithdrawn,
    ValidationRevoked,
)
from events.values import parse_school_year, school_year_bounds
from infra.errors import Conflict
from infra.event_store import stream_id

AWARD_YEARS = 2  # an award is valid for the school year of the application and the next one
APPLICATION_MONTH = 1  # schools apply in January


def board_id(uai: str) -> uuid.UUID:
    return stream_id("label-board", uai)


class State(StrEnum):
    NOT_PROPOSED = "not_proposed"
    PROPOSED = "proposed"
    VALIDATED = "validated"
    REJECTED = "rejected"
    REVOKED = "revoked"


STATE_LABELS = {
    State.NOT_PROPOSED: "non proposé",
    State.PROPOSED: "proposé",
    State.VALIDATED: "validé",
    State.REJECTED: "rejeté",
    State.REVOKED: "validation retirée",
}


class Action(StrEnum):
    PROPOSE = "propose"
    VALIDATE = "validate"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    REVOKE = "revoke"


# The only transitions there are: action -> (states it may start from, state it leads to).
TRANSITIONS: dict[Action, tuple[frozenset[State], State]] = {
    Action.PROPOSE: (
        frozenset({State.NOT_PROPOSED, State.REJECTED, State.REVOKED}),
        State.PROPOSED,
    ),
    Action.VALIDATE: (frozenset({State.PROPOSED}), State.VALIDATED),
    Action.REJECT: (frozenset({State.PROPOSED}), State.REJECTED),
    Action.WITHDRAW: (frozenset({State.PROPOSED}), State.NOT_PROPOSED),
    Action.REVOKE: (frozenset({State.VALIDATED}), State.REVOKED),
}

ACTION_OF_EVENT: dict[type[Event], Action] = {
    CriterionProposed: Action.PROPOSE,
    CriterionValidated: Action.VALIDATE,
    CriterionRejected: Action.REJECT,
    ProposalWithdrawn: Action.WITHDRAW,
    ValidationRevoked: Action.REVOKE,
}


@dataclass(frozen=True)
class Step:
    action: Action
    actor: Actor
    at: datetime
    text: str | None  # the comment of a proposal, the reason of a rejection or revocation
    referentiel_version: str


@dataclass
class CriterionRecord:
    """One criterion of one school: its state and the steps of its current round."""

    code: str
    state: State = State.NOT_PROPOSED
    proposed: Step | None = None
    validated: Step | None = None
    closed: Step | None = None  # the rejection, withdrawal or revocation that ended the round
    steps: int = 0


@dataclass(frozen=True)
class Award:
    school_year: str
    valid_until: str
    level: int
    domain_levels: dict[str, int]
    referentiel_version: str
    awarded_at: datetime
    actor: Actor
    commune: CommuneSignature | None = None  # an école's commune and who signed for it

    @property
    def expires_on(self) -> date:
        return school_year_bounds(self.valid_until)[1]


@dataclass
class LabelBoard:
    id: uuid.UUID
    version: int
    uai: str
    criteria: dict[str, CriterionRecord] = field(default_factory=dict)
    awards: list[Award] = field(default_factory=list)

    def criterion(self, code: str) -> CriterionRecord:
        return self.criteria.get(code) or CriterionRecord(code)

    def validated_codes(self) -> set[str]:
        return {c.code for c in self.criteria.values() if c.state is State.VALIDATED}

    def award_of(self, school_year: str) -> Award | None:
        return next((a for a in reversed(self.awards) if a.school_year == school_year), None)

    def current_award(self, school_year: str) -> Award | None:
        """The latest award still valid during `school_year`."""
        rentree = parse_school_year(school_year)
        for a in reversed(self.awards):
            if parse_school_year(a.school_year) <= rentree <= parse_school_year(a.valid_until):
                return a
        return None


def valid_until(school_year: str) -> str:
    last = parse_school_year(school_year) + AWARD_YEARS - 1
    return f"{last}-{last + 1}"


def _refused(action: Action, record: CriterionRecord) -> str:
    code, state = record.code, record.state
    if action is Action.PROPOSE:
        if state is State.PROPOSED:
            return (
                f"Le critère {code} est déjà proposé : il attend une validation ou un rejet "
                "avant de pouvoir être proposé de nouveau."
            )
        return f"Le critère {code} est déjà validé : il ne peut pas être proposé de nouveau."
    if action is Action.REVOKE:
        return (
            f"Le critère {code} n'est pas validé ({STATE_LABELS[state]}) : "
            "il n'y a pas de validation à retirer."
        )
    if state is State.VALIDATED and action is Action.VALIDATE:
        return f"Le critère {code} est déjà validé."
    verb = {
        Action.VALIDATE: "être validé",
        Action.REJECT: "être rejeté",
        Action.WITHDRAW: "voir sa proposition retirée",
    }[action]
    return (
        f"Le critère {code} n'est pas proposé ({STATE_LABELS[state]}) : "
        f"seul un critère proposé peut {verb}."
    )


def check_transition(action: Action, record: CriterionRecord, user_id: str) -> State:
    """The state `action` leads to, or Conflict (409) with the reason in French."""
    allowed_from, to = TRANSITIONS[action]
    if record.state not in allowed_from:
        raise Conflict(_refused(action, record))
    if action is Action.WITHDRAW:
        assert record.proposed is not None
        author = record.proposed.actor.user_id
        if author != user_id:
            raise Conflict(
                f"Seul l'auteur de la proposition ({author}) peut la retirer ; "
                "un validateur peut la rejeter avec un motif."
            )
    return to


CriterionEvent = (
    CriterionProposed
    | CriterionValidated
    | CriterionRejected
    | ProposalWithdrawn
    | ValidationRevoked
)


def _text(e: CriterionEvent) -> str | None:
    if isinstance(e, CriterionProposed):
        return e.comment
    if isinstance(e, CriterionRejected | ValidationRevoked):
        return e.reason
    return None


def _step(record: CriterionRecord, e: CriterionEvent) -> None:
    action = ACTION_OF_EVENT[type(e)]
    step = Step(action, e.actor, e.occurred_at, _text(e), e.referentiel_version)
    if action is Action.PROPOSE:
        record.proposed, record.validated, record.closed = step, None, None
    elif action is Action.VALIDATE:
        record.validated = step
    else:
        record.closed = step
    record.state = TRANSITIONS[action][1]
    record.steps += 1


def project_board(state: LabelBoard | None, events_: Iterable[Event]) -> LabelBoard | None:
    for e in events_:
        if state is None:
            assert e.uai is not None
            state = LabelBoard(e.originator_id, 0, e.uai)
        if isinstance(
            e,
            CriterionProposed
            | CriterionValidated
            | CriterionRejected
            | ProposalWithdrawn
            | ValidationRevoked,
        ):
            _step(state.criteria.setdefault(e.code, CriterionRecord(e.code)), e)
        elif isinstance(e, LabelAwarded):
            state.awards.append(
                Award(
                    e.school_year,
                    e.valid_until,
                    e.level,
                    dict(e.domain_levels),
                    e.referentiel_version,
                    e.occurred_at,
                    e.actor,
                    e.commune if isinstance(e.commune, CommuneSignature) else None,
                )
            )
        state.version = e.originator_version
    return state
