"""One rate budget for many processes and machines: the limiter's state lives in Redis.

HelpCrunch counts its 120 requests a minute for everyone using a key together, but a
:class:`~helpcrunch_async.RateLimit` only knows its own process. :class:`RedisRateLimit`
keeps the budget in Redis instead (the ``redis`` extra: ``pip install
'helpcrunch-async[redis]'``):

* **Redis's clock, one round trip.** Before each attempt a small Lua script reads Redis's
  ``TIME``, takes the next free send time (evenly spaced, like ``RateLimit``: no burst),
  moves it on by one interval and answers how long to wait. The client sleeps that long
  and sends. Client clocks never enter it, so a machine whose clock is off changes
  nothing. The script is registered with redis-py's ``register_script``, which loads it
  again after a Redis restart (``NOSCRIPT``).
* **Headroom.** The interval is ``(period + headroom) / requests`` with a headroom of
  3 % of the period, at least 100 ms: room for the network jitter between the moment
  Redis hands out a send time and the moment the request reaches HelpCrunch.
* **One 429 pauses everyone.** A 429's pause goes into Redis ("paused until", Redis
  time) with the next reservation -- normally the retry of the request that got it --
  and every process's next send time starts after it.
* **No reservation far ahead.** A send time is handed out at most ``period`` ahead;
  a caller beyond that sleeps and asks again. A cancelled wait wastes its send time
  (a little throughput, never a 429).
* **Redis down or slow never stops updates.** Calls to Redis time out after
  ``timeout`` seconds (2 by default). On a failure the limiter logs one warning, paces
  with a local adaptive :class:`~helpcrunch_async.RateLimit` at ``fallback_share`` of
  the budget (set it to about 1 / the number of processes), and tries Redis again every
  ``retry_redis_after`` seconds; it logs when Redis is back.
* **Keys.** ``helpcrunch-async:{key:<digest>}:next`` and ``...:paused``, where the
  digest is a SHA-256 of the API key (the key itself never reaches Redis), or
  ``{name:<name>}`` with ``name=`` for one budget shared by several keys (HelpCrunch
  does not document whether its limit is per key or per account). The ``{...}`` hash
  tag keeps both keys in one Redis Cluster slot; both expire when unused.

Example:
    >>> import helpcrunch_async as hc
    >>> limit = hc.RedisRateLimit("redis://localhost:6379/0")   # doctest: +SKIP
    >>> client = hc.AsyncHelpCrunch(rate_limit=limit)           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ._exceptions import HelpCrunchError, ValidationError
from ._per_loop import PerLoop
from ._ratelimit import RateLimit, check_budget
from ._validation import check_seconds, is_number

__all__ = ["RedisRateLimit"]

logger = logging.getLogger("helpcrunch_async")

_HEADROOM = 0.03  # of the period, kept spare for jitter between Redis and HelpCrunch
_MIN_HEADROOM = 0.1  # seconds
_FAILURES = (RedisError, OSError, TimeoutError)
_BAD_REPLY = (TypeError, ValueError)  # a script reply that is not {int, int}

# KEYS[1]: next free send time, KEYS[2]: paused until (µs of Redis's TIME).
# ARGV: interval µs, pause µs to start now (0: none), furthest reservation µs ahead,
# idle TTL ms. Returns {wait µs, 1} for a reserved send time, {ask again in µs, 0}.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, pause = tonumber(ARGV[1]), tonumber(ARGV[2])
local ahead, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
local paused = tonumber(redis.call('GET', KEYS[2])) or 0
if pause > 0 and now + pause > paused then
  paused = now + pause
  redis.call('SET', KEYS[2], string.format('%.0f', paused), 'PX', math.ceil(pause / 1000) + 1000)
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now, paused)
if slot - now > ahead then
  return {slot - now - ahead, 0}
end
local after = slot + interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX',
           math.ceil((after - now) / 1000) + idle)
return {slot - now, 1}
"""


