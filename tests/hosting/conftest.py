"""Fixtures of the hosting suite (helpers: ``hosting_support.py``; apps: ``apps/``).

``pytester`` (for the plugin tests) is enabled in ``tests/conftest.py``: pytest accepts
``pytest_plugins`` only in the top-level conftest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from hosting_support import LeakWatch

from helpcrunch_async.testing import FakeHelpCrunch


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    """A fake HelpCrunch in a thread of this process (no server-side rate limit)."""
    with FakeHelpCrunch(rate_limit=None, max_recorded=50_000).in_thread() as server:
        yield server


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """Leftovers are finalized between tests, and blamed on the test that left them.

    Without this, a session, connector or socket that a broken client leaks is collected
    during some later test, which then fails (pyproject turns ResourceWarning into an
    error) for what another test did. Before the test: what is still to be finalized
    belongs to an earlier test that failed and has been reported already: pytest keeps
    the last failure's traceback (``sys.last_traceback``, for post-mortem debugging),
    and with it that test's locals, until the next failure. After the test: whatever it
    left unclosed fails it here.
    """
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    with LeakWatch():  # gc.collect() on exit: an earlier failed test's leftovers, dropped
        pass
    yield
    with LeakWatch() as watch:
        pass
    assert watch.problems == [], "left behind by this test (finalized after it ended)"
