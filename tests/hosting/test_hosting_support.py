"""The hosting suite's own helpers, where a fault would hide a failure or run work twice.

* ``tests/conftest.py`` freezes what collection built (``gc.freeze()``) so that garbage
  collections walk only what the tests make: a session left unclosed, kept alive only by
  a reference cycle (so that only a collection finalizes it), is still reported by
  :class:`hosting_support.LeakWatch`.
* :func:`hosting_support.once_per_run` runs its work once however many tests (and
  workers) ask, and fails every one of them, with the work's own traceback, if it failed.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import aiohttp
import pytest
from hosting_support import LeakWatch, once_per_run


def test_an_unclosed_session_in_a_reference_cycle_is_reported() -> None:
    assert gc.get_freeze_count() > 0  # the suite's freeze is on: the case under test

    async def leave_a_session() -> None:
        session = aiohttp.ClientSession()
        cycle: list[object] = [session]
        cycle.append(cycle)  # only a garbage collection can free the session now

    with LeakWatch() as watch:
        asyncio.run(leave_a_session())

    assert any("Unclosed client session" in problem for problem in watch.problems), watch.problems


def test_once_per_run_runs_the_work_once_for_every_test_that_asks(tmp_path: Path) -> None:
    runs: list[Path] = []

    def work(directory: Path) -> None:
        runs.append(directory)
        (directory / "result.txt").write_text("done", encoding="utf-8")

    first = once_per_run(tmp_path, "shared", work, timeout=5)
    second = once_per_run(tmp_path, "shared", work, timeout=5)

    assert runs == [tmp_path / "shared"]
    assert first == second == tmp_path / "shared"
    assert (second / "result.txt").read_text(encoding="utf-8") == "done"


def test_once_per_run_fails_every_test_that_asks_with_the_works_traceback(
    tmp_path: Path,
) -> None:
    runs: list[Path] = []

    def work(directory: Path) -> None:
        runs.append(directory)
        raise ValueError("the shared run broke")

    for _ in range(2):  # the test that ran it, then one that only reads its outcome
        with pytest.raises(pytest.fail.Exception, match="ValueError: the shared run broke"):
            once_per_run(tmp_path, "shared", work, timeout=5)
    assert len(runs) == 1
