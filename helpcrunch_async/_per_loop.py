"""One value per event loop, made on first use in that loop, closed when that loop ends.

An ``aiohttp.ClientSession``, an ``asyncio`` future or a line of waiters belongs to the
event loop it was made in. A client used from several loops -- one ``asyncio.run`` per
Celery task, one loop per pytest test, two threads each running a loop -- needs one of
each per loop. :class:`PerLoop` keeps them:

* :meth:`PerLoop.get` returns the running loop's value, making it on first use. The
  value of the loop used last is found without a lock or a dictionary look-up.
* When a loop ends -- ``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio call
  ``loop.shutdown_asyncgens()`` before they close it -- its value's ``close`` runs on
  that loop. The hook is an async generator the loop is made to track: a loop closes
  every async generator it tracks when it shuts down, so the caller has nothing to do.
  The hooks are held for their loop's life by this module, not by the ``PerLoop``: a
  client dropped while its loop lives on still has its pool closed when the loop ends
  (inside ``shutdown_asyncgens``, awaited, not by a garbage collector's late task).
  (A loop closed with ``loop.close()`` alone closes nothing: call ``aclose()`` first.)
* :meth:`PerLoop.aclose` closes every loop's value: the running loop's at once, one on a
  loop running in another thread through that loop; a loop that is not running keeps
  its hook and closes its value when it ends.
* After ``os.fork()`` the child forgets the parent's values without closing them
  (their sockets are the parent's too).

Example:
    >>> import asyncio
    >>> made = PerLoop(list)
    >>> async def first() -> list[int]:
    ...     made.get().append(1)
    ...     return made.get()
    >>> asyncio.run(first()), asyncio.run(first())   # a new loop, a new value
    ([1], [1])
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")

_CLOSE_ELSEWHERE_TIMEOUT = 10.0  # seconds to wait for a value closed on another thread's loop


class _Entry(Generic[T]):
    """One loop's value, and the async generator whose ``finally`` closes it."""

    __slots__ = ("closed", "hook", "value")

    def __init__(self, value: T) -> None:
        self.value = value
        self.closed = False
        self.hook: AsyncGenerator[None, None] | None = None


class PerLoop(Generic[T]):
    """``make()`` once per event loop; ``await close(value)`` when that loop ends.

    Args:
        make: builds the value; called in the loop it is for.
        close: closes a value, on its own loop (``None``: nothing to close).
    """

    def __init__(
        self, make: Callable[[], T], close: Callable[[T], Awaitable[None]] | None = None
    ) -> None:
        self._make = make
        self._close = close
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Entry[T]] = (
            weakref.WeakKeyDictionary()
        )
        # (loop, value) of the loop used last: one attribute, read and written whole, so
        # that a thread never sees one loop's value paired with another loop.
        self._last: tuple[asyncio.AbstractEventLoop, T] | None = None
        _ALL.add(self)

    def get(self) -> T:
        """The running loop's value (made now if this loop has none)."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        return self._get_slow(loop)

    def _get_slow(self, loop: asyncio.AbstractEventLoop) -> T:
        with self._lock:
            entry = self._entries.get(loop)
            if entry is None:
                # A loop closed without shutting down (loop.close() alone) never comes
                # back; its entry (whose hook refers to the loop) would keep it alive.
                for old in [old for old in self._entries if old.is_closed()]:
                    del self._entries[old]
                entry = _Entry(self._make())
                if self._close is not None:
                    entry.hook = _track(self._closing_hook(loop, entry), loop)
                self._entries[loop] = entry
            self._last = (loop, entry.value)
            return entry.value

    def values(self) -> list[T]:
        """Every loop's value (for inspection and tests)."""
        with self._lock:
            return [entry.value for entry in self._entries.values()]

    async def _closing_hook(
        self, loop: asyncio.AbstractEventLoop, entry: _Entry[T]
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if self._entries.get(loop) is entry:
                    del self._entries[loop]
                last = self._last
                if last is not None and last[0] is loop:
                    self._last = None
            _untrack(entry.hook, loop)
            await self._close_entry(entry)

    async def _close_entry(self, entry: _Entry[T]) -> None:
        if entry.closed or self._close is None:
            return
        entry.closed = True
        await self._close(entry.value)

    async def aclose(self) -> None:
        """Close every loop's value; ``get()`` makes new ones afterwards.

        A value on a loop that is not running now stays until that loop ends (its hook
        closes it then).
        """
        current = asyncio.get_running_loop()
        with self._lock:
            entries = [
                (loop, entry)
                for loop, entry in self._entries.items()
                if loop is current or loop.is_running()
            ]
            for loop, _ in entries:
                del self._entries[loop]
            self._last = None
        for loop, entry in entries:
            # Closing the hook runs its `finally` (the value closed, the hook let go)
            closing = entry.hook.aclose() if entry.hook is not None else self._close_entry(entry)
            if loop is current:
                await closing
            else:
                with contextlib.suppress(RuntimeError, TimeoutError):  # closed meanwhile
                    future = asyncio.run_coroutine_threadsafe(_awaited(closing), loop)
                    await asyncio.wait_for(asyncio.wrap_future(future), _CLOSE_ELSEWHERE_TIMEOUT)


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


# The closing hooks of every live loop, held here for as long as the loop lives (the
# loop itself tracks them only weakly): loop -> hooks not yet run.
_HOOKS: dict[asyncio.AbstractEventLoop, set[AsyncGenerator[None, None]]] = {}
_HOOKS_LOCK = threading.Lock()


def _track(
    hook: AsyncGenerator[None, None], loop: asyncio.AbstractEventLoop
) -> AsyncGenerator[None, None]:
    """Start ``hook`` on ``loop`` (the running loop) and hold it until it has run."""
    # Calling asend() hands the generator to the loop's "first iteration" hook (the
    # loop now tracks it); stepping the awaitable once runs it up to its `yield`.
    # No await: nothing in the generator before its `yield` suspends.
    step = hook.asend(None)
    with contextlib.suppress(StopIteration):
        step.send(None)
    with _HOOKS_LOCK:
        for old in [old for old in _HOOKS if old.is_closed()]:  # closed without shutdown
            del _HOOKS[old]
        _HOOKS.setdefault(loop, set()).add(hook)
    return hook


def _untrack(hook: AsyncGenerator[None, None] | None, loop: asyncio.AbstractEventLoop) -> None:
    with _HOOKS_LOCK:
        hooks = _HOOKS.get(loop)
        if hooks is not None and hook is not None:
            hooks.discard(hook)
            if not hooks:
                del _HOOKS[loop]


# Every PerLoop, for a forked child: the parent's values are the parent's.
_ALL: weakref.WeakSet[PerLoop[Any]] = weakref.WeakSet()
_ABANDONED_AFTER_FORK: list[object] = []  # kept referenced, never used, never closed


def _forget_after_fork() -> None:
    global _HOOKS_LOCK
    _ABANDONED_AFTER_FORK.append(dict(_HOOKS))
    _HOOKS.clear()
    _HOOKS_LOCK = threading.Lock()
    for per_loop in list(_ALL):
        entries = list(per_loop._entries.values())
        for entry in entries:
            entry.closed = True  # its hook must not close it either
        _ABANDONED_AFTER_FORK.append(entries)
        per_loop._entries = weakref.WeakKeyDictionary()
        per_loop._last = None
        per_loop._lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
