"""How events change the territory figures kept in cells (`sql/004_territory_figures.sql`).

Each event that changes what a school adds to its territories (register, campaigns,
declarations, usages, ENT and GAR imports, awards) updates the school's facts; the difference
between its contributions before and after (`contribution.py`) is a step of its cell's sums, at
the moment the event was recorded. A batch's steps are sorted by that moment, so each cell gets
a version at every moment its sums changed: the figures of any territory at any moment are the
latest versions of its cells by then. The usage total is not versioned: it is the sum of the
counts by usage (`cell_usages`), and a usage added or removed changes those alone.

Events are applied in the order the logs deliver them, which is nearly, not exactly, the order
they were recorded in. A step earlier than its cell's latest version is added to that version,
and the moments in between, where the cell's versions may be inexact, are kept in
`cell_disorder`: reads there are answered from the members. So is an event applied after a later
one of the same school, over the time between the two.

The cells hold the school years from the first one an event was about; a year an event brings
(a campaign, an import, the calendar) is added with every school's contribution to it, and is
read from the cells from then on.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import sub
from typing import Any, ClassVar, cast

import asyncpg
import msgspec

from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.declarations import (
    CampaignOpened,
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageRemoved,
)
from events.ent import period_reaches
from events.envelope import Event
from events.equipment import equipment_index, equipment_of
from events.label import LabelAwarded
from events.values import parse_school_year
from services.reporting.cell_events import FACTS
from services.reporting.cell_memory import CellMemory, CellSums
from services.reporting.contribution import (
    DECLARED,
    ENT,
    ENT_RULES,
    FIELDS,
    GAR,
    LABEL,
    NOTHING,
    USAGES,
    Answers,
    Contribution,
    EntYear,
    Part,
    SchoolFacts,
    cell_of,
    contribution,
    end_of,
    ent_index,
    ent_values,
    paris_day,
    territories_of,
    uses_ent,
    year_of,
)

_json = msgspec.json.Encoder()

# A step of a cell's sums: values added from `offset` on, usages and GAR resources counted in
# or out (name, +1 or -1). Tuples, not dicts: a rebuild makes millions of them.
Counted = tuple[tuple[str, int], ...]
Delta = tuple[int, tuple[int, ...] | None, Counted, Counted]
Key = tuple[int, int]  # (cell, rentrée)
# The usage total is the sum of the counts by usage (`cell_usages`), not kept with the other sums:
# what `cell_figures` holds, in order.
_TOTAL = USAGES.offset
FIGURE_COLUMNS = FIELDS[:_TOTAL] + FIELDS[_TOTAL + 1 :]
ALL = (Part(0, contribution),)
_NO_CONNECTIONS = EntYear()


def _difference(offset: int, before: Contribution, after: Contribution) -> Delta | None:
    values = None if before.values == after.values else tuple(map(sub, after.values, before.values))
    usages = _set_difference(before.usages, after.usages)
    resources = _set_difference(before.resources, after.resources)
    if values is None and not usages and not resources:
        return None
    return offset, values, usages, resources


def _set_difference(before: tuple[str, ...], after: tuple[str, ...]) -> Counted:
    if before == after:
        return ()
    b, a = set(before), set(after)
    return (*((name, 1) for name in a - b), *((name, -1) for name in b - a))


# Events about a school year of their own (the others are about the one they are recorded in).
_ABOUT_A_YEAR = frozenset(
    (CampaignOpened, DeclarationSubmitted, DeclarationConfirmed, EntConnectionsImported,
     GarAccessesImported, LabelAwarded)
)  # fmt: skip
# A rebuild's frequent events are their `FACTS`, taken as the events they stand for.
_ABOUT_A_YEAR |= {facts for facts, full in FACTS.items() if full in _ABOUT_A_YEAR}


def _targets(e: Event) -> list[int]:
    """The school years an event needs the cells to hold: the one it was recorded in, and the
    one it is about."""
    years = [year_of(e.recorded_at)]
    if type(e) in _ABOUT_A_YEAR:
        years.append(parse_school_year(e.school_year))
    return years


@dataclass
class CellSteps:
    """Applies events to a memory's facts, collecting the steps of the cells' sums."""

    memory: CellMemory
    steps: defaultdict[Key, list[tuple[datetime, Delta]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    disorder: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    # The school years held, in order, with the moment each ends; from when to when they run.
    held: list[tuple[int, datetime]] = field(init=False)
    span: tuple[datetime, datetime] | None = field(init=False)
    # The schools of each académie, grouped when a campaign first asks (None: not yet, or a
    # school has moved since): the campaigns of a year open in every académie at once.
    grouped: dict[str, list[str]] | None = field(default=None, init=False)
    # Each school's ENT index of a school year from a moment (the last applied of a moment
    # stands), and the spans over which a school's events were applied out of order.
    ent_indices: dict[tuple[str, int, datetime], int | None] = field(default_factory=dict)
    ent_disorder: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.years_changed()
        # How each kind of event about a school changes its facts.
        self.handlers: dict[type[Event], Callable[[SchoolFacts, Any], None]] = {
            SchoolRegistered: self.place, SchoolDetailsChanged: self.place,
            SchoolClosed: self.close, DeclarationSubmitted: self.declaration,
            DeclarationConfirmed: self.declaration, UsageAdded: self.usage,
            UsageRemoved: self.usage, EntConnectionsImported: self.ent,
            GarAccessesImported: self.gar, LabelAwarded: self.award,
        }  # fmt: skip
        self.handlers |= {facts: self.handlers[full] for facts, full in FACTS.items()}

    # -- the school years held ---------------------------------------------------------------

    def years_changed(self) -> None:
        self.held = [(r, end_of(r)) for r in sorted(self.memory.years)]
        self.span = (end_of(self.held[0][0] - 1), self.held[-1][1]) if self.held else None

    def needs_years(self, events: Iterable[Event]) -> bool:
        """Whether these events bring a school year the cells do not hold yet."""
        return any(self.needs_year(e) for e in events)

    def needs_year(self, e: Event) -> bool:
        span = self.span
        return (
            span is None
            or not span[0] <= e.recorded_at < span[1]
            or (
                type(e) in _ABOUT_A_YEAR
                and parse_school_year(e.school_year) not in self.memory.years
            )
        )

    def hold(self, years: list[int], at: datetime) -> None:
        held = self.memory.years
        if not held:
            wanted = range(min(years), max(years) + 1)
        else:
            low, high = min(held), max(held)
            wanted = range(min(low, *years), max(high, *years) + 1)
        # Upwards in order: a new year starts with the usages of the year before it.
        for rentree in sorted(set(wanted) - set(held)):
            self.add_year(rentree, at)
        self.years_changed()

    def add_year(self, rentree: int, at: datetime) -> None:
        upwards = bool(self.memory.years) and rentree > max(self.memory.years)
        self.memory.add_year(rentree, at)
        closes = self.memory.campaigns
        for uai, facts in list(self.memory.schools.items()):
            if upwards and (codes := facts.usages.get(rentree - 1)):
                facts = self.memory.school(uai)
                facts.usages[rentree] = codes
            if facts.cell is not None:
                new = contribution(facts, rentree, closes)
                self.emit(facts, facts.cell, rentree, at, NOTHING, new)

    # -- steps -----------------------------------------------------------------------------------

    def emit(
        self,
        facts: SchoolFacts,
        cell: int,
        rentree: int,
        at: datetime,
        before: Contribution,
        after: Contribution,
        offset: int = 0,
    ) -> None:
        delta = _difference(offset, before, after)
        if delta is not None:
            self.step(facts, cell, rentree, at, delta)

    def step(self, facts: SchoolFacts, cell: int, rentree: int, at: datetime, delta: Delta) -> None:
        self.steps[(cell, rentree)].append((at, delta))
        if facts.last_at is not None and at < facts.last_at:
            # Applied after a later event of the same school: inexact in between.
            for c in _cells_between(facts, at, facts.last_at):
                self.disorder.setdefault(c, []).append((at, facts.last_at))

    def change(
        self,
        facts: SchoolFacts,
        years: Iterable[int],
        at: datetime,
        mutate: Callable[[], object],
        parts: tuple[Part, ...] = ALL,
    ) -> None:
        """Apply `mutate` to the facts; step the cells by what it changes in these parts of
        the contributions to `years` (all of them when the school moves)."""
        closes = self.memory.campaigns
        cell_before = facts.cell
        before = (
            {(r, p): p.of(facts, r, closes) for r in years for p in parts}
            if cell_before is not None
            else {}
        )
        mutate()
        cell_after = facts.cell
        if cell_before == cell_after:
            if cell_after is not None:
                for (r, p), old in before.items():
                    self.emit(facts, cell_after, r, at, old, p.of(facts, r, closes), p.offset)
        else:
            assert parts is ALL
            for r in years:
                if cell_before is not None:
                    self.emit(facts, cell_before, r, at, before[(r, ALL[0])], NOTHING)
                if cell_after is not None:
                    self.emit(facts, cell_after, r, at, NOTHING, contribution(facts, r, closes))
        self.seen_at(facts, at)

    # -- events ----------------------------------------------------------------------------------

    def apply(self, e: Event) -> None:
        kind = type(e)
        if self.needs_year(e):
            self.hold(_targets(e), e.recorded_at)
        if kind is CampaignOpened:
            self.campaign(cast(CampaignOpened, e))
            return
        assert e.uai is not None
        self.handlers[kind](self.memory.school(e.uai), e)

    def place(self, facts: SchoolFacts, e: SchoolRegistered | SchoolDetailsChanged) -> None:
        at, cell = e.recorded_at, cell_of(e.details)
        self.memory.add_cell(cell, territories_of(e.details))
        kind = e.details.kind
        if facts.cell == cell and facts.academie == e.details.academie and facts.kind == kind:
            return

        def place() -> None:
            if facts.academie != e.details.academie:
                self.grouped = None
            facts.cell, facts.academie, facts.kind = cell, e.details.academie, kind
            facts.places.append((at, cell))

        self.change(facts, [r for r, _ in self.held], at, place)

    def close(self, facts: SchoolFacts, e: SchoolClosed) -> None:
        if facts.cell is None:
            return

        def close() -> None:
            facts.cell = None
            facts.places.append((e.recorded_at, None))

        self.change(facts, [r for r, _ in self.held], e.recorded_at, close)

    def award(self, facts: SchoolFacts, e: LabelAwarded) -> None:
        rentree, until = parse_school_year(e.school_year), parse_school_year(e.valid_until)
        if rentree in facts.awards:
            return  # a school's first award of a year stands
        years = [r for r, _ in self.held if rentree <= r <= until]
        self.change(
            facts,
            years,
            e.recorded_at,
            lambda: facts.awards.__setitem__(rentree, (until, e.level)),
            (LABEL,),
        )

    def seen_at(self, facts: SchoolFacts, at: datetime) -> None:
        """The latest recording moment applied to the school is `at`, if it is later."""
        if facts.last_at is None or at > facts.last_at:
            facts.last_at = at

    def ent_index_changed(
        self,
        uai: str,
        facts: SchoolFacts,
        rentree: int,
        at: datetime,
        latest: datetime | None,
        before: int | None,
    ) -> None:
        """A version of the school's ENT index from `at`, if an event recorded then changed it.
        Applied after a later event of the school (`latest`, the latest moment applied before
        it), the versions in between may be inexact, and the new one starts from `latest`."""
        moment = at
        if latest is not None and at < latest:
            self.ent_disorder.append((uai, at, latest))
            moment = latest
        after = ent_index(facts, rentree)
        if after != before:
            self.ent_indices[(uai, rentree, moment)] = after

    def ent(self, facts: SchoolFacts, e: EntConnectionsImported) -> None:
        rentree = parse_school_year(e.school_year)
        assert e.uai is not None
        index, latest = ent_index(facts, rentree), facts.last_at
        c = e.connections
        total = c.pupils + c.parents + c.teachers
        reached = period_reaches(total, e.enrolled_pupils, ENT_RULES.rule(rentree))
        known = facts.ent.get(rentree)
        facts.ent[rentree] = year = (known or _NO_CONNECTIONS).with_period(e.period, total, reached)
        # The ENT part of one school year is all it changes: computed here, without the general
        # path of contributions (after the usages, the most frequent event).
        if facts.cell is not None:
            ent = uses_ent(facts, rentree)
            before, after = ent_values(known, ent, rentree), ent_values(year, ent, rentree)
            if before != after:
                delta = (ENT.offset, tuple(map(sub, after, before)), (), ())
                self.step(facts, facts.cell, rentree, e.recorded_at, delta)
        self.ent_index_changed(e.uai, facts, rentree, e.recorded_at, latest, index)
        self.seen_at(facts, e.recorded_at)

    def declaration(
        self, facts: SchoolFacts, e: DeclarationSubmitted | DeclarationConfirmed
    ) -> None:
        rentree = parse_school_year(e.school_year)
        a = e.answers
        eq = equipment_of(a)
        robots = a.get("A3", 0)
        earlier = facts.answers.get(rentree)
        answers = Answers(
            eq.classes,
            eq.teacher,
            eq.pupil,
            equipment_index(eq.classes, eq.teacher, eq.pupil),
            isinstance(robots, int) and not isinstance(robots, bool) and robots > 0,
            a.get("A7") is True,
            earlier.first_on if earlier is not None else paris_day(e.recorded_at),
        )
        # Carried forward up to the school's next answered year.
        following = min((r for r in facts.answers if r > rentree), default=None)
        years = [
            r for r in self.memory.years if r >= rentree and (following is None or r < following)
        ]
        assert e.uai is not None
        indices, latest = {r: ent_index(facts, r) for r in years if r in facts.ent}, facts.last_at
        self.change(
            facts,
            years,
            e.recorded_at,
            lambda: facts.answers.__setitem__(rentree, answers),
            (DECLARED, ENT),
        )
        for r, index in indices.items():
            self.ent_index_changed(e.uai, facts, r, e.recorded_at, latest, index)

    def usage(self, facts: SchoolFacts, e: UsageAdded | UsageRemoved) -> None:
        """The usages of the years not ended when it was recorded (the most frequent event: its
        step is the one usage counted in or out, without computing contributions)."""
        at, code, added = e.recorded_at, sys.intern(e.code), isinstance(e, UsageAdded)
        sign = 1 if added else -1
        for r, ends in self.held:
            if ends <= at:
                continue
            codes = facts.usages.get(r, ())
            if (code in codes) == added:
                continue
            facts.usages[r] = (
                tuple(sorted((*codes, code))) if added else tuple(c for c in codes if c != code)
            )
            if facts.cell is not None:
                self.step(facts, facts.cell, r, at, (USAGES.offset, (sign,), ((code, sign),), ()))
        self.seen_at(facts, at)

    def gar(self, facts: SchoolFacts, e: GarAccessesImported) -> None:
        if not e.resources:
            return  # an empty list leaves the previous one in force
        rentree = parse_school_year(e.school_year)
        accesses: dict[str, int] = {}
        for r in e.resources:
            accesses.setdefault(sys.intern(r.resource), r.accesses)  # its first line stands
        used = tuple(sorted(name for name, n in accesses.items() if n > 0))
        listed = (sum(accesses.values()), used)
        known = facts.gar.get(rentree, (0, ()))
        facts.gar[rentree] = listed
        # Its GAR part of one school year, as `ent` does.
        if facts.cell is not None:
            values = None if known[0] == listed[0] else (listed[0] - known[0],)
            resources = _set_difference(known[1], listed[1])
            if values is not None or resources:
                delta = (GAR.offset, values, (), resources)
                self.step(facts, facts.cell, rentree, e.recorded_at, delta)
        self.seen_at(facts, e.recorded_at)

    def campaign(self, e: CampaignOpened) -> None:
        rentree = parse_school_year(e.school_year)
        known = self.memory.campaigns.get((e.academie, rentree))
        closes = e.closes_on if known is None else max(known, e.closes_on)
        if closes == known:
            return
        # The schools of the académie that answered for the year (loaded beforehand).
        schools = self.memory.schools
        answered = [
            uai
            for uai in self.members(e.academie)
            if rentree in (f := schools[uai]).answers and f.cell is not None
        ]
        closes_before = dict(self.memory.campaigns)
        before = {u: DECLARED.of(schools[u], rentree, closes_before) for u in answered}
        self.memory.set_campaign(e.academie, rentree, closes)
        for uai in answered:
            facts = self.memory.school(uai)
            assert facts.cell is not None
            new = DECLARED.of(facts, rentree, self.memory.campaigns)
            self.emit(facts, facts.cell, rentree, e.recorded_at, before[uai], new, DECLARED.offset)

    def members(self, academie: str) -> list[str]:
        """The schools of an académie (the memory's: live, those loaded)."""
        if self.grouped is None:
            self.grouped = defaultdict(list)
            for uai, f in self.memory.schools.items():
                if f.academie is not None:
                    self.grouped[f.academie].append(uai)
        return self.grouped.get(academie, [])

    # -- writing ---------------------------------------------------------------------------------

    async def write(self, conn: asyncpg.Connection) -> None:
        rows = _Versions()
        for key in sorted(self.steps):
            cell, rentree = key
            sums = self.memory.cell_sums(key)
            rows.start(cell, rentree, sums)
            # By moment, then as applied (a stable sort on the moment alone).
            for at, (offset, values, usage, resource) in sorted(self.steps[key], key=_moment):
                latest = sums.at
                if latest is not None and at < latest:
                    # Earlier than a version already there: added to it, inexact in between.
                    self.disorder.setdefault(cell, []).append((at, latest))
                    at = latest
                if at != rows.moment:
                    rows.close_moment()
                    rows.moment = sums.at = at
                if values is not None:
                    for i, d in enumerate(values, offset):
                        sums.values[i] += d
                    # A step of the usage total alone makes no version of the other sums.
                    if len(values) > 1 or offset != _TOTAL:
                        rows.figures_due = True
                for code, d in usage:
                    rows.counted[code] = _count(sums.usages, code, d)
                if resource:
                    used_before = sums.resources.keys() - ()
                    for name, d in resource:
                        _count(sums.resources, name, d)
                    if sums.resources.keys() != used_before:
                        rows.resources_due = True
            rows.close_moment()
        self.steps.clear()
        await rows.write(conn)
        if self.disorder:
            spans = [(c, lo, hi) for c, found in self.disorder.items() for lo, hi in _merged(found)]
            await conn.execute(
                """INSERT INTO reporting.cell_disorder
                   SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *_columns(spans),
            )
            self.disorder.clear()
        if self.ent_indices:
            await conn.execute(
                """INSERT INTO reporting.school_ent_versions
                   SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::smallint[])
                   ON CONFLICT (uai, rentree, valid_from) DO UPDATE SET ent_index = EXCLUDED.ent_index""",
                *_columns([(*key, index) for key, index in self.ent_indices.items()]),
            )
            self.ent_indices.clear()
        if self.ent_disorder:
            await conn.execute(
                """INSERT INTO reporting.school_ent_disorder
                   SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *_columns(self.ent_disorder),
            )
            self.ent_disorder.clear()


