"""What a school's profile reads from the record itself, not from a copy in the read models:
the académie's ENT and GAR imports of the school, and the steps of its label board.

These are events kept as they were recorded (on a national dataset, 733 k ENT imports, 333 k GAR
lists and 713 k label steps, which a rebuild would copy row for row). A school's events are
found by each log's index by school and recording moment (`infra.event_store`), as its history
is, and decoded with `events/`, through the upcasters of older versions.

- ENT and GAR (the declarations log): of the imports of one period (ENT) or of one school year
  (GAR), the latest recorded by the moment stands; of two recorded at the same moment, the
  first. A GAR list without resources leaves the previous one in force. Territories read them
  from the cells (`cell_projection.py`); their members' sums, in SQL, from the same log
  (`imports_in_force_sql`).
- Label steps (the label log): each criterion's state after the latest step of the board.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import structlog

import events
from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.envelope import Event
from events.label import (
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    ProposalWithdrawn,
    ValidationRevoked,
)
from events.values import parse_school_year
from infra.relay import SOURCES, Source, table_exists
from services.reporting.label_projection import STATE_AFTER

CriterionStep = (
    CriterionProposed | CriterionValidated | CriterionRejected | ProposalWithdrawn
    | ValidationRevoked
)  # fmt: skip

log = structlog.get_logger("reporting")

# The service whose log records the imports.
LOG = SOURCES["declarations"]


async def school_events(
    conn: asyncpg.Connection,
    uai: str,
    at: datetime,
    kinds: Sequence[type[Event]],
    source: Source = LOG,
) -> list[Event]:
    """The school's events of these types recorded by `at` in a log, in the order they were
    recorded."""
    if not await table_exists(conn, source):
        return []
    schema = f'"{source.schema}"'
    rows = await conn.fetch(
        f"SELECT state FROM {source.qualified_table} "  # noqa: S608 - names from SOURCES
        f"WHERE {schema}.event_school(state) = $1 AND {schema}.event_recorded_at(state) <= $2 "
        "AND topic = ANY($3::text[]) "
        f"ORDER BY {schema}.event_recorded_at(state), notification_id",
        uai,
        at,
        [k.type_name() for k in kinds],
    )
    found = []
    for r in rows:
        try:
            found.append(events.decode(r["state"]))
        except events.EventDecodeError as exc:
            # As the projector parks it: left out, said in the logs.
            log.warning("event_not_decoded", uai=uai, reason=str(exc))
    return found


async def ent_in_force(
    conn: asyncpg.Connection, uai: str, at: datetime, rentree: int | None
) -> dict[int, dict[int, EntConnectionsImported]]:
    """The connections in force at `at` of each period imported, by rentrée (one, or all)."""
    found: dict[int, dict[int, EntConnectionsImported]] = {}
    for e in await school_events(conn, uai, at, (EntConnectionsImported,)):
        assert isinstance(e, EntConnectionsImported)
        year = parse_school_year(e.school_year)
        if rentree is not None and year != rentree:
            continue
        periods = found.setdefault(year, {})
        known = periods.get(e.period)
        if known is None or e.recorded_at > known.recorded_at:
            periods[e.period] = e
    return found


async def gar_in_force(
    conn: asyncpg.Connection, uai: str, at: datetime, rentree: int | None
) -> dict[int, list[tuple[str, int]]]:
    """The resources and accès of the list in force at `at`, by rentrée (one, or all): a
    resource's first line stands."""
    found: dict[int, GarAccessesImported] = {}
    for e in await school_events(conn, uai, at, (GarAccessesImported,)):
        assert isinstance(e, GarAccessesImported)
        year = parse_school_year(e.school_year)
        if not e.resources or (rentree is not None and year != rentree):
            continue
        known = found.get(year)
        if known is None or e.recorded_at > known.recorded_at:
            found[year] = e
    lists: dict[int, list[tuple[str, int]]] = {}
    for year, e in found.items():
        accesses: dict[str, int] = {}
        for r in e.resources:
            accesses.setdefault(r.resource, r.accesses)
        lists[year] = list(accesses.items())
    return lists


