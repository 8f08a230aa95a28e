"""A school's full history: every event, from every service, with who acted, in which role, when."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from infra.errors import FieldError, InvalidInput
from infra.relay import SOURCES


class HistoryEntry(msgspec.Struct):
    source: str
    position: int
    event_id: str
    type: str
    school_year: str
    occurred_at: datetime
    recorded_at: datetime
    user_id: str
    role: str
    content: dict[str, Any]


class HistoryPage(msgspec.Struct):
    uai: str
    entries: list[HistoryEntry]
    next_cursor: str | None  # pass as `cursor` for the next page; None on the last one


_cursor = msgspec.json.Decoder(tuple[datetime, str, int])
_content = msgspec.json.Decoder(dict[str, Any])


def encode_cursor(recorded_at: datetime, source: str, position: int) -> str:
    raw = msgspec.json.encode((recorded_at, source, position))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        return _cursor.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, msgspec.DecodeError):
        raise InvalidInput([FieldError("cursor", "Curseur de pagination invalide.")]) from None


async def log_contents(
    conn: asyncpg.Connection, places: list[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The events at these positions, read from the logs themselves (the record)."""
    by_source: dict[str, list[int]] = {}
    for name, position in places:
        by_source.setdefault(name, []).append(position)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for name, positions in by_source.items():
        log = SOURCES.get(name)
        if log is None:
            continue
        rows = await conn.fetch(
            f"SELECT notification_id, state FROM {log.qualified_table} "  # noqa: S608
            "WHERE notification_id = ANY($1::bigint[])",
            positions,
        )
        for r in rows:
            found[(name, r["notification_id"])] = _content.decode(r["state"])
    return found


async def school_history(
    conn: asyncpg.Connection,
    uai: str,
    limit: int,
    cursor: str | None,
    until: datetime,
) -> HistoryPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await conn.fetch(
        """SELECT source, position, event_id, type, school_year, occurred_at, recorded_at,
                  user_id, role
           FROM reporting.school_events
           WHERE uai = $1 AND recorded_at <= $2
             AND ($3::timestamptz IS NULL OR (recorded_at, source, position) > ($3, $4, $5))
           ORDER BY recorded_at, source, position
           LIMIT $6""",
        uai,
        until,
        after[0] if after else None,
        after[1] if after else "",
        after[2] if after else 0,
        limit + 1,
    )
    page = rows[:limit]
    contents = await log_contents(conn, [(r["source"], r["position"]) for r in page])
    entries = [
        HistoryEntry(
            source=r["source"],
            position=r["position"],
            event_id=str(r["event_id"]),
            type=r["type"],
            school_year=r["school_year"],
            occurred_at=r["occurred_at"],
            recorded_at=r["recorded_at"],
            user_id=r["user_id"],
            role=r["role"],
            content=contents.get((r["source"], r["position"]), {}),
        )
        for r in page
    ]
    last = entries[-1] if len(rows) > limit else None
    return HistoryPage(
        uai=uai,
        entries=entries,
        next_cursor=encode_cursor(last.recorded_at, last.source, last.position) if last else None,
    )
