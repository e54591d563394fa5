"""The in-flight bound (``_in_flight.InFlightLimit``): FIFO, and no slot lost on cancel."""

from __future__ import annotations

import asyncio

from helpcrunch_async._in_flight import InFlightLimit


async def test_take_now_until_full_then_give_back() -> None:
    slots = InFlightLimit(2)
    assert slots.take_now()
    assert slots.take_now()
    assert not slots.take_now()
    slots.give()
    assert slots.take_now()


async def test_waiters_are_served_in_order() -> None:
    slots = InFlightLimit(1)
    assert slots.take_now()
    order: list[int] = []

    async def worker(n: int) -> None:
        await slots.take()
        order.append(n)
        await asyncio.sleep(0)
        slots.give()

    tasks = [asyncio.create_task(worker(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert not slots.take_now()  # people are waiting: no jumping the line
    slots.give()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert slots.take_now()
    assert not slots.take_now()


async def test_a_waiter_cancelled_while_waiting_leaves_the_line() -> None:
    slots = InFlightLimit(1)
    assert slots.take_now()
    waiting = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    slots.give()
    assert slots.take_now()
    assert not slots.take_now()


async def test_a_slot_handed_to_a_cancelled_waiter_goes_on() -> None:
    slots = InFlightLimit(1)
    assert slots.take_now()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to `first`, which is cancelled before it runs
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)  # it got the slot `first` could not use
    assert first.cancelled()
    assert not slots.take_now()
    slots.give()
    assert slots.take_now()
