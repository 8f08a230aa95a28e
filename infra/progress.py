"""A progress bar for the commands that walk the logs (`numecole rebuild`, `numecole verify`),
and the number of events they hold to walk."""

from __future__ import annotations

import sys
import time
from typing import Any

import asyncpg

from infra.relay import SOURCES


def french(number: float, decimals: int = 0) -> str:
    """A number as French writes it: 1 234 567,8 (narrow no-break spaces between thousands)."""
    return f"{number:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")


class ProgressBar:
    """One line on the terminal: what is being done, events done, rate, what remains."""

    def __init__(self, total: int, label: str = "reconstruction", out: Any = sys.stderr) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.started = time.monotonic()
        self.out = out
        self.shown = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown < 0.2 and self.done < self.total:
            return
        self.shown = now
        rate = self.done / max(now - self.started, 1e-6)
        left = max(self.total - self.done, 0)
        width = 30
        filled = int(width * min(self.done / self.total, 1.0))
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{french(self.done)}/{french(self.total)} événements · {french(rate)}/s · "
            f"reste {french(left / rate if rate else 0)} s "
        )
        self.out.write(line)
        self.out.flush()

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


async def log_size(database_url: str) -> int:
    """How many events the logs hold, all of them."""
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        total = 0
        for source in SOURCES.values():
            if await conn.fetchval("SELECT to_regclass($1)", f"{source.schema}.{source.table}"):
                total += await conn.fetchval(
                    f"SELECT count(*) FROM {source.qualified_table}"  # noqa: S608
                )
        return total
    finally:
        await conn.close()
