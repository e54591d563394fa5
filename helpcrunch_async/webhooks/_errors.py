"""The webhook failures, under :class:`~helpcrunch_async.HelpCrunchError`.

No message ever holds the signing key, the expected signature or the one received:
a log line or an error page must not help anyone forge the next request.

Example:
    >>> import helpcrunch_async as hc
    >>> err = hc.webhooks.SignatureError("missing X-HelpCrunch-Signature header",
    ...                                  reason="missing")
    >>> isinstance(err, hc.HelpCrunchError), err.reason
    (True, 'missing')
"""

from __future__ import annotations

from typing import Literal

from .._exceptions import HelpCrunchError

__all__ = ["DeliveryError", "InvalidEventError", "SignatureError", "WebhookError"]

SignatureProblem = Literal["missing", "malformed", "mismatch"]


class WebhookError(HelpCrunchError):
    """The root of the webhook errors (catch it to catch them all)."""


class SignatureError(WebhookError):
    """The request's ``X-HelpCrunch-Signature`` does not prove it came from HelpCrunch.

    ``reason`` says why: ``"missing"`` (no header), ``"malformed"`` (not the 40
    lowercase hexadecimal characters a signature is) or ``"mismatch"`` (the body was
    not signed with this key). Answer 400 and do not act on the body.

    Example:
        >>> SignatureError("signature does not match the body", reason="mismatch").reason
        'mismatch'
    """

    def __init__(self, message: str, *, reason: SignatureProblem) -> None:
        super().__init__(message)
        self.reason: SignatureProblem = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_signature_error, (str(self), self.reason))


def _rebuild_signature_error(message: str, reason: SignatureProblem) -> SignatureError:
    return SignatureError(message, reason=reason)


class InvalidEventError(WebhookError):
    """A correctly signed body that is not a documented event: not JSON, not an
    object, a required key missing or of the wrong type. ``field`` names the culprit
    (``"event"``, ``"eventData.id"``...) when there is one.

    Example:
        >>> InvalidEventError("'id' must be a string", field="id").field
        'id'
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_invalid_event, (str(self), self.field))


def _rebuild_invalid_event(message: str, field: str | None) -> InvalidEventError:
    return InvalidEventError(message, field=field)


class DeliveryError(WebhookError):
    """:func:`send_event` got no HTTP answer from the receiver (refused, reset, or
    ``timed_out`` when it did not answer in time).

    Example:
        >>> DeliveryError("no answer from http://127.0.0.1:1/hook", timed_out=True).timed_out
        True
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_delivery_error, (str(self), self.timed_out))


def _rebuild_delivery_error(message: str, timed_out: bool) -> DeliveryError:
    return DeliveryError(message, timed_out=timed_out)
