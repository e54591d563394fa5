"""The HTTP transport: one ``aiohttp.ClientSession`` per client, opening one request.

The transport knows nothing of HelpCrunch: it opens a request with bytes to send and
the headers it was given for every request (:meth:`AiohttpTransport.open`), and turns
aiohttp's failures into :class:`~helpcrunch_async.APIConnectionError` /
:class:`~helpcrunch_async.APITimeoutError` (:func:`connection_failure`). Each such
error carries ``maybe_sent``: whether the request may have reached the server, which
is what decides whether a non-idempotent request may be re-sent. The requestor
awaits the exchange itself, in its own frame.

An ``aiohttp.ClientSession`` belongs to the event loop it was created in, so the
transport keeps one per loop (:class:`~helpcrunch_async._per_loop.PerLoop`): created
lazily inside the running loop on its first request, closed when that loop ends
(``asyncio.run`` returns) or at :meth:`AiohttpTransport.aclose`. One client therefore
works from any loop: one ``asyncio.run`` after another, or several loops in threads.
A session passed in by the caller is used as is, on its own loop only, and never
closed by us.
"""

from __future__ import annotations

import asyncio
import io
import platform
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from ._exceptions import APIConnectionError, APITimeoutError, HelpCrunchError
from ._per_loop import PerLoop
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractAsyncContextManager

__all__ = [
    "TRANSPORT_ERRORS",
    "USER_AGENT",
    "AiohttpTransport",
    "connection_failure",
    "request_headers",
]

USER_AGENT = (
    f"helpcrunch-async/{__version__} python/{platform.python_version_tuple()[0]}."
    f"{platform.python_version_tuple()[1]} aiohttp/{'.'.join(aiohttp.__version__.split('.')[:2])}"
)


def request_headers(api_key: str) -> dict[str, str]:
    """The headers every request carries: the API key, JSON both ways, our User-Agent."""
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


_LARGE_BODY = 2**20
"""Bodies above this go to aiohttp as ``io.BytesIO``: sent in chunks, yielding to the
loop between them. Raw ``bytes`` that large make aiohttp warn (``ResourceWarning``:
"Sending a large body directly with raw bytes might lock the event loop")."""


class AiohttpTransport:
    """Opens requests on one ``aiohttp.ClientSession`` (owned, or the caller's).

    Args:
        session: a caller's session; used as is, never closed here.
        max_connections: the connector's connection limit for a session we create.
        headers: sent with every request. A session we create holds them as its default
            headers (aiohttp then has no per-request headers to merge); on a caller's
            session they go with each request, over the session's own defaults.
    """

    def __repr__(self) -> str:  # never show the headers: they hold the API key
        return f"<AiohttpTransport owns_session={self._owns_session}>"

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._user_session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._headers = dict(headers or {})
        # What each request passes: nothing when our own session already sends them.
        self._request_headers: dict[str, str] | None = None if self._owns_session else self._headers
        self._sessions: PerLoop[aiohttp.ClientSession] = PerLoop(self._new_session, _close_session)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def sessions(self) -> list[aiohttp.ClientSession]:
        """The sessions open now: one per event loop used (or the caller's)."""
        if self._user_session is not None:
            return [self._user_session]
        return self._sessions.values()

    def _new_session(self) -> aiohttp.ClientSession:
        # One host only: ``limit`` bounds it (a per-host limit would only add work).
        connector = aiohttp.TCPConnector(limit=self._max_connections)
        # The per-request timeout always overrides this; it is only a backstop.
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=300),
            headers=self._headers,
        )

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._user_session
        if session is None:
            return self._sessions.get()
        home = getattr(session, "_loop", None)  # aiohttp's own record of its loop
        if home is not None and home is not asyncio.get_running_loop():
            raise HelpCrunchError(
                "the aiohttp.ClientSession passed as session= belongs to another event "
                "loop; use this client on that loop, or leave session= out (the client "
                "then opens one connection pool per event loop)"
            )
        return session

    def open(
        self,
        method: str,
        url: URL,
        *,
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """Start one request: ``async with transport.open(...) as resp``.

        Not a coroutine of its own: the requestor awaits the exchange in its own frame
        (every coroutine layer costs CPU on every resumption of every request). What
        the request raises is one of :data:`TRANSPORT_ERRORS`; :func:`connection_failure`
        turns it into the SDK's error.

        ``body`` over 1 MiB is handed to aiohttp as ``io.BytesIO`` (a fresh one for
        each attempt), the way aiohttp asks for large bodies; smaller ones as bytes.
        No size is refused here: HelpCrunch documents no request size limit.
        """
        if self._closed:
            raise HelpCrunchError("the client is closed; create a new one")
        data: bytes | io.BytesIO | None = body
        if body is not None and len(body) > _LARGE_BODY:
            data = io.BytesIO(body)
        return self._get_session().request(
            method,
            url,
            data=data,
            headers=self._request_headers,
            timeout=timeout,
            allow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the sessions we created (on every loop); idempotent.

        A session on a loop that is not running now is closed when that loop ends.
        """
        self._closed = True
        await self._sessions.aclose()


async def _close_session(session: aiohttp.ClientSession) -> None:
    await session.close()


TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)
"""What a request opened with :meth:`AiohttpTransport.open` raises when no response came."""


def connection_failure(exc: BaseException, method: str, path: str) -> APIConnectionError:
    """The :class:`APIConnectionError` for ``exc`` (one of :data:`TRANSPORT_ERRORS`).

    :class:`APITimeoutError` for a timeout. Each carries ``maybe_sent``: whether the
    request may have reached the server. ``exc`` is its ``__cause__``, except for
    aiohttp's ``ClientResponseError``, whose repr carries the request headers (the API
    key): raise the result *after* the ``except`` block that caught ``exc``, so that
    ``exc`` does not stay reachable as ``__context__`` either.
    """
    error: APIConnectionError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = _connection_error(
            APITimeoutError, "connecting timed out", method, path, maybe_sent=False
        )
    elif isinstance(exc, TimeoutError):  # total or read timeout: the request may have arrived
        error = _connection_error(
            APITimeoutError, "request timed out", method, path, maybe_sent=True
        )
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = _connection_error(
            APIConnectionError, f"cannot connect: {exc.os_error}", method, path, maybe_sent=False
        )
    elif isinstance(exc, aiohttp.ClientResponseError):
        return _connection_error(
            APIConnectionError,
            f"invalid response ({type(exc).__name__}: {exc.message})",
            method,
            path,
            maybe_sent=True,
        )
    else:
        error = _connection_error(
            APIConnectionError,
            f"connection failed ({type(exc).__name__}: {exc})",
            method,
            path,
            maybe_sent=True,
        )
    error.__cause__ = exc  # as "raise error from exc" (which also hides the context)
    return error


def _connection_error(
    cls: type[APIConnectionError], message: str, method: str, path: str, *, maybe_sent: bool
) -> APIConnectionError:
    return cls(message, method=method, path=path, maybe_sent=maybe_sent)
