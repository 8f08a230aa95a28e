"""The level rule: a domain's level, the global level, and how validations move them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from events.label import (
    CriterionDefinition,
    DomainDefinition,
    domain_level,
    domain_levels,
    global_level,
)
from services.label.referentiels import shipped_referentiels


def criterion(code: str, level: int) -> CriterionDefinition:
    return CriterionDefinition(code=code, level=level, title=code, explanation=code)


DOMAIN = [criterion("A1", 1), criterion("A2", 1), criterion("B1", 2), criterion("C1", 3)]


def test_a_domain_reaches_a_level_when_every_criterion_up_to_it_is_validated() -> None:
    # Nothing validated: level 0.
    assert domain_level(DOMAIN, set()) == 0
    # One of the two level-1 criteria: still 0.
    assert domain_level(DOMAIN, {"A1"}) == 0
    # Both: level 1.
    assert domain_level(DOMAIN, {"A1", "A2"}) == 1
    # A level-3 criterion without the level-2 one does not count.
    assert domain_level(DOMAIN, {"A1", "A2", "C1"}) == 1
    # Everything: level 3.
    assert domain_level(DOMAIN, {"A1", "A2", "B1", "C1"}) == 3


def test_a_level_without_criteria_is_reached_with_the_levels_below() -> None:
    # The école référents domain only has level-1 criteria: they count for every level.
    only_first = [criterion("R1", 1), criterion("R2", 1)]
    assert domain_level(only_first, {"R1", "R2"}) == 3
    assert domain_level(only_first, {"R1"}) == 0


def test_the_global_level_is_the_lowest_domain_level() -> None:
    assert global_level({"A": 3, "B": 1, "C": 2}) == 1
    assert global_level({}) == 0


# -- properties ---------------------------------------------------------------------------------

codes = st.text(alphabet="ABCDEFGH", min_size=1, max_size=3)


@st.composite
def referentiels(draw: st.DrawFn) -> list[DomainDefinition]:
    count = draw(st.integers(min_value=1, max_value=5))
    domains = []
    n = 0
    for i in range(count):
        criteria = []
        for level in draw(st.lists(st.integers(1, 3), min_size=1, max_size=8)):
            n += 1
            criteria.append(criterion(f"K{n}", level))
        domains.append(DomainDefinition(code=f"D{i}", title=f"D{i}", criteria=criteria))
    return domains


@st.composite
def referentiel_and_validated(draw: st.DrawFn) -> tuple[list[DomainDefinition], set[str], str]:
    domains = draw(referentiels())
    all_codes = [c.code for d in domains for c in d.criteria]
    validated = set(draw(st.lists(st.sampled_from(all_codes), unique=True)))
    one = draw(st.sampled_from(all_codes))
    return domains, validated, one


@given(referentiel_and_validated())
def test_validating_a_criterion_never_lowers_a_level(
    case: tuple[list[DomainDefinition], set[str], str],
) -> None:
    domains, validated, code = case
    before = domain_levels(domains, validated)
    after = domain_levels(domains, validated | {code})
    assert all(after[d] >= before[d] for d in before)
    assert global_level(after) >= global_level(before)


@given(referentiel_and_validated())
def test_revoking_a_validation_can_only_lower_a_level(
    case: tuple[list[DomainDefinition], set[str], str],
) -> None:
    domains, validated, code = case
    before = domain_levels(domains, validated)
    after = domain_levels(domains, validated - {code})
    assert all(after[d] <= before[d] for d in before)
    assert global_level(after) <= global_level(before)


@given(referentiel_and_validated())
def test_the_global_level_is_never_above_any_domain_level(
    case: tuple[list[DomainDefinition], set[str], str],
) -> None:
    domains, validated, _ = case
    levels = domain_levels(domains, validated)
    assert all(global_level(levels) <= level for level in levels.values())
    assert global_level(levels) in levels.values()
    assert all(0 <= level <= 3 for level in levels.values())


@given(referentiel_and_validated())
def test_a_domain_level_is_exactly_the_highest_fully_validated_level(
    case: tuple[list[DomainDefinition], set[str], str],
) -> None:
    domains, validated, _ = case
    for d in domains:
        level = domain_level(d.criteria, validated)
        # Every criterion up to the level is validated ...
        assert all(c.code in validated for c in d.criteria if c.level <= level)
        # ... and the next level is missing one (unless the domain is complete).
        if level < 3:
            assert any(c.code not in validated for c in d.criteria if c.level <= level + 1)


def test_every_shipped_referentiel_reaches_level_3_when_all_is_validated() -> None:
    for ref in shipped_referentiels():
        codes = {c.code for d in ref.domains for c in d.criteria}
        levels = domain_levels(ref.domains, codes)
        assert global_level(levels) == 3
        assert global_level(domain_levels(ref.domains, set())) == 0
