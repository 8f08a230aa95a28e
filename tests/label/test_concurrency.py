"""Two validators acting on the same proposal at the same time: exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from events.values import Role
from infra.auth import Principal
from infra.errors import Conflict
from infra.http import EXCEPTION_HANDLERS
from services.label.application import LabelApplication, Receipt
from services.label.domain import LabelBoard
from tests.label.support import ECOLE, application

REFERENT = Principal("r.martin", Role.REFERENT, ECOLE)
DIRECTOR = Principal("d.dupont", Role.DIRECTEUR, ECOLE)
ERUN = Principal("erun.c1", Role.CONSEILLER, "circonscription:34-C1")


def race(app: LabelApplication, *moves: Any) -> list[Receipt | Exception]:
    """Run the moves in threads that all read the board before any of them writes."""
    barrier = threading.Barrier(len(moves), timeout=10)
    first_read = threading.local()
    read = app._board

    def board_after_everyone_read(uai: str) -> LabelBoard:
        board = read(uai)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait()
        return board

    app._board = board_after_everyone_read  # type: ignore[method-assign]

    def attempt(move: Any) -> Receipt | Exception:
        try:
            result: Receipt = move()
        except Exception as exc:
            return exc
        return result

    try:
        with ThreadPoolExecutor(len(moves)) as pool:
            return list(pool.map(attempt, moves))
    finally:
        del app._board


@pytest.mark.parametrize("second", ["validate", "reject"])
async def test_exactly_one_of_two_validators_wins(
    client: AsyncTestClient[Any], second: str
) -> None:
    app = application(client)
    app.propose(ECOLE, "E-PRJ-1", "Projet robotique en CM2.", REFERENT)
    other = (
        (lambda: app.validate(ECOLE, "E-PRJ-1", ERUN))
        if second == "validate"
        else (lambda: app.reject(ECOLE, "E-PRJ-1", "Trop tôt dans l'année.", ERUN))
    )
    outcomes = race(app, lambda: app.validate(ECOLE, "E-PRJ-1", DIRECTOR), other)
    won = [o for o in outcomes if isinstance(o, Receipt)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1
    assert len(lost) == 1
    # The loser is told why, in French, with a 409.
    assert isinstance(lost[0], Conflict)
    assert type(lost[0]) in EXCEPTION_HANDLERS
    assert "E-PRJ-1" in str(lost[0])
    # The record holds exactly one decision.
    board = app._board(ECOLE)
    assert board.version == 2
    assert board.criterion("E-PRJ-1").state.value == won[0].state


async def test_steps_on_different_criteria_at_the_same_time_both_succeed(
    client: AsyncTestClient[Any],
) -> None:
    app = application(client)
    app.propose(ECOLE, "E-PRJ-1", "Projet robotique en CM2.", REFERENT)
    app.propose(ECOLE, "E-PRJ-2", "Quatre classes sur dix.", REFERENT)
    outcomes = race(
        app,
        lambda: app.validate(ECOLE, "E-PRJ-1", DIRECTOR),
        lambda: app.validate(ECOLE, "E-PRJ-2", ERUN),
    )
    # The board is one stream: the second writer re-reads it, finds its step still allowed.
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert app._board(ECOLE).validated_codes() == {"E-PRJ-1", "E-PRJ-2"}
