"""Client-side rate limiting (placeholder; implemented with the resilience work)."""

from __future__ import annotations

import attrs

__all__ = ["RateLimit"]


@attrs.frozen
class RateLimit:
    """At most ``requests`` requests in any window of ``period`` seconds."""

    requests: int = 120
    period: float = 60.0
