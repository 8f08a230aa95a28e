"""A territory's sums read from the cells the projection keeps (`cell_projection.py`): the
latest version of each of its cells' sums by the moment asked, a few index lookups a cell and a
school year, whatever the number of schools.

`level` is one of `LEVELS` (checked by the caller): the only name put in the SQL.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.reporting.cell_projection import FIGURE_COLUMNS
from services.reporting.cell_projector import TRACKING
from services.reporting.contribution import FIELDS
from services.reporting.freshness import projected_through

# The territories made of cells.
LEVELS = ("departement", "academie", "region")

_SUMS = ", ".join(f"sum(f.{name})::bigint AS {name}" for name in FIGURE_COLUMNS)


async def covered(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    first: int,
    last: int,
    at: datetime,
    now: bool = False,
) -> bool:
    """Whether the cells hold every school year from `first` to `last` at `at`, with no cell of
    the territory inexact then, and everything recorded by `at` applied (their projector runs
    beside the others; `now`: the present, as far as they have gone, like every read model)."""
    row = await conn.fetchrow(
        f"""SELECT (SELECT count(*) FROM reporting.figure_years
                    WHERE rentree BETWEEN $2 AND $3 AND since <= $4) AS years,
                   EXISTS (SELECT 1 FROM reporting.cells c JOIN reporting.cell_disorder d
                           USING (cell)
                           WHERE c.{level} = $1 AND d.valid_from <= $4 AND d.valid_to > $4)
                       AS inexact""",  # noqa: S608
        code,
        first,
        last,
        at,
    )
    assert row is not None
    if row["years"] != last - first + 1 or row["inexact"]:
        return False
    return now or await projected_through(conn, at, TRACKING)


async def year_sums(
    conn: asyncpg.Connection, level: str, code: str, first: int, last: int, at: datetime
) -> dict[int, dict[str, int]]:
    rows = await conn.fetch(
        f"""SELECT y.r, {_SUMS}, coalesce(sum(t.usages), 0)::bigint AS usages
            FROM generate_series($2::int, $3::int) AS y(r)
            CROSS JOIN reporting.cells c
            CROSS JOIN LATERAL (
                SELECT * FROM reporting.cell_figures f
                WHERE f.cell = c.cell AND f.rentree = y.r AND f.valid_from <= $4
                ORDER BY f.valid_from DESC LIMIT 1) f
            LEFT JOIN LATERAL (
                SELECT k.total AS usages FROM reporting.cell_usages k
                WHERE k.cell = c.cell AND k.rentree = y.r AND k.valid_from <= $4
                ORDER BY k.valid_from DESC LIMIT 1) t ON true
            WHERE c.{level} = $1
            GROUP BY y.r""",  # noqa: S608
        code,
        first,
        last,
        at,
    )
    sums: dict[int, dict[str, int]] = {r["r"]: {n: int(r[n]) for n in FIELDS} for r in rows}
    for r in await conn.fetch(
        f"""SELECT y.r, count(DISTINCT x.resource) AS resources
            FROM generate_series($2::int, $3::int) AS y(r)
            CROSS JOIN reporting.cells c
            CROSS JOIN LATERAL (
                SELECT g.resources FROM reporting.cell_gar_resources g
                WHERE g.cell = c.cell AND g.rentree = y.r AND g.valid_from <= $4
                ORDER BY g.valid_from DESC LIMIT 1) g
            CROSS JOIN unnest(g.resources) AS x(resource)
            WHERE c.{level} = $1
            GROUP BY y.r""",  # noqa: S608
        code,
        first,
        last,
        at,
    ):
        sums.setdefault(r["r"], {})["gar_resources"] = r["resources"]
    return sums


async def top_usages(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime, limit: int
) -> list[tuple[str, int]]:
    rows = await conn.fetch(
        f"""SELECT u.code, sum(u.schools)::bigint AS schools FROM reporting.cells c
            CROSS JOIN LATERAL (
                SELECT DISTINCT ON (k.code) k.code, k.schools FROM reporting.cell_usages k
                WHERE k.cell = c.cell AND k.rentree = $2 AND k.valid_from <= $3
                ORDER BY k.code, k.valid_from DESC) u
            WHERE c.{level} = $1
            GROUP BY u.code HAVING sum(u.schools) > 0
            ORDER BY sum(u.schools) DESC, u.code LIMIT $4""",  # noqa: S608
        code,
        rentree,
        at,
        limit,
    )
    return [(r["code"], int(r["schools"])) for r in rows]
