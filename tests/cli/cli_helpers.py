"""Shared helpers of the ``helpcrunch`` command's tests (tests/cli/)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch


@contextlib.contextmanager
def keyed_fake(monkeypatch: pytest.MonkeyPatch, customers: int = 20) -> Iterator[FakeHelpCrunch]:
    """A fake server in a thread with ``customers`` customers, its key in the environment."""
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(customers)
        monkeypatch.setenv("HELPCRUNCH_API_KEY", server.api_key)
        yield server


def run_update(fake: FakeHelpCrunch, *args: str) -> int:
    """``helpcrunch update-customers ARGS`` against ``fake``, quiet and unthrottled."""
    return main(
        [
            "update-customers",
            *args,
            "--base-url",
            fake.base_url,
            "--no-progress",
            "--rate-limit",
            "off",
        ]
    )
