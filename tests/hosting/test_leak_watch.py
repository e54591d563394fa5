"""The suite's own leak check still sees what a test leaves behind.

``tests/conftest.py`` freezes what collection built (``gc.freeze()``) so that garbage
collections walk only what the tests make; this proves a session left unclosed, and
kept alive only by a reference cycle (so that only a collection finalizes it), is still
reported by :class:`hosting_support.LeakWatch`.
"""

from __future__ import annotations

import asyncio
import gc

import aiohttp
from hosting_support import LeakWatch


def test_an_unclosed_session_in_a_reference_cycle_is_reported() -> None:
    assert gc.get_freeze_count() > 0  # the suite's freeze is on: the case under test

    async def leave_a_session() -> None:
        session = aiohttp.ClientSession()
        cycle: list[object] = [session]
        cycle.append(cycle)  # only a garbage collection can free the session now

    with LeakWatch() as watch:
        asyncio.run(leave_a_session())

    assert any("Unclosed client session" in problem for problem in watch.problems), watch.problems
