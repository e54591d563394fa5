"""Async web apps on real servers: FastAPI on uvicorn, aiohttp.web; many requests at once.

Each app runs in its own process, its ``AsyncHelpCrunch`` opened at startup (FastAPI's
lifespan, aiohttp's ``cleanup_ctx``) and closed at shutdown; the fake HelpCrunch runs in
a thread of the test process. The requests arrive at once (one connection each), each
handler awaits ``update_customer`` for its own customer: 2,000 for FastAPI's lifespan
client (issue 19's figure); 500 for aiohttp.web's and for FastAPI's thread pool sharing
one blocking client: thirty times the client's 16 connections (``max_concurrency``)
and twelve times the pool's 40 threads, so every connection and every thread is busy at
once, at a quarter of the CPU. Then a real signal stops the server. Asserted: every
call done, every update stored and sent exactly once, a clean exit (the client closed,
no connection to the fake left open, nothing unclosed and no traceback in the server's
output; the server runs with ``-W always::ResourceWarning``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from _ports import free_port
from hosting_support import (
    APPS,
    CLEAN_SHUTDOWN,
    WARN,
    child_env,
    hammer_async,
    problems_in_output,
    serve,
    shutdown_report,
    tally_answers,
)

from helpcrunch_async.testing import FakeHelpCrunch

N = 2000  # FastAPI's lifespan client
FLOOD = 500  # aiohttp.web's client; FastAPI's thread pool with one blocking client


def _uvicorn(port: int) -> list[str]:
    return [
        sys.executable,
        *WARN,
        "-m",
        "uvicorn",
        "fastapi_app:app",
        "--app-dir",
        str(APPS),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backlog",
        "4096",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]


def _check_stored(fake: FakeHelpCrunch, prefix: str, n: int) -> None:
    wrong = [i for i in range(1, n + 1) if fake.customers[i]["name"] != f"{prefix} {i}"]
    assert wrong == [], f"{len(wrong)} updates not stored, first ids {wrong[:5]}"
    assert fake.stats.requests == n  # each sent once: no lost call, no retry


def _check_uvicorn_exit(code: int, sig: signal.Signals, stderr: str) -> None:
    # uvicorn shuts down gracefully, then re-raises the signal it got (so its parent sees
    # why it ended): -SIGTERM after a clean SIGTERM shutdown is a clean exit.
    assert code in (0, -sig), stderr
    assert "Finished server process" in stderr


def test_fastapi_lifespan_client_2000_concurrent_requests(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    fake.seed_customers(N)
    port = free_port()
    env = child_env(HC_API_KEY=fake.api_key, HC_BASE_URL=fake.base_url)
    with serve(_uvicorn(port), port=port, log_dir=tmp_path, name="uvicorn", env=env) as app:
        results = hammer_async(port, [f"/customers/{i}" for i in range(1, N + 1)])
        code = app.stop(signal.SIGTERM)  # what a container runtime sends

    tally_answers(results).assert_all_done(N)
    _check_stored(fake, "fastapi", N)
    _check_uvicorn_exit(code, signal.SIGTERM, app.stderr)
    assert "Application shutdown complete" in app.stderr  # the lifespan's exit ran...
    assert shutdown_report(app.stdout) == CLEAN_SHUTDOWN
    assert problems_in_output(app.stdout + app.stderr) == []


def test_fastapi_sync_endpoints_share_one_blocking_client(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    """Plain ``def`` endpoints run in FastAPI's thread pool: one ``HelpCrunch`` for all."""
    fake.seed_customers(FLOOD)
    port = free_port()
    env = child_env(HC_API_KEY=fake.api_key, HC_BASE_URL=fake.base_url)
    with serve(_uvicorn(port), port=port, log_dir=tmp_path, name="uvicorn", env=env) as app:
        results = hammer_async(port, [f"/blocking/customers/{i}" for i in range(1, FLOOD + 1)])
        code = app.stop(signal.SIGINT)

    tally_answers(results).assert_all_done(FLOOD)
    _check_stored(fake, "fastapi blocking", FLOOD)
    _check_uvicorn_exit(code, signal.SIGINT, app.stderr)
    assert shutdown_report(app.stdout) == CLEAN_SHUTDOWN
    assert problems_in_output(app.stdout + app.stderr) == []


def test_aiohttp_web_cleanup_ctx_client_500_concurrent_requests(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    fake.seed_customers(FLOOD)
    port = free_port()
    env = child_env(HC_API_KEY=fake.api_key, HC_BASE_URL=fake.base_url)
    argv = [sys.executable, *WARN, str(APPS / "aiohttp_app.py"), str(port)]
    with serve(argv, port=port, log_dir=tmp_path, name="aiohttp", env=env) as app:
        results = hammer_async(port, [f"/customers/{i}" for i in range(1, FLOOD + 1)])
        code = app.stop(signal.SIGINT)

    tally_answers(results).assert_all_done(FLOOD)
    _check_stored(fake, "aiohttp", FLOOD)
    assert code == 0, app.stderr
    assert shutdown_report(app.stdout) == CLEAN_SHUTDOWN
    assert problems_in_output(app.stdout + app.stderr) == []
