"""When to retry, and how long to wait: the retry policy.

Retried (up to ``max_retries`` more attempts):

* **429** for every method: the server refused the request without acting on it. The
  wait is ``Retry-After`` when given (capped by ``max_retry_after``), else an
  exponential backoff; the whole client pauses (see :mod:`._ratelimit`).
* **500, 502, 503, 504**, timeouts, dropped connections and unreadable (cut-short)
  bodies — only for idempotent methods (``GET``, ``PUT``, ``PATCH``, ``DELETE``).
  Sending the same ``PATCH``/``PUT`` twice leaves the customer the same. A ``POST``
  (create) that may have reached the server is never re-sent: it could create the
  customer twice.
* Connection failures before anything was sent (``maybe_sent`` False), any method.

Never retried: other 4xx (the request itself is wrong), and cancellation, which always
propagates at once. Backoff is exponential with full jitter, capped at ``max_delay``.

Example:
    >>> policy = RetryPolicy(max_retries=3)
    >>> policy.retryable_status("PATCH", 503), policy.retryable_status("POST", 503)
    (True, False)
"""

from __future__ import annotations

import random

import attrs

from ._validation import check_int

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "check_max_retries"]

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_RETRY_STATUSES = frozenset({500, 502, 503, 504})


def check_max_retries(value: object) -> int:
    """``max_retries`` as an int >= 0, or a :class:`ValidationError`."""
    return check_int("max_retries", value)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How many times to retry and how long to back off between attempts.

    Args:
        max_retries: extra attempts after the first (0 disables retries).
        base_delay: first backoff ceiling in seconds; doubles each retry.
        max_delay: the backoff ceiling.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds.
    """

    max_retries: int = attrs.field(default=2, converter=check_max_retries)
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def retryable_status(self, method: str, status: int) -> bool:
        """Whether an answer with ``status`` may be retried for ``method``."""
        if status == 429:
            return True
        return status in _RETRY_STATUSES and method in IDEMPOTENT_METHODS

    def retryable_failure(self, method: str, *, maybe_sent: bool) -> bool:
        """Whether a request that got no usable answer may be re-sent."""
        return not maybe_sent or method in IDEMPOTENT_METHODS

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based): full jitter."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2.0 ** (retry - 1)))

    def rate_limit_pause(self, retry: int, retry_after: float | None) -> float:
        """Seconds to pause after a 429: ``Retry-After`` (capped), else a backoff that
        never drops to zero (half fixed, half jitter)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, max(1.0, self.base_delay * 2.0**retry))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
