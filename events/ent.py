"""The ENT-école index (0–3) of a school year, from the connections of its five periods.

DOMAIN.md (decision): for each period, r = connections ÷ pupils enrolled; index 1 when r ≥ 1
in at least one period so far, 2 in at least three, 3 in all five. Here:

- *connections* are the sum over the three profiles the ENT counts: pupils, parents and
  teachers (`EntConnections.total`);
- *pupils enrolled* are the file's `effectif` column when it has one, the register's pupil
  count when the period was imported otherwise; a period with no pupil has no ratio and
  reaches nothing;
- the thresholds are an `EntRule`, versioned by the rentrée it applies from (`ENT_RULES`):
  the rule of a school year is the latest one whose rentrée is at or before the year's own
  (the first rule also covers earlier years). The raw connections stay in the events, so a
  new rule is a new entry here and every year is computed again from the same figures.

A school that declared no ENT (A7 false) or another ENT has no index: that is for the reader
of the figures to decide (`NO_INDEX` is the sentence to show). Pure functions, shared by the
services that import the figures and those that show the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from types import MappingProxyType

from events.values import parse_school_year

PERIODS = (1, 2, 3, 4, 5)
INDICES = (0, 1, 2, 3)

NO_INDEX = "L'école ne bénéficie pas de l'ENT-école ou a déclaré un autre ENT."

# The earliest day (month, day) a period can begin in any holiday zone, and whether it falls
# in the rentrée's calendar year or the next: a period is imported after it ends, so an
# import of a period that cannot have begun yet is a mistake (*decision*).
PERIOD_EARLIEST_START: Mapping[int, tuple[int, int, int]] = MappingProxyType(
    {1: (0, 9, 1), 2: (0, 11, 1), 3: (1, 1, 1), 4: (1, 2, 1), 5: (1, 4, 1)}
)


@dataclass(frozen=True)
class EntRule:
    """Thresholds of the ENT index, in force from the rentrée `since`.

    A period *reaches* the rule when its connections per enrolled pupil are at least
    `min_ratio`; the index is the highest i such that at least `periods_for_index[i - 1]`
    periods reached it (0 when none of them is met)."""

    since: int
    min_ratio: Fraction = Fraction(1)
    periods_for_index: tuple[int, int, int] = (1, 3, 5)

    def __post_init__(self) -> None:
        low, mid, high = self.periods_for_index
        if not 1 <= low <= mid <= high <= len(PERIODS):
            raise ValueError(f"periods for indices 1-3 must grow within 1-5: {(low, mid, high)}")
        if self.min_ratio <= 0:
            raise ValueError("the ratio a period must reach is positive")


# Rentrée -> rule. Add a rule for a later rentrée rather than changing one: the years before
# it keep theirs.
ENT_RULES: Mapping[int, EntRule] = MappingProxyType({2018: EntRule(since=2018)})


@dataclass(frozen=True)
class PeriodFigures:
    """One period as imported: connections of every profile, and the pupils enrolled."""

    period: int
    connections: int
    pupils: int


def rule_for(school_year: str | int, rules: Mapping[int, EntRule] | None = None) -> EntRule:
    """The rule in force for a school year (`2024-2025`) or a rentrée (`2024`), among `rules`
    (the configured `ENT_RULES` by default)."""
    rentree = parse_school_year(school_year) if isinstance(school_year, str) else school_year
    rules = ENT_RULES if rules is None else rules
    if not rules:
        raise ValueError("no ENT rule is configured")
    applicable = [since for since in rules if since <= rentree]
    return rules[max(applicable) if applicable else min(rules)]


def ratio(connections: int, pupils: int) -> Fraction | None:
    """Connections per enrolled pupil; None without pupils."""
    return Fraction(connections, pupils) if pupils > 0 else None


def reaches(figures: PeriodFigures, rule: EntRule) -> bool:
    return period_reaches(figures.connections, figures.pupils, rule)


def period_reaches(connections: int, pupils: int, rule: EntRule) -> bool:
    """connections ÷ pupils ≥ the rule's ratio, in integers (no pupil: no ratio)."""
    least = rule.min_ratio
    return pupils > 0 and connections * least.denominator >= least.numerator * pupils


def periods_reached(periods: Iterable[PeriodFigures], rule: EntRule) -> int:
    """How many distinct periods (1–5) reached the rule."""
    return len({p.period for p in periods if p.period in PERIODS and reaches(p, rule)})


def index_for(reached: int, rule: EntRule) -> int:
    """The index that `reached` periods give under `rule`."""
    return max((i for i, n in enumerate(rule.periods_for_index, 1) if reached >= n), default=0)


def ent_index(periods: Iterable[PeriodFigures], rule: EntRule) -> int:
    return index_for(periods_reached(periods, rule), rule)


def _ratio_words(rule: EntRule) -> str:
    if rule.min_ratio == 1:
        return "au moins une connexion par élève"
    value = f"{float(rule.min_ratio):.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"au moins {value} connexions par élève"


def _periods(n: int) -> str:
    return f"{n} période{'s' if n > 1 else ''}"


def explanation(reached: int, imported: int, rule: EntRule) -> str:
    """One sentence on the index of a school using the ENT, `imported` periods known."""
    if reached == 0:
        head = (
            f"Aucune des {imported} périodes importées n'a compté"
            if imported > 1
            else "La période importée n'a pas compté"
        )
    elif reached == 1:
        head = f"1 période sur {imported} importée{'s' if imported > 1 else ''} a compté"
    else:
        head = f"{reached} périodes sur {imported} importées ont compté"
    return (
        f"{head} {_ratio_words(rule)} (connexions des élèves, des parents et des "
        f"enseignants) : indice ENT {index_for(reached, rule)}."
    )


def next_step(reached: int, rule: EntRule) -> str | None:
    """What the next index takes, in periods; None at index 3."""
    index = index_for(reached, rule)
    if index == 3:
        return None
    needed = rule.periods_for_index[index] - reached
    return (
        f"Pour atteindre l'indice {index + 1} : {_periods(needed)} de plus avec "
        f"{_ratio_words(rule)}."
    )


def period_earliest_start(school_year: str, period: int) -> date:
    rentree = parse_school_year(school_year)
    offset, month, day = PERIOD_EARLIEST_START[period]
    return date(rentree + offset, month, day)


def period_has_begun(school_year: str, period: int, today: date) -> bool:
    return today >= period_earliest_start(school_year, period)
