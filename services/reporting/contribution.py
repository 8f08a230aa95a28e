"""What one school adds to the figures of its territories for a school year.

A territory's figures at a moment are sums over its open member schools then: how many schools,
answered (on time), declared answers in force, classes equipped, indices, usages, ENT indices
and connections, GAR accès, labels (`FIELDS`). The projection keeps what it needs to know of
each school (`SchoolFacts`), computes the school's `contribution` to each school year from it,
and adds the difference an event makes to the school's cell (`cell_of`). The same figures read
from the members in SQL (`services/reporting/sums_from_members.py`) are the reference the tests
hold these to, so both follow the same rules:

- answers in force for a school year: its own, or the latest earlier ones carried forward;
  *on time* when first given by the day the campaign of the school's académie closed (Paris
  time), or when no campaign is known;
- usages as the school year ended (or now, for a year not yet ended);
- the ENT index (`events.ent`) of a school using the ENT (A7 of the answers in force) with
  connections imported for the year; connections count for every open school;
- GAR: the latest list imported for the year (an empty list leaves the previous one);
- label: the latest award valid during the year; a school's first award of a year stands.

A contribution is made of parts (`PARTS`), each computed from some of the facts only, so that
an event recomputes the parts it changes and no other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec

import events.ent
from events.declarations import SchoolDetails
from events.ent import EntRule, index_for, rule_for
from events.values import region_of

PARIS = ZoneInfo("Europe/Paris")

# Bump when what a school contributes changes: the read models are refilled (their fingerprint).
FIGURES_VERSION = 2

FIELDS = (
    "schools", "asked", "answered", "on_time", "declared", "classes", "teacher", "pupil", "with_robots",
    "with_ent", "i0", "i1", "i2", "i3", "usages", "ent_figures", "e0", "e1", "e2", "e3",
    "ent_connections", "gar_accesses", "labelled", "l1", "l2", "l3",
)  # fmt: skip
WIDTH = len(FIELDS)
ZEROS = (0,) * WIDTH

Closes = Mapping[tuple[str, int], date]


class Answers(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A school's answers for one rentrée, as last given, and the day they were first given."""

    classes: int
    teacher: int
    pupil: int
    index: int
    robots: bool
    ent: bool
    first_on: date  # Paris date


