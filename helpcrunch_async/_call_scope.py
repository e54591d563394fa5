"""What a request belongs to: a single call, bounded whole by its timeout, or a job's item.

A **single call** (``update_customer``, ``get_customer``, ``find_customer``, ...) has a
deadline: its ``timeout`` covers the wait for the rate limiter and for a 429 pause, the
retries and the requests themselves. When the budget has no send time before the
deadline, the call fails at once, sending nothing. A call made of several requests
(``find_customer`` reading pages) sets one deadline for all of them
(:func:`deadline_scope`).

A **bulk job's** requests (``update_customers``, the data sync) queue by nature: each
one's timeout starts when it is sent. The job engine marks its tasks with a
:class:`JobTask`, which the requestor reads; it keeps :attr:`JobTask.on_wire` true
while one of the task's requests is on the wire, so that a job told to stop sending can
cancel, at once, the tasks whose requests were not sent yet, and the requests
themselves refuse to go out once :attr:`JobTask.stopped` is set.

Both live in one context variable, so the client's public methods need no extra
argument, and the requestor reads one value per request.

Example:
    >>> SCOPE.get() is None     # outside a job, with no deadline set: a plain call
    True
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Iterator
from contextvars import ContextVar
from typing import TypeVar

import aiohttp
import attrs

from ._exceptions import APITimeoutError, HelpCrunchError

T = TypeVar("T")

__all__ = [
    "DEADLINE_SLACK",
    "SCOPE",
    "JobTask",
    "NotSent",
    "as_job_task",
    "deadline_scope",
    "not_sent_in_time",
    "shortened",
]


class JobTask:
    """A bulk job's worker task, as its requests see it.

    Attributes:
        on_wire: a request of this task is being sent or answered now.
        stopped: the job stopped sending: no request of this task may go out.
    """

    __slots__ = ("on_wire", "stopped")

    def __init__(self) -> None:
        self.on_wire = False
        self.stopped = False


SCOPE: ContextVar[JobTask | float | None] = ContextVar("helpcrunch_async_scope", default=None)
"""A :class:`JobTask`, a deadline (``time.monotonic()`` seconds) for every request of
the current call, or ``None``: a single request, whose own timeout is its deadline."""


@contextlib.contextmanager
def deadline_scope(seconds: float | None) -> Iterator[None]:
    """One deadline, ``seconds`` from now, for every request made inside (unless a job's).

    Example:
        >>> with deadline_scope(5.0):
        ...     isinstance(SCOPE.get(), float)
        True
    """
    outer = SCOPE.get()
    if seconds is None or isinstance(outer, JobTask):
        yield
        return
    deadline = time.monotonic() + seconds
    token = SCOPE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        SCOPE.reset(token)


async def as_job_task(work: Awaitable[T]) -> T:
    """Await ``work`` as a job's item: its requests have no call deadline. Run it as a
    task of its own (``asyncio.ensure_future(as_job_task(...))``): the mark stays in
    that task's context.
    """
    SCOPE.set(JobTask())
    return await work


# --- a call that cannot send before its deadline --------------------------------------

DEADLINE_SLACK = 0.001
"""Seconds a call may wait before its attempt's own timeout is cut to what is left."""


def shortened(timeout: aiohttp.ClientTimeout, left: float) -> aiohttp.ClientTimeout:
    """``timeout`` with no part longer than ``left`` seconds (at least 1 ms)."""
    left = max(left, 0.001)
    connect = timeout.connect
    return attrs.evolve(
        timeout, total=left, connect=left if connect is None else min(connect, left)
    )


class NotSent(Exception):  # a carrier, never seen outside the requestor
    """Carries the error of a call that ends without sending this attempt (its deadline
    came first, or its job was stopped) past the retry logic, which must not see it."""

    def __init__(self, error: HelpCrunchError) -> None:
        super().__init__()
        self.error = error


def not_sent_in_time(
    method: str, path: str, attempt: int, last_error: HelpCrunchError | None, what: str
) -> NotSent:
    """The end of a call whose next attempt could not be sent before its deadline: the
    previous attempt's error, or, for the first, an :class:`APITimeoutError`."""
    if last_error is not None:
        return NotSent(last_error)
    return NotSent(
        APITimeoutError(
            f"timed out waiting for {what}: it allows no request before the call's deadline "
            "(its timeout); nothing was sent",
            method=method,
            path=path,
            attempts=0,
            maybe_sent=False,
        )
    )
