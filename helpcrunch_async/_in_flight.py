"""The client's bound on requests in flight (``max_concurrency``): a counter, and a line
of waiters when full.

What ``asyncio.Semaphore`` does for the requestor, without its three coroutines (enter,
acquire, exit) and its scan of the waiters on every request: taking a free slot is a
plain method call. Waiters are served first come, first served; a slot handed to a
waiter that is cancelled before it runs goes on to the next one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

__all__ = ["InFlightLimit"]


class InFlightLimit:
    """``count`` slots; :meth:`take_now` or ``await`` :meth:`take`, then :meth:`give`.

    Example:
        >>> slots = InFlightLimit(1)
        >>> slots.take_now(), slots.take_now()
        (True, False)
        >>> slots.give(); slots.take_now()
        True
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_now(self) -> bool:
        """Take a slot if one is free and nobody waits for one; False otherwise."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait in line for a slot (after :meth:`take_now` said no)."""
        if self.take_now():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as we were cancelled
                self.give()
            raise
        finally:
            if not waiter.done() or waiter.cancelled():
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def give(self) -> None:
        """Give a slot back: straight to the first waiter still waiting, if any."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
