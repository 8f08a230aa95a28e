"""What the cells' projection (`cell_projection.py`) keeps between events: each school's facts,
each cell's current sums, the school years the cells hold and the campaigns' closing days.

The live projector starts each batch with an empty `CellMemory`, loads what the batch needs and
saves what it changed on the batch's transaction. A rebuild starts from nothing, so one memory
that is `complete` holds everything there is; it saves the facts and sums once, at the end
(`dump`), and undoes what a failed transaction changed (`begin`, `commit`, `rollback`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from services.reporting.contribution import WIDTH, SchoolFacts

Territories = tuple[str, str, str]  # département, académie, région


class CellSums(msgspec.Struct, array_like=True):
    """A cell's sums for one school year now, and the moment of their latest version."""

    at: datetime | None = None
    values: list[int] = msgspec.field(default_factory=lambda: [0] * WIDTH)
    usages: dict[str, int] = msgspec.field(default_factory=dict)  # code -> schools
    resources: dict[str, int] = msgspec.field(default_factory=dict)  # GAR resource -> schools


_facts = msgspec.msgpack.Decoder(SchoolFacts)
_sums = msgspec.msgpack.Decoder(CellSums)
_encode_facts = msgspec.msgpack.Encoder().encode
# Sorted: the same sums give the same bytes in any process (their counts are built from sets,
# whose order varies from one process to another).
_encode_sums = msgspec.msgpack.Encoder(order="sorted").encode


def _copy_facts(f: SchoolFacts) -> SchoolFacts:
    """A copy that the changes made to `f` leave as it is (what they replace is immutable)."""
    return msgspec.structs.replace(
        f,
        places=list(f.places),
        answers=dict(f.answers),
        usages=dict(f.usages),
        ent=dict(f.ent),
        gar=dict(f.gar),
        awards=dict(f.awards),
    )


def _copy_sums(s: CellSums) -> CellSums:
    return CellSums(s.at, list(s.values), dict(s.usages), dict(s.resources))


