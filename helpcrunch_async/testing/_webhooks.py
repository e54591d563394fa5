"""The fake server's webhook deliveries: signed events for changes made through the API.

``FakeHelpCrunch(webhook_url=..., webhook_signing_key=...)`` posts an event, in the
shape HelpCrunch documents and signed as it does (see :mod:`helpcrunch_async.webhooks`),
for each change a request makes:

* ``customer.new`` -- ``POST /customers``;
* ``customer.email_updated`` -- an update (``PUT``, ``PATCH``, batch) that changes the
  email, to ``null`` too;
* ``customer.tags_changed`` -- the set of tag names changed (update, tag, untag; removing
  every tag counts; a new colour alone does not);
* ``customer.unsubscribed``/``customer.subscribed`` and ``customer.blocked``/
  ``customer.unblocked`` -- ``unsubscribed``/``blocked`` turned true / stopped being true;
* ``customer.deleted`` -- ``DELETE /customers/{id}``, with the customer as it was.

One change may give several events (email and tags in one ``PATCH``: two events, in
that order). Seeding customers sends none. ``eventData`` holds ``id``, ``name``,
``email``, ``userId``, ``unsubscribed`` and ``customData`` (an object).

Delivery (the fake's choices; HelpCrunch documents neither its timeout nor its retry
schedule): events go out one at a time, in the order of the changes, in the background
-- the fake answers the API request first. Any 2xx is delivered; another status, no
answer within ``timeout`` seconds or a refused connection is retried with the same
``id``, ``attempts`` + 1 and a new ``lastAttemptAt`` (so a new body and signature) after
``retry_delay * 2 ** (attempt - 1)`` seconds, up to ``max_attempts`` deliveries in all,
before the next event goes. Every attempt is recorded as a :class:`WebhookDelivery`.
``attempts`` is 1 on the first delivery.

Example:
    >>> sender = WebhookSender("http://127.0.0.1:1/hook", "key")
    >>> sender.deliveries
    []
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import attrs

from ..webhooks import DeliveryError, encode_event, event_payload, send_event, sign

__all__ = ["WebhookDelivery", "WebhookSender"]

logger = logging.getLogger("helpcrunch_async.testing")

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery attempt of one event, as the fake sent it.

    ``status`` is the receiver's HTTP status, or ``None`` when there was no answer
    (``error`` says why: ``"timeout"`` or the connection error's name). ``body`` and
    ``signature`` are exactly what was sent; ``time`` is ``time.monotonic()`` when the
    attempt started.

    Example:
        >>> d = WebhookDelivery("e-1", "customer.new", 1, b'{"id":"e-1"}', "ab", 200, None, 0.0)
        >>> d.ok, d.payload["id"]
        (True, 'e-1')
    """

    event_id: str
    event_type: str
    attempt: int
    body: bytes
    signature: str
    status: int | None
    error: str | None
    time: float

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def payload(self) -> JsonDict:
        """The body, parsed."""
        parsed: JsonDict = json.loads(self.body)
        return parsed


def customer_data(customer: JsonDict) -> JsonDict:
    """The ``eventData`` of a customer event: what the docs say it carries (a copy).

    Example:
        >>> customer_data({"id": 1, "name": "A", "email": None, "userId": "u",
        ...                "unsubscribed": False, "customData": {"k": 1}, "phone": "1"})
        {'id': 1, 'name': 'A', 'email': None, 'userId': 'u', 'unsubscribed': False, \
'customData': {'k': 1}}
    """
    return {
        "id": customer["id"],
        "name": customer.get("name"),
        "email": customer.get("email"),
        "userId": customer.get("userId"),
        "unsubscribed": customer.get("unsubscribed"),
        "customData": json.loads(json.dumps(customer.get("customData") or {})),
    }


def _tag_names(customer: JsonDict) -> set[str]:
    return {tag["name"] for tag in customer.get("tags") or ()}


def change_events(before: JsonDict | None, after: JsonDict | None) -> list[str]:
    """The event types a change of one customer gives (see the module's docstring).

    Example:
        >>> change_events({"email": "a@x", "tags": []}, {"email": None, "tags": []})
        ['customer.email_updated']
        >>> change_events(None, {"id": 1})
        ['customer.new']
    """
    if before is None:
        return [] if after is None else ["customer.new"]
    if after is None:
        return ["customer.deleted"]
    types = []
    if before.get("email") != after.get("email"):
        types.append("customer.email_updated")
    if _tag_names(before) != _tag_names(after):
        types.append("customer.tags_changed")
    for key, on, off in (
        ("unsubscribed", "customer.unsubscribed", "customer.subscribed"),
        ("blocked", "customer.blocked", "customer.unblocked"),
    ):
        was, now = before.get(key) is True, after.get(key) is True
        if was != now:
            types.append(on if now else off)
    return types


