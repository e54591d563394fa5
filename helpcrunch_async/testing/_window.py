"""An exact sliding-window rate limiter, one window per API key.

HelpCrunch documents "120 requests per minute" and a 429 over it, but not how the
window is counted. The fake uses the strictest reading that is still exact:

    request *k* is allowed iff fewer than ``requests`` *allowed* requests happened in
    the half-open interval ``(now - seconds, now]``.

So with ``(120, 60.0)`` and the first request at ``t=0``, the 121st request at
``t=59.999`` is refused and one at ``t=60.0`` is allowed (the request at ``t=0`` has
left the window). Refused requests (429s) are not recorded in the window, so a client
that keeps retrying does not extend its own ban.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from .._validation import is_int

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """Exact sliding-window limiter keyed by an arbitrary string (the API key).

    Example:
        >>> t = [0.0]
        >>> w = SlidingWindow(2, 10.0, clock=lambda: t[0])
        >>> w.acquire("k"), w.acquire("k"), w.acquire("k")
        (None, None, 10.0)
        >>> t[0] = 10.0
        >>> w.acquire("k") is None
        True
    """

    __slots__ = ("_clock", "_hits", "requests", "seconds")

    def __init__(self, requests: int, seconds: float, *, clock: Callable[[], float]) -> None:
        if not is_int(requests) or requests < 1:
            raise ValueError(f"rate_limit requests must be an int >= 1, got {requests!r}")
        if not seconds > 0:
            raise ValueError(f"rate_limit seconds must be > 0, got {seconds!r}")
        self.requests = requests
        self.seconds = float(seconds)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def acquire(self, key: str, now: float | None = None) -> float | None:
        """Take a slot for ``key`` at ``now`` (default: the clock).

        Returns ``None`` when the request is allowed (and records it), otherwise the
        seconds until the oldest request in the window leaves it (a slot frees up).
        """
        if now is None:
            now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        edge = now - self.seconds
        while hits and hits[0] <= edge:
            hits.popleft()
        if len(hits) < self.requests:
            hits.append(now)
            return None
        return hits[0] + self.seconds - now

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """Whole seconds for a ``Retry-After`` header: ``ceil(wait)``, at least 1.

        Example:
            >>> SlidingWindow.retry_after_header(0.2), SlidingWindow.retry_after_header(3.0)
            ('1', '3')
        """
        return str(max(1, math.ceil(wait)))

    def reset(self) -> None:
        """Forget every request seen."""
        self._hits.clear()
