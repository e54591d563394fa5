"""Client-side rate limiting: the :class:`RateLimiter` interface and :class:`RateLimit`.

A client asks its limiter before every attempt it sends (retries included) and tells
it how each attempt went; any object with the three methods of :class:`RateLimiter`
will do (:class:`~helpcrunch_async.RedisRateLimit` shares one budget between processes).

:class:`RateLimit` -- the default -- keeps its state in the process: an ``aiolimiter``
bucket, a shared 429 pause, and AIMD.

HelpCrunch allows 120 requests a minute and answers 429 beyond that. Every 429 is a
wasted request, so the client paces itself:

* **No burst.** The aiolimiter bucket holds two tokens and refills one every
  ``period / requests`` seconds (plus a 1.5 % margin), so requests go out evenly spaced;
  the second token only lets a request that was delayed (a busy event loop) catch up.
  On top, a log of the last ``requests`` send times guarantees that *any* window of
  ``period`` seconds (plus 1 % slack for network jitter) holds at most ``requests``
  requests — even for a fresh client. (aiolimiter's usual bucket starts full and lets
  ``requests`` through at once, which with the steady rate after it doubles the first
  window.)
* **One pause for everyone.** On a 429 every request waiting on this limiter pauses
  until the same moment (``Retry-After`` when the server sent one), then resumes at
  the bucket's pace, one at a time.
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
import hashlib
import math
import sys
from collections import deque
from typing import Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from ._exceptions import HelpCrunchError, ValidationError

__all__ = ["PauseGate", "RateLimit", "RateLimiter", "check_budget", "key_digest"]

_MARGIN = 1.015  # pace 1.5 % under the limit: the slack absorbs jitter between us and the server
_WINDOW_SLACK = 1.01  # the hard window guard: requests+1 sends are always > 1.01 periods apart
_BURST = 2  # bucket capacity in tokens: one in hand to catch up after a late wake-up
_MIN_FACTOR = 1 / 16
_STEP = 0.1


@runtime_checkable
class RateLimiter(Protocol):
    """What a client needs from a rate limiter: plug in your own with these three methods.

    The client (its requestor, nothing else) calls them on its own event loop:

    * ``await acquire()`` before **every** attempt it sends -- a retry too -- and sends
      as soon as it returns. Wait here for as long as the budget needs. A cancelled
      ``acquire()`` must leave the limiter usable.
    * ``on_rate_limited(pause)`` when an attempt got 429: ``pause`` is the seconds to
      hold requests back -- the answer's ``Retry-After`` (capped at the client's
      ``max_retry_after``) or, without one, the retry backoff. The client retries the
      request through ``acquire()`` right after (when it has retries left), so the
      limiter decides when that retry and everything else goes.
    * ``on_success()`` when an attempt got a 2xx answer.

    The two callbacks are plain functions: they must not block (do any I/O in the
    next ``acquire()`` or in a task). A limiter may be shared by several clients.

    Two optional methods, called when the limiter has them: ``bind_key(digest)`` once
    when a client is created, with a one-way digest of its API key (to key shared
    state by; the key itself is never given), and ``await aclose()`` when a client is
    closed, on its event loop (to release connections opened on that loop).

    :class:`RateLimit` (one process) and :class:`~helpcrunch_async.RedisRateLimit`
    (many processes, state in Redis) implement it.

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
    if (isinstance(requests, bool) or not isinstance(requests, int)
            or not 1 <= requests <= sys.maxsize):
        raise ValidationError(f"requests must be an int >= 1, got {requests!r}",
                              field="requests")
    if (isinstance(period, bool) or not isinstance(period, int | float)
            or not 0 < period < math.inf):
        raise ValidationError(f"period must be a finite number of seconds > 0, got {period!r}",
                              field="period")
    return requests, float(period)


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
    """One shared "wait until" moment: every request waits at the gate before it is sent."""

    def __init__(self) -> None:
        self._until = 0.0

    def pause_for(self, seconds: float) -> None:
        """Close the gate for ``seconds`` from now (never shortens a longer pause)."""
        self._until = max(self._until, asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        if not self._until:  # never closed: no clock to read on every request
            return 0.0
        return max(0.0, self._until - asyncio.get_running_loop().time())

    async def wait(self) -> None:
        """Return when the gate is open."""
        while (delay := self.remaining()) > 0:  # noqa: ASYNC110 - the pause may grow meanwhile
            await asyncio.sleep(delay)


class RateLimit:
    """At most ``requests`` requests in any ``period`` seconds, evenly spaced, in one process.

    A :class:`RateLimiter`. Pass one to ``AsyncHelpCrunch(rate_limit=...)``; pass the
    same object to several clients on one event loop to share one budget (several
    clients on one key). ``rate_limit=None`` turns client-side limiting off. For
    several processes on one key use :class:`~helpcrunch_async.RedisRateLimit`.

    Args:
        requests: requests allowed per period (HelpCrunch: 120).
        period: the period in seconds (HelpCrunch: 60).
        adaptive: lower the rate when 429s come anyway, raise it again slowly.

    Example:
        >>> import helpcrunch_async as hc
        >>> hc.RateLimit()
        RateLimit(requests=120, period=60.0)
    """

    def __init__(self, requests: int = 120, period: float = 60.0, *, adaptive: bool = True) -> None:
        self.requests, self.period = check_budget(requests, period)
        self.adaptive = adaptive
        self.gate = PauseGate()
        self._base_interval = self.period / requests * _MARGIN
        self._limiter = AsyncLimiter(_BURST, _BURST * self._base_interval)
        self._window = self.period * _WINDOW_SLACK
        self._sent: deque[float] = deque(maxlen=requests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._factor = 1.0
        self._last_429 = -1e18
        self._last_episode = -1e18
        self._last_raise = -1e18

    def __repr__(self) -> str:
        return f"RateLimit(requests={self.requests}, period={self.period})"

    @property
    def current_rate(self) -> float:
        """Requests per second now (lower than configured after 429s, when adaptive)."""
        return self._factor / self._base_interval

    def copy(self) -> RateLimit:
        """A fresh limiter with the same settings (for another event loop or process)."""
        return RateLimit(self.requests, self.period, adaptive=self.adaptive)

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop.is_closed():  # e.g. a second asyncio.run(): start a fresh bucket
            self._loop = loop
            self._limiter = AsyncLimiter(_BURST, _BURST * self._interval())
        elif self._loop is not loop:
            raise HelpCrunchError(
                "a RateLimit is shared only by clients on one event loop; give each loop "
                "its own (RateLimit.copy())"
            )
        return loop

    async def acquire(self) -> None:
        """Wait for the gate, a token, and room in the window; then count one send.

        A pause that starts meanwhile sends us back for a new token, so the requests
        held up by a pause resume at the bucket's pace instead of all at once.
        """
        loop = self._bind()
        while True:
            await self.gate.wait()
            await self._limiter.acquire()
            while self.gate.remaining() == 0:
                now = loop.time()
                if len(self._sent) == self.requests:
                    wait = self._sent[0] + self._window - now
                    if wait > 0:
                        await asyncio.sleep(wait)
                        continue
                self._sent.append(now)  # deque(maxlen) drops the oldest
                return

    def on_rate_limited(self, pause: float) -> None:
        """A 429 arrived: pause everyone. If 429s keep coming — a new pause episode
        within ``period`` of the last one — halve the rate (one stray 429, from network
        jitter at the window's edge, only pauses)."""
        now = self._bind().time()
        new_episode = self.gate.remaining() == 0
        self.gate.pause_for(pause)
        if new_episode:
            if self.adaptive and now - self._last_episode < self.period:
                self._set_factor(max(_MIN_FACTOR, self._factor / 2))
            self._last_episode = now
        self._last_429 = now

    def on_success(self) -> None:
        """A request went through: after a quiet period, raise the rate a step."""
        if self._factor >= 1.0:
            return
        now = self._bind().time()
        if now - self._last_429 >= self.period and now - self._last_raise >= self.period / 10:
            self._last_raise = now
            self._set_factor(min(1.0, self._factor + _STEP))

    def _interval(self) -> float:
        return self._base_interval / self._factor

    def _set_factor(self, factor: float) -> None:
        # aiolimiter has no public setter for the rate: settle the bucket at the old rate,
        # then change it (the capacity stays _BURST tokens, so no burst either way).
        self._limiter.has_capacity()
        self._factor = factor
        self._limiter.time_period = _BURST * self._interval()
        self._limiter._rate_per_sec = 1 / self._interval()
