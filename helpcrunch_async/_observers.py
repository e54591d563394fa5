"""The one seam between the requestor and what watches it: event hooks and tracing.

The requestor holds an :class:`Observers` only when something may watch (hooks were
given, or ``opentelemetry-api`` imports); without, it holds ``None`` and checks nothing
else. Per call, :meth:`Observers.start` returns a :class:`CallObserver` when a hook is
set or a tracer provider is on (see :mod:`._tracing`), else ``None``; the requestor
tells it what happens (each test of it is ``if obs is not None``), and it feeds the hooks
(:mod:`._event_hooks`) and the call's span.
"""

from __future__ import annotations

import time

import attrs

from . import _tracing
from ._event_hooks import (
    EventHooks,
    HookRunner,
    RateLimitWait,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)

__all__ = ["CallObserver", "Observers", "observers_for"]

_REPORTED_WAIT = 0.001
"""Waits shorter than this (seconds) are not given to ``on_rate_limit_wait``."""


class Observers:
    """A client's hooks and the tracing switch; :meth:`start` one observer per call."""

    __slots__ = ("_hooks",)

    def __init__(self, hooks: HookRunner | None) -> None:
        self._hooks = hooks

    def start(self, call: str, method: str, full_path: str) -> CallObserver | None:
        """An observer for one call (its span started and current), or ``None`` when
        there is neither a hook nor a tracer."""
        tracer = _tracing.active_tracer()
        if tracer is None:
            if self._hooks is None:
                return None
            span = None
        else:
            span = _tracing.CallSpan(tracer, call, method)
        return CallObserver(self._hooks, span, call, method, full_path.partition("?")[0])


def observers_for(hooks: EventHooks | None) -> Observers | None:
    """What a client's requestor holds: ``None`` when nothing can ever watch."""
    runner = None if hooks is None or hooks.is_empty() else HookRunner(hooks)
    if runner is None and not _tracing.AVAILABLE:
        return None
    return Observers(runner)


@attrs.define(eq=False)
class CallObserver:
    """One call, as the requestor reports it: attempts, answers, retries, waits.

    Made with ``(hooks, span, call, method, path)``.
    """

    _hooks: HookRunner | None
    _span: _tracing.CallSpan | None
    _call: str
    _method: str
    _path: str
    attempts: int = attrs.field(init=False, default=0)
    _status: int | None = attrs.field(init=False, default=None)
    _error: BaseException | None = attrs.field(init=False, default=None)
    _sent_at: float = attrs.field(init=False, default=0.0)
    _wait_from: float = attrs.field(init=False, default=0.0)
    _waited: float = attrs.field(init=False, default=0.0)

    def sent(self, attempt: int) -> None:
        """Attempt ``attempt`` goes out now."""
        self.attempts += 1
        self._sent_at = time.monotonic()
        hooks = self._hooks
        if hooks is not None and hooks.on_request is not None:
            hooks.call(
                "on_request",
                hooks.on_request,
                RequestSent(self._call, self._method, self._path, attempt),
            )

    def received(self, attempt: int, status: int) -> None:
        """Attempt ``attempt`` was answered with ``status`` (its body read)."""
        self._status = status
        hooks = self._hooks
        if hooks is not None and hooks.on_response is not None:
            hooks.call(
                "on_response",
                hooks.on_response,
                ResponseReceived(
                    self._call,
                    self._method,
                    self._path,
                    attempt,
                    status,
                    time.monotonic() - self._sent_at,
                ),
            )

    def retry(self, attempt: int, wait_s: float, error: BaseException) -> None:
        """Attempt ``attempt`` failed with ``error``; the next goes in ``wait_s`` seconds."""
        hooks = self._hooks
        if hooks is not None and hooks.on_retry is not None:
            status = getattr(error, "status", None)
            hooks.call(
                "on_retry",
                hooks.on_retry,
                RetryScheduled(
                    self._call,
                    self._method,
                    self._path,
                    attempt,
                    wait_s,
                    status if isinstance(status, int) else None,
                    type(error).__name__,
                ),
            )

    def waiting(self) -> None:
        """The next attempt starts waiting for the rate limiter or the 429 pause."""
        self._wait_from = time.monotonic()

    def waited(self, attempt: int, after_429: bool) -> None:
        """The wait begun at :meth:`waiting` is over; attempt ``attempt`` goes next."""
        seconds = time.monotonic() - self._wait_from
        self._waited += seconds
        hooks = self._hooks
        if hooks is not None and hooks.on_rate_limit_wait is not None and seconds >= _REPORTED_WAIT:
            hooks.call(
                "on_rate_limit_wait",
                hooks.on_rate_limit_wait,
                RateLimitWait(self._call, self._method, self._path, attempt, seconds, after_429),
            )

    def failed(self, error: BaseException) -> None:
        """The call ends with ``error``."""
        self._error = error

    def finish(self) -> None:
        """The call is over (either way): end its span."""
        if self._span is not None:
            self._span.end(
                status=self._status, attempts=self.attempts, wait_s=self._waited, error=self._error
            )
