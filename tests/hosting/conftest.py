"""Fixtures of the hosting suite (helpers: ``hosting_support.py``; apps: ``apps/``).

``pytester`` (for the plugin tests) is enabled in ``tests/conftest.py``: pytest accepts
``pytest_plugins`` only in the top-level conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpcrunch_async.testing import FakeHelpCrunch


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    """A fake HelpCrunch in a thread of this process (no server-side rate limit)."""
    with FakeHelpCrunch(rate_limit=None, max_recorded=50_000).in_thread() as server:
        yield server