@dataclass
class _Rows:
    """Rows of a versioned table: new ones, and ones replacing the version at the same key (a
    batch makes one version of a cell's sums a moment at most: no key twice)."""

    new: list[tuple[Any, ...]] = field(default_factory=list)
    again: list[tuple[Any, ...]] = field(default_factory=list)

    async def write(self, conn: asyncpg.Connection, table: str, upsert: str) -> None:
        if self.new:
            await conn.copy_records_to_table(table, schema_name="reporting", records=self.new)
        if self.again:
            rows = self.again
            if table == "cell_gar_resources":
                # Each set travels as a JSON array: unnest cannot take arrays of uneven arrays.
                rows = [(*r[:-1], _json.encode(r[-1]).decode()) for r in rows]
            await conn.execute(upsert, *_columns(rows))


@dataclass
class _Versions:
    """The versions a batch makes of its cells' sums, one a moment at most: those after a
    cell's latest are new rows (copied); at its latest, they replace it."""

    figures: _Rows = field(default_factory=_Rows)
    usages: _Rows = field(default_factory=_Rows)
    resources: _Rows = field(default_factory=_Rows)
    # The usage total of the moments whose rows replace some: every row of a moment carries it.
    totals_again: list[tuple[int, int, datetime, int]] = field(default_factory=list)
    # The cell and school year being written, their sums, the moment their latest version had
    # before the batch, and what the moment being stepped changed.
    key: tuple[int, int] = (0, 0)
    sums: CellSums = field(default_factory=CellSums)
    loaded: datetime | None = None
    moment: datetime | None = None
    figures_due: bool = False
    resources_due: bool = False
    counted: dict[str, int] = field(default_factory=dict)

    def start(self, cell: int, rentree: int, sums: CellSums) -> None:
        self.key, self.sums, self.loaded, self.moment = (cell, rentree), sums, sums.at, None

    def close_moment(self) -> None:
        at = self.moment
        if at is None:
            return
        cell, rentree = self.key
        values, again = self.sums.values, at == self.loaded
        if self.figures_due:
            rows = self.figures.again if again else self.figures.new
            rows.append((cell, rentree, at, *values[:_TOTAL], *values[_TOTAL + 1 :]))
            self.figures_due = False
        if self.counted:
            total = values[_TOTAL]
            rows = self.usages.again if again else self.usages.new
            rows += [(cell, rentree, at, code, n, total) for code, n in self.counted.items()]
            if again:
                self.totals_again.append((cell, rentree, at, total))
            self.counted.clear()
        if self.resources_due:
            rows = self.resources.again if again else self.resources.new
            rows.append((cell, rentree, at, sorted(self.sums.resources)))
            self.resources_due = False

    async def write(self, conn: asyncpg.Connection) -> None:
        await self.figures.write(conn, "cell_figures", _UPSERT_FIGURES)
        await self.usages.write(conn, "cell_usages", _UPSERT_USAGES)
        if self.totals_again:
            # The moment's rows of other usages, written before, take its new total too.
            await conn.execute(_RETOTAL_USAGES, *_columns(self.totals_again))
        await self.resources.write(conn, "cell_gar_resources", _UPSERT_RESOURCES)


