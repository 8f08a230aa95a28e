"""A territory's sums read from its members at read time: the schools of the territory as the
register stood at the moment (open ones), each member's rows looked up on their keys (LATERAL:
joining the national tables would make a territory as slow as the country is large).

This is the reference the cells (`sums_from_cells.py`) are held to in the tests, and the answer
for the moments the cells do not cover. It follows the rules of `contribution.py`, in SQL.
`level` is one of `infra.auth.TERRITORY_LEVELS` (checked by the caller).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import asyncpg

from events.ent import index_for, rule_for
from services.reporting.on_record import imports_in_force_sql

# Open schools of the territory $1 as the register stood at the moment `{at}`.
MEMBERS = """
    members AS (
        SELECT uai, name, kind, commune, academie FROM reporting.school_versions
        WHERE {level} = $1 AND valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at})
          AND closed_on IS NULL)"""

# Every school year from $2 to $4 in one pass ($1 the territory's code, $3 the moment): each
# member's declarations are read once (the latest version of each rentrée recorded by $3, and when
# it first answered for it), and each year takes the latest rentrée up to it: the declaration in
# force that year (its own, or the latest earlier one carried forward).
EFFECTIVE_BY_YEAR = (
    MEMBERS.replace("{at}", "$3")
    + """,
    versions AS (
        SELECT m.uai, m.academie, v.*,
               lead(v.rentree) OVER (PARTITION BY m.uai ORDER BY v.rentree) AS next
        FROM members m CROSS JOIN LATERAL (
            SELECT DISTINCT ON (d.rentree) d.rentree, d.classes, d.teacher_classes,
                   d.pupil_classes, d.robots, d.ent, d.equipment_index,
                   min(d.valid_from) OVER (PARTITION BY d.rentree) AS first_at
            FROM reporting.declaration_versions d
            WHERE d.uai = m.uai AND d.rentree <= $4 AND d.valid_from <= $3
            ORDER BY d.rentree, d.valid_from DESC) v),
    years AS (SELECT r FROM generate_series($2::int, $4::int) AS r),
    -- A rentrée's answers are in force until the member's next answered rentrée.
    effective AS (
        SELECT y.r AS year, v.* FROM versions v JOIN years y
          ON v.rentree <= y.r AND (v.next IS NULL OR y.r < v.next))"""
)

# The declarations' figures of every year: answered on time when first given (Paris time) by
# the day the campaign of the member's académie closed, as recorded by $3.
_FIGURES = (
    EFFECTIVE_BY_YEAR
    + """,
    closes AS (
        SELECT academie, rentree, max(closes_on) AS closes_on FROM reporting.campaign_versions
        WHERE rentree BETWEEN $2 AND $4 AND recorded_at <= $3 GROUP BY 1, 2)
    SELECT y.r, (SELECT count(*) FROM members) AS schools,
           (SELECT count(*) FROM members WHERE kind = 'ecole') AS asked,
           count(e.uai) FILTER (WHERE e.rentree = y.r) AS answered,
           count(e.uai) FILTER (WHERE e.rentree = y.r AND (c.closes_on IS NULL
               OR (e.first_at AT TIME ZONE 'Europe/Paris')::date <= c.closes_on)) AS on_time,
           count(e.uai) AS declared, coalesce(sum(e.classes), 0) AS classes,
           coalesce(sum(e.teacher_classes), 0) AS teacher,
           coalesce(sum(e.pupil_classes), 0) AS pupil,
           count(*) FILTER (WHERE e.robots > 0) AS with_robots,
           count(*) FILTER (WHERE e.ent) AS with_ent,
           count(*) FILTER (WHERE e.equipment_index = 0) AS i0,
           count(*) FILTER (WHERE e.equipment_index = 1) AS i1,
           count(*) FILTER (WHERE e.equipment_index = 2) AS i2,
           count(*) FILTER (WHERE e.equipment_index = 3) AS i3
    FROM years y LEFT JOIN effective e ON e.year = y.r
    LEFT JOIN closes c ON c.rentree = y.r AND c.academie = e.academie
    GROUP BY y.r"""
)

# Usages of the members as each school year from $3 to $4 ended (or at $2, for the current
# one): each member's set in force then, one lookup a member and a year.
_USAGES = (
    MEMBERS.replace("{at}", "$2")
    + """,
    years AS (
        SELECT r, least($2, make_timestamptz(r + 1, 9, 1, 0, 0, 0, 'UTC')) AS until
        FROM generate_series($3::int, $4::int) AS r),
    held AS (
        SELECT y.r, u.codes FROM members m CROSS JOIN years y CROSS JOIN LATERAL (
            SELECT s.codes FROM reporting.usage_sets s
            WHERE s.uai = m.uai AND s.valid_from <= y.until
            ORDER BY s.valid_from DESC LIMIT 1) u)
    SELECT h.r, c.code, count(*) AS schools FROM held h CROSS JOIN jsonb_array_elements_text(h.codes) AS c(code)
    GROUP BY h.r, c.code ORDER BY h.r, count(*) DESC, c.code"""
)

# For the members using the ENT (A7 of the answers in force), how many periods of the year
# reached the year's ratio: `events.ent.reaches` in integers ($5 rentrées, $6/$7 the ratios as
# fractions).
_ENT = (
    EFFECTIVE_BY_YEAR
    + """,{imports},
    rules AS (SELECT * FROM unnest($5::int[], $6::bigint[], $7::bigint[]) AS u(r, num, den)),
    schools AS (
        SELECT e.year, p.reached
        FROM effective e JOIN rules u ON u.r = e.year CROSS JOIN LATERAL (
            SELECT count(*) FILTER (
                       WHERE c.enrolled_pupils > 0 AND c.n * u.den >= u.num * c.enrolled_pupils
                   ) AS reached
            FROM ent_in_force c WHERE c.uai = e.uai AND c.rentree = e.year
            HAVING count(*) > 0) p
        WHERE e.ent)
    SELECT year, reached, count(*) AS schools FROM schools GROUP BY 1, 2"""
)

# ENT connections (latest import of each period) and GAR accès (latest list) of the members.
_TOTALS = (
    MEMBERS.replace("{at}", "$3")
    + """,{imports},
    ent AS (SELECT rentree, n FROM ent_in_force WHERE rentree BETWEEN $2 AND $4),
    gar AS (
        SELECT rentree, resource, accesses FROM gar_accesses WHERE rentree BETWEEN $2 AND $4),
    ent_sums AS (SELECT rentree, sum(n) AS n FROM ent GROUP BY rentree),
    gar_sums AS (
        SELECT rentree, sum(accesses) AS accesses,
               count(DISTINCT resource) FILTER (WHERE accesses > 0) AS resources
        FROM gar GROUP BY rentree)
    SELECT y.r, coalesce(e.n, 0) AS ent_connections, coalesce(g.accesses, 0) AS gar_accesses,
           coalesce(g.resources, 0) AS gar_resources
    FROM generate_series($2::int, $4::int) AS y(r)
    LEFT JOIN ent_sums e ON e.rentree = y.r LEFT JOIN gar_sums g ON g.rentree = y.r"""
)

# Each member's awards recorded by $3, each year taking the latest valid during it.
_LABELS = (
    MEMBERS.replace("{at}", "$3")
    + """,
    years AS (SELECT r FROM generate_series($2::int, $4::int) AS r),
    awarded AS (
        SELECT m.uai, a.rentree, a.valid_until_rentree, a.level
        FROM members m JOIN reporting.label_awards a ON a.uai = m.uai
        WHERE a.rentree <= $4 AND coalesce(a.recorded_at, a.awarded_at) <= $3),
    held AS (
        SELECT DISTINCT ON (a.uai, y.r) y.r, a.level FROM awarded a JOIN years y
          ON a.rentree <= y.r AND a.valid_until_rentree >= y.r
        ORDER BY a.uai, y.r, a.rentree DESC)
    SELECT y.r, (SELECT count(*) FROM members) AS schools, count(h.r) AS labelled,
           count(*) FILTER (WHERE h.level = 1) AS l1,
           count(*) FILTER (WHERE h.level = 2) AS l2,
           count(*) FILTER (WHERE h.level = 3) AS l3
    FROM years y LEFT JOIN held h USING (r) GROUP BY y.r"""
)


def _sql(template: str, level: str, imports: str = "") -> str:
    return "WITH " + template.replace("{level}", level).replace("{imports}", imports)


PARTS = ("figures", "usages", "ent", "totals", "labels")


async def year_sums(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    first: int,
    last: int,
    at: datetime,
    parts: Collection[str] = PARTS,
) -> dict[int, dict[str, int]]:
    """The sums of every school year from `first` to `last` (only some of them: `parts`)."""
    sums: dict[int, dict[str, int]] = {r: {} for r in range(first, last + 1)}
    if "figures" in parts:
        for row in await conn.fetch(_sql(_FIGURES, level), code, first, at, last):
            sums[row["r"]].update({k: int(v) for k, v in row.items() if k != "r"})
    if "usages" in parts:
        for row in await conn.fetch(_sql(_USAGES, level), code, at, first, last):
            year = sums[row["r"]]
            year["usages"] = year.get("usages", 0) + int(row["schools"])
    if "ent" in parts:
        rentrees = list(range(first, last + 1))
        rules = {r: rule_for(r) for r in rentrees}
        for row in await conn.fetch(
            _sql(_ENT, level, await imports_in_force_sql(conn)),
            code,
            first,
            at,
            last,
            rentrees,
            [rules[r].min_ratio.numerator for r in rentrees],
            [rules[r].min_ratio.denominator for r in rentrees],
        ):
            year, n = sums[row["year"]], int(row["schools"])
            index = f"e{index_for(row['reached'], rules[row['year']])}"
            year["ent_figures"] = year.get("ent_figures", 0) + n
            year[index] = year.get(index, 0) + n
    for part, query in (("totals", _TOTALS), ("labels", _LABELS)):
        if part in parts:
            imports = await imports_in_force_sql(conn) if part == "totals" else ""
            for row in await conn.fetch(_sql(query, level, imports), code, first, at, last):
                sums[row["r"]].update({k: int(v) for k, v in row.items() if k != "r"})
    return sums


async def top_usages(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime, limit: int
) -> list[tuple[str, int]]:
    rows = await conn.fetch(_sql(_USAGES, level), code, at, rentree, rentree)
    return [(r["code"], int(r["schools"])) for r in rows[:limit]]
