"""What the fake saw: each request (:class:`RecordedRequest`), and its counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeStats", "RecordedRequest"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake saw it.

    ``status`` is the status code sent, or ``0`` when no response was sent (a
    ``drop_before``/``drop_after`` fault). For a ``truncated`` fault it is the status
    line that was sent (the body was cut). ``fault`` is the fault kind served
    (``"503"``, ``"drop_after"``, ...) or ``None``. ``body`` is the parsed JSON body,
    ``None`` when it was empty or not JSON. ``path`` includes the query string, if any
    (``/v1/customers?limit=100&offset=0``). ``time`` is the fake's clock when
    the request arrived; requests are logged in the order they *finished*.

    Example:
        >>> r = RecordedRequest("PATCH", "/v1/customers/1", {}, {"name": "A"}, 0.0, 200, None)
        >>> r.method, r.status
        ('PATCH', 200)
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    status: int
    fault: str | None


@dataclass(slots=True)
class FakeStats:
    """Counters since start (or the last :meth:`FakeHelpCrunch.reset`).

    ``requests`` counts every request received (401s, 429s and faults included);
    ``rate_limited`` the 429s served by the rate limiter (a ``Fault.status(429)``
    counts under ``faults`` instead); ``faults`` the faults served; ``by_status`` the
    responses by status code (``0``: connection dropped without a response).

    Example:
        >>> s = FakeStats()
        >>> s.by_status[200] += 1
        >>> s.requests, s.by_status[200]
        (0, 1)
    """

    requests: int = 0
    rate_limited: int = 0
    faults: int = 0
    by_status: Counter[int] = field(default_factory=Counter)

    def copy(self) -> FakeStats:
        """An independent snapshot."""
        return FakeStats(self.requests, self.rate_limited, self.faults, Counter(self.by_status))
