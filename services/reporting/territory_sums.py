"""A territory's sums for each school year, as the record stood at a moment: what its figures,
ENT and label distributions and ENT/GAR totals are made of.

A département, an académie or a région is read from the cells the projection keeps
(`sums_from_cells.py`: a few index lookups a cell) whenever the cells hold it for that moment;
otherwise, and for circonscriptions and bassins (a few dozen schools), from the territory's
members (`sums_from_members.py`: a pass over every member school), which is also the reference
the tests hold the cells to.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import asyncpg
import msgspec

from infra.auth import TERRITORY_LEVELS
from services.reporting import sums_from_cells, sums_from_members
from services.reporting.contribution import FIELDS


class YearSums(msgspec.Struct, kw_only=True):
    """Sums over the territory's open schools for one school year (`contribution.FIELDS`)."""

    rentree: int
    schools: int = 0
    asked: int = 0  # écoles: the schools the campaign asks to declare
    answered: int = 0
    on_time: int = 0
    declared: int = 0
    classes: int = 0
    teacher: int = 0
    pupil: int = 0
    with_robots: int = 0
    with_ent: int = 0
    i0: int = 0
    i1: int = 0
    i2: int = 0
    i3: int = 0
    usages: int = 0
    ent_figures: int = 0
    e0: int = 0
    e1: int = 0
    e2: int = 0
    e3: int = 0
    ent_connections: int = 0
    gar_accesses: int = 0
    labelled: int = 0
    l1: int = 0
    l2: int = 0
    l3: int = 0
    gar_resources: int = 0  # GAR resources used by at least one of the schools

    def indices(self) -> list[int]:
        return [self.i0, self.i1, self.i2, self.i3]

    def ent_indices(self) -> list[int]:
        return [self.e0, self.e1, self.e2, self.e3]


assert tuple(YearSums.__struct_fields__[1 : 1 + len(FIELDS)]) == FIELDS


def _level(level: str) -> str:
    if level not in TERRITORY_LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    return level


def years_of(rows: dict[int, dict[str, int]], first: int, last: int) -> dict[int, YearSums]:
    return {r: YearSums(rentree=r, **rows.get(r, {})) for r in range(first, last + 1)}


async def territory_sums(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    first: int,
    last: int,
    at: datetime,
    parts: Collection[str] = sums_from_members.PARTS,
    *,
    now: bool = False,
) -> dict[int, YearSums]:
    """The sums of every school year from `first` to `last`, as at `at` (at least those of
    `parts`: `sums_from_members.PARTS`; the others may be left at zero). `now`: `at` is the
    present, read as far as the projections have gone."""
    level = _level(level)
    if level in sums_from_cells.LEVELS and await sums_from_cells.covered(
        conn, level, code, first, last, at, now
    ):
        rows = await sums_from_cells.year_sums(conn, level, code, first, last, at)
    else:
        rows = await sums_from_members.year_sums(conn, level, code, first, last, at, parts)
    return years_of(rows, first, last)


async def top_usages(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    rentree: int,
    at: datetime,
    limit: int = 10,
    *,
    now: bool = False,
) -> list[tuple[str, int]]:
    """The usages most declared by the territory's schools as the year ended (or at `at`):
    (code, schools), most declared first."""
    level = _level(level)
    if level in sums_from_cells.LEVELS and await sums_from_cells.covered(
        conn, level, code, rentree, rentree, at, now
    ):
        return await sums_from_cells.top_usages(conn, level, code, rentree, at, limit)
    return await sums_from_members.top_usages(conn, level, code, rentree, at, limit)
