"""What an error answer says: HelpCrunch's answer turned into the SDK's exception.

:func:`api_error` reads a non-2xx response into the :class:`APIError` subclass for its
status, with every ``errors[]`` entry, the request id and ``Retry-After``;
:func:`unreadable_body` is the error of a 2xx body that could not be read. Nothing here
sends anything, or knows about customers.

Example:
    >>> retry_after_seconds("2")
    2.0
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
from multidict import CIMultiDictProxy

from ._convert import ResponseShapeError
from ._exceptions import (
    APIError,
    APIResponseValidationError,
    ErrorDetail,
    RateLimitError,
    _error_class_for,
)
from ._json import InvalidJSON, decode_json

__all__ = ["RawResponse", "api_error", "error_details_of", "retry_after_seconds", "unreadable_body"]


@attrs.define
class RawResponse:
    """What came back for an error answer: status, headers and the whole body.

    Not frozen: a frozen attrs record sets each field through ``object.__setattr__``
    (nothing writes to it after it is built). Built positionally: matching keyword
    arguments would cost more than the record itself.
    """

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def unreadable_body(
    exc: ValueError,
    status: int,
    headers: CIMultiDictProxy[str],
    body: bytes,
    method: str,
    path: str,
    attempts: int,
) -> APIResponseValidationError:
    """The error for a 2xx body that ``parse`` (or JSON decoding) refused with ``exc``."""
    if isinstance(exc, ResponseShapeError):
        json_path, message = exc.json_path, f"unexpected response: {exc}"
    elif isinstance(exc, InvalidJSON):
        json_path, message = "$", f"the response body is {exc}"
    else:  # any other value a parser refuses: still the SDK's error
        json_path, message = "$", f"unexpected response: {exc}"
    return APIResponseValidationError(
        status=status,
        method=method,
        path=path,
        body=_text(body),
        request_id=_request_id(headers),
        json_path=json_path,
        message=message,
        attempts=attempts,
    )


def api_error(raw: RawResponse, method: str, path: str, *, attempts: int = 1) -> APIError:
    """The :class:`APIError` subclass for an error response, with every ``errors[]`` entry."""
    text = _text(raw.body)
    common: dict[str, Any] = dict(
        status=raw.status,
        method=method,
        path=path,
        errors=_error_details(raw.body),
        body=text,
        request_id=_request_id(raw.headers),
        attempts=attempts,
    )
    cls = _error_class_for(raw.status)
    if cls is RateLimitError:
        return RateLimitError(
            retry_after=retry_after_seconds(raw.headers.get("Retry-After")), **common
        )
    return cls(**common)


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _request_id(headers: CIMultiDictProxy[str]) -> str | None:
    return headers.get("X-Request-Id")  # case-insensitive: X-Request-ID too


def _error_details(body: bytes) -> tuple[ErrorDetail, ...]:
    """Every ``{code, message}`` of ``{"errors": [...]}``, in order; () for other bodies."""
    try:
        data = decode_json(body)
    except InvalidJSON:
        return ()
    return error_details_of(data)


def error_details_of(data: Any) -> tuple[ErrorDetail, ...]:
    """Every ``{code, message}`` of a parsed ``{"errors": [...]}``; () for anything else."""
    items = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        ErrorDetail(code=str(item.get("code", "")), message=str(item.get("message", "")))
        for item in items
        if isinstance(item, dict)
    )


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad.

    Example:
        >>> retry_after_seconds("2")
        2.0
        >>> retry_after_seconds("soon") is None
        True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
