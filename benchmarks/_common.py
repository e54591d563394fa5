"""Shared helpers: the fake server as a subprocess, medians, and result tables."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

API_KEY = "test-key"


@dataclass
class Table:
    """One benchmark's figures: a title, column headers, rows and free-text notes."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(self.headers)
        ]
        lines = [self.title, "=" * len(self.title)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows
        )
        lines.extend(f"* {n}" for n in self.notes)
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join(" --- " for _ in self.headers) + "|",
        ]
        lines.extend("| " + " | ".join(r) + " |" for r in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(f"* {n}" for n in self.notes)
        return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class FakeProcess:
    base_url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def fake_server(
    *,
    rate_limit: str = "off",
    customers: int = 1000,
    extra: Sequence[str] = (),
    cpus: set[int] | None = None,
) -> Iterator[FakeProcess]:
    """Run ``python -m helpcrunch_async fake-server`` in its own process group.

    Waits until the port accepts connections; always stops the process (and its group)
    on exit, error or not. ``cpus``: the CPUs the server may run on (see
    :func:`split_cpus`); default, any.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "helpcrunch_async",
        "fake-server",
        "--port",
        str(port),
        "--rate-limit",
        rate_limit,
        "--customers",
        str(customers),
        "--api-key",
        API_KEY,
        *extra,
    ]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    with pinned(cpus):  # the child inherits it
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"fake server exited ({proc.returncode}): {log.read().decode(errors='replace')}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start within 60 s")
            time.sleep(0.05)
        yield FakeProcess(f"http://127.0.0.1:{port}/v1", proc)
    finally:
        _stop(proc)
        log.close()


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the fake server's CPUs, the client's CPUs): one CPU for the server, the rest for
    the client, so neither process takes the other's CPU time slices in the middle of a
    measurement. None where CPU affinity cannot be set or there is one CPU only."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return None
    return {mine[0]}, set(mine[1:])


@contextlib.contextmanager
def pinned(cpus: set[int] | None) -> Iterator[None]:
    """Run the block (and the processes it starts) on ``cpus``; restore afterwards."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×"


def cli(
    run: Callable[[bool], list[Table]],
    doc: str | None,
    *,
    child: Callable[[int, str], None] | None = None,
    quick_help: str = "smaller, faster run",
) -> None:
    """``main()`` of one benchmark module: ``--quick``, print the tables.

    With ``child``, the hidden options ``--child N --base-url URL`` run ``child(N, URL)``
    instead: a measurement in a fresh process (for its peak RSS alone).
    """
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if child is not None:
        parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
        parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if child is not None and args.child is not None:
        child(args.child, args.base_url)
        return
    for table in run(args.quick):
        print(table.text(), end="\n\n", flush=True)


def progress(message: str, *args: Any) -> None:
    print("  ..", message % args if args else message, file=sys.stderr, flush=True)
