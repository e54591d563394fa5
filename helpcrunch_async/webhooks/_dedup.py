"""Run a handler once per event ``id``, though HelpCrunch may deliver an event again.

HelpCrunch retries deliveries (how often and for how long is not documented), and a
retry can reach another worker while the first is still busy. :meth:`Deduplicator.run_once`
claims the event's id, runs your handler, and records the outcome:

* the handler returns -> the id is marked **done**; later deliveries of it are
  :attr:`Outcome.DUPLICATE` (answer 2xx: it was handled);
* the handler raises (or is cancelled) -> the claim is **released** and the error
  propagates (answer 5xx): the next delivery runs the handler again. An event is
  marked seen only when its handler succeeded, so a failure is never swallowed;
* another worker holds the claim -> :attr:`Outcome.IN_PROGRESS` (answer a non-2xx,
  409 by the receivers here, so HelpCrunch tries again later: answering 2xx would
  lose the event if that worker then fails).

This is "exactly once" as far as one store can make it: a worker that dies mid-handler
holds the claim until ``claim_ttl`` runs out, and a handler that succeeded but whose
"done" mark could not be stored (Redis down) runs again on the next delivery. Make a
handler idempotent when that matters.

Two stores come with the SDK, and any other fits by subclassing :class:`Deduplicator`
(``claim`` and ``settle``): :class:`MemoryDeduplicator` (one process; bounded) and
:class:`RedisDeduplicator` (every worker sharing one Redis; the ``redis`` extra).

Example:
    >>> import asyncio
    >>> dedup = MemoryDeduplicator()
    >>> calls = []
    >>> async def handler() -> None:
    ...     calls.append(1)
    >>> async def deliver_twice() -> list[Outcome]:
    ...     return [await dedup.run_once("evt-1", handler) for _ in range(2)]
    >>> [o.value for o in asyncio.run(deliver_twice())], len(calls)
    (['handled', 'duplicate'], 1)
"""

from __future__ import annotations

import abc
import enum
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs

from .._exceptions import ValidationError

__all__ = ["Claim", "Deduplicator", "MemoryDeduplicator", "Outcome", "RedisDeduplicator"]


class Outcome(enum.Enum):
    """What :meth:`Deduplicator.run_once` did with a delivery.

    Example:
        >>> Outcome.DUPLICATE.value
        'duplicate'
    """

    HANDLED = "handled"  #: the handler ran and returned
    DUPLICATE = "duplicate"  #: an earlier delivery of this id was handled; skipped
    IN_PROGRESS = "in_progress"  #: another worker is handling this id right now; skipped


@attrs.frozen
class Claim:
    """The answer of :meth:`Deduplicator.claim`: ``state`` ``"new"`` (yours to handle:
    pass it to :meth:`~Deduplicator.settle` afterwards), ``"done"`` or ``"busy"``.

    Example:
        >>> Claim("evt-1", "done").state
        'done'
    """

    event_id: str
    state: Literal["new", "done", "busy"]
    token: str = ""


class Deduplicator(abc.ABC):
    """The interface of a de-duplication store; subclass it to plug in another one.

    Example:
        >>> class Never(Deduplicator):            # handles every delivery
        ...     async def claim(self, event_id: str) -> Claim:
        ...         return Claim(event_id, "new")
        ...     async def settle(self, claim: Claim, *, succeeded: bool) -> None:
        ...         pass
    """

    @abc.abstractmethod
    async def claim(self, event_id: str) -> Claim:
        """Atomically claim ``event_id`` unless it is done or claimed by someone else."""

    @abc.abstractmethod
    async def settle(self, claim: Claim, *, succeeded: bool) -> None:
        """Mark a ``"new"`` claim done (``succeeded``) or release it (the handler failed)."""

    async def run_once(self, event_id: str, handler: Callable[[], Awaitable[object]]) -> Outcome:
        """Run ``handler()`` unless ``event_id`` was handled or is being handled.

        A handler that raises (or is cancelled) releases the claim and the exception
        propagates: the next delivery of the event runs it again.

        Example:
            >>> import asyncio
            >>> async def boom() -> None:
            ...     raise RuntimeError("db down")
            >>> async def ok() -> None:
            ...     pass
            >>> async def deliveries() -> str:
            ...     dedup = MemoryDeduplicator()
            ...     try:
            ...         await dedup.run_once("e", boom)
            ...     except RuntimeError:
            ...         pass
            ...     return (await dedup.run_once("e", ok)).value   # the retry runs
            >>> asyncio.run(deliveries())
            'handled'
        """
        claim = await self.claim(event_id)
        if claim.state == "done":
            return Outcome.DUPLICATE
        if claim.state == "busy":
            return Outcome.IN_PROGRESS
        try:
            await handler()
        except BaseException:
            await self.settle(claim, succeeded=False)
            raise
        await self.settle(claim, succeeded=True)
        return Outcome.HANDLED


