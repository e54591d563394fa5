"""Turns a call into an HTTP exchange: headers, URL, logging, and error mapping.

One place builds every request the client sends, reads every response, and maps
failures onto the :mod:`~helpcrunch_async._exceptions` tree. Nothing here knows
about customers.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._convert import ResponseShapeError
from ._exceptions import (
    APIError,
    APIResponseValidationError,
    ErrorDetail,
    RateLimitError,
    _error_class_for,
)
from ._transport import AiohttpTransport, RawResponse
from ._version import __version__

__all__ = ["Requestor", "logger"]

logger = logging.getLogger("helpcrunch_async")
T = TypeVar("T")

USER_AGENT = (
    f"helpcrunch-async/{__version__} python/{platform.python_version_tuple()[0]}."
    f"{platform.python_version_tuple()[1]} aiohttp/{'.'.join(aiohttp.__version__.split('.')[:2])}"
)


class Requestor:
    """Sends authenticated JSON requests below ``base_url`` and returns parsed JSON."""

    def __init__(
        self,
        transport: AiohttpTransport,
        *,
        base_url: URL,
        api_key: str,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self._transport = transport
        self._base = str(base_url)
        self._base_path = base_url.path.rstrip("/")
        self._timeout = timeout
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }

    def __repr__(self) -> str:  # never show the headers: they hold the key
        return f"<Requestor {self._base}>"

    async def request(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        body: bytes | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> T:
        """Send ``method`` to ``base_url + path``; return ``parse(json_body)``.

        ``parse`` may raise :class:`ResponseShapeError`; it becomes an
        :class:`APIResponseValidationError` naming the JSON path.

        Raises:
            APIError: (a subclass of) for any non-2xx status, or an unreadable 2xx body.
            APIConnectionError: when no response arrived.
        """
        full_path = self._base_path + path
        raw = await self._transport.send(
            method, self._base + path, path=full_path, headers=self._headers, body=body,
            timeout=timeout or self._timeout,
        )
        logger.debug("%s %s -> %s in %.1f ms", method, full_path, raw.status, raw.elapsed * 1000)
        if 200 <= raw.status < 300:
            return _parse_body(raw, method, full_path, parse)
        raise api_error(raw, method, full_path)


def _parse_body(raw: RawResponse, method: str, path: str, parse: Callable[[Any], T]) -> T:
    try:
        return parse(json.loads(raw.body))
    except ResponseShapeError as exc:
        json_path, message = exc.json_path, f"unexpected response: {exc}"
    except (ValueError, UnicodeDecodeError):
        json_path, message = "$", "the response body is not valid JSON"
    raise APIResponseValidationError(
        status=raw.status, method=method, path=path, body=_text(raw.body),
        request_id=_request_id(raw), json_path=json_path, message=message,
    )


def api_error(raw: RawResponse, method: str, path: str, *, attempts: int = 1) -> APIError:
    """The :class:`APIError` subclass for an error response, with every ``errors[]`` entry."""
    text = _text(raw.body)
    common: dict[str, Any] = dict(
        status=raw.status, method=method, path=path, errors=_error_details(raw.body),
        body=text, request_id=_request_id(raw), attempts=attempts,
    )
    cls = _error_class_for(raw.status)
    if cls is RateLimitError:
        return RateLimitError(retry_after=retry_after_seconds(raw.headers.get("Retry-After")),
                              **common)
    return cls(**common)


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _request_id(raw: RawResponse) -> str | None:
    return raw.headers.get("X-Request-Id") or raw.headers.get("X-Request-ID")


def _error_details(body: bytes) -> tuple[ErrorDetail, ...]:
    """Every ``{code, message}`` of ``{"errors": [...]}``, in order; () for other bodies."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ()
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
