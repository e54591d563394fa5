"""Faults the fake can serve instead of (or around) a normal answer.

Faults are applied to requests that passed authentication and the rate limit (a
401 or 429 never consumes a queued fault), and such a request does count in the rate
limit window. Two sources, checked in this order:

1. the queue filled by :meth:`FakeHelpCrunch.add_faults` -- the first queued fault whose
   ``method``/``path`` filter matches is taken off the queue and served;
2. otherwise, with probability ``fault_rate``, a kind drawn from ``fault_kinds`` by a
   :class:`random.Random` seeded with ``seed`` (same seed and same request sequence ->
   same faults).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .._validation import is_int, is_number
from ._wire import error_body

__all__ = ["ALL_FAULT_KINDS", "Fault", "FaultPlan"]

ALL_FAULT_KINDS: tuple[str, ...] = (
    "500",
    "502",
    "503",
    "504",
    "drop_before",
    "drop_after",
    "delay",
    "truncated",
    "non_json",
)
"""Every kind ``fault_kinds=`` accepts (status kinds are the code as a string)."""

_OTHER_KINDS = frozenset({"drop_before", "drop_after", "delay", "truncated", "non_json"})


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. Build it with the constructors, not directly.

    ========================  ==========================================================
    ``Fault.status(code)``    answer ``code`` without applying the request; 502 has an
                              HTML body (``text/html``, like a proxy's error page), every
                              other code the ``{"errors": [...]}`` JSON shape
    ``Fault.drop_before()``   close the connection without applying the request and
                              without any response
    ``Fault.drop_after()``    apply the request, then close the connection without a
                              response (the client cannot know it was applied)
    ``Fault.delay(seconds)``  sleep, then answer normally
    ``Fault.truncated()``     apply, then send ``200`` whose ``Content-Length`` promises
                              the whole JSON body but only the first half is sent before
                              the connection is closed
    ``Fault.non_json()``      apply, then send ``200`` with an HTML (non-JSON) body
    ========================  ==========================================================

    Example:
        >>> Fault.status(503)
        Fault(kind='503', seconds=0.0)
        >>> Fault.delay(0.25).seconds
        0.25
    """

    kind: str
    seconds: float = 0.0

    @classmethod
    def status(cls, code: int) -> Fault:
        """Answer with HTTP ``code`` (400..599) and do not apply the request.

        Example:
            >>> Fault.status(502).kind
            '502'
        """
        if not is_int(code) or not 400 <= code <= 599:
            raise ValueError(f"Fault.status needs an HTTP error code 400..599, got {code!r}")
        return cls(str(code))

    @classmethod
    def drop_before(cls) -> Fault:
        """Close the connection before applying anything; no response.

        Example:
            >>> Fault.drop_before().status_code is None  # no answer at all, not even a status
            True
        """
        return cls("drop_before")

    @classmethod
    def drop_after(cls) -> Fault:
        """Apply the request, then close the connection without a response.

        Example:
            A create the client cannot know happened (it is never re-sent):

            >>> import helpcrunch_async as hc
            >>> from helpcrunch_async.testing import FakeHelpCrunch
            >>> with FakeHelpCrunch().in_thread() as fake:
            ...     fake.add_faults(Fault.drop_after(), method="POST")
            ...     with hc.HelpCrunch(fake.api_key, base_url=fake.base_url) as client:
            ...         try:
            ...             client.create_customer(name="Ann")
            ...         except hc.APIConnectionError as exc:
            ...             print(exc.maybe_sent, len(fake.customers))
            True 1
        """
        return cls("drop_after")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep ``seconds`` (real time), then answer normally.

        Example:
            >>> Fault.delay(2).seconds
            2.0
        """
        if not is_number(seconds) or seconds < 0:
            raise ValueError(f"Fault.delay needs seconds >= 0, got {seconds!r}")
        return cls("delay", float(seconds))

    @classmethod
    def truncated(cls) -> Fault:
        """Apply the request, then send half of a ``200`` JSON body and close.

        Example:
            >>> Fault.truncated()
            Fault(kind='truncated', seconds=0.0)
        """
        return cls("truncated")

    @classmethod
    def non_json(cls) -> Fault:
        """Apply the request, then answer ``200`` with an HTML body instead of JSON.

        Example:
            Also one of the kinds served at random (``fault_kinds=``):

            >>> "non_json" in ALL_FAULT_KINDS
            True
        """
        return cls("non_json")

    @property
    def status_code(self) -> int | None:
        """The HTTP code of a status fault, else ``None``."""
        return int(self.kind) if self.kind.isdigit() else None


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """Validate ``fault_kinds``: status codes as strings, or the named kinds."""
    out = tuple(kinds)
    for kind in out:
        if kind in _OTHER_KINDS:
            continue
        if not (isinstance(kind, str) and kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {ALL_FAULT_KINDS}")
    if not out:
        raise ValueError("fault_kinds must not be empty")
    return out


class FaultPlan:
    """The queue of scripted faults plus the seeded random source.

    Example:
        >>> plan = FaultPlan(rate=0.0, kinds=ALL_FAULT_KINDS, seed=1, delay=0.5)
        >>> plan.add([Fault.status(503)], method="PATCH", path=None)
        >>> plan.next("GET", "/v1/customers/1") is None
        True
        >>> plan.next("PATCH", "/v1/customers/1")
        Fault(kind='503', seconds=0.0)
    """

    def __init__(
        self, *, rate: float, kinds: Iterable[str], seed: int | None, delay: float
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault_rate must be within 0..1, got {rate!r}")
        self.rate = float(rate)
        self.kinds = check_kinds(kinds)
        self.seed = seed
        self.delay = float(delay)
        self._rng = random.Random(seed)
        self._queue: list[tuple[Fault, str | None, str | None]] = []

    def add(self, faults: Iterable[Fault], *, method: str | None, path: str | None) -> None:
        """Queue ``faults`` for the next requests matching ``method`` and ``path``."""
        m = method.upper() if method is not None else None
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"add_faults takes Fault objects, got {fault!r}")
            self._queue.append((fault, m, path))

    @property
    def pending(self) -> int:
        """How many queued faults have not been served yet."""
        return len(self._queue)

    def next(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (consumes a queued one)."""
        if self._queue:
            for i, (fault, m, p) in enumerate(self._queue):
                if (m is None or m == method) and (p is None or fnmatchcase(path, p)):
                    del self._queue[i]
                    return fault
        if self.rate <= 0.0:
            return None
        if self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(self.kinds)
        if kind == "delay":
            return Fault("delay", self.delay)
        return Fault(kind)

    def reset(self) -> None:
        """Drop queued faults and restart the random sequence from the seed."""
        self._queue.clear()
        self._rng = random.Random(self.seed)


