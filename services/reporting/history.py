"""A school's full history: every event, from every service, with who acted, in which role, when."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from infra.errors import FieldError, InvalidInput
from infra.relay import SOURCES, table_exists


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


class _Actor(msgspec.Struct):
    user_id: str
    role: str


class _Envelope(msgspec.Struct):
    """What every event carries, whatever its type and version (`events/`)."""

    event_id: str
    type: str
    school_year: str
    occurred_at: datetime
    recorded_at: datetime
    actor: _Actor


_envelope = msgspec.json.Decoder(_Envelope)


def _page_sql(schema: str, table: str) -> str:
    """A school's events in one log, in the order they were recorded, after the cursor: the
    record's own index by school (`infra.event_store.school_index_sql`)."""
    at = f'"{schema}".event_recorded_at(state)'
    return f"""
        SELECT notification_id, state FROM "{schema}"."{table}"
        WHERE "{schema}".event_school(state) = $1 AND {at} <= $2
          AND ($3::timestamptz IS NULL
               OR {at} >= $3 AND ({at}, $4::text, notification_id) > ($3, $5::text, $6::bigint))
        ORDER BY {at}, notification_id
        LIMIT $7"""  # noqa: S608 - names from SOURCES


async def school_history(
    conn: asyncpg.Connection,
    uai: str,
    limit: int,
    cursor: str | None,
    until: datetime,
) -> HistoryPage:
    """Every event about the school recorded by `until`, read from the logs themselves (the
    record), in the order they were recorded: a page of `limit` after `cursor`."""
    after = decode_cursor(cursor) if cursor else None
    entries: list[HistoryEntry] = []
    for source in SOURCES.values():
        if not await table_exists(conn, source):
            continue
        rows = await conn.fetch(
            _page_sql(source.schema, source.table),
            uai,
            until,
            after[0] if after else None,
            source.service,
            after[1] if after else "",
            after[2] if after else 0,
            limit + 1,
        )
        for r in rows:
            e = _envelope.decode(r["state"])
            entries.append(
                HistoryEntry(
                    source=source.service,
                    position=r["notification_id"],
                    event_id=e.event_id,
                    type=e.type,
                    school_year=e.school_year,
                    occurred_at=e.occurred_at,
                    recorded_at=e.recorded_at,
                    user_id=e.actor.user_id,
                    role=e.actor.role,
                    content=_content.decode(r["state"]),
                )
            )
    entries.sort(key=lambda h: (h.recorded_at, h.source, h.position))
    page = entries[:limit]
    last = page[-1] if len(entries) > limit else None
    return HistoryPage(
        uai=uai,
        entries=page,
        next_cursor=encode_cursor(last.recorded_at, last.source, last.position) if last else None,
    )