def _check_event_id(event_id: str) -> None:
    if not isinstance(event_id, str) or not event_id:
        raise ValidationError("event_id must be a non-empty string", field="event_id")


class MemoryDeduplicator(Deduplicator):
    """In this process only: the ids of the last ``max_events`` handled events.

    Enough for one worker process; with several (gunicorn, uvicorn ``--workers``,
    several hosts) use :class:`RedisDeduplicator`. Beyond ``max_events`` the oldest
    ids are forgotten (a very late retry of one would run again). Safe from several
    threads and event loops.

    Example:
        >>> MemoryDeduplicator(max_events=2).max_events
        2
    """

    def __init__(self, max_events: int = 10_000) -> None:
        if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
            raise ValidationError("max_events must be an int >= 1", field="max_events")
        self.max_events = max_events
        self._done: OrderedDict[str, None] = OrderedDict()
        self._busy: dict[str, str] = {}
        self._lock = threading.Lock()

    async def claim(self, event_id: str) -> Claim:
        """See :meth:`Deduplicator.claim`."""
        _check_event_id(event_id)
        with self._lock:
            if event_id in self._done:
                return Claim(event_id, "done")
            if event_id in self._busy:
                return Claim(event_id, "busy")
            token = secrets.token_hex(8)
            self._busy[event_id] = token
            return Claim(event_id, "new", token)

    async def settle(self, claim: Claim, *, succeeded: bool) -> None:
        """See :meth:`Deduplicator.settle`."""
        with self._lock:
            if self._busy.get(claim.event_id) == claim.token:
                del self._busy[claim.event_id]
            if succeeded:
                self._done[claim.event_id] = None
                self._done.move_to_end(claim.event_id)
                while len(self._done) > self.max_events:
                    self._done.popitem(last=False)


# Release a claim only if it is still ours (it may have expired and been re-claimed).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_DONE = "done"


class RedisDeduplicator(Deduplicator):
    """Shared by every worker using the same Redis: ``SET NX`` with an expiry per id.

    Args:
        redis: a ``redis.asyncio.Redis`` client (the ``redis`` extra); yours to close.
        prefix: key prefix; the key of an event is ``prefix + id``.
        seen_ttl: seconds a handled id is remembered. How long HelpCrunch retries is
            not documented; the default, 7 days, is meant to outlast it.
        claim_ttl: seconds a claim lasts without being settled: a worker that dies
            mid-handler blocks that event's retries this long. Keep it above your
            handler's longest run (a handler running longer can be run twice).

    Example:
        >>> import redis.asyncio                                   # doctest: +SKIP
        >>> dedup = RedisDeduplicator(                             # doctest: +SKIP
        ...     redis.asyncio.Redis.from_url("redis://localhost"))
    """

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "helpcrunch:webhook:",
        seen_ttl: float = 7 * 24 * 3600,
        claim_ttl: float = 300.0,
    ) -> None:
        for name, value in (("seen_ttl", seen_ttl), ("claim_ttl", claim_ttl)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValidationError(f"{name} must be a number of seconds > 0", field=name)
        self.redis = redis
        self.prefix = prefix
        self._seen_ms = max(1, round(seen_ttl * 1000))
        self._claim_ms = max(1, round(claim_ttl * 1000))

    async def claim(self, event_id: str) -> Claim:
        """See :meth:`Deduplicator.claim`."""
        _check_event_id(event_id)
        key = self.prefix + event_id
        token = "busy:" + secrets.token_hex(8)
        for _ in range(3):  # the other claim may expire between SET NX and GET
            if await self.redis.set(key, token, nx=True, px=self._claim_ms):
                return Claim(event_id, "new", token)
            held = await self.redis.get(key)
            if held is not None:
                text = held.decode() if isinstance(held, bytes) else str(held)
                return Claim(event_id, "done" if text == _DONE else "busy")
        return Claim(event_id, "busy")

    async def settle(self, claim: Claim, *, succeeded: bool) -> None:
        """See :meth:`Deduplicator.settle`."""
        key = self.prefix + claim.event_id
        if succeeded:
            await self.redis.set(key, _DONE, px=self._seen_ms)
        else:
            await self.redis.eval(_RELEASE, 1, key, claim.token)