def _moment(step: tuple[datetime, Delta]) -> datetime:
    return step[0]


def _count(counts: dict[str, int], name: str, delta: int) -> int:
    """Add `delta` to a count kept only while it is not zero; the new count."""
    n = counts.get(name, 0) + delta
    if n:
        counts[name] = n
    else:
        counts.pop(name, None)
    return n


def _cells_between(facts: SchoolFacts, start: datetime, end: datetime) -> set[int]:
    """The cells the school was in at some moment from `start` to `end`."""
    found: set[int] = set()
    for i, (since, cell) in enumerate(facts.places):
        until = facts.places[i + 1][0] if i + 1 < len(facts.places) else None
        if cell is not None and since <= end and (until is None or until > start):
            found.add(cell)
    return found


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)]


_UPSERT_USAGES = """
    INSERT INTO reporting.cell_usages
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::text[], $5::int[],
                         $6::int[])
    ON CONFLICT (cell, rentree, valid_from, code)
    DO UPDATE SET schools = EXCLUDED.schools, total = EXCLUDED.total"""
_RETOTAL_USAGES = """
    UPDATE reporting.cell_usages k SET total = t.total
    FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::int[])
        AS t(cell, rentree, valid_from, total)
    WHERE (k.cell, k.rentree, k.valid_from) = (t.cell, t.rentree, t.valid_from)
      AND k.total <> t.total"""
