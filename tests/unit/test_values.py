"""UAI check letters and school years (DOMAIN.md, schools and school years)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.values import (
    UAI_LETTERS,
    is_valid_school_year,
    is_valid_uai,
    parse_school_year,
    school_year_bounds,
    school_year_on,
    uai_check_letter,
)


@pytest.mark.parametrize("uai", ["0750654D", "0750652B", "0341234G", "0310001H"])
def test_a_uai_with_its_check_letter_is_valid(uai: str) -> None:
    assert is_valid_uai(uai)


@pytest.mark.parametrize(
    "uai",
    [
        "0750654E",  # wrong letter
        "0750652D",  # the letter of another school
        "075065D",  # six digits
        "07506540D",  # eight digits
        "0750654d",  # lowercase letter
        "0750654",  # no letter
        "0750654DD",
        " 0750654D",
        "0750654D\n",  # a trailing newline is not part of a UAI
        "O750654D",  # letter O for a zero
        "075O654D",
        "",
    ],
)
def test_anything_else_is_not_a_uai(uai: str) -> None:
    assert not is_valid_uai(uai)


@given(st.integers(0, 9_999_999))
def test_exactly_one_letter_makes_seven_digits_a_uai(n: int) -> None:
    digits = f"{n:07d}"
    valid = [letter for letter in UAI_LETTERS if is_valid_uai(digits + letter)]
    assert valid == [uai_check_letter(digits)]
    assert valid == [UAI_LETTERS[n % 23]]


def test_the_check_letters_skip_i_o_and_q() -> None:
    assert len(UAI_LETTERS) == 23
    assert not set("IOQ") & set(UAI_LETTERS)


def test_a_school_year_is_named_by_its_two_years_and_parsed_to_its_rentree() -> None:
    assert parse_school_year("2024-2025") == 2024
    assert is_valid_school_year("2024-2025")


@pytest.mark.parametrize(
    "text",
    [
        "2024-2026",
        "2024-2024",
        "2025-2024",
        "24-25",
        "2024/2025",
        "2024–2025",
        "2024-2025\n",
        "2024",
        "",
    ],
)
def test_other_spellings_of_a_school_year_are_refused(text: str) -> None:
    assert not is_valid_school_year(text)
    with pytest.raises(ValueError, match="school year"):
        parse_school_year(text)


def test_the_school_year_changes_between_31_august_and_1_september() -> None:
    assert school_year_on(date(2024, 8, 31)) == "2023-2024"
    assert school_year_on(date(2024, 9, 1)) == "2024-2025"
    assert school_year_on(datetime(2024, 8, 31, 23, 59)) == "2023-2024"
    assert school_year_on(date(2025, 1, 1)) == "2024-2025"


@given(st.dates(min_value=date(1991, 1, 1), max_value=date(2099, 12, 31)))
def test_every_day_lies_within_the_bounds_of_its_school_year(day: date) -> None:
    first, last = school_year_bounds(school_year_on(day))
    assert first <= day <= last
    assert (first.month, first.day, last.month, last.day) == (9, 1, 8, 31)
