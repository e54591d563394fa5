"""Shared by the webhook tests: the docs-shaped example body and its known signature."""

from __future__ import annotations

# Shaped like the docs' "Customer webhooks" example (customer.email_updated), as raw
# bytes as PHP's json_encode writes them (compact, "/" escaped as "\\/"): no Python
# serialiser gives these bytes back, so verification must use them as received.
EXAMPLE_BODY = (
    b'{"event":"customer.email_updated","eventData":{"id":8745474,"name":"Paul",'
    b'"userId":"example_2924","email":"paul@example.com","unsubscribed":false,'
    b'"customData":{"Role":"admin","Plan":"Enterprise $9999\\/mo"}},"attempts":1,'
    b'"lastAttemptAt":1638953588,"createdAt":1638953588,'
    b'"id":"73499e69-285c-44c3-8431-a843ed08183d"}'
)
EXAMPLE_KEY = "whsec-test-SIGNING-key-0123456789"
# Computed independently of this SDK:
#   printf '%s' "$EXAMPLE_BODY" | openssl dgst -sha1 -hmac "$EXAMPLE_KEY"
EXAMPLE_SIGNATURE = "0549ef875d8d314219cf2406b811eabe1cfa5f11"
