"""What one school adds to its territories' figures (`services/reporting/contribution.py`):
the rules the cells are summed under, one at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from events.declarations import SchoolDetails
from events.ent import ENT_RULES, EntRule
from services.reporting import projector
from services.reporting.contribution import (
    FIELDS,
    NOTHING,
    Answers,
    EntYear,
    SchoolFacts,
    cell_of,
    contribution,
    year_of,
)

DETAILS = SchoolDetails(
    name="École", kind="ecole", pupils=120, commune="Sète", circonscription="34-C1",
    bassin=None, departement="34", academie="montpellier",
)  # fmt: skip


def answers(index: int = 2, ent: bool = True, first_on: date = date(2024, 9, 10)) -> Answers:
    return Answers(
        classes=6, teacher=4, pupil=3, index=index, robots=True, ent=ent, first_on=first_on
    )


def figures(facts: SchoolFacts, rentree: int, **closes: date) -> dict[str, int]:
    campaigns = {(academie, rentree): day for academie, day in closes.items()}
    return dict(zip(FIELDS, contribution(facts, rentree, campaigns).values, strict=True))


def school(**fields: object) -> SchoolFacts:
    return msgspec.structs.replace(
        SchoolFacts(cell=cell_of(DETAILS), academie="montpellier", kind="ecole"), **fields
    )


def test_a_school_not_registered_or_closed_adds_nothing() -> None:
    assert contribution(SchoolFacts(), 2024, {}) is NOTHING
    assert contribution(school(cell=None, answers={2024: answers()}), 2024, {}) is NOTHING


def test_every_open_school_counts_and_the_ecoles_are_those_the_campaign_asks() -> None:
    ecole = figures(school(), 2024)
    assert (ecole["schools"], ecole["asked"]) == (1, 1)
    college = figures(school(kind="college"), 2024)
    assert (college["schools"], college["asked"]) == (1, 0)


def test_answers_are_carried_forward_but_answer_only_their_own_year() -> None:
    facts = school(answers={2023: answers(index=1), 2025: answers(index=3)})
    assert figures(facts, 2022) == dict.fromkeys(FIELDS, 0) | {"schools": 1, "asked": 1}
    carried = figures(facts, 2024)
    assert (carried["answered"], carried["declared"], carried["i1"], carried["i3"]) == (0, 1, 1, 0)
    own = figures(facts, 2025)
    assert (own["answered"], own["declared"], own["i3"], own["classes"]) == (1, 1, 1, 6)


def test_on_time_is_by_the_campaign_of_its_academie_closing_day() -> None:
    facts = school(answers={2024: answers(first_on=date(2024, 9, 27))})
    assert figures(facts, 2024, montpellier=date(2024, 9, 27))["on_time"] == 1
    assert figures(facts, 2024, montpellier=date(2024, 9, 26))["on_time"] == 0
    assert figures(facts, 2024, toulouse=date(2024, 9, 1))["on_time"] == 1  # none of its own


def test_ent_index_needs_the_ent_declared_and_figures_but_connections_always_count() -> None:
    periods = EntYear().with_period(1, 300, True).with_period(2, 10, False)
    periods = periods.with_period(3, 250, True)
    using = figures(school(answers={2024: answers(ent=True)}, ent={2024: periods}), 2024)
    assert (using["ent_figures"], using["e1"], using["ent_connections"]) == (1, 1, 560)
    other = figures(school(answers={2024: answers(ent=False)}, ent={2024: periods}), 2024)
    assert (other["ent_figures"], other["ent_connections"]) == (0, 560)
    assert figures(school(answers={2024: answers()}), 2024)["ent_figures"] == 0


def test_gar_usages_and_the_award_held_during_the_year() -> None:
    facts = school(
        usages={2024: ("PROGRAMMATION", "ROBOTIQUE")},
        gar={2024: (1400, ("Lalilo",))},
        awards={2022: (2023, 1), 2024: (2025, 3)},
    )
    c = contribution(facts, 2024, {})
    f = dict(zip(FIELDS, c.values, strict=True))
    assert (f["usages"], f["gar_accesses"], f["labelled"], f["l3"]) == (2, 1400, 1, 1)
    assert (c.usages, c.resources) == (("PROGRAMMATION", "ROBOTIQUE"), ("Lalilo",))
    assert figures(facts, 2023)["l1"] == 1
    assert figures(facts, 2026)["labelled"] == 0


def test_a_period_imported_again_replaces_the_figures_of_its_first_import() -> None:
    year = EntYear().with_period(2, 500, True).with_period(2, 20, False)
    assert (year.connections, year.reached) == ((-1, 20, -1, -1, -1), 0)


def test_a_cell_is_a_departement_of_an_academie() -> None:
    moved = msgspec.structs.replace(DETAILS, circonscription="34-C2", bassin="B")
    assert cell_of(moved) == cell_of(DETAILS)
    assert cell_of(msgspec.structs.replace(DETAILS, departement="30")) != cell_of(DETAILS)


def test_a_school_year_of_usages_ends_on_1_september() -> None:
    assert year_of(datetime(2024, 8, 31, 23, 59, tzinfo=UTC)) == 2023
    assert year_of(datetime(2024, 9, 1, tzinfo=UTC)) == 2024


def test_a_new_ent_rule_changes_the_read_models_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = projector.schema_fingerprint()
    monkeypatch.setattr(projector, "ENT_RULES", {**ENT_RULES, 2030: EntRule(since=2030)})
    assert projector.schema_fingerprint() != before
