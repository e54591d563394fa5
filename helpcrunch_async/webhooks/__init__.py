"""Receive HelpCrunch's webhooks safely: verify, parse, run once per event.

HelpCrunch POSTs an event (``customer.new``, ``customer.email_updated``, ...) to your
URL with ``X-HelpCrunch-Signature``: the hex HMAC-SHA1 of the raw body, keyed with
your "HTTP Webhook Signing Key" (Settings -> Developers -> Webhooks). It retries
deliveries, so one event ``id`` may arrive more than once.

* :func:`construct_event` -- verify the raw body (constant-time), then parse it into an
  :class:`Event` (with a :class:`WebhookCustomer` for ``customer.*`` types). Raises
  :class:`SignatureError` or :class:`InvalidEventError`, both
  :class:`~helpcrunch_async.HelpCrunchError`\\ s whose messages never hold the key or a
  signature.
* :func:`verify_request`, :func:`handle_request`, :func:`aiohttp_handler` -- framework
  glue (FastAPI/Starlette, aiohttp.web; Django and Flask in a few lines).
* :class:`MemoryDeduplicator`, :class:`RedisDeduplicator` -- run a handler once per id,
  across workers with Redis; a handler that fails lets the retry run it again.
* :func:`sign`, :func:`sample_event`, :func:`send_event` -- sign and send events as
  HelpCrunch does, for your tests. ``FakeHelpCrunch(webhook_url=...)`` sends them for
  every change made through the API.

Example:
    >>> import helpcrunch_async as hc
    >>> body = hc.webhooks.encode_event(hc.webhooks.sample_event("customer.new"))
    >>> event = hc.webhooks.construct_event(body, hc.webhooks.sign(body, "key"), "key")
    >>> event.type, event.customer.email
    ('customer.new', 'customer@example.com')

See ``docs/guides/webhooks.md``.
"""

from ._dedup import Claim, Deduplicator, MemoryDeduplicator, Outcome, RedisDeduplicator
from ._errors import DeliveryError, InvalidEventError, SignatureError, WebhookError
from ._events import CUSTOMER_EVENT_TYPES, Event, WebhookCustomer, construct_event, parse_event
from ._receivers import aiohttp_handler, handle_request, read_signature, verify_request
from ._sending import encode_event, event_payload, sample_event, send_event
from ._signature import SIGNATURE_HEADER, sign, verify_signature

__all__ = [
    "CUSTOMER_EVENT_TYPES",
    "SIGNATURE_HEADER",
    "Claim",
    "Deduplicator",
    "DeliveryError",
    "Event",
    "InvalidEventError",
    "MemoryDeduplicator",
    "Outcome",
    "RedisDeduplicator",
    "SignatureError",
    "WebhookCustomer",
    "WebhookError",
    "aiohttp_handler",
    "construct_event",
    "encode_event",
    "event_payload",
    "handle_request",
    "parse_event",
    "read_signature",
    "sample_event",
    "send_event",
    "sign",
    "verify_request",
    "verify_signature",
]
