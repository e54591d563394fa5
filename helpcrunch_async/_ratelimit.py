"""Client-side rate limiting: the :class:`RateLimiter` interface and :class:`RateLimit`.

A client asks its limiter before every attempt it sends (retries included) and tells
it how each attempt went; any object with the three methods of :class:`RateLimiter`
will do (:class:`~helpcrunch_async.RedisRateLimit` shares one budget between processes).

:class:`RateLimit` -- the default -- keeps its state in the process: a schedule of send
times, a shared 429 pause, and AIMD. HelpCrunch allows 120 requests a minute and answers
429 beyond that. Every 429 is a wasted request, so the client paces itself:

* **Evenly spaced from the first request, no burst.** Each request takes the next free
  send time, ``interval`` after the one before: the first goes at once, the second
  ``interval`` later, and so on (a token bucket holding one token, written as its
  schedule: the "virtual scheduling" form of the generic cell rate algorithm).
  ``interval`` is ``period / requests`` plus slack for the jitter between us and the
  server: 1.5 % of the period, at least 50 ms a period. Any window of ``period``
  seconds therefore holds at most ``requests`` send times, for a fresh client too.
* **One budget for every event loop and thread.** The schedule is a few numbers under a
  lock, on the process's monotonic clock; each request waits on its own event loop.
  One ``RateLimit`` serves any number of clients, loops (one ``asyncio.run`` after
  another, or several at once in threads) and blocking clients. (aiolimiter, which this
  replaced, belongs to one event loop: shared by two loops it raises ``RuntimeError``.)
* **A cancelled wait gives its send time back.** The next request takes it, so a
  caller that gives up (a web handler whose client went away) costs nothing and sends
  nothing. :meth:`RateLimit.acquire_within` does not even queue when the budget has no
  send time before the caller's deadline: it answers ``False`` at once.
* **One pause for everyone.** On a 429 every request waiting on this limiter pauses
  until the same moment (``Retry-After`` when the server sent one), then they resume
  one ``interval`` apart.
* **Adaptive rate.** 429s that keep coming while pacing at the configured rate mean
  someone else spends the same budget (another process on the key). A 429 episode
  that starts within ``period`` of the previous one halves the rate (down to 1/16 of
  it); after a quiet ``period`` with no 429 it climbs back by a tenth every
  ``period / 10`` seconds (additive increase, multiplicative decrease).

Whether HelpCrunch counts the limit per key or per organisation is not documented.

Example:
    >>> import helpcrunch_async as hc
    >>> shared = hc.RateLimit(requests=120, period=60.0)   # one budget...
    >>> a = hc.AsyncHelpCrunch("key", rate_limit=shared)   # ...for both clients
    >>> b = hc.AsyncHelpCrunch("key", rate_limit=shared)
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import math
import os
import sys
import threading
import time
import weakref
from typing import Protocol, runtime_checkable

from ._validation import check_int, check_seconds

__all__ = ["PauseGate", "RateLimit", "RateLimiter", "check_budget", "key_digest"]

_MARGIN = 1.015  # pace 1.5 % under the limit: slack for jitter between us and the server
_MIN_SLACK = 0.05  # ...and at least this many seconds a period (a short period's 1.5 % is thin)
_MIN_FACTOR = 1 / 16
_STEP = 0.1


@runtime_checkable
class RateLimiter(Protocol):
    """What a client needs from a rate limiter: plug in your own with these three methods.

    The client (its requestor, nothing else) calls them on the event loop of the call,
    which may be any loop and any thread (one client may be used from several):

    * ``await acquire()`` before **every** attempt it sends -- a retry too -- and sends
      as soon as it returns. Wait here for as long as the budget needs. A cancelled
      ``acquire()`` must leave the limiter usable (and should give its turn back).
    * ``on_rate_limited(pause)`` when an attempt got 429: ``pause`` is the seconds to
      hold requests back -- the answer's ``Retry-After`` (capped at the client's
      ``max_retry_after``) or, without one, the retry backoff. The client retries the
      request through ``acquire()`` right after (when it has retries left), so the
      limiter decides when that retry and everything else goes.
    * ``on_success()`` when an attempt got a 2xx answer.

    The two callbacks are plain functions: they must not block (do any I/O in the
    next ``acquire()`` or in a task). A limiter may be shared by several clients.

    Optional methods, called when the limiter has them:

    * ``bind_key(digest)`` once when a client is created, with a one-way digest of its
      API key (to key shared state by; the key itself is never given);
    * ``await aclose()`` when a client is closed, on the loop closing it (to release
      connections opened on that loop);
    * ``await acquire_within(max_wait) -> bool`` instead of ``acquire()`` for a call
      with a deadline: like ``acquire()``, but answer ``False`` at once, holding
      nothing, when the next send time is more than ``max_wait`` seconds away. Without
      it such a call waits in ``acquire()`` until its deadline, then fails.

    :class:`RateLimit` (one process) and :class:`~helpcrunch_async.RedisRateLimit`
    (many processes, state in Redis) implement all of them but ``bind_key``/``aclose``
    (``RateLimit`` needs neither).

    Example:
        >>> import asyncio, helpcrunch_async as hc
        >>> class OnePerSecond:
        ...     def __init__(self) -> None:
        ...         self.lock = asyncio.Lock()
        ...     async def acquire(self) -> None:
        ...         async with self.lock:            # one at a time,
        ...             await asyncio.sleep(1.0)     # a second apart
        ...     def on_rate_limited(self, pause: float) -> None:
        ...         print(f"429: pausing {pause:.1f} s")
        ...     def on_success(self) -> None:
        ...         pass
        >>> isinstance(OnePerSecond(), hc.RateLimiter)
        True
        >>> client = hc.AsyncHelpCrunch("key", rate_limit=OnePerSecond())
    """

    async def acquire(self) -> None:
        """Return when the next attempt may be sent."""

    def on_rate_limited(self, pause: float) -> None:
        """An attempt got 429; hold requests back for ``pause`` seconds."""

    def on_success(self) -> None:
        """An attempt got a 2xx answer."""


def check_budget(requests: int, period: float) -> tuple[int, float]:
    """``(requests, float(period))`` once both are valid; a :class:`ValidationError` if not.

    Example:
        >>> check_budget(120, 60)
        (120, 60.0)
    """
    return (
        check_int("requests", requests, minimum=1, maximum=sys.maxsize),
        check_seconds("period", period),
    )


def key_digest(api_key: str) -> str:
    """A one-way name for an API key, to key shared state by (never the key itself).

    Example:
        >>> len(key_digest("sk-secret")), "sk-secret" in key_digest("sk-secret")
        (32, False)
    """
    # surrogatepass: any str has a digest; a strict encode would raise an error whose
    # ``.object`` is the key itself.
    data = f"helpcrunch-async:{api_key}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


class PauseGate:
    """One shared "wait until" moment: every request waits at the gate before it is sent.

    The client's 429 pause when it has no rate limiter. On the process's monotonic
    clock, so the one gate holds requests on every event loop and thread.
    """

    def __init__(self) -> None:
        self._until = 0.0

    def pause_for(self, seconds: float) -> None:
        """Close the gate for ``seconds`` from now (never shortens a longer pause)."""
        self._until = max(self._until, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        if not self._until:  # never closed: no clock to read on every request
            return 0.0
        return max(0.0, self._until - time.monotonic())

    async def wait(self) -> None:
        """Return when the gate is open."""
        while (delay := self.remaining()) > 0:  # noqa: ASYNC110 - the pause may grow meanwhile
            await asyncio.sleep(delay)


class RateLimit:
    """At most ``requests`` requests in any ``period`` seconds, evenly spaced, in one process.

    A :class:`RateLimiter`. Pass one to ``AsyncHelpCrunch(rate_limit=...)``; pass the
    same object to several clients to share one budget (several clients on one key),
    whatever event loops and threads they run on. ``rate_limit=None`` turns client-side
    limiting off. For several processes on one key use
    :class:`~helpcrunch_async.RedisRateLimit`. See the module docs for how it paces.

    Args:
        requests: requests allowed per period (HelpCrunch: 120).
        period: the period in seconds (HelpCrunch: 60).
        adaptive: lower the rate when 429s come anyway, raise it again slowly.

    Example:
        >>> import helpcrunch_async as hc
        >>> hc.RateLimit()
        RateLimit(requests=120, period=60.0)
        >>> round(hc.RateLimit(20, 2.0).interval, 4)   # 2.05 s / 20: 50 ms of slack
        0.1025
    """

    def __init__(self, requests: int = 120, period: float = 60.0, *, adaptive: bool = True) -> None:
        self.requests, self.period = check_budget(requests, period)
        self.adaptive = adaptive
        self._base_interval = max(self.period * _MARGIN, self.period + _MIN_SLACK) / requests
        self._lock = threading.Lock()
        # The schedule, in time.monotonic() seconds (one clock for every loop and thread):
        self._next = 0.0  # the next free send time
        self._latest = -math.inf  # the latest send time handed out from _next
        self._returned: list[float] = []  # send times of cancelled waits, sorted
        self._paused_until = 0.0
        self._factor = 1.0
        self._last_429 = -math.inf
        self._last_episode = -math.inf
        self._last_raise = -math.inf
        _LIMITS.add(self)

    def __repr__(self) -> str:
        return f"RateLimit(requests={self.requests}, period={self.period})"

    @property
    def interval(self) -> float:
        """Seconds between two send times now (longer than configured after 429s)."""
        return self._base_interval / self._factor

    @property
    def current_rate(self) -> float:
        """Requests per second now (lower than configured after 429s, when adaptive)."""
        return self._factor / self._base_interval

    def copy(self) -> RateLimit:
        """A fresh limiter with the same settings (a budget of its own)."""
        return RateLimit(self.requests, self.period, adaptive=self.adaptive)

    async def acquire(self) -> None:
        """Wait for this request's send time: the next free one, after any 429 pause.

        Cancelled while waiting, it gives the send time back for the next request.
        """
        await self._wait(None)

    async def acquire_within(self, max_wait: float) -> bool:
        """:meth:`acquire`, unless the next free send time is more than ``max_wait``
        seconds away: then ``False`` at once, with nothing taken from the budget.

        Also ``False`` when a 429 pause that began during the wait pushes the send
        time past ``max_wait`` from the call.

        Example:
            >>> import asyncio
            >>> limit = RateLimit(1, 60.0)
            >>> async def two() -> tuple[bool, bool]:
            ...     return await limit.acquire_within(1.0), await limit.acquire_within(1.0)
            >>> asyncio.run(two())     # the second send time is a minute away
            (True, False)
        """
        return await self._wait(time.monotonic() + max_wait)

    async def _wait(self, deadline: float | None) -> bool:
        while True:
            slot = self._take(deadline)
            if slot is None:
                return False
            delay = slot - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.sleep(delay)
                except BaseException:  # cancelled (or the loop is going down): give it back
                    self._give_back(slot)
                    raise
            if time.monotonic() >= self._paused_until:
                return True
            # A 429 pause began while we waited: take a send time after it.

    def _take(self, deadline: float | None) -> float | None:
        """The send time for one request (``None``: none before ``deadline``)."""
        with self._lock:
            earliest = max(time.monotonic(), self._paused_until)
            returned = self._returned
            while returned and returned[0] < earliest:  # gone by (or inside a pause)
                del returned[0]
            slot = returned[0] if returned else max(earliest, self._next)
            if deadline is not None and slot > deadline:
                return None
            if returned:
                del returned[0]
            else:
                self._next = slot + self._base_interval / self._factor
                self._latest = slot
            return slot

    def _give_back(self, slot: float) -> None:
        """A wait for ``slot`` was cancelled: the next request takes that send time."""
        with self._lock:
            if slot == self._latest:  # the last one handed out: the schedule steps back
                self._next, self._latest = slot, -math.inf
            elif slot > time.monotonic():
                bisect.insort(self._returned, slot)

    def on_rate_limited(self, pause: float) -> None:
        """A 429 arrived: pause everyone. If 429s keep coming — a new pause episode
        within ``period`` of the last one — halve the rate (one stray 429, from network
        jitter at the window's edge, only pauses)."""
        with self._lock:
            now = time.monotonic()
            new_episode = now >= self._paused_until
            self._paused_until = max(self._paused_until, now + pause)
            if new_episode:
                if self.adaptive and now - self._last_episode < self.period:
                    self._factor = max(_MIN_FACTOR, self._factor / 2)
                self._last_episode = now
            self._last_429 = now

    def on_success(self) -> None:
        """A request went through: after a quiet period, raise the rate a step."""
        if self._factor >= 1.0:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last_429 >= self.period and now - self._last_raise >= self.period / 10:
                self._last_raise = now
                self._factor = min(1.0, self._factor + _STEP)


# Every RateLimit, for a forked child: a lock another thread held at the fork stays held.
_LIMITS: weakref.WeakSet[RateLimit] = weakref.WeakSet()


def _new_locks_after_fork() -> None:
    for limit in list(_LIMITS):
        limit._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)
