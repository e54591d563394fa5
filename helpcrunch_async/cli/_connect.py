"""Talking to HelpCrunch from a subcommand: the API key, the connection options, and
API failures as one line on stderr.

:func:`add_client_options` gives a subcommand ``--base-url``, ``--rate-limit``,
``--redis`` and ``--max-retries``; :func:`run_with_client` reads the key from
``$HELPCRUNCH_API_KEY``, opens an :class:`~helpcrunch_async.AsyncHelpCrunch` with those
options, runs the subcommand's coroutine and turns a :class:`~helpcrunch_async.HelpCrunchError` into
``helpcrunch: ...`` and exit code 1 (a :class:`~helpcrunch_async.ValidationError` goes
on to :func:`~helpcrunch_async.cli.main`, which makes it a usage error, exit 2, and an
:class:`~helpcrunch_async.cli._common.OutputError` an output error, exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import IO, Any

from .._client import AsyncHelpCrunch
from .._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, api_key_from_env
from .._exceptions import (
    APIConnectionError,
    AuthenticationError,
    HelpCrunchError,
    PermissionDeniedError,
    ValidationError,
)
from .._models import Customer
from .._ratelimit import RateLimit, RateLimiter
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    InputError,
    OutputError,
    add_rate_limit_option,
    emit,
    non_negative_int,
    say,
)

__all__ = [
    "REDIS_URL_ENV",
    "add_client_options",
    "add_redis_option",
    "client_rate_limit",
    "emit_customer",
    "failure_message",
    "json_line",
    "not_a_redis_url",
    "require_api_key",
    "run_with_client",
]

REDIS_URL_ENV = "HELPCRUNCH_REDIS_URL"


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """``--base-url``, ``--rate-limit``, ``--redis``, ``--max-retries`` with the same
    defaults as ``update-customers``."""
    parser.add_argument(
        "--base-url",
        default=None,
        help=f"API root (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})",
    )
    add_rate_limit_option(
        parser,
        default=(120, 60.0),
        help="client-side limit (default 120/60, HelpCrunch's; off: none)",
    )
    add_redis_option(parser)
    parser.add_argument(
        "--max-retries",
        type=non_negative_int,
        default=4,
        metavar="N",
        help="retries per request for safe-to-retry failures (default 4)",
    )


def add_redis_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--redis URL`` (default ``$HELPCRUNCH_REDIS_URL``): share the rate limit with
    other processes through Redis. :func:`client_rate_limit` makes the limiter of it."""
    parser.add_argument(
        "--redis",
        metavar="URL",
        help=f"share the rate limit with every other process on the same key through "
        f"this Redis (redis://host:6379/0; default: ${REDIS_URL_ENV}; needs "
        f"helpcrunch-async[redis]; ignored with --rate-limit off)",
    )


def client_rate_limit(
    rate_limit: tuple[int, float] | None, redis_url: str | None
) -> RateLimiter | None:
    """The client's limiter for ``--rate-limit`` and ``--redis``: a ``RedisRateLimit``
    when a Redis URL is given (``--redis``, else ``$HELPCRUNCH_REDIS_URL``), else a
    ``RateLimit``; ``None`` for ``--rate-limit off``.

    Raises:
        ValidationError: a usage error (exit 2): redis is not installed, or the URL is
            not one (the message shows it, a password masked, and how to write it).

    Example:
        >>> client_rate_limit((120, 60.0), None)
        RateLimit(requests=120, period=60.0)
    """
    if rate_limit is None:
        return None
    url = redis_url if redis_url is not None else os.environ.get(REDIS_URL_ENV, "").strip()
    if not url:
        return RateLimit(*rate_limit)
    try:
        from .._redis_ratelimit import RedisRateLimit
    except ImportError:
        raise ValidationError(
            "--redis needs the redis package: pip install 'helpcrunch-async[redis]'", field="redis"
        ) from None
    try:
        return RedisRateLimit(url, requests=rate_limit[0], period=rate_limit[1])
    except ValidationError as exc:  # RedisRateLimit checks the URL (never echoes it)
        if exc.field != "redis":
            raise
        source = "--redis " if redis_url is not None else f"${REDIS_URL_ENV}="
        raise ValidationError(not_a_redis_url(source, url, str(exc)), field="redis") from None


