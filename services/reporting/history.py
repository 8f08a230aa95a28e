"""A school's full history: every event, from every service, with who acted, in which role, when."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from infra.errors import FieldError, InvalidInput


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
                  user_id, role, data
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
            content=_content.decode(r["data"]),
        )
        for r in rows[:limit]
    ]
    last = entries[-1] if len(rows) > limit else None
    return HistoryPage(
        uai=uai,
        entries=entries,
        next_cursor=encode_cursor(last.recorded_at, last.source, last.position) if last else None,
    )
