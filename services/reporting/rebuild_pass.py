"""One process's pass of a rebuild over the logs, a chunk a transaction, its folds' state kept
in memory from the first event to the last (`rebuild.py` for the reporting read models,
`cell_rebuild.py` for the territory figures beside it).

A chunk that cannot be applied leaves the memory changed in ways that cannot be told apart: the
pass starts over, that chunk an event at a time, each undone in memory if it fails (then
parked). Nothing is copied to undo in the common case, where nothing fails.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from contextlib import aclosing, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import asyncpg
import structlog

import events
from infra.consumer import CONNECTION_ERRORS, Decode, Delivery, read_logs
from infra.relay import SOURCES, Source

log = structlog.get_logger("rebuild")

# Larger than the projector's chunks: fewer, fuller batches (memory stays far below 1 GiB).
CHUNK = 20_000
# Chunks between two collections. The folds make next to no cyclic garbage (a national
# rebuild: none in the reporting process, 2 295 objects in the territory figures'), and each
# collection walks their whole memory (~0.9 s there): a safety net for logs larger than the
# national one (5 M events between two), which itself needs none.
COLLECT_EVERY = 250


class Superseded(Exception):
    """The generation this pass writes is no longer the one being built (its rebuild ended and
    another started): nothing more is written."""


# Not the events' fault: raised as they are, never a reason to start over or park anything.
_NOT_THE_EVENTS = (*CONNECTION_ERRORS, Superseded)


class Undoable(Protocol):
    def begin(self, uai: str | None) -> None:
        """Keep what an event about `uai` may change, until `commit` or `rollback`."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


M = TypeVar("M", bound=Undoable)
T = TypeVar("T")


@contextmanager
def collected_every(chunks: int) -> Iterator[Callable[[], None]]:
    """Python's collector every `chunks` chunks, not whenever it counts enough new objects: a
    rebuild keeps many objects alive (decoded chunks waiting to be interleaved, the folds'
    memory), which the collector would walk again and again (measured: reading and decoding
    the national logs, 49 s with it, 16 s without). Yields what to call after each chunk."""
    done = 0

    def chunk_done() -> None:
        nonlocal done
        done += 1
        if done % chunks == 0:
            gc.collect()

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield chunk_done
    finally:
        if was_enabled:
            gc.enable()


async def read_ahead(items: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """The items of `items`, the next one read while the current one is used. Closed, it
    closes `items`, whether a read was under way or already done."""
    pending: asyncio.Future[T] = asyncio.ensure_future(anext(items))
    try:
        while True:
            try:
                item = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(items))
            yield item
    finally:
        pending.cancel()  # nothing, if it is done
        # Its item, or what it raised, is not wanted any more: retrieved, not logged as lost.
        with suppress(Exception, asyncio.CancelledError):
            await pending
        await items.aclose()


@dataclass
class PassReport:
    applied: int = 0  # of the events read (those of `types`)
    parked: int = 0
    # How far each log was passed over, its events of the types read or not.
    positions: dict[str, int] = field(default_factory=dict)

    def cover(self, positions: dict[str, int]) -> int:
        """How many positions the logs moved on to `positions` since the last call."""
        moved = sum(p - self.positions.get(s, 0) for s, p in positions.items())
        self.positions.update(positions)
        return moved


def _last_positions(chunk: list[Delivery]) -> dict[str, int]:
    """The position of the last delivery of each log in the chunk."""
    last: dict[str, int] = {}
    for d in reversed(chunk):
        if d.source not in last:
            last[d.source] = d.position
            if len(last) == len(SOURCES):
                break
    return last


class _ChunkFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(f"chunk {index}")
        self.index = index


@dataclass
class RebuildPass(Generic[M]):
    """What a process's pass does with the logs; `run` passes over them until one succeeds."""

    conn: asyncpg.Connection
    sources: Sequence[Source]
    before: dict[str, int]  # positions of each log, excluded
    start: Callable[[], Awaitable[M]]  # empties what the pass writes, and a fresh memory
    apply: Callable[[list[Delivery], M], Awaitable[None]]  # in one transaction
    finish: Callable[[M], Awaitable[None]]  # once every chunk is applied
    park: Callable[[Delivery, Exception], Awaitable[None]]
    progress: Callable[[int], None] | None = None
    types: Sequence[str] | None = None  # only the events of these types, if given
    skipped: Sequence[str] | None = None  # none of these
    decode: Decode = events.decode
    # A connection of its own to read the logs on: the next chunk is then read while one is
    # applied (the applying connection's round trips, `COPY`s and commits, go on meanwhile).
    reader: asyncpg.Connection | None = None

    async def run(self) -> PassReport:
        careful: set[int] = set()
        while True:
            try:
                return await self._pass(careful)
            except _ChunkFailed as failed:
                log.warning("rebuild_started_over", chunk=failed.index)
                careful.add(failed.index)

    async def _pass(self, careful: set[int]) -> PassReport:
        report = PassReport()
        memory = await self.start()
        chunks = read_logs(
            self.reader or self.conn, self.sources, {}, self.before, CHUNK, self.types,
            self.decode, self.skipped,
        )  # fmt: skip
        if self.reader is not None:
            chunks = read_ahead(chunks)
        # Closed however the pass ends: a read ahead may be under way on the reader connection,
        # which the next pass reads on.
        async with aclosing(chunks):
            with collected_every(COLLECT_EVERY) as chunk_done:
                index = 0
                async for chunk in chunks:
                    await self._apply_chunk(chunk, index, careful, memory, report)
                    index += 1
                    chunk_done()
        # Up to the ends, past the last events of the types read.
        moved = report.cover({s.service: self.before[s.service] - 1 for s in self.sources})
        if self.progress is not None and moved:
            self.progress(moved)
        await self.finish(memory)
        return report

    async def _apply_chunk(
        self, chunk: list[Delivery], index: int, careful: set[int], memory: M, report: PassReport
    ) -> None:
        if index in careful:
            for d in chunk:
                applied = await self._apply_alone(d, memory)
                report.applied += applied
                report.parked += not applied
        else:
            try:
                await self.apply(chunk, memory)
            except _NOT_THE_EVENTS:
                raise
            except Exception as exc:
                raise _ChunkFailed(index) from exc
            report.applied += len(chunk)
        moved = report.cover(_last_positions(chunk))
        if self.progress is not None:
            self.progress(moved)

    async def _apply_alone(self, d: Delivery, memory: M) -> bool:
        """One event, undone in memory if it fails (then parked): False when it was."""
        memory.begin(d.event.uai if d.event is not None else None)
        try:
            await self.apply([d], memory)
        except _NOT_THE_EVENTS:
            raise
        except Exception as exc:
            memory.rollback()
            await self.park(d, exc)
            return False
        memory.commit()
        return True
