"""The rules of the declaration's answers (DOMAIN.md, the declaration)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.declarations.questions import QUESTIONS, validate_answers
from tests.support import answers

CODES = [q.code for q in QUESTIONS]
COUNTS = ("A3", "C1", "C2")
YES_NO = ("A4", "A5", "A6", "A7")
PER_CLASS = ("B1", "B2", "B3", "C3")
MISSING = object()


def with_answers(**changes: Any) -> dict[str, Any]:
    """Valid answers (8 classes) with some changed; MISSING removes a question."""
    body = answers(**changes)
    return {code: value for code, value in body.items() if value is not MISSING}


def test_valid_answers_have_no_error() -> None:
    assert validate_answers(answers()) == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"A2": MISSING}, "A2", "est sans réponse"),
        ({"C3": MISSING}, "C3", "est sans réponse"),
        ({"A1": "huit"}, "A1", "doit être un nombre entier"),
        ({"A3": 1.5}, "A3", "doit être un nombre entier"),
        ({"A3": True}, "A3", "doit être un nombre entier"),  # bool is not an int
        ({"C1": False}, "C1", "doit être un nombre entier"),
        ({"A4": 1}, "A4", "doit être oui (true) ou non (false)"),
        ({"A7": "oui"}, "A7", "doit être oui (true) ou non (false)"),
        ({"A3": -1}, "A3", "ne peut pas être négative"),
        ({"B1": -2}, "B1", "ne peut pas être négative"),
        ({"A3": 10_000}, "A3", "ne peut dépasser 9999"),
        ({"A1": 0}, "A1", "doit être compris entre 1 et 60"),
        ({"A1": 61, "B1": 0, "B2": 0, "B3": 0, "C3": 0}, "A1", "doit être compris entre 1 et 60"),
        ({"B1": 9}, "B1", "ne peut dépasser le nombre de classes de l'école (8)"),
        ({"C3": 9}, "C3", "ne peut dépasser le nombre de classes de l'école (8)"),
        ({"B2": 5, "B3": 4}, "B2", "B2 + B3 (9) ne peut dépasser le nombre de classes (8)"),
        ({"A2": "4G"}, "A2", "ADSL, FIBRE ou NE_SAIT_PAS"),
        ({"A2": "fibre"}, "A2", "ADSL, FIBRE ou NE_SAIT_PAS"),
        ({"Z9": 3}, "Z9", "La question Z9 n'existe pas."),
        ({"D1": ["PROGRAMMATION"]}, "D1", "Les usages (D1) se déclarent un par un"),
    ],
)
def test_each_broken_rule_is_reported_on_its_question_in_french(
    changes: dict[str, Any], field: str, words: str
) -> None:
    errors = validate_answers(with_answers(**changes))
    assert [e.field for e in errors] == [field]
    assert words in errors[0].message
    assert field in errors[0].message


def test_every_missing_question_is_reported() -> None:
    errors = validate_answers({})
    assert [e.field for e in errors] == CODES


def test_a_body_breaking_five_rules_gets_five_errors() -> None:
    body = with_answers(A2=MISSING, B1=9, C1=-1, Z9=0, D1=["PROGRAMMATION"])
    errors = validate_answers(body)
    assert sorted(e.field for e in errors) == ["A2", "B1", "C1", "D1", "Z9"]


def test_a_projection_count_above_the_classes_also_breaks_the_sum_rule() -> None:
    # B3 = 9 of 8 classes: B3 too big, and B2 + B3 too big (reported on B2).
    errors = validate_answers(with_answers(B2=0, B3=9))
    assert [(e.field, "ne peut dépasser" in e.message) for e in errors] == [
        ("B2", True),
        ("B3", True),
    ]
    assert "B2 + B3 (9)" in errors[0].message
    # B2 = 9: both rules on B2.
    errors = validate_answers(with_answers(B2=9, B3=0))
    assert [e.field for e in errors] == ["B2", "B2"]


def test_counts_are_not_compared_with_a_number_of_classes_that_is_itself_wrong() -> None:
    # A1 = 0 is refused; B1 = 4 is not reported against it.
    errors = validate_answers(with_answers(A1=0))
    assert [e.field for e in errors] == ["A1"]


@st.composite
def answers_within_the_rules(draw: st.DrawFn) -> dict[str, Any]:
    a1 = draw(st.integers(1, 60))
    b2 = draw(st.integers(0, a1))
    body: dict[str, Any] = {
        "A1": a1,
        "A2": draw(st.sampled_from(["ADSL", "FIBRE", "NE_SAIT_PAS"])),
        "B1": draw(st.integers(0, a1)),
        "B2": b2,
        "B3": draw(st.integers(0, a1 - b2)),
        "C3": draw(st.integers(0, a1)),
    }
    body.update({code: draw(st.integers(0, 9999)) for code in COUNTS})
    body.update({code: draw(st.booleans()) for code in YES_NO})
    return body


@given(answers_within_the_rules())
def test_any_answers_within_the_rules_are_valid(body: dict[str, Any]) -> None:
    assert validate_answers(body) == []


ANY_VALUE = st.one_of(
    st.just(MISSING),
    st.integers(-3, 70),
    st.booleans(),
    st.sampled_from(["ADSL", "FIBRE", "NE_SAIT_PAS", "satellite", ""]),
    st.none(),
    st.floats(allow_nan=False),
)


@given(
    st.fixed_dictionaries({code: ANY_VALUE for code in CODES}),
    st.dictionaries(st.sampled_from(["D1", "Z9", "a1"]), st.integers()),
)
def test_errors_come_in_question_order(values: dict[str, Any], extra: dict[str, Any]) -> None:
    body = {code: v for code, v in values.items() if v is not MISSING} | extra
    errors = validate_answers(body)
    # Codes that are not questions come first, then the questions in the order of the form.
    rank = [CODES.index(e.field) if e.field in CODES else -1 for e in errors]
    assert rank == sorted(rank)
    assert {e.field for e in errors if e.field not in CODES} == set(extra)
    assert all(e.message.endswith(".") for e in errors)
