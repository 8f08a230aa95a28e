"""The equipment index against the socle numérique de base (DOMAIN.md, equipment index)."""

from __future__ import annotations

import re
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from events.equipment import (
    EXPLANATIONS,
    Equipment,
    equipment_index,
    equipment_of,
    next_step,
)

TEACHER = re.compile(r"(\d+) classes? de plus avec ordinateur et vidéoprojection")
PUPIL = re.compile(r"(\d+) classes? de plus avec équipement pour les élèves")
TARGET = re.compile(r"^Pour atteindre l'indice (\d) : ")


def by_definition(classes: int, teacher: int, pupil: int) -> int:
    """The index as DOMAIN.md words it, with A1/2 as an exact fraction."""
    half = Fraction(classes, 2)
    if teacher == classes and pupil == classes:
        return 3
    if teacher >= half and pupil >= half:
        return 2
    if teacher >= half or pupil >= half:
        return 1
    return 0


def all_situations() -> list[tuple[int, int, int]]:
    return [
        (classes, teacher, pupil)
        for classes in range(1, 61)
        for teacher in range(classes + 1)
        for pupil in range(classes + 1)
    ]


@st.composite
def situations(draw: st.DrawFn) -> tuple[int, int, int]:
    classes = draw(st.integers(1, 60))
    return (
        classes,
        draw(st.integers(0, classes)),
        draw(st.integers(0, classes)),
    )


def test_every_school_from_1_to_60_classes_gets_the_index_of_the_definition() -> None:
    wrong = [
        (c, t, p)
        for c, t, p in all_situations()
        if equipment_index(c, t, p) != by_definition(c, t, p)
    ]
    assert wrong == []


def test_exactly_half_of_the_classes_counts_as_half() -> None:
    # 4 classes, 2 with teacher equipment: half of them, so index 1.
    assert equipment_index(4, 2, 0) == 1
    # 5 classes, 2 with teacher equipment: fewer than 2.5, so index 0; 3 are enough.
    assert equipment_index(5, 2, 0) == 0
    assert equipment_index(5, 3, 0) == 1
    # Both equipments in half of the classes: index 2; in all of them: index 3.
    assert equipment_index(6, 3, 3) == 2
    assert equipment_index(6, 6, 6) == 3


@given(situations(), st.integers(0, 60))
def test_more_teacher_equipment_never_lowers_the_index(s: tuple[int, int, int], more: int) -> None:
    classes, teacher, pupil = s
    better = min(classes, teacher + more)
    assert equipment_index(classes, better, pupil) >= equipment_index(classes, teacher, pupil)


@given(situations(), st.integers(0, 60))
def test_more_pupil_equipment_never_lowers_the_index(s: tuple[int, int, int], more: int) -> None:
    classes, teacher, pupil = s
    better = min(classes, pupil + more)
    assert equipment_index(classes, teacher, better) >= equipment_index(classes, teacher, pupil)


@given(situations())
def test_index_3_only_when_every_class_has_both(s: tuple[int, int, int]) -> None:
    classes, teacher, pupil = s
    reached = teacher == classes and pupil == classes
    assert (equipment_index(classes, teacher, pupil) == 3) == reached


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, object]:
    a1 = draw(st.integers(1, 60))
    b2 = draw(st.integers(0, a1))
    return {
        "A1": a1,
        "A2": "FIBRE",
        "B1": draw(st.integers(0, a1)),
        "B2": b2,
        "B3": draw(st.integers(0, a1 - b2)),
        "C1": draw(st.integers(0, 20)),
        "C2": draw(st.integers(0, 20)),
        "C3": draw(st.integers(0, a1)),
    }


@given(valid_answers())
def test_equipment_of_the_answers_follows_the_two_formulas(answers: dict[str, object]) -> None:
    a = {code: value for code, value in answers.items() if isinstance(value, int)}
    equipment = equipment_of(answers)
    assert equipment.classes == a["A1"]
    # T = min(B1, B2 + B3): a computer and a projection system.
    assert equipment.teacher == min(a["B1"], a["B2"] + a["B3"])
    # P = min(A1, C3 + 4 × (C1 + C2)): a mobile class serves up to four classes.
    assert equipment.pupil == min(a["A1"], a["C3"] + 4 * (a["C1"] + a["C2"]))


def test_one_mobile_class_equips_four_classes() -> None:
    answers = {"A1": 10, "B1": 0, "B2": 0, "B3": 0, "C1": 1, "C2": 0, "C3": 1}
    assert equipment_of(answers).pupil == 5


def test_the_equipment_explains_its_index_in_one_sentence() -> None:
    equipment = Equipment(classes=8, teacher=4, pupil=1)
    assert equipment.index == 1
    assert equipment.explanation == EXPLANATIONS[1]
    assert (
        equipment.next_step
        == "Pour atteindre l'indice 2 : 3 classes de plus avec équipement pour les élèves."
    )


def test_next_step_says_one_class_in_the_singular() -> None:
    assert next_step(2, 1, 0) == (
        "Pour atteindre l'indice 2 : 1 classe de plus avec équipement pour les élèves."
    )


def test_next_step_is_none_only_once_the_socle_is_reached() -> None:
    for classes, teacher, pupil in all_situations():
        text = next_step(classes, teacher, pupil)
        assert (text is None) == (equipment_index(classes, teacher, pupil) == 3)


def reached_with(classes: int, teacher: int, pupil: int, add_t: int, add_p: int) -> int:
    return equipment_index(classes, teacher + add_t, pupil + add_p)


def test_the_classes_named_by_next_step_reach_the_next_index_and_no_fewer_would() -> None:
    for classes, teacher, pupil in all_situations():
        index = equipment_index(classes, teacher, pupil)
        text = next_step(classes, teacher, pupil)
        if text is None:
            continue
        target = TARGET.match(text)
        assert target is not None, text
        # A one-class school goes from 1 straight to 3: index 2 does not exist for it.
        wanted = 3 if (classes, index) == (1, 1) else index + 1
        assert int(target.group(1)) == wanted
        add_t = [int(n) for n in TEACHER.findall(text)]
        add_p = [int(n) for n in PUPIL.findall(text)]
        assert len(add_t) <= 1, text
        assert len(add_p) <= 1, text
        assert add_t + add_p, text
        assert all(n > 0 for n in add_t + add_p), text
        if index == 0:
            # Either alternative alone reaches index 1, and one class fewer would not.
            assert " ou " in text
            assert reached_with(classes, teacher, pupil, add_t[0], 0) == wanted
            assert reached_with(classes, teacher, pupil, 0, add_p[0]) == wanted
            assert reached_with(classes, teacher, pupil, add_t[0] - 1, 0) == index
            assert reached_with(classes, teacher, pupil, 0, add_p[0] - 1) == index
        else:
            t, p = (add_t or [0])[0], (add_p or [0])[0]
            assert reached_with(classes, teacher, pupil, t, p) == wanted
            if t:
                assert reached_with(classes, teacher, pupil, t - 1, p) == index
            if p:
                assert reached_with(classes, teacher, pupil, t, p - 1) == index
