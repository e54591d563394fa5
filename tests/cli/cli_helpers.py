"""Shared helpers of the ``helpcrunch`` command's tests (tests/cli/)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


def run_update(fake: FakeHelpCrunch, *args: str, rate_limit: str = "off") -> int:
    """``helpcrunch update-customers ARGS`` against ``fake``, quiet (unthrottled unless
    ``rate_limit`` says otherwise)."""
    return main(
        [
            "update-customers",
            *args,
            "--base-url",
            fake.base_url,
            "--no-progress",
            "--rate-limit",
            rate_limit,
        ]
    )


def command_against(fake: FakeHelpCrunch, *args: str) -> list[str]:
    """``python -m helpcrunch_async ARGS --base-url FAKE --no-progress``, as a process runs it."""
    return [
        sys.executable,
        "-m",
        "helpcrunch_async",
        *args,
        "--base-url",
        fake.base_url,
        "--no-progress",
    ]


def interrupt_once_reported(
    command: list[str],
    env: dict[str, str],
    report: Path,
    *,
    rate_limit: str,
    lines: int,
    poll: float = 0.05,
) -> tuple[int, bytes, bytes, float]:
    """Run ``command`` paced at ``rate_limit`` with ``--report REPORT``; send SIGINT once
    the report holds ``lines`` lines. Returns the exit code, stdout, stderr and the
    ``time.monotonic()`` of the signal (the fake server's clock too)."""
    proc = subprocess.Popen(
        [*command, "--rate-limit", rate_limit, "--report", str(report)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if report.exists() and len(report.read_text().splitlines()) >= lines:
            break
        time.sleep(poll)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, signalled


def resume(
    command: list[str], env: dict[str, str], report: Path, rate_limit: str = "off"
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` again with ``--resume REPORT`` (unpaced unless told)."""
    return subprocess.run(
        [*command, "--rate-limit", rate_limit, "--resume", str(report)],
        env=env,
        capture_output=True,
        timeout=60,
    )
