"""`numecole verify`: walk every log and report the first broken link of each.

A log is read in notification order, `CHUNK` rows at a time, each school's chain followed from
its previous event (`infra.integrity.ChainWalker`). At a broken link, two lookups say more: the
event's stream (is the version before it missing?) and the positions absent from the log
between the school's previous event and this one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from infra.integrity import BrokenLink, ChainWalker
from infra.relay import SOURCES, Source

CHUNK = 10_000
SHOWN_ABSENT = 5


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
    after = 0
    while True:
        rows = await conn.fetch(
            f"SELECT notification_id, originator_id, originator_version, state "  # noqa: S608
            f"FROM {source.qualified_table} WHERE notification_id > $1 "
            "ORDER BY notification_id LIMIT $2",
            after,
            CHUNK,
        )
        if not rows:
            return walker.checked, None
        for r in rows:
            broken = walker.check(
                r["notification_id"], r["originator_id"], r["originator_version"], r["state"]
            )
            if broken is not None:
                return walker.checked, await _explained(conn, source, broken)
        after = rows[-1]["notification_id"]
        if progress is not None:
            progress(len(rows))


async def _explained(conn: asyncpg.Connection, source: Source, broken: BrokenLink) -> BrokenLink:
    if broken.follows is None:
        return broken
    table = source.qualified_table
    before = await conn.fetchval(
        f"SELECT max(originator_version) FROM {table} "  # noqa: S608
        "WHERE originator_id = $1 AND originator_version < $2",
        broken.stream,
        broken.version,
    )
    if (before or 0) != broken.version - 1:
        return dataclasses.replace(
            broken,
            reason=f"la version {broken.version} de son flux suit la version {before or 0} : "
            "un événement du flux a été supprimé",
        )
    absent = await conn.fetch(
        f"SELECT g FROM generate_series($1::bigint + 1, $2::bigint - 1) AS g "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE notification_id = g) "
        "ORDER BY g LIMIT $3",
        broken.follows,
        broken.position,
        SHOWN_ABSENT + 1,
    )
    if not absent:
        return broken
    shown = ", ".join(str(r["g"]) for r in absent[:SHOWN_ABSENT])
    more = " …" if len(absent) > SHOWN_ABSENT else ""
    return dataclasses.replace(
        broken,
        reason=f"{broken.reason} ; position(s) absente(s) du journal entre les deux : "
        f"{shown}{more} (un événement supprimé, ou une écriture refusée)",
    )


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