class _LoopState:
    """What the limiter keeps per event loop: a Redis client, a local fallback, a pause."""

    __slots__ = (
        "fallback",
        "healthy",
        "inflight",
        "owned",
        "pause_epoch",
        "pause_pending",
        "pause_until",
        "probing",
        "redis",
        "reserved_until",
        "retired",
        "retry_at",
        "script",
    )

    def __init__(self, redis: Any, owned: bool, fallback: RateLimit) -> None:
        self.redis = redis
        self.owned = owned  # opened from a URL by the limiter: the limiter closes it
        self.script = redis.register_script(_SCRIPT)
        self.fallback = fallback
        self.healthy = True
        self.probing = False
        self.retry_at = 0.0
        self.inflight = 0
        self.retired = False
        self.pause_until = 0.0  # loop time; a 429's pause not yet handed to Redis
        self.pause_pending = False
        self.pause_epoch = 0
        self.reserved_until = 0.0  # loop time of the latest send time Redis handed out

    async def close(self) -> None:
        if self.owned:
            await self.redis.aclose()


async def _close_state(state: _LoopState) -> None:
    """Retire a loop's state: closed now, or by its last script call in flight."""
    state.retired = True
    if state.inflight == 0:
        await state.close()


class RedisRateLimit:
    """At most ``requests`` requests in any ``period`` seconds, evenly spaced, for every
    process and machine that uses the same Redis and API key.

    A :class:`~helpcrunch_async.RateLimiter`: pass it as ``rate_limit=`` to
    ``AsyncHelpCrunch`` or ``HelpCrunch``. Give every process (gunicorn/uvicorn worker,
    Celery worker, cron job) its own ``RedisRateLimit`` with the same settings; they
    share one budget through Redis. One limiter may serve several clients on one key,
    on any number of event loops and threads (a blocking ``HelpCrunch`` included).
    See the module docs for how it works.

    Args:
        redis: a ``redis://`` / ``rediss://`` / ``unix://`` URL -- the limiter then opens
            one ``redis.asyncio`` client per event loop, with ``timeout`` for connecting
            and reading, and closes it when the client using it closes -- or a
            ``redis.asyncio.Redis`` (or ``RedisCluster``) client you own and close (it
            belongs to one event loop: the limiter then works on that loop only, and
            raises :class:`~helpcrunch_async.HelpCrunchError` on another; give it short
            timeouts too).
        requests: requests allowed per period (HelpCrunch: 120).
        period: the period in seconds (HelpCrunch: 60).
        name: a name for the budget in Redis, for one budget shared by several API
            keys; by default the budget is the API key's (a digest of it). No braces.
        timeout: seconds a call to Redis may take before the limiter falls back.
        fallback_share: the share of the budget one process uses while Redis is
            unreachable (paced by a local adaptive ``RateLimit``); about 1 / the number
            of processes sharing the budget.
        retry_redis_after: seconds between tries to reach Redis again while falling back.

    Example:
        >>> import helpcrunch_async as hc
        >>> hc.RedisRateLimit("redis://localhost:6379/0", requests=120, period=60.0)
        RedisRateLimit(requests=120, period=60.0)
    """

    def __init__(
        self,
        redis: str | Redis | RedisCluster,
        *,
        requests: int = 120,
        period: float = 60.0,
        name: str | None = None,
        timeout: float = 2.0,
        fallback_share: float = 0.25,
        retry_redis_after: float = 10.0,
    ) -> None:
        self.requests, self.period = check_budget(requests, period)
        if isinstance(redis, str):
            self._url: str | None = redis
            self._client = None
            try:  # reject a malformed URL now (nothing connects yet)
                Redis.from_url(redis)
            except ValueError as exc:  # redis-py's messages never quote the URL
                raise ValidationError(f"redis is not a Redis URL: {exc}", field="redis") from None
        elif isinstance(redis, Redis | RedisCluster):
            self._url, self._client = None, redis
        else:
            raise ValidationError(
                "redis must be a URL or a redis.asyncio client (not a blocking redis.Redis), "
                f"got {type(redis).__name__}",
                field="redis",
            )
        if name is not None and (
            not isinstance(name, str) or not name or "{" in name or "}" in name
        ):
            raise ValidationError(
                f"name must be a non-empty string without braces, got {name!r}", field="name"
            )
        check_seconds("timeout", timeout)
        check_seconds("retry_redis_after", retry_redis_after)
        if not (is_number(fallback_share) and 0 < fallback_share <= 1):
            raise ValidationError(
                f"fallback_share must be in (0, 1], got {fallback_share!r}", field="fallback_share"
            )
        self.name = name
        self.timeout = float(timeout)
        self.fallback_share = float(fallback_share)
        self.retry_redis_after = float(retry_redis_after)
        self._keys: tuple[str, str] | None = None
        self._key_digest: str | None = None
        if name is not None:
            self._keys = _keys_for(f"name:{name}")
        interval = (self.period + max(self.period * _HEADROOM, _MIN_HEADROOM)) / self.requests
        self._args = (
            round(interval * 1e6),
            0,
            round(self.period * 1e6),
            math.ceil(self.period * 1000),
        )
        # A Redis client (and a local fallback) per event loop, closed when that loop
        # ends (one asyncio.run per task leaves no connection behind) or at aclose().
        self._states: PerLoop[_LoopState] = PerLoop(self._new_state, _close_state)
        self._client_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def __repr__(self) -> str:  # never the URL: it may hold a password
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"RedisRateLimit(requests={self.requests}, period={self.period}{named})"

    @property
    def keys(self) -> tuple[str, str] | None:
        """The two Redis keys of this budget (``None`` until a client binds its key).

        Example:
            >>> RedisRateLimit("redis://localhost", name="shop").keys
            ('helpcrunch-async:{name:shop}:next', 'helpcrunch-async:{name:shop}:paused')
        """
        return self._keys

    def bind_key(self, digest: str) -> None:
        """Called by a client when it is created, with a digest of its API key: the
        budget's Redis keys are named after it (unless ``name=`` was given).

        Raises:
            ValidationError: a client with another API key already uses this limiter.
        """
        if self.name is not None:
            return
        if self._key_digest is not None and self._key_digest != digest:
            raise ValidationError(
                "this RedisRateLimit is the budget of another API key; give each key its "
                "own, or name= one budget shared by several keys",
                field="rate_limit",
            )
        self._key_digest = digest
        self._keys = _keys_for(f"key:{digest}")

    async def acquire(self) -> None:
        """Wait until this process may send its next request (see the class docs)."""
        await self._acquire(None)

    async def acquire_within(self, max_wait: float) -> bool:
        """:meth:`acquire`, unless Redis has no send time within ``max_wait`` seconds:
        then ``False`` at once, with nothing reserved (a call's deadline; see
        :class:`~helpcrunch_async.RateLimiter`)."""
        return await self._acquire(asyncio.get_running_loop().time() + max_wait)

    async def _acquire(self, deadline: float | None) -> bool:
        state = self._state()
        loop = asyncio.get_running_loop()
        while True:
            if state.healthy or (not state.probing and loop.time() >= state.retry_at):
                epoch = state.pause_epoch
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left < 0:
                    return False
                wait = await self._reserve(state, loop, left)
                if wait is not None:
                    if wait < 0:  # too far ahead to reserve
                        if deadline is not None:
                            return False
                        # Ask again later -- within a period: after Redis's clock
                        # stepped back, keys expire in real time.
                        await asyncio.sleep(min(-wait, self.period))
                        continue
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if state.pause_epoch != epoch:  # a 429 meanwhile: get a time after it
                        continue
                    return True
            if (late := state.reserved_until - loop.time()) > 0:
                if deadline is not None and loop.time() + late >= deadline:
                    return False
                await asyncio.sleep(late)  # let the sends Redis scheduled go first
            if deadline is None:
                await state.fallback.acquire()
                return True
            return await state.fallback.acquire_within(deadline - loop.time())

    def on_rate_limited(self, pause: float) -> None:
        """A 429: every process pauses ``pause`` seconds (handed to Redis with the next
        reservation, normally at once by the retry)."""
        state = self._state()
        state.pause_until = max(state.pause_until, asyncio.get_running_loop().time() + pause)
        state.pause_pending = True
        state.pause_epoch += 1
        state.fallback.on_rate_limited(pause)

    def on_success(self) -> None:
        """A request went through (lets the local fallback climb back after 429s)."""
        state = self._state()
        if not state.healthy:
            state.fallback.on_success()

    async def aclose(self) -> None:
        """Close the Redis connections this limiter opened (never a client you passed
        in), on every event loop that is running. Clients call it when they close; the
        limiter stays usable and connects again when next needed."""
        await self._states.aclose()

    def _state(self) -> _LoopState:
        if self._keys is None:
            raise HelpCrunchError("a RedisRateLimit outside a client needs name=")
        return self._states.get()

    def _new_state(self) -> _LoopState:
        """This loop's Redis client and fallback (called by ``PerLoop`` in the loop)."""
        loop = asyncio.get_running_loop()
        if self._url is not None:
            # retry_on_error: redis-py 5.0 retries a dropped connection (a
            # restarted Redis) only for the errors listed there, whatever ``retry``.
            client: Any = Redis.from_url(
                self._url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            return _LoopState(client, True, self._fallback())
        first = self._client_loop() if self._client_loop is not None else None
        if self._client_loop is not None and first is not loop:
            raise HelpCrunchError(
                "the redis client given to this RedisRateLimit belongs to the event "
                "loop it was first used on, not this one (a second asyncio.run(), "
                "another thread); give RedisRateLimit a URL instead: it then opens "
                "one client per event loop"
            )
        self._client_loop = weakref.ref(loop)
        return _LoopState(self._client, False, self._fallback())

    def _fallback(self) -> RateLimit:
        return RateLimit(max(1, math.floor(self.requests * self.fallback_share)), self.period)

    async def _reserve(
        self, state: _LoopState, loop: asyncio.AbstractEventLoop, within: float | None = None
    ) -> float | None:
        """Seconds to wait for a reserved send time (< 0: none reserved, ask again in
        -that); None when Redis failed (the caller falls back). ``within``: reserve
        nothing further ahead than that many seconds."""
        assert self._keys is not None
        interval, _, ahead, idle = self._args
        if within is not None:
            ahead = min(ahead, round(within * 1e6))
        pause = state.pause_until - loop.time() if state.pause_pending else 0.0
        epoch = state.pause_epoch
        probe = not state.healthy
        state.probing |= probe
        state.inflight += 1
        try:
            async with asyncio.timeout(self.timeout):
                reply = await state.script(
                    keys=self._keys,
                    args=(interval, max(0, round(pause * 1e6)), ahead, idle),
                    client=state.redis,
                )
            wait_us, reserved = map(int, reply)
        except (*_FAILURES, *_BAD_REPLY) as exc:
            state.retry_at = loop.time() + self.retry_redis_after
            if state.healthy:
                state.healthy = False
                logger.warning(
                    "Redis rate limit unreachable (%s: %s); pacing this process locally at "
                    "%d requests per %g s and trying Redis again every %g s",
                    type(exc).__name__,
                    exc,
                    state.fallback.requests,
                    self.period,
                    self.retry_redis_after,
                )
            return None
        finally:
            state.inflight -= 1
            if probe:
                state.probing = False
            if state.retired and state.inflight == 0:
                await state.close()
        if not state.healthy:
            state.healthy = True
            logger.info("Redis rate limit reachable again; sharing the budget through Redis")
        if state.pause_epoch == epoch:  # no newer 429 to hand over
            state.pause_pending = False
        if not reserved:
            return -int(wait_us) / 1e6
        wait: float = int(wait_us) / 1e6
        state.reserved_until = max(state.reserved_until, loop.time() + wait)
        return wait


def _keys_for(budget: str) -> tuple[str, str]:
    tag = f"helpcrunch-async:{{{budget}}}"
    return f"{tag}:next", f"{tag}:paused"
