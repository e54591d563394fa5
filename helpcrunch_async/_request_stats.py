"""``RequestStats``: counters of what a client has sent (``client.stats``)."""

from __future__ import annotations

import attrs

__all__ = ["RequestStats"]


@attrs.define
class RequestStats:
    """Counters of what a client has sent so far (read them, don't write them).

    Attributes:
        requests: HTTP requests sent, retries included.
        retries: requests that were retries of an earlier attempt.
        rate_limited: 429 answers received.
        failed: calls that ended in an error (after any retries).

    Example:
        >>> client.stats.requests, client.stats.rate_limited  # doctest: +SKIP
        (1200, 0)
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failed: int = 0