_UPSERT_RESOURCES = """
    INSERT INTO reporting.cell_gar_resources
    SELECT k.cell, k.rentree, k.at, ARRAY(SELECT jsonb_array_elements_text(k.r))
    FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::jsonb[]) AS k(cell, rentree, at, r)
    ON CONFLICT (cell, rentree, valid_from) DO UPDATE SET resources = EXCLUDED.resources"""


_BIGINT = frozenset(("classes", "teacher", "pupil", "ent_connections", "gar_accesses"))


def _upsert_figures() -> str:
    types = ["bigint", "int", "timestamptz"]
    types += ["bigint" if c in _BIGINT else "int" for c in FIGURE_COLUMNS]
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in FIGURE_COLUMNS)
    return (
        f"INSERT INTO reporting.cell_figures SELECT * FROM unnest({arrays}) "  # noqa: S608
        f"ON CONFLICT (cell, rentree, valid_from) DO UPDATE SET {updates}"
    )


_UPSERT_FIGURES = _upsert_figures()


@dataclass
class CellFigures:
    """The fold of every event that changes a territory's figures (it needs nothing the other
    read models hold)."""

    types: ClassVar[tuple[type[Event], ...]] = (
        SchoolRegistered, SchoolDetailsChanged, SchoolClosed, CampaignOpened,
        DeclarationSubmitted, DeclarationConfirmed, UsageAdded, UsageRemoved,
        EntConnectionsImported, GarAccessesImported, LabelAwarded,
    )  # fmt: skip

    memory: CellMemory | None = None  # kept by a rebuild; a fresh one each flush otherwise
    # Its classes, and a rebuild's lean ones (`FACTS`), which it takes as the events.
    folded: ClassVar[frozenset[type[Event]]] = frozenset((*types, *FACTS))
    events: list[Event] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events)

    def add(self, event: Event) -> None:
        self.events.append(event)

    async def flush(self, conn: asyncpg.Connection) -> None:
        memory = self.memory or CellMemory()
        batch, self.events = self.events, []
        await load(conn, memory, batch)
        steps = CellSteps(memory)
        for e in batch:
            steps.apply(e)
        await memory.save_settings(conn)
        await steps.write(conn)
        if not memory.complete:
            await memory.save(conn)


async def load(conn: asyncpg.Connection, memory: CellMemory, batch: list[Event]) -> None:
    """What applying `batch` needs of the read models: the facts of its schools, the sums of
    their cells; of every school and cell when it adds a school year."""
    await memory.load_settings(conn)
    if memory.complete:
        return
    if CellSteps(memory).needs_years(batch):
        await memory.load_schools(conn, None)
        await memory.load_cells(conn, None)
        return
    uais = {e.uai for e in batch if e.uai is not None}
    for e in batch:
        if isinstance(e, CampaignOpened):
            # The académie's schools: those that answered for the year may be on time.
            uais.update(
                r["uai"]
                for r in await conn.fetch(
                    "SELECT uai FROM reporting.school_facts WHERE academie = $1", e.academie
                )
            )
    await memory.load_schools(conn, uais)
    cells = {f.cell for u in uais if (f := memory.schools.get(u)) is not None and f.cell}
    cells.update(
        cell_of(e.details) for e in batch if isinstance(e, SchoolRegistered | SchoolDetailsChanged)
    )
    await memory.load_cells(conn, cells)
