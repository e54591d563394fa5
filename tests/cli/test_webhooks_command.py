"""``helpcrunch webhooks listen|trigger`` and ``fake-server --webhook-url``, for real.

``listen`` runs as its own process on a free port; ``trigger`` and the fake's
deliveries reach it over loopback, as a user's terminal session would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import IO

import pytest

from helpcrunch_async.cli import main

KEY = "whsec-test-key"
ENV = {**os.environ, "HELPCRUNCH_WEBHOOK_SIGNING_KEY": KEY, "PYTHONUNBUFFERED": "1"}


def _line(stream: IO[str], pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r}")


@pytest.fixture
def listener() -> Iterator[tuple[subprocess.Popen[str], str]]:
    with subprocess.Popen(
        [sys.executable, "-m", "helpcrunch_async", "webhooks", "listen", "--port", "0"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            url = _line(proc.stderr, r"listening on (http://\S+/)").group(1)
            yield proc, url
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    assert proc.returncode == 0


def test_trigger_reaches_listen_and_a_wrong_key_is_refused(
    listener: tuple[subprocess.Popen[str], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proc, url = listener
    monkeypatch.setenv("HELPCRUNCH_WEBHOOK_SIGNING_KEY", KEY)
    assert main(["webhooks", "trigger", url + "hooks", "customer.new"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert proc.stdout is not None
    assert proc.stderr is not None
    received = json.loads(proc.stdout.readline())
    assert received == sent
    assert received["event"] == "customer.new"

    assert main(["webhooks", "trigger", url, "customer.deleted", "--signing-key", "wrong"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "answered 400" in err
    assert len(err.strip().splitlines()) == 1
    assert "mismatch signature" in _line(proc.stderr, r"refused a delivery").string
    assert "wrong" not in err
    assert KEY not in err


def test_the_fake_servers_deliveries_reach_listen(
    listener: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = listener
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpcrunch_async",
            "fake-server",
            "--port",
            "0",
            "--customers",
            "2",
            "--rate-limit",
            "off",
            "--webhook-url",
            url + "hooks",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as fake:
        _deliveries_reach(fake, proc)


def _deliveries_reach(fake: subprocess.Popen[str], proc: subprocess.Popen[str]) -> None:
    try:
        assert fake.stdout is not None
        assert proc.stdout is not None
        key = _line(fake.stdout, r"^export HELPCRUNCH_API_KEY=(\S+)").group(1)
        base_url = _line(fake.stdout, r"^export HELPCRUNCH_BASE_URL=(\S+)").group(1)
        request = urllib.request.Request(
            f"{base_url}/customers/1",
            method="PATCH",
            data=b'{"email": "new@example.com"}',
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        event = json.loads(proc.stdout.readline())
        assert event["event"] == "customer.email_updated"
        assert event["eventData"]["id"] == 1
        assert event["eventData"]["email"] == "new@example.com"
    finally:
        fake.send_signal(signal.SIGINT)
        fake.wait(timeout=20)


def test_no_signing_key_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELPCRUNCH_WEBHOOK_SIGNING_KEY", raising=False)
    assert main(["webhooks", "trigger", "http://127.0.0.1:9/", "customer.new"]) == 2
    assert main(["fake-server", "--webhook-url", "http://127.0.0.1:9/"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert all("HELPCRUNCH_WEBHOOK_SIGNING_KEY" in line for line in lines)


def test_trigger_to_nobody_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_WEBHOOK_SIGNING_KEY", KEY)
    assert main(["webhooks", "trigger", "http://127.0.0.1:9/hooks", "customer.new"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
