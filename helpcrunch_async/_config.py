"""Client settings, every one checked here once, at construction (:func:`client_options`).

The key and the base URL come from the argument, else the environment
(``$HELPCRUNCH_API_KEY``, ``$HELPCRUNCH_BASE_URL``), else (the base URL only) the default.

Example:
    >>> from helpcrunch_async._config import check_base_url
    >>> str(check_base_url("https://api.helpcrunch.com/v1/"))
    'https://api.helpcrunch.com/v1'
    >>> check_base_url("http://api.helpcrunch.com/v1")
    Traceback (most recent call last):
    ...
    helpcrunch_async._exceptions.ValidationError: base_url must use https:// (plain http:// \
is allowed only for loopback hosts such as the fake server), got 'http://api.helpcrunch.com/v1'
"""

from __future__ import annotations

import inspect
import ipaddress
import math
import os

import aiohttp
import attrs
from yarl import URL

from ._event_hooks import EventHooks
from ._exceptions import HelpCrunchError, ValidationError
from ._ratelimit import RateLimit, RateLimiter
from ._retry import check_max_retries
from ._types import UNSET, Unset
from ._validation import check_int, check_seconds, is_number

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ClientOptions",
    "api_key_from_env",
    "call_timeout",
    "check_base_url",
    "check_event_hooks",
    "client_options",
    "resolve_api_key",
    "resolve_base_url",
    "to_client_timeout",
]

DEFAULT_BASE_URL = "https://api.helpcrunch.com/v1"
API_KEY_ENV = "HELPCRUNCH_API_KEY"
BASE_URL_ENV = "HELPCRUNCH_BASE_URL"
DEFAULT_TIMEOUT = 30.0
"""Seconds for a whole request (connect, send, read); connecting alone gets 10 s at most."""
_CONNECT_TIMEOUT = 10.0


def api_key_from_env() -> str | None:
    """``$HELPCRUNCH_API_KEY`` without surrounding whitespace (a newline left by a file it
    was read from); ``None`` when it is unset or blank. The one place the key is read
    from the environment."""
    return os.environ.get(API_KEY_ENV, "").strip() or None


def resolve_api_key(api_key: str | None) -> str:
    """The key given, else ``$HELPCRUNCH_API_KEY``; refuse none, empty, or one with spaces.

    A key with a control character or a lone surrogate is refused too: it could not be
    sent in a header, and the error aiohttp or the codec would raise carries the key.
    The key is never echoed in a message.
    """
    key = api_key_from_env() if api_key is None else api_key
    if key is None or key == "":
        raise HelpCrunchError(
            f"no API key: pass api_key=... or set {API_KEY_ENV} "
            "(HelpCrunch: Settings → Developers → Public API)"
        )
    if not isinstance(key, str):
        raise ValidationError(f"api_key must be a str, got {type(key).__name__}", field="api_key")
    if any(ch.isspace() for ch in key):
        raise ValidationError(
            "api_key contains whitespace; paste the key whole, with no spaces or newlines",
            field="api_key",
        )
    if not key.isprintable():
        raise ValidationError(
            "api_key contains a control character or an unprintable one; paste the key whole",
            field="api_key",
        )
    return key


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str | URL) -> URL:
    """Parse ``base_url``; require https unless the host is loopback (so the key never
    travels in clear); drop a trailing slash."""
    url = URL(str(base_url))
    if not url.is_absolute() or url.scheme not in ("https", "http"):
        raise ValidationError(
            f"base_url must be an absolute https:// URL, got {str(base_url)!r}", field="base_url"
        )
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValidationError(
            "base_url must use https:// (plain http:// is allowed only for loopback hosts "
            f"such as the fake server), got {str(base_url)!r}",
            field="base_url",
        )
    if url.query_string or url.fragment:
        raise ValidationError("base_url must not have a query or fragment", field="base_url")
    return url.with_path(url.path.rstrip("/"))


def resolve_base_url(base_url: str | URL | None) -> URL:
    """The base URL given, else ``$HELPCRUNCH_BASE_URL``, else :data:`DEFAULT_BASE_URL`;
    checked by :func:`check_base_url`. An empty environment variable counts as unset.

    Example:
        >>> str(resolve_base_url("http://127.0.0.1:8080/v1"))
        'http://127.0.0.1:8080/v1'
    """
    if base_url is not None:
        return check_base_url(base_url)
    from_env = os.environ.get(BASE_URL_ENV, "").strip()
    if not from_env:
        return check_base_url(DEFAULT_BASE_URL)
    try:
        return check_base_url(from_env)
    except ValidationError as exc:
        raise ValidationError(f"${BASE_URL_ENV}: {exc}", field="base_url") from None