# --- the answers of the faults that are not a plain status -----------------------------

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NON_JSON_HTML = (
    "<!DOCTYPE html>\n<html><head><title>HelpCrunch</title></head>"
    "<body><p>Something went wrong, but your request may have been processed.</p>"
    "</body></html>\n"
)


def drop(request: web.Request) -> web.StreamResponse:
    """Close the connection; aiohttp then fails to write the response and gives up."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=500)


async def truncated(
    request: web.Request, status: int, data: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """Promise ``len(data)`` bytes, send half, close the connection."""
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_type = "application/json"
    resp.content_length = len(data)
    await resp.prepare(request)
    await resp.write(data[: len(data) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()
    return resp


async def serve_fault(
    fault: Fault,
    request: web.Request,
    headers: dict[str, str],
    *,
    answer: Callable[[], tuple[int, Any]],
    record: Callable[[int], None],
) -> web.StreamResponse:
    """Answer ``request`` with ``fault`` instead of (or around) the normal answer.

    ``answer()`` does what the request asks and returns ``(status, payload)`` (it is
    not called for a status fault or ``drop_before``: nothing is done); ``record(status)``
    logs the request with the status sent (``0``: connection dropped).
    """
    kind = fault.kind
    code = fault.status_code
    if code is not None:
        record(code)
        if code == 502:
            return web.Response(
                status=502, text=BAD_GATEWAY_HTML, content_type="text/html", headers=headers
            )
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        payload = error_body(
            {"code": phrase.lower().replace(" ", "_").replace("-", "_"), "message": phrase}
        )
        return web.Response(
            status=code,
            body=json.dumps(payload).encode(),
            content_type="application/json",
            headers=headers,
        )
    if kind == "drop_before":
        record(0)
        return drop(request)
    if kind == "delay":
        await asyncio.sleep(fault.seconds)
    status, payload = answer()
    if kind == "drop_after":
        record(0)
        return drop(request)
    record(status)
    if kind == "non_json":
        return web.Response(
            status=status, text=NON_JSON_HTML, content_type="text/html", headers=headers
        )
    data = json.dumps(payload).encode()
    if kind == "truncated":
        return await truncated(request, status, data, headers)
    return web.Response(status=status, body=data, content_type="application/json", headers=headers)