class CellMemory:
    def __init__(self, *, complete: bool = False) -> None:
        # Everything the read models hold is here: what is absent does not exist.
        self.complete = complete
        self.schools: dict[str, SchoolFacts] = {}
        self.sums: dict[tuple[int, int], CellSums] = {}
        self.years: dict[int, datetime] = {}
        self.campaigns: dict[tuple[str, int], date] = {}
        self.known_cells: set[int] = set()
        self.cells_loaded: set[int] = set()
        self.settings_loaded = complete
        # What changed since the last save, to write.
        self.changed_schools: set[str] = set()
        self.changed_sums: set[tuple[int, int]] = set()
        self.new_cells: dict[int, Territories] = {}
        self.new_years: set[int] = set()
        self.new_campaigns: set[tuple[str, int]] = set()
        self._undo: dict[Any, Any] | None = None

    # -- access, with the undo log ---------------------------------------------------------------

    def school(self, uai: str) -> SchoolFacts:
        """The school's facts, to change (new ones for a school never seen)."""
        facts = self.schools.get(uai)
        if self._undo is not None and ("s", uai) not in self._undo:
            self._undo[("s", uai)] = None if facts is None else _copy_facts(facts)
        if facts is None:
            facts = self.schools[uai] = SchoolFacts()
        if not self.complete:  # a complete memory saves everything once, at the end
            self.changed_schools.add(uai)
        return facts

    def cell_sums(self, key: tuple[int, int]) -> CellSums:
        sums = self.sums.get(key)
        if self._undo is not None and ("c", key) not in self._undo:
            self._undo[("c", key)] = None if sums is None else _copy_sums(sums)
        if sums is None:
            sums = self.sums[key] = CellSums()
        if not self.complete:
            self.changed_sums.add(key)
        return sums

    def add_year(self, rentree: int, since: datetime) -> None:
        self._keep_settings()
        self.years[rentree] = since
        self.new_years.add(rentree)

    def set_campaign(self, academie: str, rentree: int, closes: date) -> None:
        self._keep_settings()
        self.campaigns[(academie, rentree)] = closes
        self.new_campaigns.add((academie, rentree))

    def add_cell(self, cell: int, territories: Territories) -> None:
        if cell not in self.known_cells:
            self._keep_settings()
            self.known_cells.add(cell)
            self.new_cells[cell] = territories

    def _keep_settings(self) -> None:
        if self._undo is not None and "settings" not in self._undo:
            self._undo["settings"] = (dict(self.years), dict(self.campaigns), set(self.known_cells))

    def begin(self, uai: str | None = None) -> None:
        """Keep what is changed from now on (by an event about any school)."""
        self._undo = {}

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        """Back to what was committed (only a complete memory outlives a transaction)."""
        undo, self._undo = self._undo or {}, None
        for key, saved in undo.items():
            if key == "settings":
                self.years, self.campaigns, self.known_cells = saved
            elif key[0] == "s":
                if saved is None:
                    self.schools.pop(key[1], None)
                else:
                    self.schools[key[1]] = saved
            elif saved is None:
                self.sums.pop(key[1], None)
            else:
                self.sums[key[1]] = saved
        self.new_cells.clear()
        self.new_years.clear()
        self.new_campaigns.clear()

    # -- loading ---------------------------------------------------------------------------------

    async def load_settings(self, conn: asyncpg.Connection) -> None:
        if self.settings_loaded:
            return
        self.years = {
            r["rentree"]: r["since"]
            for r in await conn.fetch("SELECT rentree, since FROM reporting.figure_years")
        }
        self.campaigns = {
            (r["academie"], r["rentree"]): r["closes"]
            for r in await conn.fetch(
                "SELECT academie, rentree, closes_on AS closes FROM reporting.cell_campaigns"
            )
        }
        self.settings_loaded = True

    async def load_schools(self, conn: asyncpg.Connection, uais: Iterable[str] | None) -> None:
        """The facts of these schools (None: of every school)."""
        if self.complete:
            return
        if uais is None:
            rows = await conn.fetch("SELECT uai, facts FROM reporting.school_facts")
        else:
            wanted = [u for u in set(uais) if u not in self.schools]
            if not wanted:
                return
            rows = await conn.fetch(
                "SELECT uai, facts FROM reporting.school_facts WHERE uai = ANY($1::text[])", wanted
            )
        for r in rows:
            self.schools.setdefault(r["uai"], _facts.decode(r["facts"]))

    async def load_cells(self, conn: asyncpg.Connection, cells: Iterable[int] | None) -> None:
        """The sums of these cells, every year (None: of every cell)."""
        if self.complete:
            return
        if cells is None:
            rows = await conn.fetch("SELECT cell, rentree, sums FROM reporting.cell_sums")
            self.known_cells |= {
                r["cell"] for r in await conn.fetch("SELECT cell FROM reporting.cells")
            }
        else:
            wanted = [c for c in set(cells) if c not in self.cells_loaded]
            if not wanted:
                return
            self.cells_loaded.update(wanted)
            rows = await conn.fetch(
                "SELECT cell, rentree, sums FROM reporting.cell_sums WHERE cell = ANY($1::bigint[])",
                wanted,
            )
            self.known_cells |= {
                r["cell"]
                for r in await conn.fetch(
                    "SELECT cell FROM reporting.cells WHERE cell = ANY($1::bigint[])", wanted
                )
            }
        for r in rows:
            self.sums.setdefault((r["cell"], r["rentree"]), _sums.decode(r["sums"]))

    # -- saving ----------------------------------------------------------------------------------

    async def save_settings(self, conn: asyncpg.Connection) -> None:
        """The cells, school years and campaigns added: written at every flush, also in a rebuild."""
        if self.new_cells:
            await conn.execute(
                """INSERT INTO reporting.cells
                   SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
                   ON CONFLICT (cell) DO NOTHING""",
                list(self.new_cells),
                *(list(c) for c in zip(*self.new_cells.values(), strict=True)),
            )
            self.new_cells.clear()
        if self.new_years:
            years = sorted(self.new_years)
            await conn.execute(
                """INSERT INTO reporting.figure_years
                   SELECT * FROM unnest($1::int[], $2::timestamptz[])
                   ON CONFLICT (rentree) DO NOTHING""",
                years,
                [self.years[r] for r in years],
            )
            self.new_years.clear()
        if self.new_campaigns:
            keys = sorted(self.new_campaigns)
            await conn.execute(
                """INSERT INTO reporting.cell_campaigns
                   SELECT * FROM unnest($1::text[], $2::int[], $3::date[])
                   ON CONFLICT (academie, rentree)
                   DO UPDATE SET closes_on = greatest(cell_campaigns.closes_on, EXCLUDED.closes_on)""",
                [a for a, _ in keys],
                [r for _, r in keys],
                [self.campaigns[k] for k in keys],
            )
            self.new_campaigns.clear()

    async def save(self, conn: asyncpg.Connection) -> None:
        """The facts and sums changed since the last save."""
        if self.changed_schools:
            uais = sorted(self.changed_schools)
            await conn.execute(
                """INSERT INTO reporting.school_facts
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                   ON CONFLICT (uai) DO UPDATE
                   SET academie = EXCLUDED.academie, facts = EXCLUDED.facts""",
                uais,
                [self.schools[u].academie for u in uais],
                [_encode_facts(self.schools[u]) for u in uais],
            )
            self.changed_schools.clear()
        if self.changed_sums:
            keys = sorted(self.changed_sums)
            await conn.execute(
                """INSERT INTO reporting.cell_sums
                   SELECT * FROM unnest($1::bigint[], $2::int[], $3::bytea[])
                   ON CONFLICT (cell, rentree) DO UPDATE SET sums = EXCLUDED.sums""",
                [c for c, _ in keys],
                [r for _, r in keys],
                [_encode_sums(self.sums[k]) for k in keys],
            )
            self.changed_sums.clear()

    async def dump(self, conn: asyncpg.Connection) -> None:
        """Everything, into empty tables (the end of a rebuild)."""
        await conn.copy_records_to_table(
            "school_facts",
            schema_name="reporting",
            records=((u, f.academie, _encode_facts(f)) for u, f in sorted(self.schools.items())),
        )
        await conn.copy_records_to_table(
            "cell_sums",
            schema_name="reporting",
            records=((c, r, _encode_sums(s)) for (c, r), s in sorted(self.sums.items())),
        )
        self.changed_schools.clear()
        self.changed_sums.clear()
