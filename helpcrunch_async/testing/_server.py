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
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any

from aiohttp import web

from .._loop_runner import cancel_other_tasks
from ._faults import ALL_FAULT_KINDS, Fault, FaultPlan
from ._search import list_page, search_page
from ._store import ApiError, CustomerStore, error_body, parse_customer_id
from ._webhooks import WebhookDelivery, WebhookSender
from ._window import SlidingWindow

__all__ = ["FakeHelpCrunch", "FakeStats", "RecordedRequest", "run_fake_server"]

_JSON = "application/json"
_UNAUTHORIZED = json.dumps(
    error_body({"code": "unauthorized", "message": "Unauthorized"})).encode()
_TOO_MANY = json.dumps(
    error_body({"code": "too_many_requests", "message": "Too many requests"})).encode()
_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_NON_JSON_HTML = (
    "<!DOCTYPE html>\n<html><head><title>HelpCrunch</title></head>"
    "<body><p>Something went wrong, but your request may have been processed.</p>"
    "</body></html>\n"
)
_INVALID_JSON = object()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake saw it.

    ``status`` is the status code sent, or ``0`` when no response was sent (a
    ``drop_before``/``drop_after`` fault). For a ``truncated`` fault it is the status
    line that was sent (the body was cut). ``fault`` is the fault kind served
    (``"503"``, ``"drop_after"``, ...) or ``None``. ``body`` is the parsed JSON body,
    ``None`` when it was empty or not JSON. ``path`` includes the query string, if any
    (``/v1/customers?limit=100&offset=0``). ``time`` is the fake's clock when
    the request arrived; requests are logged in the order they *finished*.

    Example:
        >>> r = RecordedRequest("PATCH", "/v1/customers/1", {}, {"name": "A"}, 0.0, 200, None)
        >>> r.method, r.status
        ('PATCH', 200)
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    status: int
    fault: str | None


@dataclass(slots=True)
class FakeStats:
    """Counters since start (or the last :meth:`FakeHelpCrunch.reset`).

    ``requests`` counts every request received (401s, 429s and faults included);
    ``rate_limited`` the 429s served by the rate limiter (a ``Fault.status(429)``
    counts under ``faults`` instead); ``faults`` the faults served; ``by_status`` the
    responses by status code (``0``: connection dropped without a response).

    Example:
        >>> s = FakeStats()
        >>> s.by_status[200] += 1
        >>> s.requests, s.by_status[200]
        (0, 1)
    """

    requests: int = 0
    rate_limited: int = 0
    faults: int = 0
    by_status: Counter[int] = field(default_factory=Counter)

    def copy(self) -> FakeStats:
        """An independent snapshot."""
        return FakeStats(self.requests, self.rate_limited, self.faults, Counter(self.by_status))


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
        webhook_retry_delay, webhook_max_attempts, webhook_timeout: a receiver that
            answers non-2xx or not within ``webhook_timeout`` seconds gets the same
            event (same ``id``, ``attempts`` + 1) after ``webhook_retry_delay * 2 **
            (attempt - 1)`` seconds, up to ``webhook_max_attempts`` times. Closing the
            fake waits up to ``webhook_timeout`` seconds for pending events, then drops
            them.

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
        self._window = (SlidingWindow(rate_limit[0], rate_limit[1], clock=clock)
                        if rate_limit is not None else None)
        self._retry_after = retry_after
        self._plan = FaultPlan(rate=fault_rate, kinds=fault_kinds, seed=seed, delay=fault_delay)
        self._store = CustomerStore()
        self._webhooks: WebhookSender | None = None
        if webhook_url is not None or webhook_signing_key is not None:
            if webhook_url is None or webhook_signing_key is None:
                raise ValueError("webhook_url and webhook_signing_key go together")
            self._webhooks = WebhookSender(
                webhook_url, webhook_signing_key, retry_delay=webhook_retry_delay,
                max_attempts=webhook_max_attempts, timeout=webhook_timeout)
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
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=1.0)
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

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
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

    def seed_customers(self, count: int, *, start_id: int = 1, email: str | None = None,
                       fields: dict[str, Any] | None = None) -> list[int]:
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

    def add_faults(self, *faults: Fault, method: str | None = None,
                   path: str | None = None) -> None:
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

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any,
                now: float, status: int, fault: str | None, limited: bool = False) -> None:
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
            return web.Response(status=401, body=_UNAUTHORIZED, content_type=_JSON,
                                headers=rid)
        if self._window is not None:
            wait = self._window.acquire(self._api_key, now)
            if wait is not None:
                if self._retry_after:
                    rid["Retry-After"] = SlidingWindow.retry_after_header(wait)
                self._record(method, logged, headers, recorded_body, now, 429, None, True)
                return web.Response(status=429, body=_TOO_MANY, content_type=_JSON,
                                    headers=rid)

        fault = self._plan.next(method, path)
        if fault is None:
            status, payload = self._route(method, path, body, request)
            self._record(method, logged, headers, recorded_body, now, status, None)
            return web.Response(status=status, body=json.dumps(payload).encode(),
                                content_type=_JSON, headers=rid)
        return await self._faulted(fault, request, method, path, headers, body,
                                   recorded_body, now, rid)

    async def _faulted(self, fault: Fault, request: web.Request, method: str, path: str,
                       headers: dict[str, str], body: Any, recorded_body: Any, now: float,
                       rid: dict[str, str]) -> web.StreamResponse:
        kind = fault.kind
        code = fault.status_code
        logged = request.path_qs
        if code is not None:
            self._record(method, logged, headers, recorded_body, now, code, kind)
            if code == 502:
                return web.Response(status=502, text=_BAD_GATEWAY_HTML,
                                    content_type="text/html", headers=rid)
            phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
            payload = error_body({"code": phrase.lower().replace(" ", "_").replace("-", "_"),
                                  "message": phrase})
            return web.Response(status=code, body=json.dumps(payload).encode(),
                                content_type=_JSON, headers=rid)
        if kind == "drop_before":
            self._record(method, logged, headers, recorded_body, now, 0, kind)
            return _drop(request)
        if kind == "delay":
            await asyncio.sleep(fault.seconds)
        status, payload = self._route(method, path, body, request)
        if kind == "drop_after":
            self._record(method, logged, headers, recorded_body, now, 0, kind)
            return _drop(request)
        self._record(method, logged, headers, recorded_body, now, status, kind)
        if kind == "non_json":
            return web.Response(status=status, text=_NON_JSON_HTML, content_type="text/html",
                                headers=rid)
        data = json.dumps(payload).encode()
        if kind == "truncated":
            return await _truncated(request, status, data, rid)
        return web.Response(status=status, body=data, content_type=_JSON, headers=rid)

    def _route(self, method: str, path: str, body: Any,
               request: web.Request) -> tuple[int, Any]:
        """Dispatch to the store; returns (status, JSON payload)."""
        try:
            parts = path.rstrip("/").split("/")
            if len(parts) < 3 or parts[1] != "v1" or parts[2] != "customers":
                raise ApiError(404, [{"code": "not_found", "message": "Not found"}])
            rest = parts[3:]
            store = self._store
            if body is _INVALID_JSON and method in ("POST", "PUT", "PATCH", "DELETE"):
                raise ApiError(400, [{"code": "body", "message": "Invalid JSON."}])
            if not rest:
                if method == "POST":
                    return 201, store.create(body)
                if method == "GET":
                    return 200, list_page(store.customers.values(), request.query)
            elif len(rest) == 1:
                if rest[0] == "batch" and method == "PUT":
                    return 200, store.batch(body)
                if rest[0] == "search" and method == "POST":
                    return 200, search_page(store.customers.values(), body)
                if method in ("GET", "PUT", "PATCH", "DELETE"):
                    cid = parse_customer_id(rest[0])
                    if method == "GET":
                        return 200, store.get(cid)
                    if method == "DELETE":
                        return 200, store.delete(cid)
                    return 200, store.update(cid, body, replace=method == "PUT")
            elif len(rest) == 2 and rest[1] == "tags":
                if method in ("PUT", "DELETE"):
                    cid = parse_customer_id(rest[0])
                    return 200, store.tag(cid, body, remove=method == "DELETE")
            else:
                raise ApiError(404, [{"code": "not_found", "message": "Not found"}])
            raise ApiError(405, [{"code": "method_not_allowed",
                                  "message": "Method not allowed"}])
        except ApiError as exc:
            return exc.status, exc.body()


