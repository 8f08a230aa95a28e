"""`numecole verify`: walk every log and report the first broken link of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from infra.integrity import BrokenLink, ChainWalker
from infra.relay import SOURCES, Source

CHUNK = 10_000


@dataclass
class VerifyReport:
    checked: dict[str, int] = field(default_factory=dict)
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken


async def verify_source(
    conn: asyncpg.Connection, source: Source, progress: Callable[[int], None] | None = None
) -> tuple[int, BrokenLink | None]:
    walker = ChainWalker(source.service)
    after: tuple[object, int] | None = None
    while True:
        rows = await conn.fetch(
            f"SELECT originator_id, originator_version, notification_id, state "  # noqa: S608
            f"FROM {source.qualified_table} "
            "WHERE $1::uuid IS NULL OR (originator_id, originator_version) > ($1::uuid, $2::bigint) "
            "ORDER BY originator_id, originator_version LIMIT $3",
            after[0] if after else None,
            after[1] if after else 0,
            CHUNK,
        )
        if not rows:
            return walker.checked, None
        for r in rows:
            broken = walker.check(r["notification_id"], r["state"])
            if broken is not None:
                return walker.checked, broken
        after = (rows[-1]["originator_id"], rows[-1]["originator_version"])
        if progress is not None:
            progress(len(rows))


async def verify(database_url: str, progress: Callable[[int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        for source in SOURCES.values():
            if (
                await conn.fetchval("SELECT to_regclass($1)", f"{source.schema}.{source.table}")
                is None
            ):
                continue
            checked, broken = await verify_source(conn, source, progress)
            report.checked[source.service] = checked
            if broken is not None:
                report.broken.append(broken)
    finally:
        await conn.close()
    return report
