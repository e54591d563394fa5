"""``X-HelpCrunch-Signature``: the hexadecimal HMAC-SHA1 (RFC 2104) of the raw body.

What HelpCrunch documents: the header holds the hexadecimal (40 characters) HMAC-SHA1
of the JSON request body, keyed with the account's "HTTP Webhook Signing Key"
(Settings -> Developers -> Webhooks). Verify over the bytes as received, before
parsing: JSON parsed and serialised again is not the same bytes.

Choices where the docs are silent (the safe side):

* only the form :func:`sign` produces is accepted: exactly 40 **lowercase** hex
  characters. An uppercase or shortened signature, surrounding spaces, or a prefix
  such as ``sha1=`` is refused as ``"malformed"`` rather than normalised;
* the comparison is constant-time (:func:`hmac.compare_digest`);
* there is no timestamp tolerance or replay window: HelpCrunch documents none (its
  signature does not cover a timestamp), so a replayed delivery verifies. Its ``id``
  repeats, so de-duplicate by id (:class:`MemoryDeduplicator`,
  :class:`RedisDeduplicator`).

Example:
    >>> sig = sign(b'{"event":"customer.new"}', "my-signing-key")
    >>> len(sig), sig == sig.lower()
    (40, True)
    >>> verify_signature(b'{"event":"customer.new"}', sig, "my-signing-key")
    >>> verify_signature(b'{"event":"customer.new"}', sig.upper(), "my-signing-key")
    Traceback (most recent call last):
    ...
    helpcrunch_async.webhooks._errors.SignatureError: malformed X-HelpCrunch-Signature \
header: expected 40 lowercase hexadecimal characters
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .._exceptions import ValidationError
from ._errors import SignatureError

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-HelpCrunch-Signature"
_HEX40 = re.compile(r"[0-9a-f]{40}")


def _key_bytes(signing_key: str) -> bytes:
    if not isinstance(signing_key, str):
        raise ValidationError(
            f"signing_key must be a str, got {type(signing_key).__name__}", field="signing_key"
        )
    if not signing_key:
        raise ValidationError(
            "signing_key is empty: copy the HTTP Webhook Signing Key from "
            "Settings -> Developers -> Webhooks",
            field="signing_key",
        )
    if signing_key != signing_key.strip():
        raise ValidationError(
            "signing_key has leading or trailing whitespace; paste the key whole",
            field="signing_key",
        )
    return signing_key.encode()


def _body_bytes(body: bytes | bytearray | memoryview) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise ValidationError(
        f"body must be the raw request body as bytes, got {type(body).__name__} (a "
        "signature covers the exact bytes received, not text or parsed JSON)",
        field="body",
    )


def sign(body: bytes | bytearray | memoryview, signing_key: str) -> str:
    """The ``X-HelpCrunch-Signature`` of ``body``: lowercase hex HMAC-SHA1.

    For your tests (sign a body as HelpCrunch would) and for :func:`send_event`.

    Example (RFC 2202's HMAC-SHA1 test case 2):
        >>> sign(b"what do ya want for nothing?", "Jefe")
        'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'
    """
    return hmac.new(_key_bytes(signing_key), _body_bytes(body), hashlib.sha1).hexdigest()


def verify_signature(
    body: bytes | bytearray | memoryview, signature: str | None, signing_key: str
) -> None:
    """Check ``signature`` (the header's value, ``None`` when absent) against ``body``.

    Returns ``None`` when it matches; raises :class:`SignatureError` (``reason``
    ``"missing"``, ``"malformed"`` or ``"mismatch"``) otherwise. The message never
    holds the key or either signature. A bad ``signing_key`` or a ``str`` body is a
    :class:`~helpcrunch_async.ValidationError` (a bug in the caller, not a bad request).

    Example:
        >>> body = b'{"id":"e1"}'
        >>> verify_signature(body, sign(body, "k1"), "k1")
        >>> verify_signature(body, sign(body, "k2"), "k1")
        Traceback (most recent call last):
        ...
        helpcrunch_async.webhooks._errors.SignatureError: X-HelpCrunch-Signature does not \
match the body (wrong signing key, or the body was changed)
    """
    expected = sign(body, signing_key)
    if signature is None or signature == "":
        raise SignatureError(f"missing {SIGNATURE_HEADER} header", reason="missing")
    if not isinstance(signature, str) or not _HEX40.fullmatch(signature):
        raise SignatureError(
            f"malformed {SIGNATURE_HEADER} header: expected 40 lowercase hexadecimal characters",
            reason="malformed",
        )
    if not hmac.compare_digest(expected, signature):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match the body (wrong signing "
            "key, or the body was changed)",
            reason="mismatch",
        )
