"""PerLoop: one value per event loop, closed on that loop when it ends (issue 19)."""

from __future__ import annotations

import asyncio
import gc
import threading

from helpcrunch_async._per_loop import _HOOKS, PerLoop


class Pool:
    """Stands in for an aiohttp session: its close() awaits before it is done."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_on: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        await asyncio.sleep(0.01)  # a close that takes loop iterations, as a session's does
        self.closed_on = asyncio.get_running_loop()


async def _close(pool: Pool) -> None:
    await pool.close()


def test_each_loop_gets_its_own_value_closed_when_the_loop_ends() -> None:
    pools: PerLoop[Pool] = PerLoop(Pool, _close)

    async def use() -> Pool:
        assert pools.get() is pools.get()  # one per loop
        return pools.get()

    first, second = asyncio.run(use()), asyncio.run(use())
    assert first is not second
    assert first.closed_on is first.loop  # closed on its own loop, as it ended
    assert second.closed_on is second.loop
    assert pools.values() == []


def test_a_value_outlives_a_dropped_owner_and_is_closed_when_its_loop_ends() -> None:
    # A client (and its PerLoop) dropped while its loop lives on -- a fixture closed
    # between two tests on a module-scoped loop: the pool must still be closed, and
    # fully (its close awaited), when the loop shuts down.
    with asyncio.Runner() as runner:
        pools = PerLoop(Pool, _close)
        pool = runner.run(_get(pools))
        del pools
        gc.collect()
        assert pool.closed_on is None  # the loop lives on: still open
        runner.run(asyncio.sleep(0))  # the loop runs again, for another test
        assert pool.closed_on is None
    assert pool.closed_on is pool.loop
    assert pool.loop not in _HOOKS  # the hooks went with their loop


async def _get(pools: PerLoop[Pool]) -> Pool:
    return pools.get()


def test_aclose_closes_the_value_of_a_loop_running_in_another_thread() -> None:
    pools: PerLoop[Pool] = PerLoop(Pool, _close)
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        elsewhere = asyncio.run_coroutine_threadsafe(_get(pools), other).result(5)

        async def here() -> Pool:
            mine = pools.get()
            await pools.aclose()
            return mine

        mine = asyncio.run(here())
        assert mine.closed_on is mine.loop
        assert elsewhere.closed_on is other  # closed on its own loop, in its thread
        assert pools.values() == []
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()


def test_a_loop_closed_without_shutting_down_is_let_go() -> None:
    pools: PerLoop[Pool] = PerLoop(Pool)  # nothing to close
    loop = asyncio.new_event_loop()
    first = loop.run_until_complete(_get(pools))
    loop.close()  # no shutdown_asyncgens
    second = asyncio.run(_get(pools))
    assert pools.values() == [second]  # the closed loop's entry was dropped
    assert first is not second
