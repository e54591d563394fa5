"""Webhook events: :class:`Event`, :class:`WebhookCustomer` and :func:`construct_event`.

What HelpCrunch documents (docs pages "Setting up webhooks", "Customer webhooks"): every
event is a JSON object with ``event`` (the type), ``eventData`` (an object),
``attempts`` (an integer: delivery attempts so far), ``lastAttemptAt`` and
``createdAt`` (UNIX timestamps) and ``id`` (a unique string). Deliveries are retried,
so one ``id`` can arrive more than once. ``customer.*`` events carry ``id``, ``name``,
``email``, ``userId``, ``unsubscribed`` and the custom data as an object in
``eventData``; chat and message events carry other data.

Choices where the docs are silent (the safe side):

* any ``event`` string parses: types this SDK does not know (chat, message, or ones
  HelpCrunch adds later) become an :class:`Event` with ``customer=None`` and the raw
  ``eventData``, never an error;
* ``customer`` is read for every type starting with ``customer.``; ``eventData.id``
  must be an integer there (it is how you GET the customer), the other keys may be
  missing or ``null`` (-> ``None``; ``custom_data`` -> ``{}``), but not of another type;
  the custom data is read from ``customData``, the key the docs' example shows;
* a timestamp is an integer or a float, or a string of digits with an optional
  fraction (chat data uses ``"1607542030.713"``); ``lastAttemptAt`` missing or
  ``null`` gives ``None`` (whether a first delivery has one is not documented);
* ``attempts`` is an integer >= 0: the docs' message example shows ``0`` on a first
  delivery while the field is described as attempts so far, so either is accepted;
* anything else -- not JSON, not an object, a required key missing or of the wrong
  type -- raises :class:`InvalidEventError` naming the key, never ``KeyError``,
  ``ValueError`` or ``TypeError``.

Example:
    >>> from helpcrunch_async.webhooks import sign
    >>> body = (b'{"event":"customer.tags_changed","eventData":{"id":7,"name":"Ann",'
    ...         b'"email":null,"userId":"u7","unsubscribed":false,"customData":{"Plan":"pro"}},'
    ...         b'"attempts":1,"lastAttemptAt":1700000000,"createdAt":1700000000,"id":"e-1"}')
    >>> event = construct_event(body, sign(body, "whsec"), "whsec")
    >>> event.type, event.customer.id, event.customer.custom_data
    ('customer.tags_changed', 7, {'Plan': 'pro'})
    >>> event.created_at.isoformat()
    '2023-11-14T22:13:20+00:00'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard

import attrs

from ._errors import InvalidEventError
from ._signature import verify_signature

__all__ = [
    "CUSTOMER_EVENT_TYPES",
    "Event",
    "WebhookCustomer",
    "construct_event",
    "parse_event",
]

#: Every customer event type HelpCrunch documents.
CUSTOMER_EVENT_TYPES = (
    "customer.new",
    "customer.email_updated",
    "customer.tags_changed",
    "customer.unsubscribed",
    "customer.subscribed",
    "customer.blocked",
    "customer.unblocked",
    "customer.deleted",
)

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@attrs.frozen(kw_only=True)
class WebhookCustomer:
    """The customer a ``customer.*`` event is about: only what the event carries.

    For anything else (tags, company, ...) GET the customer by ``id``, as the docs
    advise (``client.get_customer(event.customer.id)``); after ``customer.deleted``
    there is nothing left to get.

    Example:
        >>> WebhookCustomer(id=7, name="Ann", email=None, user_id="u7", unsubscribed=False)
        WebhookCustomer(id=7, name='Ann', email=None, user_id='u7', unsubscribed=False, \
custom_data={})
    """

    id: int
    name: str | None = None
    email: str | None = None
    user_id: str | None = None
    unsubscribed: bool | None = None
    custom_data: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Event:
    """One webhook event, as HelpCrunch sent it.

    Attributes:
        id: the event's unique id; the same on every retried delivery of it.
        type: ``event`` as sent (``"customer.new"``, ``"chat.closed"``, ...).
        attempts: delivery attempts so far, as sent.
        created_at: when the event happened (aware, UTC).
        last_attempt_at: the last delivery attempt (aware, UTC), ``None`` if not sent.
        data: the raw ``eventData`` object.
        customer: for ``customer.*`` types, the customer it carries; else ``None``.

    Example:
        >>> from datetime import UTC, datetime
        >>> e = Event(id="e-1", type="chat.closed", attempts=1, data={"id": 5},
        ...           created_at=datetime(2024, 1, 1, tzinfo=UTC), last_attempt_at=None)
        >>> e.customer is None, e.data["id"]
        (True, 5)
    """

    id: str
    type: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    data: dict[str, Any] = attrs.field(repr=False)
    customer: WebhookCustomer | None = None


def construct_event(
    body: bytes | bytearray | memoryview, signature: str | None, signing_key: str
) -> Event:
    """Verify ``body`` against ``signature`` (the ``X-HelpCrunch-Signature`` header's
    value, ``None`` when absent) with ``signing_key``, then parse it.

    Pass the raw request body exactly as received (``await request.read()`` in
    aiohttp, ``await request.body()`` in Starlette/FastAPI, ``request.body`` in Django,
    ``request.get_data()`` in Flask), never text or parsed JSON.

    Raises:
        SignatureError: missing, malformed or wrong signature (answer 400).
        InvalidEventError: correctly signed, but not a documented event (answer 400).

    Example:
        >>> from helpcrunch_async.webhooks import sign
        >>> body = (b'{"event":"chat.new","eventData":{"id":1},"attempts":1,'
        ...         b'"lastAttemptAt":1700000000,"createdAt":1700000000,"id":"e-2"}')
        >>> construct_event(body, sign(body, "k"), "k").type
        'chat.new'
        >>> construct_event(body, None, "k")
        Traceback (most recent call last):
        ...
        helpcrunch_async.webhooks._errors.SignatureError: missing X-HelpCrunch-Signature header
    """
    verify_signature(body, signature, signing_key)
    return parse_event(bytes(body))


def parse_event(body: bytes | str | Mapping[str, Any]) -> Event:
    """Parse an event **without** checking its signature (for bodies you already
    verified, or stored ones). Raises :class:`InvalidEventError` as
    :func:`construct_event` does.

    Example:
        >>> parse_event({"event": "x.y", "eventData": {}, "attempts": 0, "id": "e",
        ...              "createdAt": 0, "lastAttemptAt": None}).type
        'x.y'
        >>> parse_event(b"[]")
        Traceback (most recent call last):
        ...
        helpcrunch_async.webhooks._errors.InvalidEventError: the body is not a JSON object
    """
    if isinstance(body, Mapping):
        raw: Any = body
    else:
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, too deep
            raise InvalidEventError("the body is not valid JSON") from None
    if not isinstance(raw, Mapping):
        raise InvalidEventError("the body is not a JSON object")
    event_type = _string(raw, "event")
    data = raw.get("eventData")
    if not isinstance(data, dict):
        raise InvalidEventError("'eventData' must be an object", field="eventData")
    attempts = raw.get("attempts")
    if not _is_int(attempts) or attempts < 0:
        raise InvalidEventError("'attempts' must be an integer >= 0", field="attempts")
    last = raw.get("lastAttemptAt")
    return Event(
        id=_string(raw, "id"),
        type=event_type,
        attempts=attempts,
        created_at=_timestamp(raw.get("createdAt"), "createdAt"),
        last_attempt_at=None if last is None else _timestamp(last, "lastAttemptAt"),
        data=data,
        customer=_customer(data) if event_type.startswith("customer.") else None,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        what = "missing" if value is None else "not a non-empty string"
        raise InvalidEventError(f"{key!r} is {what}", field=key)
    return value


def _timestamp(value: object, field: str) -> datetime:
    seconds: float
    if _is_int(value) or isinstance(value, float):
        seconds = value
    elif isinstance(value, str) and value.isascii() and _NUMBER.fullmatch(value):
        seconds = float(value)
    else:
        raise InvalidEventError(f"{field!r} must be a UNIX timestamp", field=field)
    try:
        if isinstance(seconds, float) and not math.isfinite(seconds):
            raise ValueError(seconds)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidEventError(f"{field!r} is out of range", field=field) from None


def _optional(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is not None and (
        not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
    ):
        name = {str: "a string", bool: "true or false", dict: "an object"}[kind]
        raise InvalidEventError(
            f"'eventData.{key}' must be {name} or null", field=f"eventData.{key}"
        )
    return value


def _customer(data: Mapping[str, Any]) -> WebhookCustomer:
    cid = data.get("id")
    if not _is_int(cid):
        raise InvalidEventError(
            "'eventData.id' must be the customer's integer id", field="eventData.id"
        )
    custom = _optional(data, "customData", dict)
    return WebhookCustomer(
        id=cid,
        name=_optional(data, "name", str),
        email=_optional(data, "email", str),
        user_id=_optional(data, "userId", str),
        unsubscribed=_optional(data, "unsubscribed", bool),
        custom_data={} if custom is None else custom,
    )
