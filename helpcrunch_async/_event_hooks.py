"""Event hooks: your callbacks for what the client does on the wire, without monkey-patching.

Give :class:`EventHooks` to ``AsyncHelpCrunch(event_hooks=...)`` (or ``HelpCrunch``). Each
hook is a plain function called with a small frozen record:

* :class:`RequestSent` -- just before each attempt goes out (retries included);
* :class:`ResponseReceived` -- when an attempt's answer (any status) has been read;
* :class:`RetryScheduled` -- when a failed attempt will be tried again, and after how long;
* :class:`RateLimitWait` -- after an attempt waited for the rate budget or a 429 pause
  (waits under 1 ms are not reported).

The records carry the call's name (``"update_customer"``), the HTTP method, the path as
sent without its query (``/v1/customers/17``), the attempt number, and the status and
seconds where they apply: never the API key, a query string or a request body. Hooks run
on the event loop's thread, inline: keep them quick (count, log, put on a queue); they
must not be ``async def``. A hook that raises does not break the call: the error is
logged once per hook (logger ``helpcrunch_async``, level WARNING) and ignored after that.

Example:
    >>> import helpcrunch_async as hc
    >>> seen = []
    >>> hooks = hc.EventHooks(on_response=lambda r: seen.append((r.call, r.status)))
    >>> hooks.on_response(hc.ResponseReceived(
    ...     call="get_customer", method="GET", path="/v1/customers/7", attempt=1,
    ...     status=200, elapsed_s=0.01))
    >>> seen
    [('get_customer', 200)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "EventHooks",
    "HookRunner",
    "RateLimitWait",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
]

logger = logging.getLogger("helpcrunch_async")


@attrs.frozen
class RequestSent:
    """An attempt about to be sent (``on_request``).

    Attributes:
        call: the client method (``"update_customer"``, ``"update_customers"``, ...).
        method: the HTTP method.
        path: the URL path as sent, without any query (``/v1/customers/17``).
        attempt: 1 for the first attempt, 2 for the first retry, ...

    Example:
        >>> RequestSent(call="get_customer", method="GET", path="/v1/customers/1", attempt=1).path
        '/v1/customers/1'
    """

    call: str
    method: str
    path: str
    attempt: int


@attrs.frozen
class ResponseReceived:
    """An attempt's answer, read whole (``on_response``); any status, errors too.

    Attributes:
        call, method, path, attempt: as in :class:`RequestSent`.
        status: the HTTP status.
        elapsed_s: seconds from sending to the body read.

    Example:
        >>> r = ResponseReceived(call="get_customer", method="GET", path="/v1/customers/1",
        ...                      attempt=1, status=200, elapsed_s=0.05)
        >>> r.status
        200
    """

    call: str
    method: str
    path: str
    attempt: int
    status: int
    elapsed_s: float


@attrs.frozen
class RetryScheduled:
    """A failed attempt that will be tried again (``on_retry``).

    Attributes:
        call, method, path: as in :class:`RequestSent`.
        attempt: the attempt that failed (the next one is ``attempt + 1``).
        wait_s: seconds before the next attempt (a backoff, or a 429's pause).
        status: the failed attempt's HTTP status; ``None`` when no answer came.
        error_type: the error's class name (``"RateLimitError"``, ``"APITimeoutError"``).

    Example:
        >>> import helpcrunch_async as hc
        >>> hooks = hc.EventHooks(on_retry=lambda r: print(r.call, r.attempt, r.wait_s))
    """

    call: str
    method: str
    path: str
    attempt: int
    wait_s: float
    status: int | None
    error_type: str


@attrs.frozen
class RateLimitWait:
    """An attempt that waited for the rate budget or a 429 pause (``on_rate_limit_wait``).

    Attributes:
        call, method, path: as in :class:`RequestSent`.
        attempt: the attempt that waited (sent next).
        wait_s: seconds it waited.
        after_429: the attempt before got a 429 (the wait includes its pause).

    Example:
        >>> import helpcrunch_async as hc
        >>> waited = []
        >>> hooks = hc.EventHooks(on_rate_limit_wait=lambda w: waited.append(w.wait_s))
    """

    call: str
    method: str
    path: str
    attempt: int
    wait_s: float
    after_429: bool


Hook = Callable[[Any], object]


@attrs.frozen
class EventHooks:
    """Callbacks for a client's requests (``AsyncHelpCrunch(event_hooks=...)``).

    Each is optional: a plain function taking the record (its return value is ignored).
    See the module docs for when each one runs.

    Attributes:
        on_request: gets a :class:`RequestSent` before each attempt.
        on_response: gets a :class:`ResponseReceived` after each answer.
        on_retry: gets a :class:`RetryScheduled` when an attempt will be retried.
        on_rate_limit_wait: gets a :class:`RateLimitWait` after a wait for the budget.

    Example:
        >>> import collections, helpcrunch_async as hc
        >>> statuses = collections.Counter()
        >>> hooks = hc.EventHooks(on_response=lambda r: statuses.update([r.status]))
    """

    on_request: Callable[[RequestSent], object] | None = None
    on_response: Callable[[ResponseReceived], object] | None = None
    on_retry: Callable[[RetryScheduled], object] | None = None
    on_rate_limit_wait: Callable[[RateLimitWait], object] | None = None

    def is_empty(self) -> bool:
        """True when no hook is set (the client then runs as without hooks)."""
        return (
            self.on_request is None
            and self.on_response is None
            and self.on_retry is None
            and self.on_rate_limit_wait is None
        )


class HookRunner:
    """Calls a client's hooks; a hook that raises is logged once, then ignored."""

    __slots__ = ("_hooks", "_logged", "on_rate_limit_wait", "on_request", "on_response", "on_retry")

    def __init__(self, hooks: EventHooks) -> None:
        self._hooks = hooks
        self._logged: set[str] = set()
        self.on_request = hooks.on_request
        self.on_response = hooks.on_response
        self.on_retry = hooks.on_retry
        self.on_rate_limit_wait = hooks.on_rate_limit_wait

    def call(self, name: str, hook: Hook, record: object) -> None:
        """``hook(record)``; its exception logged the first time, never raised."""
        try:
            hook(record)
        except Exception:
            if name not in self._logged:
                self._logged.add(name)
                logger.warning(
                    "event hook %s raised; the call goes on (logged once per hook, later "
                    "errors of this hook are ignored)",
                    name,
                    exc_info=True,
                )