def call_timeout(timeout: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout | None:
    """A call's ``timeout=`` override, checked (``None``: the client's own)."""
    return None if timeout is None else to_client_timeout(timeout)


def to_client_timeout(timeout: float | aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """Seconds (for the whole request) or an ``aiohttp.ClientTimeout`` as given."""
    if isinstance(timeout, aiohttp.ClientTimeout):
        return timeout
    if not is_number(timeout) or not 0 < timeout < math.inf:
        raise ValidationError(
            f"timeout must be a positive, finite number of seconds or an aiohttp.ClientTimeout, "
            f"got {timeout!r}",
            field="timeout",
        )
    seconds = float(timeout)
    return aiohttp.ClientTimeout(total=seconds, connect=min(seconds, _CONNECT_TIMEOUT))


@attrs.frozen
class ClientOptions:
    """A client's settings, each checked (see :func:`client_options`)."""

    api_key: str = attrs.field(repr=False)  # never shown
    base_url: URL
    timeout: aiohttp.ClientTimeout
    max_retries: int
    max_retry_after: float
    rate_limit: RateLimiter | None
    max_concurrency: int
    event_hooks: EventHooks | None = None


def client_options(
    api_key: str | None,
    *,
    base_url: str | None,
    timeout: float | aiohttp.ClientTimeout,
    max_retries: int,
    max_retry_after: float,
    rate_limit: RateLimiter | None | Unset,
    max_concurrency: int,
    event_hooks: EventHooks | None = None,
) -> ClientOptions:
    """Every option of a client checked, or a :class:`ValidationError` naming the first
    bad one (:class:`HelpCrunchError` when there is no key at all).

    ``rate_limit`` left :data:`UNSET` is HelpCrunch's documented limit,
    ``RateLimit(120, 60.0)``.

    Example:
        >>> client_options("key", base_url=None, timeout=30, max_retries=2,
        ...                max_retry_after=60, rate_limit=None, max_concurrency=0)
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: max_concurrency must be an int >= 1, \
got 0
    """
    key = resolve_api_key(api_key)
    if rate_limit is UNSET:
        rate_limit = RateLimit()
    elif rate_limit is not None and not isinstance(rate_limit, RateLimiter):
        raise ValidationError(
            "rate_limit must be a RateLimit (or another RateLimiter) or None, got "
            f"{type(rate_limit).__name__}",
            field="rate_limit",
        )
    return ClientOptions(
        api_key=key,
        base_url=resolve_base_url(base_url),
        timeout=to_client_timeout(timeout),
        max_retries=check_max_retries(max_retries),
        max_retry_after=check_seconds("max_retry_after", max_retry_after, allow_zero=True),
        rate_limit=rate_limit,
        max_concurrency=check_int("max_concurrency", max_concurrency, minimum=1),
        event_hooks=check_event_hooks(event_hooks),
    )


def check_event_hooks(event_hooks: object) -> EventHooks | None:
    """``event_hooks`` as given, checked: ``None`` or an :class:`EventHooks` whose hooks are
    plain callables (an ``async def`` hook would never be awaited).

    Example:
        >>> async def log(record): ...
        >>> check_event_hooks(EventHooks(on_request=log))
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: event_hooks.on_request must be a plain \
function, not async def: hooks are called inline, never awaited
    """
    if event_hooks is None:
        return None
    if not isinstance(event_hooks, EventHooks):
        raise ValidationError(
            f"event_hooks must be an EventHooks or None, got {type(event_hooks).__name__}",
            field="event_hooks",
        )
    for field in attrs.fields(EventHooks):
        hook = getattr(event_hooks, field.name)
        if hook is None:
            continue
        name = f"event_hooks.{field.name}"
        if not callable(hook):
            raise ValidationError(
                f"{name} must be callable or None, got {type(hook).__name__}", field=name
            )
        call = getattr(hook, "__call__", None)  # noqa: B004 - an object's async __call__
        if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call):
            raise ValidationError(
                f"{name} must be a plain function, not async def: hooks "
                "are called inline, never awaited",
                field=name,
            )
    return event_hooks