def _same_bearer(header: str | None, key: str) -> bool:
    if header is None:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and value == key


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection; aiohttp then fails to write the response and gives up."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=500)


async def _truncated(request: web.Request, status: int, data: bytes,
                     headers: dict[str, str]) -> web.StreamResponse:
    """Promise ``len(data)`` bytes, send half, close the connection."""
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_type = _JSON
    resp.content_length = len(data)
    await resp.prepare(request)
    await resp.write(data[: len(data) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()
    return resp


def run_fake_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    api_key: str = "test-key",
    rate_limit: tuple[int, float] | None = (120, 60.0),
    retry_after: bool = False,
    fault_rate: float = 0.0,
    seed: int | None = None,
    customers: int = 1000,
    fault_kinds: Iterable[str] = ALL_FAULT_KINDS,
) -> None:
    """Serve a fake (with ``customers`` seeded customers) until Ctrl-C. Blocking.

    Prints the base URL and API key on start. Used by ``helpcrunch fake-server`` and by
    benchmarks that run the fake as a separate process.

    Example:
        >>> run_fake_server(port=8080, rate_limit=(120, 60.0), customers=100)  # doctest: +SKIP
        HelpCrunch fake server: base_url=http://127.0.0.1:8080/v1 api_key=test-key ...
    """
    async def main() -> None:
        fake = FakeHelpCrunch(api_key=api_key, host=host, port=port, rate_limit=rate_limit,
                              retry_after=retry_after, fault_rate=fault_rate,
                              fault_kinds=fault_kinds, seed=seed)
        async with fake:
            fake.seed_customers(customers)
            limit = "off" if rate_limit is None else f"{rate_limit[0]}/{rate_limit[1]:g}s"
            print(f"HelpCrunch fake server: base_url={fake.base_url} api_key={fake.api_key} "
                  f"customers=1..{customers} rate_limit={limit} fault_rate={fault_rate} "
                  "(Ctrl-C to stop)", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
