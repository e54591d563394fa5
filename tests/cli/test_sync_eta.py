"""``helpcrunch sync``'s ETA follows the work left, not the lines left (issue 20, item 5).

An unchanged line costs no request and is done at once; a new or changed one waits for
its request at the rate limit. A file whose new users come last — as an export sorted
by sign-up date gives — used to show ``ETA 0:00`` for the whole slow tail (the lines
per second so far, mostly instant ones, times the few lines left). Here the run is
scaled down (20 requests a second, a half-second measuring window, a status line every
0.1 s) and each status line's ETA is compared with the time the run really took
after it was printed. ETAs are whole seconds: only a line with more than 2 s left can
tell an ``ETA 0:00`` from a right one, so the tail lasts 3.5 s.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import keyed_fake

from helpcrunch_async.cli import _progress, main

EXISTING, NEW, RATE = 240, 70, 20  # the new lines take NEW / RATE = 3.5 s


class _Stamped(io.StringIO):
    """stderr that notes when each line was written (not a terminal: plain lines)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        now = time.monotonic()
        self.lines.extend((now, line) for line in text.splitlines() if line.strip())
        return len(text)

    def isatty(self) -> bool:
        return False


def test_the_eta_counts_the_requests_left_not_the_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_progress.Progress.__init__.__kwdefaults__ or {}, "interval", 0.1)
    monkeypatch.setattr(_progress, "PACE_WINDOW", 0.5, raising=False)
    rows = [{"userId": f"user_{i}", "name": f"Customer {i}"} for i in range(1, EXISTING + 1)]
    rows += [{"userId": f"new_{i}", "name": f"New {i}"} for i in range(NEW)]  # last
    path = tmp_path / "users.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    err = _Stamped()
    with keyed_fake(monkeypatch, customers=EXISTING) as fake:
        monkeypatch.setattr(sys, "stderr", err)
        code = main(
            [
                "sync",
                str(path),
                "--match",
                "user_id",
                "--create-missing",
                "--base-url",
                fake.base_url,
                "--rate-limit",
                f"{RATE}/1",
            ]
        )
        end = time.monotonic()
        monkeypatch.undo()
        assert len(fake.customers) == EXISTING + NEW
    assert code == 0
    status = [(at, line) for at, line in err.lines if re.match(r"\d+/\d+ lines: ", line)]
    start = status[0][0]  # the first line: a moment into the rows
    checked = []
    for at, line in status:
        found = re.search(r"ETA (\d+):(\d\d)$", line)
        assert found, line
        eta = int(found[1]) * 60 + int(found[2])  # whole seconds, rounded down
        left = end - at
        if at - start >= 0.75 and left >= 1.5:  # past the window, and time left to tell
            checked.append((round(left, 2), eta))
            assert left / 2 - 1 <= eta <= left * 2 + 1, (left, line)
    assert len(checked) >= 4, (checked, status)  # was ETA 0:00 all through the new lines
    # At least one line where ETA 0:00 fails the bound (left / 2 - 1 > 0):
    assert max(left for left, _ in checked) >= 2.5, (checked, status)
