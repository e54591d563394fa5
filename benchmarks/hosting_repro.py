"""Hosting repros (issue 19): failed calls and waits where users host the SDK.

Not a speed benchmark, and not run by ``python -m benchmarks``: it counts what goes
wrong, for the issue's before/after figures. ``python -m benchmarks.hosting_repro
[--quick]``:

* **Flask/waitress**: the hosting suite's Flask app (``tests/hosting/apps/flask_app.py``)
  behind waitress with 32 threads, all sharing one blocking ``HelpCrunch``; 2,000 requests
  from 2 client threads, each 0–0.5 ms after the last (light traffic: the server goes
  idle between calls), as in the hosting suite's quiet part. Failed calls per run: a
  bare ``RuntimeError`` (or anything else not a ``HelpCrunchError``), a
  ``HelpCrunchError``, an HTTP error.
* **Two threads**: ``shared/repros/thread_race.py``: two threads share one ``HelpCrunch``,
  1,000 calls each, each 0–4 ms after the last. Failed calls per run.
* **20 × asyncio.run**: the hosting suite's ``apps/loop_per_task.py`` (one module-level
  ``AsyncHelpCrunch``, one ``asyncio.run`` per task) in a fresh process: tasks done, and
  whether "Unclosed client session" / "Unclosed connector" was printed.
* **Deadline**: ``AsyncHelpCrunch(rate_limit=RateLimit(2, 20.0))``, two calls use the
  budget, then ``get_customer(1, timeout=1.0)``: seconds it took, its outcome, and
  requests the client sent for it.

The fake HelpCrunch runs as a separate process, as in the other benchmarks.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, free_port, progress

APPS = Path(__file__).resolve().parent.parent / "tests" / "hosting" / "apps"
REQUESTS = 2000


def _outcome(status: int, body: bytes) -> str:
    if status != 200:
        return f"HTTP {status}"
    answer = json.loads(body)
    if answer["outcome"] == "done":
        return "done"
    return f"{answer['type']}: {answer['message']}"[:80]


def waitress_run(base_url: str) -> Counter[str]:
    """One run of the Flask/waitress case: outcomes of REQUESTS requests."""
    port = free_port()
    env = {**os.environ, "HC_API_KEY": API_KEY, "HC_BASE_URL": base_url, "PYTHONPATH": str(APPS)}
    app = subprocess.Popen(
        [sys.executable, str(APPS / "flask_app.py"), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if app.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Flask app did not start") from None
                time.sleep(0.05)
        local = threading.local()
        opened: list[http.client.HTTPConnection] = []

        def one(cid: int) -> str:
            time.sleep(random.random() * 0.0005)
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                opened.append(conn)
            conn.request("POST", f"/customers/{cid % 1000 + 1}", body=b"")
            resp = conn.getresponse()
            return _outcome(resp.status, resp.read())

        with ThreadPoolExecutor(2) as pool:
            outcomes = Counter(pool.map(one, range(REQUESTS)))
        for conn in opened:
            conn.close()
        return outcomes
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def two_threads_run(base_url: str) -> Counter[str]:
    """One run of shared/repros/thread_race.py: outcomes of 2 × 1,000 calls."""
    client = hc.HelpCrunch(API_KEY, base_url=base_url, rate_limit=None)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(REQUESTS // 2):
            time.sleep(random.random() * 0.004)
            try:
                client.update_customer(1, name="Ann")
                outcome = "done"
            except Exception as exc:  # counted, whatever it is
                outcome = f"{type(exc).__name__}: {exc}"[:80]
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        client.close()
    except Exception as exc:  # counted too
        outcomes[f"close(): {type(exc).__name__}: {exc}"[:80]] += 1
    return outcomes


def loop_per_task() -> tuple[dict[str, Any], bool]:
    """apps/loop_per_task.py in a fresh process: its counts, and whether it printed leaks."""
    run = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", str(APPS / "loop_per_task.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    counts: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return counts, "nclosed" in run.stderr


def deadline_run(base_url: str) -> tuple[float, str, int]:
    """Seconds a get_customer(timeout=1.0) takes behind an exhausted RateLimit(2, 20.0),
    its outcome, and the requests the client sent for it."""

    async def main() -> tuple[float, str, int]:
        async with hc.AsyncHelpCrunch(
            API_KEY, base_url=base_url, rate_limit=hc.RateLimit(2, 20.0)
        ) as client:
            await client.get_customer(1)
            await client.get_customer(2)
            sent = client.stats.requests
            started = time.monotonic()
            try:
                await client.get_customer(3, timeout=1.0)
                outcome = "returned"
            except hc.APIConnectionError as exc:
                public = next(c for c in type(exc).__mro__ if not c.__name__.startswith("_"))
                outcome = f"{public.__name__}(maybe_sent={exc.maybe_sent})"
            except Exception as exc:  # reported as it is
                outcome = type(exc).__name__
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.5)
            return elapsed, outcome, client.stats.requests - sent

    return asyncio.run(main())


def _failed(outcomes: Counter[str]) -> str:
    bad = {k: v for k, v in outcomes.items() if k != "done"}
    total = sum(bad.values())
    return f"{total}" + (f" ({'; '.join(f'{v}× {k}' for k, v in bad.items())})" if bad else "")


def run(quick: bool = False) -> list[Table]:
    runs = 1 if quick else 3
    calls = Table(
        f"hosting_repro: failed calls of {REQUESTS:,} (one row per run)",
        ["case", "run", "failed calls"],
    )
    with fake_server(rate_limit="off", customers=1000) as fake:
        for n in range(1, runs + 1):
            progress("Flask/waitress run %d/%d", n, runs)
            calls.add(
                "Flask + waitress (32 threads), one HelpCrunch",
                n,
                _failed(waitress_run(fake.base_url)),
            )
        for n in range(1, runs + 1):
            progress("two threads run %d/%d", n, runs)
            calls.add(
                "2 threads, one HelpCrunch (thread_race.py)",
                n,
                _failed(two_threads_run(fake.base_url)),
            )
        progress("deadline behind an exhausted budget (up to ~21 s)")
        elapsed, outcome, sent = deadline_run(fake.base_url)
    progress("20 × asyncio.run")
    counts, leaked = loop_per_task()
    other = Table("hosting_repro: event loops and deadlines", ["case", "result"])
    other.add(
        "20 × asyncio.run, one module-level AsyncHelpCrunch",
        f"{counts['done']} of 20 done; "
        f"{'Unclosed session/connector printed' if leaked else 'nothing unclosed'}",
    )
    other.add(
        "get_customer(timeout=1.0) behind an exhausted RateLimit(2, 20.0)",
        f"{elapsed:.2f} s, {outcome}, {sent} request(s) sent for it",
    )
    return [calls, other]


def main() -> None:
    cli(run, __doc__, quick_help="one run of each case instead of three")


if __name__ == "__main__":
    main()