class EntYear(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The connections in force of each period (1–5; -1: not imported), and which periods
    reached the year's rule (bit p - 1 for period p)."""

    connections: tuple[int, int, int, int, int] = (-1, -1, -1, -1, -1)
    reached: int = 0

    def with_period(self, period: int, connections: int, reached: bool) -> EntYear:
        figures = list(self.connections)
        figures[period - 1] = connections
        bit = 1 << (period - 1)
        return EntYear(
            (figures[0], figures[1], figures[2], figures[3], figures[4]),
            self.reached | bit if reached else self.reached & ~bit,
        )


class SchoolFacts(msgspec.Struct, array_like=True):
    """What the projection knows of a school, as of the latest event applied to it."""

    cell: int | None = None  # None: not registered, or closed
    academie: str | None = None
    last_at: datetime | None = None  # the latest recording moment applied
    # Each cell it was in, from when: to find the cells an event applied late touched.
    places: list[tuple[datetime, int | None]] = msgspec.field(default_factory=list)
    answers: dict[int, Answers] = msgspec.field(default_factory=dict)
    # Its usages as each school year the cells hold ended (or now), by rentrée.
    usages: dict[int, tuple[str, ...]] = msgspec.field(default_factory=dict)
    # ENT connections in force, by rentrée.
    ent: dict[int, EntYear] = msgspec.field(default_factory=dict)
    # GAR list in force: rentrée -> (accès, resources with at least one accès).
    gar: dict[int, tuple[int, tuple[str, ...]]] = msgspec.field(default_factory=dict)
    # Awards: rentrée awarded -> (last rentrée valid, level).
    awards: dict[int, tuple[int, int]] = msgspec.field(default_factory=dict)
    kind: str | None = None  # école, collège or lycée, as the register has it


class Contribution(NamedTuple):
    values: tuple[int, ...]  # one an element of FIELDS (or of a part's slice of them)
    usages: tuple[str, ...] = ()  # usage codes
    resources: tuple[str, ...] = ()  # GAR resources used


NOTHING = Contribution(ZEROS)


def cell_of(d: SchoolDetails) -> int:
    """The cell of a school placed as `d` says: a stable 64-bit key of its département and
    académie."""
    key = f"{d.departement}\x1f{d.academie}"
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def territories_of(d: SchoolDetails) -> tuple[str, str, str]:
    """The territories of its cell: département, académie, région."""
    return d.departement, d.academie, region_of(d.academie)


def year_of(moment: datetime) -> int:
    """The rentrée of the school year a moment falls in, as the usages count them (a school
    year ends on 1 September, UTC)."""
    moment = moment.astimezone(UTC)
    return moment.year if moment.month >= 9 else moment.year - 1


def end_of(rentree: int) -> datetime:
    return datetime(rentree + 1, 9, 1, tzinfo=UTC)


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def in_force(answers: Mapping[int, Answers], rentree: int) -> Answers | None:
    best = -1
    for r in answers:
        if best < r <= rentree:
            best = r
    return answers[best] if best >= 0 else None


def award_held(awards: Mapping[int, tuple[int, int]], rentree: int) -> int | None:
    """The level of the latest award valid during the year, if any."""
    best = -1
    for r, (until, _) in awards.items():
        if best < r <= rentree <= until:
            best = r
    return awards[best][1] if best >= 0 else None


# -- the parts ---------------------------------------------------------------------------------


def _declared(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    """answered … i3, from the answers in force."""
    a = in_force(facts.answers, rentree)
    if a is None:
        return _NO_ANSWERS
    own = facts.answers.get(rentree)
    answered = on_time = 0
    if own is not None:
        answered = 1
        closing = closes.get((facts.academie or "", rentree))
        on_time = 1 if closing is None or own.first_on <= closing else 0
    index = a.index
    return Contribution(
        (answered, on_time, 1, a.classes, a.teacher, a.pupil, 1 if a.robots else 0,
         1 if a.ent else 0, 1 if index == 0 else 0, 1 if index == 1 else 0,
         1 if index == 2 else 0, 1 if index == 3 else 0)
    )  # fmt: skip


_NO_ANSWERS = Contribution((0,) * 12)


def _usages(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    codes = facts.usages.get(rentree, ())
    return Contribution((len(codes),), codes)


class _Rules:
    """The ENT rule of each rentrée and the index each count of periods gives under it, as
    `events.ent` has them configured (computed for nearly every event otherwise)."""

    def __init__(self) -> None:
        self.configured: object = None
        self.rules: dict[int, EntRule] = {}
        self.indices: dict[tuple[int, int], int] = {}

    def _current(self) -> None:
        if events.ent.ENT_RULES is not self.configured:
            self.configured = events.ent.ENT_RULES
            self.rules.clear()
            self.indices.clear()

    def rule(self, rentree: int) -> EntRule:
        self._current()
        rule = self.rules.get(rentree)
        if rule is None:
            rule = self.rules[rentree] = rule_for(rentree)
        return rule

    def index(self, rentree: int, reached: int) -> int:
        self._current()
        index = self.indices.get((rentree, reached))
        if index is None:
            index = self.indices[(rentree, reached)] = index_for(reached, self.rule(rentree))
        return index


ENT_RULES = _Rules()


def ent_values(year: EntYear | None, uses_ent: bool, rentree: int) -> tuple[int, ...]:
    """ent_figures, e0 … e3, ent_connections of the connections of a year, for a school that
    uses the ENT (A7 of the answers in force) or not."""
    if year is None:
        return _NO_ENT.values
    figures = year.connections
    connections = sum(figures) + figures.count(-1)  # the periods not imported (-1) left out
    if not uses_ent:
        return (0, 0, 0, 0, 0, connections)
    index = ENT_RULES.index(rentree, year.reached.bit_count())
    return (
        1, 1 if index == 0 else 0, 1 if index == 1 else 0, 1 if index == 2 else 0,
        1 if index == 3 else 0, connections,
    )  # fmt: skip


def uses_ent(facts: SchoolFacts, rentree: int) -> bool:
    a = in_force(facts.answers, rentree)
    return a is not None and a.ent


def ent_index(facts: SchoolFacts, rentree: int) -> int | None:
    """The school's ENT index of the year; None when it does not use the ENT or no connections
    were imported for the year (as `ent_values` counts it)."""
    year = facts.ent.get(rentree)
    if year is None or not uses_ent(facts, rentree):
        return None
    return ENT_RULES.index(rentree, year.reached.bit_count())


def _ent(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    """ent_figures, e0 … e3, ent_connections."""
    year = facts.ent.get(rentree)
    if year is None:
        return _NO_ENT
    return Contribution(ent_values(year, uses_ent(facts, rentree), rentree))


_NO_ENT = Contribution((0,) * 6)


def _gar(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    listed = facts.gar.get(rentree)
    return _NO_GAR if listed is None else Contribution((listed[0],), (), listed[1])


_NO_GAR = Contribution((0,))


def _label(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    """labelled, l1 … l3."""
    level = award_held(facts.awards, rentree)
    if level is None:
        return _NO_LABEL
    return Contribution((1, 1 if level == 1 else 0, 1 if level == 2 else 0, 1 if level == 3 else 0))


_NO_LABEL = Contribution((0,) * 4)


class Part(NamedTuple):
    offset: int  # of its first value in FIELDS
    of: Callable[[SchoolFacts, int, Closes], Contribution]


DECLARED = Part(2, _declared)
USAGES = Part(14, _usages)
ENT = Part(15, _ent)
GAR = Part(21, _gar)
LABEL = Part(22, _label)
PARTS = (DECLARED, USAGES, ENT, GAR, LABEL)


def contribution(facts: SchoolFacts, rentree: int, closes: Closes) -> Contribution:
    """What the school adds to its cell's figures of the school year `rentree`."""
    if facts.cell is None:
        return NOTHING
    # Every open school counts; the écoles are those the campaign asks to declare.
    values: list[int] = [1, 1 if facts.kind == "ecole" else 0]
    usages: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    for part in PARTS:
        c = part.of(facts, rentree, closes)
        values.extend(c.values)
        usages = usages or c.usages
        resources = resources or c.resources
    return Contribution(tuple(values), usages, resources)
