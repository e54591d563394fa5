"""Turns a call into HTTP exchanges: headers, URL, deadline, retries, logging.

One place builds every request the client sends, waits for its turn (in-flight bound,
rate limiter, 429 pause, the call's deadline), reads every response, and retries per
:mod:`~helpcrunch_async._retry`; :mod:`~helpcrunch_async._responses` turns error answers
into the :mod:`~helpcrunch_async._exceptions` tree. Nothing here knows about customers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar, overload

import aiohttp
from yarl import URL

from ._call_scope import (
    DEADLINE_SLACK,
    SCOPE,
    JobTask,
    NotSent,
    not_sent_in_time,
    shortened,
)
from ._exceptions import (
    APIConnectionError,
    HelpCrunchError,
    JobStoppedError,
    RateLimitError,
)
from ._in_flight import InFlightLimit
from ._json import decode_json
from ._observers import CallObserver, Observers
from ._per_loop import PerLoop
from ._ratelimit import PauseGate, RateLimiter, key_digest
from ._request_stats import RequestStats
from ._responses import RawResponse, api_error, unreadable_body
from ._retry import IDEMPOTENT_METHODS, RetryPolicy, check_max_retries
from ._transport import TRANSPORT_ERRORS, AiohttpTransport, connection_failure

__all__ = ["Requestor", "discard_body", "logger"]

logger = logging.getLogger("helpcrunch_async")
T = TypeVar("T")


class Requestor:
    """Sends authenticated JSON requests below ``base_url`` and returns parsed JSON.

    Every attempt waits for the rate limiter (or, without one, the client's 429 pause
    gate) and for a free in-flight slot; failures are retried per :class:`RetryPolicy`.
    """

    def __init__(
        self,
        transport: AiohttpTransport,
        *,
        base_url: URL,
        api_key: str,
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        rate_limit: RateLimiter | None,
        max_concurrency: int,
        observers: Observers | None = None,
    ) -> None:
        self._transport = transport
        self._observers = observers  # event hooks and tracing (None: neither, ever)
        self._base = str(base_url)
        self._base_url = base_url
        self._base_path = base_url.raw_path.rstrip("/")  # as sent: URLs are built encoded
        self._timeout = timeout
        self._retry = retry
        self._rate_limit = rate_limit
        self._gate = PauseGate()  # the 429 pause when there is no rate limiter
        # acquire_within(max_wait) (optional): the limiter answers at once when the
        # budget has no send time before a call's deadline (see RateLimiter).
        self._acquire_within: Callable[[float], Awaitable[bool]] | None = getattr(
            rate_limit, "acquire_within", None
        )
        bind_key = getattr(rate_limit, "bind_key", None)
        if bind_key is not None:  # a limiter keyed by API key: tell it which, one-way
            bind_key(key_digest(api_key))
        # requests in flight: a bound (and a line of waiters) per event loop
        self._slots: PerLoop[InFlightLimit] = PerLoop(lambda: InFlightLimit(max_concurrency))
        self.stats = RequestStats()

    def __repr__(self) -> str:
        return f"<Requestor {self._base}>"

    @property
    def base_path(self) -> str:
        """The base URL's path as sent (``/v1``): what every request's path starts with."""
        return self._base_path

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        """The client's default timeout."""
        return self._timeout

    @overload
    def request(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        body: bytes | None = ...,
        timeout: aiohttp.ClientTimeout | None = ...,
        max_retries: int | None = ...,
        idempotent: bool | None = ...,
        counted: Literal[False] = ...,
        call: str = ...,
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def request(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        body: bytes | None = ...,
        timeout: aiohttp.ClientTimeout | None = ...,
        max_retries: int | None = ...,
        idempotent: bool | None = ...,
        counted: Literal[True],
        call: str = ...,
    ) -> Coroutine[Any, Any, tuple[T, int]]: ...

    async def request(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        body: bytes | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        idempotent: bool | None = None,
        counted: bool = False,
        call: str = "request",
    ) -> T | tuple[T, int]:
        """Send ``method`` to ``base_url + path``, retrying per policy; return
        ``parse(json_body)``, or ``(parse(json_body), attempts)`` with ``counted=True``.

        ``parse`` may raise :class:`ResponseShapeError`; it becomes an
        :class:`APIResponseValidationError` naming the JSON path. ``parse=discard_body``
        accepts any 2xx body (even empty or not JSON) and returns ``None``.
        ``call`` names the client method for event hooks and the call's span
        (``"update_customer"``: span ``helpcrunch.update_customer``).
        ``idempotent=True`` retries the request like a ``GET`` whatever its method (a
        ``POST`` that only reads, such as a search); ``None`` decides by method.
        ``path`` is sent as given: it must need no percent-encoding (the client's paths
        are constants and validated numeric ids); a ``?query`` part is parsed.

        The deadline (see :mod:`._call_scope`): outside a bulk job, ``timeout.total``
        bounds the whole call -- waits for a free slot, the rate limiter and 429 pauses,
        backoffs, every attempt. No attempt starts that could not be sent before it: the
        call then raises the last attempt's error, or, when nothing was sent,
        :class:`APITimeoutError` with ``maybe_sent=False`` at once. A job's request
        has no deadline: its timeout starts when it is sent.

        Raises:
            APIError: (a subclass of) for any non-2xx status, or an unreadable 2xx body.
            APIConnectionError: when no response arrived, or none could be sent in time.
            Either carries ``attempts``, the number of attempts made.
        """
        full_path = self._base_path + path
        # Retry decisions go by method; a read sent as POST is retried like a GET.
        retry_as = method if idempotent is None else ("GET" if idempotent else "POST")
        retries = self._retry.max_retries if max_retries is None else check_max_retries(max_retries)
        # A prebuilt URL: aiohttp would otherwise parse the string again for every request.
        if "?" in path:
            url = URL(self._base + path)
        else:
            url = self._base_url.with_path(full_path, encoded=True)
        timeout = timeout or self._timeout
        scope = SCOPE.get()
        job: JobTask | None = None
        deadline: float | None = None
        if isinstance(scope, JobTask):
            job = scope
        elif scope is not None:
            deadline = scope
        elif timeout.total:
            deadline = time.monotonic() + timeout.total
        # One coroutine for the whole retry loop and the send: each extra await layer
        # costs CPU on every resumption of every request.
        attempt = 0
        last_error: HelpCrunchError | None = None  # what the attempt before got
        slots = self._slots.get()
        observers = self._observers
        obs = None if observers is None else observers.start(call, method, full_path)
        try:
            while True:
                attempt += 1
                if attempt > 1:
                    self.stats.retries += 1
                waited = attempt > 1  # time went by since the deadline was set
                try:
                    if not slots.take_now():
                        waited = True
                        await self._take_slot(
                            slots, deadline, method, full_path, attempt, last_error
                        )
                    try:
                        # No coroutine at all while there is no limiter and no 429 pause.
                        if self._rate_limit is not None or self._gate.remaining() > 0:
                            waited = True
                            if obs is not None:
                                obs.waiting()
                            if deadline is not None:
                                await self._wait_to_send(
                                    deadline, method, full_path, attempt, last_error
                                )
                            elif self._rate_limit is not None:
                                await self._rate_limit.acquire()
                            else:
                                await self._gate.wait()
                            if obs is not None:
                                obs.waited(attempt, isinstance(last_error, RateLimitError))
                        send_timeout = timeout
                        if waited and deadline is not None and timeout.total:
                            left = deadline - time.monotonic()
                            if left < timeout.total - DEADLINE_SLACK:  # time went waiting
                                send_timeout = shortened(timeout, left)
                        if job is not None:
                            if job.stopped:
                                raise NotSent(
                                    JobStoppedError(
                                        method=method, path=full_path, attempts=attempt - 1
                                    )
                                )
                            job.on_wire = True
                        self.stats.requests += 1
                        if obs is not None:
                            obs.sent(attempt)
                        # The exchange in this frame, not in a coroutine of the transport's;
                        # what came back stays in locals (a RawResponse only for errors).
                        failure = None
                        debug = logger.isEnabledFor(logging.DEBUG)
                        started = time.monotonic() if debug else 0.0
                        try:
                            async with self._transport.open(
                                method, url, body=body, timeout=send_timeout
                            ) as resp:
                                status, headers, payload = (
                                    resp.status,
                                    resp.headers,
                                    await resp.read(),
                                )
                        except TRANSPORT_ERRORS as exc:
                            failure = connection_failure(exc, method, full_path)
                        finally:
                            if job is not None:
                                job.on_wire = False
                        if failure is not None:  # raised here: see connection_failure
                            raise failure
                    finally:
                        slots.give()
                except APIConnectionError as exc:
                    exc.attempts = attempt
                    if attempt > retries or not self._retry.retryable_failure(
                        retry_as, maybe_sent=exc.maybe_sent
                    ):
                        raise
                    last_error = exc
                    await self._backoff(method, full_path, attempt, str(exc), deadline, exc, obs)
                    continue
                if debug:
                    logger.debug(
                        "%s %s -> %s in %.1f ms",
                        method,
                        full_path,
                        status,
                        (time.monotonic() - started) * 1000,
                    )
                if obs is not None:
                    obs.received(attempt, status)
                if 200 <= status < 300:
                    if self._rate_limit is not None:
                        self._rate_limit.on_success()
                    try:
                        value = (
                            parse(None)
                            if parse is discard_body  # any body, even not JSON
                            else parse(decode_json(payload))
                        )
                    except ValueError as exc:  # InvalidJSON, ResponseShapeError, or any other
                        unreadable = unreadable_body(
                            exc, status, headers, payload, method, full_path, attempt
                        )
                    else:
                        return (value, attempt) if counted else value
                    # (raised out here: the error keeps no context of the handler's)
                    if (
                        attempt > retries
                        or unreadable.json_path != "$"
                        or retry_as not in IDEMPOTENT_METHODS
                    ):
                        raise unreadable
                    last_error = unreadable
                    await self._backoff(
                        method, full_path, attempt, "unreadable body", deadline, unreadable, obs
                    )
                    continue
                raw = RawResponse(status, headers, payload)
                error = api_error(raw, method, full_path, attempts=attempt)
                if isinstance(error, RateLimitError):
                    self.stats.rate_limited += 1
                    pause = self._retry.rate_limit_pause(attempt, error.retry_after)
                    if self._rate_limit is not None:
                        self._rate_limit.on_rate_limited(pause)
                    else:
                        self._gate.pause_for(pause)
                    if attempt > retries or (
                        deadline is not None and time.monotonic() + pause >= deadline
                    ):
                        raise error  # (past the deadline: the server's answer, not a timeout)
                    logger.info(
                        "%s %s got 429; pausing all requests %.2f s (attempt %d of %d)",
                        method,
                        full_path,
                        pause,
                        attempt,
                        retries + 1,
                    )
                    if obs is not None:
                        obs.retry(attempt, pause, error)
                    last_error = error
                    continue  # the gate holds this retry (and everything else) for the pause
                if attempt > retries or not self._retry.retryable_status(retry_as, raw.status):
                    raise error
                last_error = error
                await self._backoff(
                    method, full_path, attempt, f"status {raw.status}", deadline, error, obs
                )
        except HelpCrunchError as exc:
            self.stats.failed += 1
            if obs is not None:
                obs.failed(exc)
            raise
        except NotSent as ended:  # nothing sent this time round: no retry
            self.stats.failed += 1
            unsent = ended.error
            unsent.__suppress_context__ = True  # not "during handling of NotSent"
            if obs is not None:
                obs.failed(unsent)
            raise unsent  # noqa: B904 - its __cause__ (aiohttp's error) must stay
        except asyncio.CancelledError as exc:
            if obs is not None:
                obs.failed(exc)
            raise
        finally:
            if obs is not None:
                obs.finish()

    async def _take_slot(
        self,
        slots: InFlightLimit,
        deadline: float | None,
        method: str,
        path: str,
        attempt: int,
        last_error: HelpCrunchError | None,
    ) -> None:
        """Wait for a free in-flight slot (all ``max_concurrency`` are busy), by the deadline."""
        if deadline is None:
            await slots.take()
            return
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                await slots.take()
        except TimeoutError:
            raise not_sent_in_time(method, path, attempt, last_error, "a free connection") from None

    async def _wait_to_send(
        self,
        deadline: float,
        method: str,
        path: str,
        attempt: int,
        last_error: HelpCrunchError | None,
    ) -> None:
        """Wait for the rate limiter (or the 429 pause), or fail at once if it cannot let
        this attempt go before ``deadline``."""
        limiter = self._rate_limit
        if limiter is None:
            pause = self._gate.remaining()
            if pause > 0:
                if time.monotonic() + pause >= deadline:
                    raise not_sent_in_time(method, path, attempt, last_error, "the 429 pause")
                await self._gate.wait()
            return
        left = deadline - time.monotonic()
        if left > 0:
            if self._acquire_within is not None:  # the limiter knows its own schedule
                if await self._acquire_within(left):
                    return
            else:
                try:
                    async with asyncio.timeout(left):
                        await limiter.acquire()
                    return
                except TimeoutError:
                    pass
        raise not_sent_in_time(method, path, attempt, last_error, "the rate limit")

    async def aclose(self) -> None:
        """Let the rate limiter release what it opened on this event loop (if it can)."""
        aclose = getattr(self._rate_limit, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _backoff(
        self,
        method: str,
        full_path: str,
        attempt: int,
        why: str,
        deadline: float | None,
        error: HelpCrunchError,
        obs: CallObserver | None,
    ) -> None:
        """Sleep before the next attempt; raise ``error`` instead when the deadline would
        pass first."""
        delay = self._retry.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            raise error
        logger.info(
            "%s %s failed (%s); retrying in %.2f s (attempt %d)",
            method,
            full_path,
            why,
            delay,
            attempt,
        )
        if obs is not None:
            obs.retry(attempt, delay, error)
        await asyncio.sleep(delay)


def discard_body(_: Any) -> None:
    """A ``parse`` for answers whose body is not documented: any 2xx body is fine."""
    return None
