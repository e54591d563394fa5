"""Input that can keep the command waiting — stdin, a pipe, a terminal, a named pipe — is
read off the event loop (issue 20 follow-up): while ``update-customers -`` or ``sync -``
waits for the next line, the requests in flight are answered, reported, and never
timed out and sent again; Ctrl-C stops the job at once; a named pipe is read once.

Every command runs as users run it: a real process whose stdin is a pipe this test
writes to (and pauses), against the fake server in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from helpcrunch_async.testing import FakeHelpCrunch, Fault

DELAY = 0.3  # the fake holds the first line's PATCH this long: in flight while the
#             command waits for line 3 (which it starts to, microseconds after line 2)
PAUSE = 60.0  # the writer waits at most this long for line 1's report before going on
KEY_OPTIONS = {"update-customers": [], "sync": ["--match", "user_id"]}


def _helpcrunch(
    fake: FakeHelpCrunch, *args: str, stdin: Any = subprocess.PIPE
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpcrunch_async",
            *args,
            "--base-url",
            fake.base_url,
            "--rate-limit",
            "off",
            "--no-progress",
            "--concurrency",
            "4",
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HELPCRUNCH_API_KEY": fake.api_key},
    )


def _line(command: str, number: int) -> str:
    key: dict[str, Any] = (
        {"id": number} if command == "update-customers" else {"userId": f"user_{number}"}
    )
    return json.dumps({**key, "name": f"v{number}"}) + "\n"


def _wait_for(condition: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until ``condition()`` held; ``None`` if it did not within ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def _report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(t) for t in path.read_text().splitlines()] if path.exists() else []


def _patched(fake: FakeHelpCrunch) -> Counter[str]:
    return Counter(r.path for r in fake.requests if r.method == "PATCH")


def _write(stream: IO[str] | None, text: str) -> None:
    assert stream is not None
    stream.write(text)
    stream.flush()


@pytest.mark.parametrize("command", ["update-customers", "sync"])
def test_requests_in_flight_are_answered_while_stdin_waits(command: str, tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(6)
        fake.add_faults(Fault.delay(DELAY), method="PATCH", path="/v1/customers/1")
        proc = _helpcrunch(fake, command, "-", *KEY_OPTIONS[command], "--report", str(report))
        try:
            # The writer pauses after two lines until line 1 is reported: its PATCH is
            # held DELAY s by the fake while the command waits for line 3.
            _write(proc.stdin, _line(command, 1) + _line(command, 2))
            reported = _wait_for(
                lambda: any(e["line"] == 1 and e["status"] == "done" for e in _report(report)),
                PAUSE,
            )
            resumed = time.monotonic()  # the fake's clock too
            _write(proc.stdin, "".join(_line(command, i) for i in range(3, 7)))
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        patched = _patched(fake)
        arrived = {r.path: r.time for r in fake.requests if r.method == "PATCH"}
    assert proc.returncode == 0, err
    # Lines 1 and 2 went out, and line 1's answer was taken and reported, while the input
    # paused (before the fix nothing went out: the event loop waited in a read of stdin).
    assert reported is not None, "nothing was reported while the input paused"
    assert arrived["/v1/customers/1"] < resumed
    assert arrived["/v1/customers/2"] < resumed
    assert min(arrived[f"/v1/customers/{i}"] for i in range(3, 7)) > resumed
    assert patched == {f"/v1/customers/{i}": 1 for i in range(1, 7)}  # none sent twice
    done = Counter(e["line"] for e in _report(report) if e["status"] == "done")
    assert done == {i: 1 for i in range(1, 7)}
    assert ("6 done, 0 failed" if command == "update-customers" else "6 updated") in out


def test_ctrl_c_while_stdin_waits_stops_the_job_at_once(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(3)
        proc = _helpcrunch(fake, "update-customers", "-", "--report", str(report))
        try:
            _write(proc.stdin, _line("update-customers", 1) + _line("update-customers", 2))
            assert _wait_for(lambda: len(_report(report)) == 2, 60) is not None
            signalled = time.monotonic()
            proc.send_signal(signal.SIGINT)  # stdin stays open: no line, no end of input
            code = proc.wait(timeout=30)
            took = time.monotonic() - signalled
            assert proc.stdout is not None
            assert proc.stderr is not None
            out, err = proc.stdout.read(), proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert code == 130, err
    assert took < 10  # at once, not when the next line comes
    assert "stopping — sending nothing more" in err
    assert f"--resume {report}" in err
    assert "Fatal Python error" not in err  # the reading thread held no lock of stdin's
    assert "Traceback" not in err
    assert out.startswith("2 done, 0 failed")
    assert {e["line"]: e["status"] for e in _report(report)} == {1: "done", 2: "done"}


def test_a_named_pipe_is_read_once_and_off_the_loop(tmp_path: Path) -> None:
    fifo = tmp_path / "customers.jsonl"
    os.mkfifo(fifo)
    report = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(5)
        fake.add_faults(Fault.delay(DELAY), method="PATCH", path="/v1/customers/1")
        reported: list[float | None] = []

        def writer() -> None:  # as `update-customers <(make-lines)` gets its lines
            with open(fifo, "w") as pipe:
                pipe.write(_line("update-customers", 1) + _line("update-customers", 2))
                pipe.flush()
                reported.append(
                    _wait_for(lambda: any(e["line"] == 1 for e in _report(report)), PAUSE)
                )
                pipe.write("".join(_line("update-customers", i) for i in range(3, 6)))

        thread = threading.Thread(target=writer)
        thread.start()
        proc = _helpcrunch(
            fake, "update-customers", str(fifo), "--report", str(report), stdin=subprocess.DEVNULL
        )
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:  # before: it opened the pipe again to count its lines
                proc.kill()
                proc.communicate()
                with open(fifo, "rb"):  # let the writer finish
                    pass
            thread.join(timeout=30)
        patched = _patched(fake)
    assert proc.returncode == 0, err
    assert reported[0] is not None  # line 1 reported while the pipe paused
    assert patched == {f"/v1/customers/{i}": 1 for i in range(1, 6)}
    assert out.startswith("5 done, 0 failed")
