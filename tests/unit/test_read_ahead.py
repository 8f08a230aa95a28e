"""A rebuild's pass reads the next chunk of the logs while it applies one (`read_ahead`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator

import pytest

from services.reporting.rebuild_pass import read_ahead


async def test_the_next_item_is_read_while_the_current_one_is_used() -> None:
    asked: list[int] = []

    async def items() -> AsyncGenerator[int, None]:
        for i in range(4):
            asked.append(i)
            await asyncio.sleep(0)
            yield i

    seen = []
    async for item in read_ahead(items()):
        await asyncio.sleep(0.01)  # the work on an item gives the reader its turn
        # The reader has already asked for the next item.
        assert asked[-1] == min(item + 1, 3)
        seen.append(item)
    assert seen == [0, 1, 2, 3]


async def test_a_reader_that_fails_fails_the_pass_on_its_item() -> None:
    async def items() -> AsyncGenerator[int, None]:
        yield 0
        raise ConnectionResetError("gone")

    seen = []

    async def use_all() -> None:
        async for item in read_ahead(items()):
            seen.append(item)

    with pytest.raises(ConnectionResetError):
        await use_all()
    assert seen == [0]


async def test_a_pass_that_stops_early_stops_the_reader() -> None:
    closed = asyncio.Event()

    async def items() -> AsyncGenerator[int, None]:
        try:
            for i in range(100):
                await asyncio.sleep(0)
                yield i
        finally:
            closed.set()

    ahead = read_ahead(items())
    async for item in ahead:
        if item == 2:
            break
    await ahead.aclose()
    assert closed.is_set()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_a_pass_that_stops_once_the_next_item_is_read_closes_the_reader() -> None:
    closed = asyncio.Event()

    async def items() -> AsyncGenerator[int, None]:
        try:
            for i in range(100):
                yield i  # at once: the read ahead is done before the item is used
        finally:
            closed.set()

    ahead = read_ahead(items())
    async for item in ahead:
        await asyncio.sleep(0.01)
        if item == 2:
            break
    await ahead.aclose()
    assert closed.is_set()


async def test_what_the_read_ahead_raised_after_the_pass_stopped_is_not_left_unretrieved() -> None:
    lost: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: lost.append(context))

    async def items() -> AsyncGenerator[int, None]:
        yield 0
        raise ConnectionResetError("gone")

    ahead = read_ahead(items())
    async for _ in ahead:
        await asyncio.sleep(0.01)  # the read of the next item fails meanwhile
        break
    await ahead.aclose()
    gc.collect()  # a future dropped with its exception unretrieved reports it then
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert lost == []
