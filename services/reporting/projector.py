"""The reporting projector: a durable JetStream consumer (`infra.consumer`) that keeps the read
models, from every write service's events."""

from __future__ import annotations

import hashlib
import uuid
from importlib import resources

import asyncpg
import structlog

from events.ent import ENT_RULES
from infra import consumer
from infra.consumer import Delivery, LogConsumer, Reconnect
from infra.consumer import read_log as read_log
from infra.relay import SOURCES
from services.reporting.contribution import FIGURES_VERSION
from services.reporting.projection import Projection

log = structlog.get_logger("projector")

DURABLE = "reporting"
# Held by each batch's transaction; `rebuild` takes it to switch generations between batches.
PROJECTOR_LOCK = 4243
PARKED = "reporting.parked"


def schema_sql() -> list[str]:
    """The read models' DDL, one idempotent file per concern, applied in name order."""
    folder = resources.files("services.reporting").joinpath("sql")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [f.read_text() for f in files]


def schema_fingerprint() -> str:
    """The read models' definition: their DDL, and the rules the territory figures were summed
    under (a new ENT rule, or new contributions, refill them)."""
    rules = f"{FIGURES_VERSION}:{sorted(ENT_RULES.items())!r}"
    return hashlib.sha256("\n".join([*schema_sql(), rules]).encode()).hexdigest()[:16]


async def ensure_read_models(conn: asyncpg.Connection) -> None:
    """Create the read models; when their definition changed, drop them and start afresh. They
    are disposable: with positions back at 0, the projector refills them from the logs."""
    fingerprint = schema_fingerprint()
    # Several processes start at once; the advisory lock keeps their DDL from interleaving.
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        if await conn.fetchval("SELECT to_regclass('reporting.meta')") is not None:
            current = await conn.fetchval(
                "SELECT value FROM reporting.meta WHERE key = 'fingerprint'"
            )
            if current == fingerprint:
                return
        if await conn.fetchval("SELECT to_regnamespace('reporting')") is not None:
            log.warning("read_models_reset", reason="definition changed", fingerprint=fingerprint)
            await conn.execute("DROP SCHEMA reporting CASCADE")
        for sql in schema_sql():
            await conn.execute(sql)
        await conn.execute(
            "CREATE TABLE reporting.meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        await conn.executemany(
            "INSERT INTO reporting.meta VALUES ($1, $2)",
            [("fingerprint", fingerprint), ("generation", str(uuid.uuid4()))],
        )


class GenerationChanged(Reconnect):
    """`rebuild` switched the read models while this connection was open: reconnect."""

    event = "read_models_switched_reconnecting"


async def generation_of(conn: asyncpg.Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT value FROM reporting.meta WHERE key = 'generation'"
    )
    return value


async def park(conn: asyncpg.Connection, d: Delivery, reason: str) -> None:
    await consumer.park(conn, PARKED, d, reason)


class ReadModelConsumer(LogConsumer):
    """A consumer of every log that keeps read models of the `reporting` schema: it creates
    them, and reconnects when a rebuild switched them."""

    subjects = ">"
    sources = tuple(SOURCES)
    generation: str | None = None

    async def prepare(self, conn: asyncpg.Connection) -> None:
        await ensure_read_models(conn)
        self.generation = await generation_of(conn)

    async def positions_for_update(self, conn: asyncpg.Connection) -> dict[str, int]:
        positions = await super().positions_for_update(conn)
        if await generation_of(conn) != self.generation:
            raise GenerationChanged
        return positions


class Projector(ReadModelConsumer):
    """Every read model but the territory figures, which `cell_projector.CellProjector` keeps
    beside it, so that neither waits for the other."""

    name = "projector"
    durable = DURABLE
    tracking = "reporting.tracking"
    parked = PARKED
    lock = PROJECTOR_LOCK

    def applier(self, conn: asyncpg.Connection) -> Projection:
        return Projection(conn, cells=False)
