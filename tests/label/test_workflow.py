"""The workflow of one criterion, as a pure state machine: every state × every action."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from events.envelope import Actor, Event
from events.label import (
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    LabelAwarded,
    ProposalWithdrawn,
    ValidationRevoked,
)
from infra.errors import Conflict
from infra.event_store import new_event
from services.label.domain import (
    Action,
    LabelBoard,
    State,
    board_id,
    check_transition,
    project_board,
    valid_until,
)

UAI = "0340001S"
CODE = "E-REF-1"
REFERENT = Actor("referent-1", "referent")
DIRECTOR = Actor("directeur-1", "directeur")

EVENT_OF: dict[str, tuple[type[Event], Actor, dict[str, Any]]] = {
    "P": (CriterionProposed, REFERENT, {"comment": "Nommé en conseil des maîtres."}),
    "V": (CriterionValidated, DIRECTOR, {}),
    "R": (CriterionRejected, DIRECTOR, {"reason": "Pas de trace écrite."}),
    "W": (ProposalWithdrawn, REFERENT, {}),
    "X": (ValidationRevoked, DIRECTOR, {"reason": "Référent parti."}),
}
# How to reach each state from nothing.
PATHS = {
    State.NOT_PROPOSED: "",
    State.PROPOSED: "P",
    State.VALIDATED: "PV",
    State.REJECTED: "PR",
    State.REVOKED: "PVX",
}
# The only transitions there are (DOMAIN.md, label numérique), written out independently.
EXPECTED = {
    (Action.PROPOSE, State.NOT_PROPOSED): State.PROPOSED,
    (Action.PROPOSE, State.REJECTED): State.PROPOSED,
    (Action.PROPOSE, State.REVOKED): State.PROPOSED,
    (Action.VALIDATE, State.PROPOSED): State.VALIDATED,
    (Action.REJECT, State.PROPOSED): State.REJECTED,
    (Action.WITHDRAW, State.PROPOSED): State.NOT_PROPOSED,
    (Action.REVOKE, State.VALIDATED): State.REVOKED,
}


def story(steps: str) -> LabelBoard:
    history: list[Event] = []
    for n, step in enumerate(steps, start=1):
        cls, actor, payload = EVENT_OF[step]
        extra: dict[str, Any] = dict(payload)
        history.append(
            new_event(
                cls,
                originator_id=board_id(UAI),
                originator_version=n,
                uai=UAI,
                school_year="2026-2027",
                actor=actor,
                occurred_at=datetime(2026, 10, n, tzinfo=UTC),
                referentiel_version="ecole-2018",
                code=CODE,
                **extra,
            )
        )
    return project_board(None, history) or LabelBoard(board_id(UAI), 0, UAI)


@pytest.mark.parametrize(
    ("action", "state"), list(itertools.product(Action, State)), ids=lambda v: str(v)
)
def test_only_the_allowed_transitions_happen(action: Action, state: State) -> None:
    record = story(PATHS[state]).criterion(CODE)
    assert record.state is state
    expected = EXPECTED.get((action, state))
    if expected is None:
        with pytest.raises(Conflict) as refused:
            check_transition(action, record, REFERENT.user_id)
        assert CODE in str(refused.value)
    else:
        assert check_transition(action, record, REFERENT.user_id) is expected


def test_the_folded_state_follows_the_transitions() -> None:
    for steps in ("P", "PV", "PR", "PW", "PVX", "PRP", "PVXP", "PWP", "PRPV"):
        state = State.NOT_PROPOSED
        for step in steps:
            action = {
                "P": Action.PROPOSE,
                "V": Action.VALIDATE,
                "R": Action.REJECT,
                "W": Action.WITHDRAW,
                "X": Action.REVOKE,
            }[step]
            state = EXPECTED[(action, state)]
        board = story(steps)
        assert board.criterion(CODE).state is state, steps
        assert board.version == len(steps)


def test_only_the_author_withdraws_a_proposal() -> None:
    record = story("P").criterion(CODE)
    with pytest.raises(Conflict, match="Seul l'auteur de la proposition"):
        check_transition(Action.WITHDRAW, record, DIRECTOR.user_id)
    assert check_transition(Action.WITHDRAW, record, REFERENT.user_id) is State.NOT_PROPOSED


def test_the_board_keeps_who_proposed_and_validated_and_why_a_round_ended() -> None:
    record = story("PRPVX").criterion(CODE)
    assert record.state is State.REVOKED
    assert record.proposed is not None
    assert record.proposed.actor == REFERENT
    assert record.proposed.text == "Nommé en conseil des maîtres."
    assert record.validated is not None
    assert record.validated.actor == DIRECTOR
    assert record.closed is not None
    assert record.closed.action is Action.REVOKE
    assert record.closed.text == "Référent parti."
    assert record.steps == 5
    # A new proposal starts a new round: the old validation and revocation are no longer shown.
    again = story("PRPVXP").criterion(CODE)
    assert (again.validated, again.closed) == (None, None)


def test_an_award_is_valid_two_school_years() -> None:
    assert valid_until("2026-2027") == "2027-2028"
    award = new_event(
        LabelAwarded,
        originator_id=board_id(UAI),
        originator_version=1,
        uai=UAI,
        school_year="2026-2027",
        actor=DIRECTOR,
        referentiel_version="ecole-2018",
        level=2,
        domain_levels={"ENT": 2},
        valid_until="2027-2028",
    )
    board = project_board(None, [award])
    assert board is not None
    assert board.current_award("2026-2027") is not None
    current = board.current_award("2027-2028")
    assert current is not None
    assert current.expires_on.isoformat() == "2028-08-31"
    assert board.current_award("2028-2029") is None
    assert board.current_award("2025-2026") is None
