"""``HelpCrunch``: the blocking client, a thin layer over :class:`AsyncHelpCrunch`.

Each method runs the async method of the same name to completion; no logic is
duplicated. Each client has one event loop for its whole life (a
:class:`~helpcrunch_async._loop_runner.LoopRunner`), so one connection pool and one
rate limiter are reused across calls. A plain script's call runs that loop in the
calling thread (no thread hand-off: as fast as awaiting the async client); a
background thread, started the first time one is needed, takes the loop over when it
must keep running without the caller — several threads calling at once, a caller
inside a running event loop (a Jupyter cell, an async web handler: the call blocks
that thread until the request is done; in async code, prefer
:class:`AsyncHelpCrunch`), or an open ``update_customers`` iterator.

After ``os.fork()`` the child gets a fresh loop and connection pool on its first call
(the parent's sockets are left alone, untouched).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import (
    Awaitable,
    Callable,
    Sequence,
)
from types import TracebackType
from typing import Any, TypeVar, Unpack

import aiohttp

from ._blocking_many import BlockingManyCustomers
from ._client import AsyncHelpCrunch
from ._config import DEFAULT_TIMEOUT, resolve_api_key, resolve_base_url
from ._event_hooks import EventHooks
from ._exceptions import HelpCrunchError, ValidationError
from ._loop_runner import LoopRunner
from ._models import Customer, CustomerFields, CustomerUpdate, Tag
from ._ratelimit import RateLimiter
from ._request_stats import RequestStats
from ._types import UNSET, Unset

__all__ = ["HelpCrunch"]

T = TypeVar("T")


# Objects inherited from the parent by a forked child: kept referenced, never used,
# never closed (closing would touch sockets and an epoll set shared with the parent).
_ABANDONED_AFTER_FORK: list[object] = []


class _Secret:
    """Holds the API key so that it never shows in ``repr``/``vars`` output."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


def _shutdown(runner: LoopRunner, client: AsyncHelpCrunch) -> None:
    """Close the async client on its loop, then close the loop (also run by a finalizer)."""
    if runner.forked():
        return
    runner.stop(None if client.closed else client.aclose)