def not_a_redis_url(source: str, url: str, reason: str) -> str:
    """What to say of a ``--redis`` value that is not a Redis URL: the value as given
    (a password masked) and how to write it.

    Example:
        >>> not_a_redis_url("--redis ", "localhost:6390", "")
        '--redis localhost:6390: not a Redis URL; try redis://localhost:6390'
        >>> not_a_redis_url("--redis ", "http://:s3cret@cache:6379", "").split("; ")
        ['--redis http://***@cache:6379: not a Redis URL', 'a Redis URL starts with redis://, \
rediss:// or unix://']
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    _, at, host = rest.rpartition("@")
    shown = f"{scheme}{sep}{'***@' if at else ''}{host}"
    text = f"{source}{shown}: not a Redis URL"
    if not sep:
        return f"{text}; try redis://{shown}"
    if scheme.lower() not in ("redis", "rediss", "unix"):
        return f"{text}; a Redis URL starts with redis://, rediss:// or unix://"
    return f"{text} ({reason.removeprefix('redis is not a Redis URL: ')})"


def require_api_key(note: str = "") -> str | None:
    """The API key from ``$HELPCRUNCH_API_KEY``; ``None`` when it is not set, said on
    stderr (with ``note`` after "your API key"): a usage error, exit 2, nothing sent."""
    api_key = api_key_from_env()
    if api_key is None:
        say(
            f"helpcrunch: set {API_KEY_ENV} to your API key{note}; `helpcrunch demo` runs "
            "without one"
        )
    return api_key


def run_with_client(
    args: argparse.Namespace, work: Callable[[AsyncHelpCrunch], Awaitable[int]]
) -> int:
    """Run ``work(client)`` with a client made from ``args``; returns the exit code.

    No key: a message and exit 2, nothing sent. A :class:`HelpCrunchError` from
    ``work``: one line on stderr and exit 1.
    """
    api_key = require_api_key()
    if api_key is None:
        return EXIT_USAGE

    limit = client_rate_limit(args.rate_limit, args.redis)

    async def go() -> int:
        async with AsyncHelpCrunch(
            api_key, base_url=args.base_url, rate_limit=limit, max_retries=args.max_retries
        ) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except (ValidationError, InputError, OutputError):  # main() says them: exit 2 or 1
        raise
    except HelpCrunchError as exc:
        say(failure_message(exc))
    return EXIT_FAILED


def failure_message(exc: HelpCrunchError) -> str:
    """The ``helpcrunch: ...`` line for a request that failed, with what to check.

    Example:
        >>> from helpcrunch_async import APIConnectionError
        >>> failure_message(APIConnectionError("refused", maybe_sent=False))
        'helpcrunch: cannot connect to HelpCrunch: refused. Check the network and --base-url.'
    """
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return f"helpcrunch: HelpCrunch refused the API key: {exc}. Check ${API_KEY_ENV}."
    if isinstance(exc, APIConnectionError) and not exc.maybe_sent:
        return f"helpcrunch: cannot connect to HelpCrunch: {exc}. Check the network and --base-url."
    return f"helpcrunch: {exc}"


def json_line(obj: Any, stream: IO[str]) -> str:
    """``obj`` as one line of JSON (no newline), readable text where ``stream`` can carry
    it, ``\\u`` escapes where it cannot (a lone surrogate, a narrow console encoding).

    Example:
        >>> import io
        >>> json_line({"name": "Олена"}, io.StringIO())
        '{"name": "Олена"}'
    """
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return text


def emit_customer(customer: Customer) -> None:
    """Print the customer on stdout as one line of JSON, every key as HelpCrunch answered
    (``get``, ``find``)."""
    emit(json_line(dict(customer.raw), sys.stdout))
