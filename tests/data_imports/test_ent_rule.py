"""The ENT index rule (DOMAIN.md, ENT-école index): exhaustively, then by properties."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.data_imports import EntConnections
from events.ent import (
    ENT_RULES,
    PERIODS,
    EntRule,
    PeriodFigures,
    ent_index,
    explanation,
    index_for,
    next_step,
    period_has_begun,
    periods_reached,
    ratio,
    reaches,
    rule_for,
)

RULE = rule_for("2024-2025")
PUPILS = 200


def year_with(reached: set[int], pupils: int = PUPILS) -> list[PeriodFigures]:
    """Five periods, those of `reached` at exactly one connection per pupil, the others one
    short of it."""
    return [PeriodFigures(p, pupils if p in reached else pupils - 1, pupils) for p in PERIODS]


# -- the rule as written ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reached",
    [set(c) for n in range(len(PERIODS) + 1) for c in combinations(PERIODS, n)],
    ids=lambda r: "".join(map(str, sorted(r))) or "none",
)
def test_every_combination_of_periods_gives_the_index_of_domain_md(reached: set[int]) -> None:
    expected = {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3}[len(reached)]
    assert ent_index(year_with(reached), RULE) == expected


def test_exactly_one_connection_per_pupil_reaches_the_threshold_and_one_less_does_not() -> None:
    assert reaches(PeriodFigures(1, 210, 210), RULE)
    assert not reaches(PeriodFigures(1, 209, 210), RULE)
    assert ratio(315, 210) == Fraction(3, 2)


def test_a_period_without_pupils_has_no_ratio_and_reaches_nothing() -> None:
    assert ratio(500, 0) is None
    assert not reaches(PeriodFigures(1, 500, 0), RULE)


def test_the_periods_imported_so_far_count_and_a_period_counts_once() -> None:
    assert ent_index([PeriodFigures(2, 300, 200)], RULE) == 1
    twice = [PeriodFigures(1, 300, 200), PeriodFigures(1, 400, 200), PeriodFigures(2, 200, 200)]
    assert periods_reached(twice, RULE) == 2
    assert ent_index([PeriodFigures(6, 900, 200), PeriodFigures(0, 900, 200)], RULE) == 0
    assert ent_index([], RULE) == 0


def test_connections_are_those_of_every_profile() -> None:
    connections = EntConnections(pupils=120, parents=60, teachers=30)
    assert connections.total == 210
    assert reaches(PeriodFigures(1, connections.total, 210), RULE)


# -- versions of the rule ---------------------------------------------------------------------

STRICTER = EntRule(since=2025, min_ratio=Fraction(2), periods_for_index=(2, 4, 5))
RULES = {2018: EntRule(since=2018), 2025: STRICTER}


@pytest.mark.parametrize(
    ("year", "since"),
    [("2017-2018", 2018), ("2018-2019", 2018), ("2024-2025", 2018), ("2025-2026", 2025),
     ("2031-2032", 2025), (2025, 2025), (2019, 2018)],
)  # fmt: skip
def test_the_rule_of_a_year_is_the_latest_one_in_force_at_its_rentree(
    year: str | int, since: int
) -> None:
    assert rule_for(year, RULES).since == since


def test_the_configured_rules_are_keyed_by_the_rentree_they_apply_from() -> None:
    assert ENT_RULES
    assert all(rule.since == rentree for rentree, rule in ENT_RULES.items())
    assert rule_for("2024-2025") == EntRule(since=2018)


def test_the_same_connections_give_another_index_under_a_new_rule() -> None:
    figures = [PeriodFigures(p, 300, 200) for p in (1, 2, 3)]  # 1.5 connection per pupil
    assert ent_index(figures, rule_for("2024-2025", RULES)) == 2
    assert ent_index(figures, rule_for("2025-2026", RULES)) == 0


@pytest.mark.parametrize(
    ("ratio_", "periods"),
    [(Fraction(0), (1, 3, 5)), (Fraction(-1), (1, 3, 5)), (Fraction(1), (0, 3, 5)),
     (Fraction(1), (3, 1, 5)), (Fraction(1), (1, 3, 6))],
)  # fmt: skip
def test_a_rule_that_cannot_be_applied_is_refused(
    ratio_: Fraction, periods: tuple[int, int, int]
) -> None:
    with pytest.raises(ValueError, match=r"ratio|periods"):
        EntRule(since=2030, min_ratio=ratio_, periods_for_index=periods)


def test_without_any_rule_there_is_no_index() -> None:
    with pytest.raises(ValueError, match="no ENT rule"):
        rule_for("2024-2025", {})


# -- properties -------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=5_000)
pupils = st.integers(min_value=0, max_value=1_000)
periods = st.dictionaries(st.sampled_from(PERIODS), st.tuples(counts, pupils))
rules = st.builds(
    EntRule,
    since=st.just(2018),
    min_ratio=st.fractions(min_value=Fraction(1, 10), max_value=5),
    periods_for_index=st.lists(st.integers(1, 5), min_size=3, max_size=3)
    .map(sorted)
    .map(lambda p: (p[0], p[1], p[2])),
)


def figures_of(year: dict[int, tuple[int, int]]) -> list[PeriodFigures]:
    return [PeriodFigures(p, c, n) for p, (c, n) in year.items()]


@given(periods, rules, st.sampled_from(PERIODS), st.integers(min_value=1, max_value=5_000))
def test_more_connections_never_lower_the_index(
    year: dict[int, tuple[int, int]], rule: EntRule, period: int, more: int
) -> None:
    before = ent_index(figures_of(year), rule)
    connections, enrolled = year.get(period, (0, 100))
    after = ent_index(figures_of({**year, period: (connections + more, enrolled)}), rule)
    assert after >= before


@given(periods)
def test_index_3_only_when_all_five_periods_reach_the_threshold(
    year: dict[int, tuple[int, int]],
) -> None:
    index = ent_index(figures_of(year), RULE)
    every_period = set(year) == set(PERIODS) and all(n > 0 and c >= n for c, n in year.values())
    assert (index == 3) == every_period
    assert index in (0, 1, 2, 3)


@given(periods, st.fractions(min_value=Fraction(1, 10), max_value=5), st.fractions(0, 5))
def test_a_higher_threshold_never_gives_a_higher_index(
    year: dict[int, tuple[int, int]], low: Fraction, extra: Fraction
) -> None:
    lenient = EntRule(since=2018, min_ratio=low)
    strict = EntRule(since=2025, min_ratio=low + extra)
    assert ent_index(figures_of(year), strict) <= ent_index(figures_of(year), lenient)


@given(st.dictionaries(st.integers(1990, 2100), st.just(None), min_size=1), st.integers(1990, 2100))
def test_the_rule_in_force_is_the_latest_not_after_the_rentree(
    keys: dict[int, None], rentree: int
) -> None:
    rules = {since: EntRule(since=since) for since in keys}
    chosen = rule_for(rentree, rules).since
    if chosen <= rentree:
        assert not [s for s in rules if chosen < s <= rentree]
    else:  # before every rule: the first one applies
        assert chosen == min(rules)
        assert rentree < min(rules)


# -- what the profile says ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reached", "imported", "sentence", "step"),
    [
        (0, 1, "La période importée n'a pas compté au moins une connexion par élève",
         "Pour atteindre l'indice 1 : 1 période de plus avec au moins une connexion par élève."),
        (0, 3, "Aucune des 3 périodes importées n'a compté", "indice 1 : 1 période de plus"),
        (1, 2, "1 période sur 2 importées a compté", "indice 2 : 2 périodes de plus"),
        (3, 4, "3 périodes sur 4 importées ont compté", "indice 3 : 2 périodes de plus"),
        (5, 5, "5 périodes sur 5 importées ont compté", None),
    ],
)  # fmt: skip
def test_the_index_is_explained_with_what_the_next_one_takes(
    reached: int, imported: int, sentence: str, step: str | None
) -> None:
    text = explanation(reached, imported, RULE)
    assert text.startswith(sentence)
    assert text.endswith(f"indice ENT {index_for(reached, RULE)}.")
    following = next_step(reached, RULE)
    assert following == step if step is None else (following is not None and step in following)


def test_another_ratio_is_written_in_french() -> None:
    rule = EntRule(since=2030, min_ratio=Fraction(3, 2))
    assert "au moins 1,5 connexions par élève" in explanation(1, 1, rule)


@pytest.mark.parametrize(
    ("period", "first_day"),
    [(1, date(2024, 9, 1)), (2, date(2024, 11, 1)), (3, date(2025, 1, 1)),
     (4, date(2025, 2, 1)), (5, date(2025, 4, 1))],
)  # fmt: skip
def test_a_period_cannot_be_imported_before_it_could_have_begun(
    period: int, first_day: date
) -> None:
    assert period_has_begun("2024-2025", period, first_day)
    assert not period_has_begun("2024-2025", period, date.fromordinal(first_day.toordinal() - 1))
