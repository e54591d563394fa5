"""``ReadAhead``: a blocking iterator read in a thread, for a consumer on the event loop —
in order, its error after its items, a bounded read-ahead, a close that ends a wait at
once, and the input let go exactly once, never under a read in flight."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from helpcrunch_async.cli._common import InputError
from helpcrunch_async.cli._read_ahead import ReadAhead


class _Released:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_items_in_order_then_the_error_the_iterator_raised() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("cannot read standard input: Input/output error")

    released = _Released()
    reader = ReadAhead(items(), release=released)
    got = [await anext(reader), await anext(reader)]
    with pytest.raises(InputError, match="Input/output error"):
        await anext(reader)
    assert got == [1, 2]
    reader.close()
    reader.close()
    assert released.count == 1


async def test_the_loop_runs_while_a_read_waits() -> None:
    go_on = threading.Event()

    def items() -> Iterator[str]:
        yield "first"
        go_on.wait(10)  # a pipe whose writer pauses
        yield "second"

    reader = ReadAhead(items(), release=_Released())
    assert await anext(reader) == "first"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while not go_on.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    asyncio.get_running_loop().call_later(0.3, go_on.set)
    assert await anext(reader) == "second"
    await ticker
    assert ticks >= 10  # the loop went on while the thread waited in its read
    reader.close()


async def test_reads_at_most_ahead_items_before_they_are_taken() -> None:
    read = 0

    def items() -> Iterator[int]:
        nonlocal read
        for number in range(1000):
            read += 1
            yield number

    reader = ReadAhead(items(), release=_Released(), ahead=5)
    assert await anext(reader) == 0
    await asyncio.sleep(0.3)
    assert read <= 5 + 2  # the queue, the item taken and the one in the thread's hand
    assert [await anext(reader) for _ in range(10)] == list(range(1, 11))
    reader.close()


async def test_close_ends_a_wait_at_once_and_lets_go_once_the_read_returns() -> None:
    go_on = threading.Event()
    released = _Released()

    def items() -> Iterator[int]:
        go_on.wait(10)  # a terminal nobody types on
        yield 1

    reader = ReadAhead(items(), release=released)
    waiting = asyncio.create_task(anext(reader))
    await asyncio.sleep(0.1)
    start = time.monotonic()
    reader.close()
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert time.monotonic() - start < 1
    assert released.count == 0  # not under the read in flight
    go_on.set()
    for _ in range(100):
        if released.count:
            break
        await asyncio.sleep(0.01)
    assert released.count == 1
    with pytest.raises(StopAsyncIteration):
        await anext(reader)  # read nothing more, though an item came


async def test_never_iterated_lets_go_at_close() -> None:
    released = _Released()
    reader = ReadAhead(iter([1]), release=released)
    reader.close()
    assert released.count == 1
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
