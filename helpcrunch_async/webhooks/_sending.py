"""Build events and POST them signed, as HelpCrunch does: for tests and trying a receiver.

Used by the fake server's deliveries (:class:`helpcrunch_async.testing.FakeHelpCrunch`
with ``webhook_url=``) and meant for a ``webhooks trigger`` command: build an event
with :func:`event_payload` or :func:`sample_event`, send it with :func:`send_event`.

The request is shaped like HelpCrunch's (docs page "Setting up webhooks"): ``POST``,
``Content-Type: application/json``, ``Accept: application/json`` and
``X-HelpCrunch-Signature`` over the exact bytes sent. Event ids are UUID4 strings, as
in the docs' examples; timestamps are whole UNIX seconds.

Example:
    >>> event = sample_event("customer.email_updated", event_id="evt-1", now=1700000000)
    >>> event["event"], event["eventData"]["email"], event["attempts"]
    ('customer.email_updated', 'customer@example.com', 1)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from .._exceptions import ValidationError
from .._json import encode_json
from ._errors import DeliveryError
from ._signature import SIGNATURE_HEADER, sign

__all__ = ["encode_event", "event_payload", "sample_event", "send_event"]


def event_payload(
    event_type: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    attempts: int = 1,
    created_at: int | None = None,
    last_attempt_at: int | None = None,
) -> dict[str, Any]:
    """An event body in the documented shape (keys in the docs' order).

    ``event_id`` defaults to a new UUID4, ``created_at`` to now and
    ``last_attempt_at`` to ``created_at`` (whole UNIX seconds).

    Example:
        >>> event_payload("chat.closed", {"id": 5}, event_id="e", created_at=1)
        {'event': 'chat.closed', 'eventData': {'id': 5}, 'attempts': 1, \
'lastAttemptAt': 1, 'createdAt': 1, 'id': 'e'}
    """
    if not isinstance(event_type, str) or not event_type:
        raise ValidationError("event_type must be a non-empty string", field="event_type")
    created = int(time.time()) if created_at is None else created_at
    return {
        "event": event_type,
        "eventData": dict(data),
        "attempts": attempts,
        "lastAttemptAt": created if last_attempt_at is None else last_attempt_at,
        "createdAt": created,
        "id": str(uuid.uuid4()) if event_id is None else event_id,
    }


def sample_event(
    event_type: str,
    *,
    customer: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """A plausible event of ``event_type``, for trying a receiver by hand.

    ``customer.*`` types carry a sample customer (``id``, ``name``, ``email``,
    ``userId``, ``unsubscribed``, ``customData``) -- ``customer`` overrides any of
    those keys (camelCase, as sent). Other types carry ``{"id": 1}`` plus
    ``customer``'s keys: their data is not this SDK's business.

    Example:
        >>> sample_event("customer.unsubscribed", customer={"id": 42})["eventData"]
        {'id': 42, 'name': 'Sample Customer', 'email': 'customer@example.com', \
'userId': 'sample_1', 'unsubscribed': True, 'customData': {}}
    """
    data: dict[str, Any]
    if isinstance(event_type, str) and event_type.startswith("customer."):
        data = {
            "id": 1,
            "name": "Sample Customer",
            "email": "customer@example.com",
            "userId": "sample_1",
            "unsubscribed": event_type == "customer.unsubscribed",
            "customData": {},
        }
    else:
        data = {"id": 1}
    data.update(customer or {})
    return event_payload(event_type, data, event_id=event_id, created_at=now)


def encode_event(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the bytes to sign and send.

    Example:
        >>> encode_event({"id": "e", "eventData": {}})
        b'{"id":"e","eventData":{}}'
    """
    return encode_json(payload)


async def send_event(
    url: str,
    event: Mapping[str, Any] | bytes,
    signing_key: str,
    *,
    session: aiohttp.ClientSession | None = None,
    timeout: float = 10.0,
) -> int:
    """POST ``event`` (a payload, or body bytes sent as they are) to ``url``, signed
    with ``signing_key``; returns the receiver's HTTP status.

    Raises :class:`DeliveryError` when no answer came (refused, reset, or not within
    ``timeout`` seconds: ``timed_out``). ``session`` is used when given (not closed),
    else one is opened for this call.

    Example:
        >>> import asyncio                                         # doctest: +SKIP
        >>> asyncio.run(send_event("http://127.0.0.1:8000/hooks",   # doctest: +SKIP
        ...                        sample_event("customer.new"), "my-signing-key"))
        200
    """
    body = bytes(event) if isinstance(event, bytes | bytearray) else encode_event(event)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        SIGNATURE_HEADER: sign(body, signing_key),
    }
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    try:
        async with client.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            await response.read()
            return response.status
    except TimeoutError:
        raise DeliveryError(f"no answer from {url} within {timeout:g} s", timed_out=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"no answer from {url}: {type(exc).__name__}") from exc
    finally:
        if own:
            await client.close()
