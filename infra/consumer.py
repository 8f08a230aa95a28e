"""A durable JetStream consumer that keeps tables from the write services' events.

Each batch of messages is applied with the tracking positions in one transaction, then acked,
so a redelivered or duplicated event changes nothing. Positions are per source (the write
service's notification id, carried in a header): an event at or below its source's position is a
copy; an event above `position + 1` reveals a gap, which is filled straight from the source's log
in PostgreSQL, the system of record. An event that cannot be applied is parked with its reason.

A subclass says what it follows and where it keeps its positions and parked events, and gives
the `applier` that writes its own tables (the reporting projector, the label register).
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Protocol

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

import events
from events.envelope import Event
from infra.jetstream import connect, ensure_stream
from infra.relay import POSITION_HEADER, SOURCE_HEADER, SOURCES, Source, table_exists
from infra.settings import DatabaseSettings, NatsSettings

log = structlog.get_logger("consumer")

LOG_CHUNK = 5000


@dataclass(slots=True)
class Delivery:
    msg: Msg | None
    source: str
    position: int
    data: bytes
    subject: str
    event: Event | None = None  # already decoded from `data`, when it was needed to order it


def delivery_of(msg: Msg) -> Delivery | None:
    headers = msg.headers or {}
    try:
        return Delivery(
            msg, headers[SOURCE_HEADER], int(headers[POSITION_HEADER]), msg.data, msg.subject
        )
    except (KeyError, ValueError):
        return None


class Applier(Protocol):
    """Applies events, in order, on one open transaction; `flush` before committing."""

    async def apply(self, event: Event, source: str, position: int, data: bytes) -> None: ...

    async def flush(self) -> None: ...


class Reconnect(Exception):
    """The connection no longer addresses the right tables: open another and apply again."""

    event = "reconnecting"


# Not the events' fault: raised as they are, never a reason to park anything.
CONNECTION_ERRORS = (asyncpg.PostgresConnectionError, OSError, Reconnect)


async def read_log(
    conn: asyncpg.Connection,
    source: Source,
    after: int,
    before: int | None,
    chunk: int = LOG_CHUNK,
    topics: Sequence[str] | None = None,
    skipped: Sequence[str] | None = None,
) -> AsyncIterator[list[Delivery]]:
    """Events of a source's log in (after, before), straight from PostgreSQL, a chunk at a time
    (none while the write service has not created its log); only those of these event types,
    if given, and none of the `skipped` ones (the stored topic is the event's type)."""
    if not await table_exists(conn, source):
        return
    while True:
        rows = await conn.fetch(
            f"SELECT notification_id, state FROM {source.qualified_table} "  # noqa: S608
            "WHERE notification_id > $1 AND ($2::bigint IS NULL OR notification_id < $2) "
            "AND ($4::text[] IS NULL OR topic = ANY($4::text[])) "
            "AND ($5::text[] IS NULL OR topic <> ALL($5::text[])) "
            "ORDER BY notification_id LIMIT $3",
            after,
            before,
            chunk,
            None if topics is None else list(topics),
            None if skipped is None else list(skipped),
        )
        if not rows:
            return
        yield [Delivery(None, source.service, r["notification_id"], r["state"], "") for r in rows]
        after = rows[-1]["notification_id"]


_EARLIEST = datetime.min.replace(tzinfo=UTC)


Decode = Callable[[bytes], Event]


def _decoded(data: bytes, decode: Decode) -> Event | None:
    try:
        return decode(data)
    except Exception:  # undecodable: whoever applies it parks it, with the reason
        return None


# A delivery's place in the interleaving: the latest recording moment of its log up to it (so
# that a log's own order is kept), its log's rank among the logs, its rank within its log.
Keyed = tuple[datetime, int, int, Delivery]


@dataclass
class _Log:
    reader: AsyncIterator[list[Delivery]]
    rank: int
    keyed: list[Keyed]
    decode: Decode
    latest: datetime = _EARLIEST
    read: int = 0
    done: bool = False

    async def fill(self) -> None:
        """Read the log's next chunk (while it has one), decoding and keying each event."""
        while not self.keyed and not self.done:
            try:
                found = await anext(self.reader)
            except StopAsyncIteration:
                self.done = True
                return
            for d in found:
                d.event = _decoded(d.data, self.decode)
                if d.event is not None and d.event.recorded_at > self.latest:
                    self.latest = d.event.recorded_at
                self.keyed.append((self.latest, self.rank, self.read, d))
                self.read += 1


async def read_logs(
    conn: asyncpg.Connection,
    sources: Sequence[Source],
    after: Mapping[str, int],
    before: Mapping[str, int] | None = None,
    chunk: int = LOG_CHUNK,
    topics: Sequence[str] | None = None,
    decode: Decode = events.decode,
    skipped: Sequence[str] | None = None,
) -> AsyncGenerator[list[Delivery], None]:
    """The events of several logs after their positions (and before `before`), as one sequence
    in the order they were recorded: each log in its own order, the logs interleaved by the
    moment their events were recorded (read one log after the other, the events of the second
    would all come after later ones of the first). Each delivery carries its event, decoded by
    `decode`. `topics`: only the events of these types; `skipped`: none of these."""
    logs = [
        _Log(
            aiter(
                read_log(
                    conn,
                    s,
                    after.get(s.service, 0),
                    None if before is None else before[s.service],
                    chunk,
                    topics,
                    skipped,
                )
            ),
            rank,
            [],
            decode,
        )
        for rank, s in enumerate(sources)
    ]
    for log_ in logs:
        await log_.fill()
    out: list[Delivery] = []
    while any(log_.keyed for log_ in logs):
        # What every log still to be read comes after: up to there, the logs read so far can be
        # interleaved, a chunk at a time (a sort of runs, not a comparison an event).
        unread = [log_.keyed[-1][0] for log_ in logs if not log_.done and log_.keyed]
        horizon = min(unread) if unread else None
        taken: list[Keyed] = []
        for log_ in logs:
            upto = (
                len(log_.keyed)
                if horizon is None
                else bisect_right(log_.keyed, horizon, key=_moment)
            )
            taken += log_.keyed[:upto]
            del log_.keyed[:upto]
        # (moment, log, rank in log) is unique: the deliveries themselves are never compared.
        taken.sort()
        out += [k[3] for k in taken]
        while len(out) >= chunk:
            yield out[:chunk]
            del out[:chunk]
        for log_ in logs:
            await log_.fill()
    if out:
        yield out


def _moment(k: Keyed) -> datetime:
    return k[0]


async def park(conn: asyncpg.Connection, table: str, d: Delivery, reason: str) -> None:
    log.error(
        "event_parked", source=d.source, position=d.position, subject=d.subject, reason=reason
    )
    await conn.execute(
        f"INSERT INTO {table} (source, position, subject, reason, data) "  # noqa: S608
        "VALUES ($1, $2, $3, $4, $5)",
        d.source,
        d.position,
        d.subject,
        reason,
        d.data,
    )


async def relayed_positions(conn: asyncpg.Connection) -> dict[str, int]:
    """How far the relay went in each log (nothing before it ever ran)."""
    if await conn.fetchval("SELECT to_regclass('relay.positions')") is None:
        return {}
    return {
        r["source"]: r["position"]
        for r in await conn.fetch("SELECT source, position FROM relay.positions")
    }


class LogConsumer:
    name: ClassVar[str]  # of its log events and NATS connection
    durable: ClassVar[str]
    subjects: ClassVar[str]  # what it follows, under the subject root
    sources: ClassVar[tuple[str, ...]]  # the logs it accepts events of
    tracking: ClassVar[str]  # table (source, position, updated_at)
    parked: ClassVar[str]  # table (source, position, subject, reason, data)
    lock: ClassVar[int | None] = None  # advisory lock each batch's transaction holds
    # With ALL, one ack after the batch is committed acknowledges the whole batch. JetStream
    # cannot change a durable's ack policy: a consumer created with EXPLICIT acks each message.
    ack_policy: ClassVar[AckPolicy] = AckPolicy.ALL

    def __init__(
        self,
        database: DatabaseSettings | None = None,
        nats: NatsSettings | None = None,
        batch: int = 500,
    ) -> None:
        """The settings are needed to `run`; the rest works on the connection it is given."""
        self.database = database
        self.nats = nats
        self.batch = batch
        self.applied = 0

    def applier(self, conn: asyncpg.Connection) -> Applier:
        raise NotImplementedError

    async def prepare(self, conn: asyncpg.Connection) -> None:
        """On each new connection, before anything is applied: create the tables, etc."""

    async def positions_for_update(self, conn: asyncpg.Connection) -> dict[str, int]:
        if self.lock is not None:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self.lock)
        await conn.execute(
            f"INSERT INTO {self.tracking} (source) SELECT unnest($1::text[]) "
            "ON CONFLICT DO NOTHING",
            list(self.sources),
        )
        rows = await conn.fetch(
            f"SELECT source, position FROM {self.tracking} "  # noqa: S608
            "WHERE source = ANY($1::text[]) FOR UPDATE",
            list(self.sources),
        )
        return {r["source"]: r["position"] for r in rows}

    async def save_positions(self, conn: asyncpg.Connection, positions: dict[str, int]) -> None:
        await conn.executemany(
            f"UPDATE {self.tracking} SET position = $2, updated_at = now() "  # noqa: S608
            "WHERE source = $1",
            list(positions.items()),
        )

    async def apply_deliveries(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery], positions: dict[str, int]
    ) -> int:
        """Apply, in order, what is new; fill gaps from the log. Returns how many were applied."""
        applier = self.applier(conn)
        applied = 0
        for d in deliveries:
            current = positions.get(d.source)
            if current is None or d.position <= current:
                continue
            if d.position > current + 1:
                filled = 0
                async for chunk in read_log(conn, SOURCES[d.source], current, d.position):
                    for m in chunk:
                        await applier.apply(events.decode(m.data), m.source, m.position, m.data)
                    await applier.flush()
                    filled += len(chunk)
                if filled:
                    log.warning("gap_filled", source=d.source, after=current, count=filled)
                applied += filled
            event = d.event if d.event is not None else events.decode(d.data)
            await applier.apply(event, d.source, d.position, d.data)
            positions[d.source] = d.position
            applied += 1
        await applier.flush()
        return applied

    async def _apply_in_transaction(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery]
    ) -> None:
        async with conn.transaction():
            positions = await self.positions_for_update(conn)
            self.applied += await self.apply_deliveries(conn, deliveries, positions)
            await self.save_positions(conn, positions)

    async def _apply_batch(self, conn: asyncpg.Connection, batch: Sequence[Delivery]) -> None:
        try:
            await self._apply_in_transaction(conn, batch)
        except CONNECTION_ERRORS:
            raise
        except Exception:
            log.warning("batch_failed_retrying_one_by_one", size=len(batch))
            for d in batch:
                await self._apply_one(conn, d)

    async def _apply_one(self, conn: asyncpg.Connection, d: Delivery) -> None:
        try:
            await self._apply_in_transaction(conn, [d])
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:
            # A poison event is parked with its reason, never retried forever; but first, the
            # record may hold intact bytes of a message damaged on its way.
            if d.msg is not None and await self._apply_from_log(conn, d):
                return
            # What lies between our position and this event goes first (it rolled back with
            # the failed transaction), so that parking moves past this event alone.
            current = (await self.current_positions(conn)).get(d.source)
            if current is not None and d.position > current + 1:
                async for chunk in read_log(conn, SOURCES[d.source], current, d.position):
                    await self._apply_batch(conn, chunk)
            async with conn.transaction():
                positions = await self.positions_for_update(conn)
                if d.position > positions.get(d.source, d.position):
                    await park(conn, self.parked, d, f"{type(exc).__name__}: {exc}")
                    positions[d.source] = d.position
                    await self.save_positions(conn, positions)

    async def _apply_from_log(self, conn: asyncpg.Connection, d: Delivery) -> bool:
        """True when the log's own bytes for this position applied."""
        source = SOURCES.get(d.source)
        if source is None:
            return False
        async for chunk in read_log(conn, source, d.position - 1, d.position + 1):
            if chunk[0].data == d.data:
                return False
            try:
                await self._apply_in_transaction(conn, chunk)
            except CONNECTION_ERRORS:
                raise
            except Exception:
                return False  # the record itself cannot be applied: park it
            log.warning("applied_from_log", source=d.source, position=d.position)
            return True
        return False

    async def current_positions(self, conn: asyncpg.Connection) -> dict[str, int]:
        """Where each followed source stands (0 before its first event)."""
        positions = dict.fromkeys(self.sources, 0)
        for r in await conn.fetch(f"SELECT source, position FROM {self.tracking}"):  # noqa: S608
            if r["source"] in positions:
                positions[r["source"]] = r["position"]
        return positions

    async def _reconnect(self, conn: asyncpg.Connection, exc: Reconnect) -> asyncpg.Connection:
        assert self.database is not None
        log.info(exc.event)
        await conn.close()
        conn = await asyncpg.connect(self.database.url)
        await self.prepare(conn)
        return conn

    async def catch_up_from_log(
        self, conn: asyncpg.Connection, upto: dict[str, int] | None = None
    ) -> int:
        """Apply what the logs hold after our positions, up to the positions `upto` (included)
        or to their ends: nothing may depend on JetStream alone keeping an event. Returns how
        many events were read."""
        ours = await self.current_positions(conn)
        behind = [s for s in self.sources if upto is None or upto.get(s, 0) > ours.get(s, 0)]
        before = None if upto is None else {s: upto[s] + 1 for s in behind}
        read = 0
        # The logs interleaved as they were recorded, as the bus would have delivered them.
        async for missing in read_logs(conn, [SOURCES[s] for s in behind], ours, before):
            log.warning("caught_up_from_log", count=len(missing))
            await self._apply_batch(conn, missing)
            read += len(missing)
        return read

    async def run(self, stop: asyncio.Event, idle_timeout: float = 1.0) -> None:
        database, settings = self.database, self.nats
        if database is None or settings is None:
            raise RuntimeError("a consumer runs with its database and NATS settings")
        conn: asyncpg.Connection = await asyncpg.connect(database.url)
        await self.prepare(conn)
        nc = await connect(settings, name=f"numecole-{self.name.replace('_', '-')}")
        js = nc.jetstream()
        await ensure_stream(js, settings)
        sub = await js.pull_subscribe(
            f"{settings.subject_root}.{self.subjects}",
            durable=self.durable,
            stream=settings.stream,
            config=ConsumerConfig(
                durable_name=self.durable,
                ack_policy=self.ack_policy,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=20_000,
            ),
        )
        log.info(f"{self.name}_started", stream=settings.stream)
        quiet = 0
        # The next batch is fetched while the current one is written: NATS and PostgreSQL
        # round trips overlap instead of adding up.
        fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
        try:
            while not stop.is_set():
                try:
                    msgs = await fetching
                except TimeoutError:  # nats raises its own or asyncio's, both TimeoutError
                    fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
                    quiet += 1
                    if quiet >= 2:
                        # The bus is quiet but the relay may have gone further than we did.
                        try:
                            await self.catch_up_from_log(conn, await relayed_positions(conn))
                        except Reconnect as exc:
                            conn = await self._reconnect(conn, exc)  # and again when quiet
                        quiet = 0
                    continue
                fetching = asyncio.ensure_future(sub.fetch(self.batch, timeout=idle_timeout))
                quiet = 0
                batch: list[Delivery] = []
                for msg in msgs:
                    d = delivery_of(msg)
                    if d is None or d.source not in self.sources:
                        log.error("message_without_position", subject=msg.subject)
                        await msg.term()
                        continue
                    batch.append(d)
                started = time.perf_counter()
                try:
                    await self._apply_batch(conn, batch)
                except Reconnect as exc:
                    conn = await self._reconnect(conn, exc)
                    await self._apply_batch(conn, batch)
                log.debug(
                    "batch_applied",
                    size=len(batch),
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )
                for d in batch[-1:] if self.ack_policy is AckPolicy.ALL else batch:
                    assert d.msg is not None
                    await d.msg.ack()
        finally:
            fetching.cancel()
            # Unacked messages are simply redelivered: no need to drain a pull subscription.
            await sub.unsubscribe()
            await nc.close()
            await conn.close()
            log.info(f"{self.name}_stopped", applied=self.applied)