async def criteria_states(conn: asyncpg.Connection, uai: str, at: datetime) -> dict[str, str]:
    """Each criterion's state after the latest step of the school's board recorded by `at`."""
    latest: dict[str, tuple[int, str]] = {}
    for e in await school_events(conn, uai, at, tuple(STATE_AFTER), SOURCES["label"]):
        assert isinstance(e, CriterionStep)
        known = latest.get(e.code)
        if known is None or e.originator_version > known[0]:
            latest[e.code] = (e.originator_version, STATE_AFTER[type(e)])
    return {code: state for code, (_, state) in latest.items()}


def _in_force_sql() -> str:
    schema, table = f'"{LOG.schema}"', LOG.qualified_table
    return f"""
    -- The members' imports recorded by $3, read from the record: the fields of
    -- EntConnectionsImported and GarAccessesImported version 1, as stored.
    -- Each member's found by the log's index, one member at a time (OFFSET 0 keeps the
    -- planner from making it a join, which it may do by reading the whole log).
    imported AS (
        SELECT m.uai, ev.topic, ev.notification_id, j.*
        FROM members m
        CROSS JOIN LATERAL (
            SELECT e.topic, e.notification_id, e.state FROM {table} e
            WHERE {schema}.event_school(e.state) = m.uai
              AND {schema}.event_recorded_at(e.state) <= $3
              AND e.topic IN ('EntConnectionsImported', 'GarAccessesImported')
            OFFSET 0) ev
        CROSS JOIN LATERAL json_to_record(convert_from(ev.state, 'UTF8')::json) AS j(
            school_year text, recorded_at timestamptz, period int, enrolled_pupils int,
            connections json, resources json)),
    ent_in_force AS (
        SELECT DISTINCT ON (uai, rentree, period) uai, rentree, period, enrolled_pupils,
               (connections->>'pupils')::bigint + (connections->>'parents')::bigint
               + (connections->>'teachers')::bigint AS n
        FROM (SELECT *, left(school_year, 4)::int AS rentree FROM imported
              WHERE topic = 'EntConnectionsImported') i
        ORDER BY uai, rentree, period, recorded_at DESC, notification_id),
    gar_in_force AS (
        SELECT DISTINCT ON (uai, rentree) uai, rentree, resources
        FROM (SELECT *, left(school_year, 4)::int AS rentree FROM imported
              WHERE topic = 'GarAccessesImported' AND json_array_length(resources) > 0) i
        ORDER BY uai, rentree, recorded_at DESC, notification_id),
    gar_accesses AS (
        SELECT DISTINCT ON (g.uai, g.rentree, r.resource) g.uai, g.rentree, r.resource,
               r.accesses
        FROM gar_in_force g
        CROSS JOIN LATERAL ROWS FROM (
            json_to_recordset(g.resources) AS (resource text, accesses bigint))
            WITH ORDINALITY AS r(resource, accesses, line)
        ORDER BY g.uai, g.rentree, r.resource, r.line)"""  # noqa: S608 - names from SOURCES


# Without the log (no import was ever recorded), the same relations, empty.
_NONE_IN_FORCE = """
    ent_in_force AS (
        SELECT NULL::text AS uai, NULL::int AS rentree, NULL::int AS period,
               NULL::int AS enrolled_pupils, NULL::bigint AS n WHERE false),
    gar_accesses AS (
        SELECT NULL::text AS uai, NULL::int AS rentree, NULL::text AS resource,
               NULL::bigint AS accesses WHERE false)"""


async def imports_in_force_sql(conn: asyncpg.Connection) -> str:
    """The CTEs `ent_in_force` (uai, rentree, period, enrolled_pupils, n: connections) and
    `gar_accesses` (uai, rentree, resource, accesses) of the list in force, for the CTE
    `members` at the moment $3."""
    return _in_force_sql() if await table_exists(conn, LOG) else _NONE_IN_FORCE
