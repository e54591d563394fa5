"""Receiving webhooks in a web framework, without depending on any.

* :func:`verify_request` -- raw body and headers in, ``(status, event)`` out: 200 and the
  :class:`Event`, or 400 and ``None`` for a bad signature or a body that is not an event.
  For any framework (FastAPI/Starlette, Django, Flask, ...).
* :func:`handle_request` -- the same, then runs your async handler (once per event id
  with a ``dedup``) and gives the status to answer.
* :func:`aiohttp_handler` -- an ``aiohttp.web`` handler doing all of it.

Statuses (HelpCrunch documents no meaning for them; it is assumed any 2xx counts as
delivered and anything else is retried):

* 200 -- handled, or a duplicate of an event already handled;
* 400 -- missing, malformed or wrong signature, or a signed body that is not an event
  (nothing was run; the body of the answer says only "invalid signature" or "invalid
  event", never why in detail);
* 409 -- another worker is handling this event id right now (so it is retried later);
* 500 -- your handler raised (logged with the event's id and type on the
  ``helpcrunch_async.webhooks`` logger); the retry runs it again.

Answer quickly: HelpCrunch's timeout is not documented. A handler that takes long
should put the event on a durable queue and return.

Django (a sync view; ``csrf_exempt``), in a few lines::

    @csrf_exempt
    @require_POST
    def helpcrunch_webhook(request):
        status, event = verify_request(request.body, request.headers, SIGNING_KEY)
        if event is not None:
            handle(event)                       # raise -> Django answers 500 -> retried
        return HttpResponse(status=status)

Flask::

    @app.post("/helpcrunch/webhooks")
    def helpcrunch_webhook():
        status, event = verify_request(request.get_data(), request.headers, SIGNING_KEY)
        if event is not None:
            handle(event)
        return "", status

Example:
    >>> from helpcrunch_async.webhooks import sign
    >>> body = (b'{"event":"customer.deleted","eventData":{"id":3},"attempts":1,'
    ...         b'"lastAttemptAt":1700000000,"createdAt":1700000000,"id":"e-3"}')
    >>> status, event = verify_request(body, {"X-HelpCrunch-Signature": sign(body, "k")}, "k")
    >>> status, event.customer.id
    (200, 3)
    >>> verify_request(body, {"x-helpcrunch-signature": "0" * 40}, "k")
    (400, None)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ._dedup import Deduplicator, Outcome
from ._errors import InvalidEventError, SignatureError
from ._events import Event, construct_event
from ._signature import SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["aiohttp_handler", "handle_request", "read_signature", "verify_request"]

logger = logging.getLogger("helpcrunch_async.webhooks")

Headers = Mapping[str, str] | Iterable[tuple[bytes | str, bytes | str]]
Handler = Callable[[Event], Awaitable[object]]

_LOWER = SIGNATURE_HEADER.lower()


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def read_signature(headers: Headers) -> str | None:
    """The ``X-HelpCrunch-Signature`` value from ``headers``, matched case-insensitively.

    ``headers`` is a mapping (aiohttp's, Starlette's, Django's ``request.headers``,
    Flask's, or a dict) or an ASGI scope's raw list of ``(name, value)`` byte pairs.
    Several such headers are joined with ``", "``, which no signature matches: a
    request carrying two is refused.

    Example:
        >>> read_signature([(b"x-helpcrunch-signature", b"ab12")])
        'ab12'
        >>> read_signature({"Content-Type": "application/json"}) is None
        True
    """
    values: list[str]
    if isinstance(headers, Mapping):
        getall = getattr(headers, "getall", None)
        getlist = getattr(headers, "getlist", None)
        if getall is not None:
            values = list(getall(SIGNATURE_HEADER, []))
        elif getlist is not None:
            values = list(getlist(SIGNATURE_HEADER))
        else:
            value = headers.get(SIGNATURE_HEADER)
            values = (
                [value]
                if value is not None
                else [v for k, v in headers.items() if k.lower() == _LOWER]
            )
    else:
        values = [_text(v) for k, v in headers if _text(k).lower() == _LOWER]
    if not values:
        return None
    return ", ".join(values)


def verify_request(body: bytes, headers: Headers, signing_key: str) -> tuple[int, Event | None]:
    """``(200, event)`` for a correctly signed event, ``(400, None)`` otherwise.

    A thin wrapper of :func:`construct_event` that turns its errors into a status and
    logs them (warning, with the reason only). For Starlette/FastAPI::

        status, event = verify_request(await request.body(), request.headers, KEY)

    Example:
        >>> verify_request(b"{}", {}, "k")
        (400, None)
    """
    try:
        return 200, construct_event(body, read_signature(headers), signing_key)
    except SignatureError as exc:
        logger.warning("webhook refused: %s signature", exc.reason)
    except InvalidEventError as exc:
        logger.warning("webhook refused: signed, but not an event (%s)", exc)
    return 400, None


async def handle_request(
    body: bytes,
    headers: Headers,
    signing_key: str,
    handler: Handler,
    *,
    dedup: Deduplicator | None = None,
) -> tuple[int, Event | None]:
    """Verify, then ``await handler(event)``; returns the status to answer and the event.

    With ``dedup``, the handler runs once per event id (see :class:`Deduplicator`):
    a duplicate answers 200 without running it, an event being handled elsewhere 409.
    A handler that raises answers 500 (the exception is logged, not raised), so
    HelpCrunch retries; :class:`asyncio.CancelledError` is not caught.

    Example:
        >>> import asyncio
        >>> async def handler(event: Event) -> None:
        ...     pass
        >>> asyncio.run(handle_request(b"{}", {}, "k", handler))
        (400, None)
    """
    status, event = verify_request(body, headers, signing_key)
    if event is None:
        return status, None
    try:
        if dedup is None:
            await handler(event)
            return 200, event
        outcome = await dedup.run_once(event.id, lambda: handler(event))
    except Exception:
        logger.exception("webhook handler failed for event %s (%s)", event.id, event.type)
        return 500, event
    if outcome is Outcome.IN_PROGRESS:
        return 409, event
    return 200, event


_BODIES = {
    200: "ok",
    400: "invalid signature or event",
    409: "in progress, retry later",
    500: "handler failed",
}


def aiohttp_handler(
    signing_key: str,
    handler: Handler,
    *,
    dedup: Deduplicator | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` request handler: verify, run ``handler`` (once per id with
    ``dedup``), answer as :func:`handle_request` says.

    Example:
        >>> from aiohttp import web
        >>> async def on_event(event: Event) -> None:
        ...     print(event.type, event.customer.id if event.customer else None)
        >>> app = web.Application()
        >>> _ = app.router.add_post("/helpcrunch/webhooks", aiohttp_handler("key", on_event))
    """
    from aiohttp import web

    sign(b"", signing_key)  # a bad key fails here, at startup, not on each request

    async def handle(request: web.Request) -> web.Response:
        status, _ = await handle_request(
            await request.read(), request.headers, signing_key, handler, dedup=dedup
        )
        return web.Response(status=status, text=_BODIES.get(status, ""))

    return handle
