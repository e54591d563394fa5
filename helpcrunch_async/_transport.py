"""The HTTP transport: one ``aiohttp.ClientSession`` per client, sending one request.

The transport knows nothing of HelpCrunch: it sends bytes and returns status,
headers and body, or raises :class:`~helpcrunch_async.APIConnectionError` /
:class:`~helpcrunch_async.APITimeoutError`. Each such error carries
``maybe_sent``: whether the request may have reached the server, which is what
decides whether a non-idempotent request may be re-sent.

The session is created lazily, inside the running event loop, on first use (an
``aiohttp.ClientSession`` belongs to the loop it was created in). A session passed
in by the caller is used as is and never closed by us.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import TYPE_CHECKING

import aiohttp
import attrs
from multidict import CIMultiDictProxy
from yarl import URL

from ._exceptions import APIConnectionError, APITimeoutError, HelpCrunchError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AiohttpTransport", "RawResponse"]

_LARGE_BODY = 2**20
"""Bodies above this go to aiohttp as ``io.BytesIO``: sent in chunks, yielding to the
loop between them. Raw ``bytes`` that large make aiohttp warn (``ResourceWarning``:
"Sending a large body directly with raw bytes might lock the event loop")."""


@attrs.define
class RawResponse:
    """What came back: status, headers, the whole body, and how long it took.

    Not frozen: one is built per request, and a frozen attrs record sets each field
    through ``object.__setattr__`` (nothing writes to it after it is built). Built
    positionally: matching keyword arguments would cost more than the record itself.
    """

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    elapsed: float


class AiohttpTransport:
    """Sends requests over one ``aiohttp.ClientSession`` (owned, or the caller's).

    Args:
        session: a caller's session; used as is, never closed here.
        max_connections: the connector's connection limit for a session we create.
    """

    def __init__(
        self, *, session: aiohttp.ClientSession | None = None, max_connections: int = 100
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and loop is self._loop:  # every call after the first
            return session
        if session is None:
            # One host only: ``limit`` bounds it (a per-host limit would only add work).
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            # The per-request timeout always overrides this; it is only a backstop.
            self._session = session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=300)
            )
            self._loop = loop
        elif self._loop is None:
            self._loop = loop
        if self._loop is not loop:
            raise HelpCrunchError(
                "this client is bound to the event loop it was first used in; create one "
                "client per event loop (or use the sync HelpCrunch client)"
            )
        return session

    async def send(
        self,
        method: str,
        url: str | URL,
        *,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> RawResponse:
        """Send one request and read the whole response.

        ``body`` over 1 MiB is handed to aiohttp as ``io.BytesIO`` (a fresh one for
        each attempt), the way aiohttp asks for large bodies; smaller ones as bytes.
        No size is refused here: HelpCrunch documents no request size limit.

        Raises:
            APITimeoutError: the timeout expired.
            APIConnectionError: no response could be read.
        """
        if self._closed:
            raise HelpCrunchError("the client is closed; create a new one")
        session = self._get_session()
        started = time.monotonic()
        invalid: str
        data: bytes | io.BytesIO | None = body
        if body is not None and len(body) > _LARGE_BODY:
            data = io.BytesIO(body)
        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout,
                allow_redirects=False,
            ) as resp:
                payload = await resp.read()
                return RawResponse(resp.status, resp.headers, payload,
                                   time.monotonic() - started)
        except aiohttp.ConnectionTimeoutError as exc:
            raise _connection_error(
                APITimeoutError, "connecting timed out", method, path, maybe_sent=False
            ) from exc
        except TimeoutError as exc:  # total or read timeout: the request may have arrived
            raise _connection_error(
                APITimeoutError, "request timed out", method, path, maybe_sent=True
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _connection_error(APIConnectionError, f"cannot connect: {exc.os_error}",
                                    method, path, maybe_sent=False) from exc
        except aiohttp.ClientResponseError as exc:
            # Its repr carries the request headers (the API key): neither chain it nor
            # raise inside this block (that would keep it as __context__).
            invalid = f"invalid response ({type(exc).__name__}: {exc.message})"
        except aiohttp.ClientError as exc:
            raise _connection_error(APIConnectionError,
                                    f"connection failed ({type(exc).__name__}: {exc})",
                                    method, path, maybe_sent=True) from exc
        raise _connection_error(APIConnectionError, invalid, method, path, maybe_sent=True)

    async def aclose(self) -> None:
        """Close the session if we created it; idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()


def _connection_error(
    cls: type[APIConnectionError], message: str, method: str, path: str, *, maybe_sent: bool
) -> APIConnectionError:
    return cls(message, method=method, path=path, maybe_sent=maybe_sent)