class HelpCrunch(BlockingManyCustomers):
    """Blocking client with the same methods and arguments as :class:`AsyncHelpCrunch`.

    Holds one event loop and one connection pool for its whole life. Safe to share
    between threads (one client for a whole web app or worker is the intended use).
    Clients may share one :class:`RateLimit`, blocking and async alike. Use it as a
    context manager or call :meth:`close`.

    Example:
        >>> import helpcrunch_async as hc
        >>> with hc.HelpCrunch(api_key="...") as client:  # doctest: +SKIP
        ...     c = client.update_customer(1568834, name="John Doe")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        rate_limit: RateLimiter | None | Unset = UNSET,
        max_concurrency: int = 16,
        event_hooks: EventHooks | None = None,
    ) -> None:
        if session is not None:
            raise ValidationError(
                "HelpCrunch runs its own event loop and cannot use an aiohttp.ClientSession "
                "made for another; pass session= to AsyncHelpCrunch instead",
                field="session",
            )
        self._key = _Secret(resolve_api_key(api_key))  # a forked child must not re-read env
        self._options: dict[str, Any] = {
            # resolved now: a forked child must not read the environment again
            "base_url": str(resolve_base_url(base_url)),
            "timeout": timeout,
            "max_retries": max_retries,
            "max_retry_after": max_retry_after,
            "rate_limit": rate_limit,
            "max_concurrency": max_concurrency,
            "event_hooks": event_hooks,
        }
        self._closed = False
        self._fork_lock = threading.Lock()
        self._setup(AsyncHelpCrunch(self._key.value, **self._options))

    def _setup(self, client: AsyncHelpCrunch) -> None:
        self._async = client
        self._runner = LoopRunner()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, client)

    def _run(self, factory: Callable[[], Awaitable[T]]) -> T:
        self._client()
        return self._runner.run(factory)

    def _client(self) -> AsyncHelpCrunch:
        """The async client to use in this process (a forked child gets its own)."""
        if self._closed:
            raise HelpCrunchError("the client is closed; create a new one")
        if self._runner.forked():
            with self._fork_lock:
                if self._runner.forked():
                    self._finalizer.detach()
                    _ABANDONED_AFTER_FORK.append((self._async, self._runner))
                    self._setup(AsyncHelpCrunch(self._key.value, **self._options))
        return self._async

    @property
    def base_url(self) -> str:
        """The API root requests go to (no trailing slash)."""
        return self._async.base_url

    @property
    def stats(self) -> RequestStats:
        """Counters of requests sent, retries, 429s received and failed calls."""
        return self._async.stats

    @property
    def rate_limit(self) -> RateLimiter | None:
        """The client's rate limiter (``None`` when limiting is off)."""
        return self._async.rate_limit

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight at once."""
        return self._async.max_concurrency

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called; a closed client refuses new calls."""
        return self._closed

    def __repr__(self) -> str:
        return f"<HelpCrunch base_url={self.base_url!r}{' closed' if self._closed else ''}>"

    def __enter__(self) -> HelpCrunch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and the event loop. Safe to call twice.

        Calls still running in other threads end with a :class:`HelpCrunchError`; an
        ``update_customers`` iterator still open is closed (its requests cancelled).
        """
        self._closed = True
        self._finalizer()

    def update_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """Update some fields of a customer (``PATCH /customers/{id}``).

        See :meth:`AsyncHelpCrunch.update_customer`.

        Example:
            >>> client.update_customer(1568834, email=None)  # doctest: +SKIP
        """
        return self._run(
            lambda: self._async.update_customer(
                customer_id, update, timeout=timeout, max_retries=max_retries, **fields
            )
        )

    def replace_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Replace a customer's data (``PUT /customers/{id}``).

        **Every field left out is set to null**; see
        :meth:`AsyncHelpCrunch.replace_customer`.
        """
        return self._run(
            lambda: self._async.replace_customer(
                customer_id, update, timeout=timeout, max_retries=max_retries
            )
        )

    def create_customer(
        self,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """Create a customer (``POST /customers``); same fields as :meth:`update_customer`.

        Never re-sent once it may have arrived; see
        :meth:`AsyncHelpCrunch.create_customer`.
        """
        return self._run(
            lambda: self._async.create_customer(
                update, timeout=timeout, max_retries=max_retries, **fields
            )
        )

    def get_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Fetch one customer (``GET /customers/{id}``).

        See :meth:`AsyncHelpCrunch.get_customer`.
        """
        return self._run(
            lambda: self._async.get_customer(customer_id, timeout=timeout, max_retries=max_retries)
        )

    def delete_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Delete a customer (``DELETE /customers/{id}``).

        See :meth:`AsyncHelpCrunch.delete_customer`.

        Example:
            >>> client.delete_customer(1568834)  # doctest: +SKIP
        """
        self._run(
            lambda: self._async.delete_customer(
                customer_id, timeout=timeout, max_retries=max_retries
            )
        )

    def tag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Add tags to a customer (``PUT /customers/{id}/tags``); its other tags stay.

        See :meth:`AsyncHelpCrunch.tag_customer`.

        Example:
            >>> c = client.tag_customer(1568834, ["vip"])  # doctest: +SKIP
        """
        return self._run(
            lambda: self._async.tag_customer(
                customer_id, tags, timeout=timeout, max_retries=max_retries
            )
        )

    def untag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Remove tags from a customer (``DELETE /customers/{id}/tags`` with a JSON body
        of names; a :class:`Tag`'s colour is not sent).

        See :meth:`AsyncHelpCrunch.untag_customer`.

        Example:
            >>> c = client.untag_customer(1568834, ["vip"])  # doctest: +SKIP
        """
        return self._run(
            lambda: self._async.untag_customer(
                customer_id, tags, timeout=timeout, max_retries=max_retries
            )
        )