@attrs.define(eq=False)
class WebhookSender:
    """Queues events and delivers them, in order, from a task on the fake's loop.

    Made with ``(url, signing_key, *, retry_delay=0.05, max_attempts=5, timeout=2.0,
    clock=time.time)``; bad settings raise :class:`ValueError` at once.

    Example:
        >>> WebhookSender("http://127.0.0.1:1/hook", "key", max_attempts=3).max_attempts
        3
    """

    url: str
    _key: str = attrs.field(alias="signing_key")
    _retry_delay: float = attrs.field(kw_only=True, default=0.05)
    max_attempts: int = attrs.field(kw_only=True, default=5)
    timeout: float = attrs.field(kw_only=True, default=2.0)
    _clock: Callable[[], float] = attrs.field(kw_only=True, default=time.time)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _deliveries: list[WebhookDelivery] = attrs.field(init=False, factory=list)
    _pending: int = attrs.field(init=False, default=0)
    _queue: asyncio.Queue[JsonDict] | None = attrs.field(init=False, default=None)
    _worker: asyncio.Task[None] | None = attrs.field(init=False, default=None)
    _session: aiohttp.ClientSession | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        url, max_attempts = self.url, self.max_attempts
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        sign(b"", self._key)  # a bad key fails now, not in the background
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError("webhook_max_attempts must be an int >= 1")
        if not self._retry_delay >= 0 or not self.timeout > 0:
            raise ValueError("webhook_retry_delay must be >= 0 and webhook_timeout > 0")

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every delivery attempt so far, oldest first (a copy)."""
        with self._lock:
            return list(self._deliveries)

    @property
    def pending(self) -> int:
        """Events queued or being delivered."""
        with self._lock:
            return self._pending

    def clear(self) -> None:
        """Forget the recorded deliveries (events still queued are still sent)."""
        with self._lock:
            self._deliveries.clear()

    def customer_changed(self, before: JsonDict | None, after: JsonDict | None) -> None:
        """The store's listener: queue the events of this change. Never raises."""
        try:
            for event_type in change_events(before, after):
                source = after if after is not None else before
                assert source is not None
                self.emit(event_type, customer_data(source))
        except Exception:  # a webhook must never break the fake's answer
            logger.exception("fake webhook: could not queue an event")

    def emit(self, event_type: str, data: JsonDict) -> None:
        """Queue one event (call it on the fake's event loop)."""
        payload = event_payload(event_type, data, created_at=int(self._clock()))
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(
                self._run(self._queue), name="helpcrunch-fake-webhooks"
            )
        with self._lock:
            self._pending += 1
        self._queue.put_nowait(payload)

    async def _run(self, queue: asyncio.Queue[JsonDict]) -> None:
        while True:
            payload = await queue.get()
            try:
                await self._deliver(payload)
            finally:
                with self._lock:
                    self._pending -= 1

    async def _deliver(self, payload: JsonDict) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        for attempt in range(1, self.max_attempts + 1):
            payload["attempts"] = attempt
            payload["lastAttemptAt"] = int(self._clock())
            body = encode_event(payload)
            status: int | None = None
            error: str | None = None
            started = time.monotonic()
            try:
                status = await send_event(
                    self.url, body, self._key, session=self._session, timeout=self.timeout
                )
            except DeliveryError as exc:
                cause = exc.__cause__
                error = "timeout" if exc.timed_out else type(cause or exc).__name__
            with self._lock:
                self._deliveries.append(
                    WebhookDelivery(
                        payload["id"],
                        payload["event"],
                        attempt,
                        body,
                        sign(body, self._key),
                        status,
                        error,
                        started,
                    )
                )
            if status is not None and 200 <= status < 300:
                return
            if attempt < self.max_attempts:
                await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
        logger.warning(
            "fake webhook: gave up on event %s (%s) after %d attempts",
            payload["id"],
            payload["event"],
            self.max_attempts,
        )

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is delivered or given up on (from any loop).

        Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.pending} webhook event(s) still pending after {timeout:g} s"
                )
            await asyncio.sleep(0.005)

    async def close(self, drain: float) -> None:
        """Wait up to ``drain`` seconds for pending events, then cancel the rest and
        close the connection pool (on the loop the events were sent from)."""
        with contextlib.suppress(TimeoutError):
            await self.wait_idle(drain)
        worker, self._worker, self._queue = self._worker, None, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        with self._lock:
            self._pending = 0
        session, self._session = self._session, None
        if session is not None:
            await session.close()
