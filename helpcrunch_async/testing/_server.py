"""The fake HelpCrunch server: a real ``aiohttp.web`` app on loopback.

See :class:`FakeHelpCrunch`. Choices where HelpCrunch's docs are silent are listed in
the docstrings of this module, ``_store`` (wire format), ``_window`` (rate limit) and
``_faults`` (fault injection).

Order in which a request is handled:

1. **auth** -- ``Authorization: Bearer <api_key>`` (scheme case-insensitive, key exact);
   otherwise 401 with the documented body. 401s do not count in the rate limit window
   (the window is per key, and such a request has no valid key);
2. **rate limit** -- exact sliding window per key (see ``_window``); over it: 429 with
   the documented body, plus ``Retry-After`` (whole seconds until a slot frees, rounded
   up) when ``retry_after=True``. 429s do not count in the window;
3. **faults** -- a queued or random fault (see ``_faults``); a faulted request did pass
   the limiter and counts in the window;
4. **routing and validation** -- 400/404 with the documented body, else the answer.

Every response carries an ``X-Request-Id`` header. Undocumented answers the fake
invents: a body that is not valid JSON -> 400 ``{"code": "body", "message": "Invalid
JSON."}``; an unknown path -> 404 ``not_found``; a known path with a method the fake
does not serve -> 405 ``method_not_allowed``; all in the ``{"errors": [...]}`` shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from aiohttp import web

from .._loop_runner import cancel_other_tasks
from ._faults import (
    ALL_FAULT_KINDS,
    Fault,
    FaultPlan,
    serve_fault,
)
from ._records import FakeStats, RecordedRequest
from ._routes import route
from ._store import CustomerStore
from ._webhooks import WebhookDelivery, WebhookSender
from ._window import SlidingWindow
from ._wire import error_body

__all__ = ["FakeHelpCrunch"]

_JSON = "application/json"
_UNAUTHORIZED = json.dumps(error_body({"code": "unauthorized", "message": "Unauthorized"})).encode()
_TOO_MANY = json.dumps(
    error_body({"code": "too_many_requests", "message": "Too many requests"})
).encode()
_INVALID_JSON = object()


class FakeHelpCrunch:
    """A fake HelpCrunch REST API v1 (customer endpoints) on a real loopback socket.

    Args:
        api_key: the only key accepted (``Authorization: Bearer <api_key>``).
        host, port: where to listen; ``port=0`` picks a free port.
        rate_limit: ``(requests, seconds)`` exact sliding window per key, or ``None``.
        retry_after: add ``Retry-After`` (whole seconds, rounded up) to 429s. The
            real API's headers are undocumented, so this is a switch.
        fault_rate: probability (0..1) that a request gets a random fault.
        fault_kinds: kinds drawn from for random faults (``"500"``, ``"502"``,
            ``"503"``, ``"504"``, ``"drop_before"``, ``"drop_after"``, ``"delay"``,
            ``"truncated"``, ``"non_json"``).
        seed: seed of the random faults: same seed, same requests -> same faults.
        clock: the clock of the rate limit window and of :attr:`RecordedRequest.time`
            (inject one to test the window's exact boundary).
        max_recorded: how many requests the log keeps (the oldest are dropped).
        fault_delay: seconds a random ``"delay"`` fault sleeps.
        webhook_url, webhook_signing_key: post a signed webhook event to this URL for
            every customer change made through the API (``customer.new``,
            ``customer.email_updated``, ``customer.tags_changed``, ``customer.deleted``,
            ...; see ``testing/_webhooks.py``), in the background; every attempt is in
            :attr:`webhook_deliveries`.
        webhook_retry_delay: a receiver that answers non-2xx or not within
            ``webhook_timeout`` seconds gets the same event (same ``id``, ``attempts``
            + 1) after ``webhook_retry_delay * 2 ** (attempt - 1)`` seconds...
        webhook_max_attempts: ...up to this many times.
        webhook_timeout: seconds a delivery may take; closing the fake waits up to
            this long for pending events, then drops them.

    Example:
        >>> import aiohttp
        >>> async def demo() -> None:
        ...     async with FakeHelpCrunch(rate_limit=None) as fake:
        ...         fake.seed_customers(3)
        ...         fake.add_faults(Fault.status(503), method="PATCH")
        ...         async with aiohttp.ClientSession() as s:
        ...             r = await s.patch(f"{fake.base_url}/customers/1", json={"name": "A"},
        ...                               headers={"Authorization": f"Bearer {fake.api_key}"})
        ...             assert r.status == 503        # the fault; customer 1 is unchanged
        ...         assert fake.stats.faults == 1
        >>> import asyncio
        >>> asyncio.run(demo())
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: tuple[int, float] | None = (120, 60.0),
        retry_after: bool = False,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = ALL_FAULT_KINDS,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_recorded: int = 10_000,
        fault_delay: float = 0.5,
        webhook_url: str | None = None,
        webhook_signing_key: str | None = None,
        webhook_retry_delay: float = 0.05,
        webhook_max_attempts: int = 5,
        webhook_timeout: float = 2.0,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        self._api_key = api_key
        self._bearer = f"Bearer {api_key}"
        self._host = host
        self._port = port
        self._clock = clock
        self._window = (
            SlidingWindow(rate_limit[0], rate_limit[1], clock=clock)
            if rate_limit is not None
            else None
        )
        self._retry_after = retry_after
        self._plan = FaultPlan(rate=fault_rate, kinds=fault_kinds, seed=seed, delay=fault_delay)
        self._store = CustomerStore()
        self._webhooks: WebhookSender | None = None
        if webhook_url is not None or webhook_signing_key is not None:
            if webhook_url is None or webhook_signing_key is None:
                raise ValueError("webhook_url and webhook_signing_key go together")
            self._webhooks = WebhookSender(
                webhook_url,
                webhook_signing_key,
                retry_delay=webhook_retry_delay,
                max_attempts=webhook_max_attempts,
                timeout=webhook_timeout,
            )
            self._store.on_change = self._webhooks.customer_changed
        self._log: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._stats = FakeStats()
        self._lock = threading.Lock()
        self._request_ids = 0
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (idempotent). Prefer ``async with``."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._base_url = f"http://{host}:{port}/v1"

    async def close(self) -> None:
        """Stop listening and close open connections (idempotent)."""
        if self._webhooks is not None:  # first: a receiver may call the fake back
            await self._webhooks.close(drain=self._webhooks.timeout)
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeHelpCrunch:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeHelpCrunch]:
        """Run the server on its own event loop in a daemon thread (for sync code).

        Example:
            >>> import urllib.request
            >>> with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
            ...     ids = fake.seed_customers(1)
            ...     req = urllib.request.Request(f"{fake.base_url}/customers/1",
            ...         headers={"Authorization": f"Bearer {fake.api_key}"})
            ...     urllib.request.urlopen(req).status
            200
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="helpcrunch-fake", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout=30)
        finally:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(cancel_other_tasks(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            if not thread.is_alive():
                loop.close()

    # --- inspection and control -----------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` -- what a client takes as ``base_url``.

        Example:
            >>> with FakeHelpCrunch().in_thread() as fake:
            ...     fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/v1")
            True
        """
        if self._base_url is None:
            raise RuntimeError("the fake is not started; use `async with` or await start()")
        return self._base_url

    @property
    def api_key(self) -> str:
        """The one API key the fake accepts.

        Example:
            >>> FakeHelpCrunch(api_key="sk-test").api_key
            'sk-test'
        """
        return self._api_key

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        """Stored customers by id, in the documented response format (live dict).

        camelCase keys, ``customData`` as an object, as ``GET /customers/{id}`` returns.

        Example:
            >>> fake = FakeHelpCrunch()
            >>> _ = fake.seed_customers(1)
            >>> fake.customers[1]["userId"], fake.customers[1]["customData"]
            ('user_1', {})
        """
        return self._store.customers

    @property
    def requests(self) -> Sequence[RecordedRequest]:
        """A snapshot of the request log (oldest first, at most ``max_recorded``).

        Example:
            >>> FakeHelpCrunch().requests
            []
        """
        with self._lock:
            return list(self._log)

    @property
    def stats(self) -> FakeStats:
        """A snapshot of the counters (see :class:`FakeStats`).

        Example:
            >>> FakeHelpCrunch().stats
            FakeStats(requests=0, rate_limited=0, faults=0, by_status=Counter())
        """
        with self._lock:
            return self._stats.copy()

    @property
    def webhook_deliveries(self) -> Sequence[WebhookDelivery]:
        """Every webhook delivery attempt so far, oldest first (a snapshot).

        Deliveries run in the background: ``await fake.webhooks_idle()`` first.

        Example:
            >>> FakeHelpCrunch(webhook_url="http://127.0.0.1:9/hook",
            ...                webhook_signing_key="whsec").webhook_deliveries
            []
        """
        return [] if self._webhooks is None else self._webhooks.deliveries

    async def webhooks_idle(self, timeout: float = 10.0) -> None:
        """Wait until every webhook event so far is delivered (or given up on).

        Usable from any event loop (also with :meth:`in_thread`); raises
        :class:`TimeoutError` after ``timeout`` seconds.

        Example:
            >>> import asyncio
            >>> asyncio.run(FakeHelpCrunch().webhooks_idle())
        """
        if self._webhooks is not None:
            await self._webhooks.wait_idle(timeout)

    @property
    def pending_faults(self) -> int:
        """Queued faults not yet served.

        Example:
            >>> FakeHelpCrunch().pending_faults
            0
        """
        return self._plan.pending

    def seed_customers(
        self,
        count: int,
        *,
        start_id: int = 1,
        email: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> list[int]:
        """Create ``count`` customers with ids ``start_id, start_id + 1, ...``.

        Each gets a distinct ``userId`` (``user_<id>``) and email
        (``customer<id>@example.com``), unless ``email`` gives them all the same one
        (HelpCrunch does not enforce unique emails). ``fields`` overrides any other
        response key (camelCase) in every one of them, e.g. ``{"company": "Acme"}``.
        Existing customers with those ids are overwritten; ``POST`` continues after the
        highest id. Returns the ids.

        Example:
            >>> fake = FakeHelpCrunch()
            >>> fake.seed_customers(3, start_id=10)
            [10, 11, 12]
            >>> fake.customers[10]["email"], fake.customers[11]["userId"]
            ('customer10@example.com', 'user_11')
            >>> _ = fake.seed_customers(2, start_id=20, email="dup@example.com")
            >>> fake.customers[20]["email"] == fake.customers[21]["email"]
            True
        """
        overrides = dict(fields or {})
        if email is not None:
            overrides["email"] = email
        return self._store.seed(count, start_id, fields=overrides)

    def add_faults(
        self, *faults: Fault, method: str | None = None, path: str | None = None
    ) -> None:
        """Queue faults: the next requests matching ``method``/``path`` get them, in order.

        ``path`` is matched against the request path (``/v1/customers/7``) with
        :func:`fnmatch.fnmatchcase`, so ``"/v1/customers/*"`` works; ``None`` matches
        any. Queued faults go before random ones.

        Example:
            >>> fake = FakeHelpCrunch()
            >>> fake.add_faults(Fault.status(503), Fault.drop_after(), method="PATCH")
            >>> fake.pending_faults
            2
        """
        self._plan.add(faults, method=method, path=path)

    def reset(self) -> None:
        """Clear customers, tags, the request log, stats, queued faults and the window.

        The random fault sequence restarts from ``seed``.

        Example:
            >>> fake = FakeHelpCrunch()
            >>> _ = fake.seed_customers(2)
            >>> fake.reset()
            >>> fake.customers
            {}
        """
        with self._lock:
            self._store.reset()
            self._log.clear()
            self._stats = FakeStats()
            self._plan.reset()
            if self._webhooks is not None:
                self._webhooks.clear()
            if self._window is not None:
                self._window.reset()

    # --- the handler ------------------------------------------------------------------

    def _record(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        now: float,
        status: int,
        fault: str | None,
        limited: bool = False,
    ) -> None:
        with self._lock:
            self._log.append(RecordedRequest(method, path, headers, body, now, status, fault))
            stats = self._stats
            stats.requests += 1
            stats.by_status[status] += 1
            if fault is not None:
                stats.faults += 1
            if limited:
                stats.rate_limited += 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = self._clock()
        method = request.method
        path = request.path
        logged = request.path_qs
        headers = dict(request.headers)
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                body = _INVALID_JSON
        recorded_body = None if body is _INVALID_JSON else body
        self._request_ids += 1
        rid = {"X-Request-Id": f"fake-{self._request_ids:012d}"}

        auth = headers.get("Authorization")
        if auth != self._bearer and not _same_bearer(auth, self._api_key):
            self._record(method, logged, headers, recorded_body, now, 401, None)
            return web.Response(status=401, body=_UNAUTHORIZED, content_type=_JSON, headers=rid)
        if self._window is not None:
            wait = self._window.acquire(self._api_key, now)
            if wait is not None:
                if self._retry_after:
                    rid["Retry-After"] = SlidingWindow.retry_after_header(wait)
                self._record(method, logged, headers, recorded_body, now, 429, None, True)
                return web.Response(status=429, body=_TOO_MANY, content_type=_JSON, headers=rid)

        fault = self._plan.next(method, path)
        if fault is None:
            status, payload = self._route(method, path, body, request)
            self._record(method, logged, headers, recorded_body, now, status, None)
            return web.Response(
                status=status, body=json.dumps(payload).encode(), content_type=_JSON, headers=rid
            )
        return await serve_fault(
            fault,
            request,
            rid,
            answer=lambda: self._route(method, path, body, request),
            record=lambda status: self._record(
                method, logged, headers, recorded_body, now, status, fault.kind
            ),
        )

    def _route(self, method: str, path: str, body: Any, request: web.Request) -> tuple[int, Any]:
        """Dispatch to the store; returns (status, JSON payload)."""
        return route(
            self._store,
            method,
            path,
            None if body is _INVALID_JSON else body,
            request.query,
            invalid_json=body is _INVALID_JSON,
        )


def _same_bearer(header: str | None, key: str) -> bool:
    if header is None:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and value == key
