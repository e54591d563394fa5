"""Fixtures for tracing and hooks: a global tracer provider recording spans in memory.

OpenTelemetry lets a process set its global provider once; :func:`spans` sets one for
one test and puts the globals back as they were (as OpenTelemetry's own test utilities
do), so no other test of the suite runs traced.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from tracing_support import Spans, reset_globals

from helpcrunch_async import _retry


@pytest.fixture
def spans() -> Iterator[Spans]:
    """A global tracer provider for this test only, its spans kept in memory."""
    recorded = Spans()
    reset_globals()
    trace.set_tracer_provider(recorded.provider)
    try:
        yield recorded
    finally:
        recorded.provider.shutdown()
        reset_globals()


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoffs of 10 ms and 429 pauses of 150 ms: long enough to measure, short to run."""
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.01)
    monkeypatch.setattr(_retry.RetryPolicy, "rate_limit_pause", lambda self, r, a: 0.15)
