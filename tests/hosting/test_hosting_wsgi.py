"""Flask behind waitress (32 threads), all threads sharing ONE blocking ``HelpCrunch``.

The app runs in its own process; the fake HelpCrunch in a thread of the test process.
Two kinds of traffic, 2,500 requests in all:

* busy: 500 requests from 48 client threads at once, so that all 32 of waitress's
  threads call the client together;
* quiet: 2,000 requests from 2 client threads with a random 0–0.5 ms gap before each,
  as a lightly used app sees them. At most two calls overlap and the server goes idle
  between them, so the client's event loop changes hands between the calling threads
  and its background thread all the time: where a stale ``loop.stop`` made calls fail
  with a bare ``RuntimeError`` (issue 19; on main about 1 % of these calls, 10–32 of
  2,000 in eight runs, while the busy part hardly ever fails).

Asserted: every call done, every update stored and sent once, a clean shutdown on
SIGINT (the client closed after waitress stopped, no connection to the fake left open,
nothing unclosed or traceback in the output).
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
    hammer_threads,
    problems_in_output,
    serve,
    shutdown_report,
    tally_answers,
)

from helpcrunch_async.testing import FakeHelpCrunch

BUSY = 500
QUIET = 2000
N = BUSY + QUIET


def test_flask_waitress_32_threads_share_one_blocking_client(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    fake.seed_customers(N)
    port = free_port()
    env = child_env(HC_API_KEY=fake.api_key, HC_BASE_URL=fake.base_url)
    argv = [sys.executable, *WARN, str(APPS / "flask_app.py"), str(port)]
    with serve(argv, port=port, log_dir=tmp_path, name="waitress", env=env) as app:
        results = hammer_threads(port, [f"/customers/{i}" for i in range(1, BUSY + 1)], threads=48)
        results += hammer_threads(
            port, [f"/customers/{i}" for i in range(BUSY + 1, N + 1)], threads=2, gap=0.0005
        )
        code = app.stop(signal.SIGINT)

    tally_answers(results).assert_all_done(N)
    wrong = [i for i in range(1, N + 1) if fake.customers[i]["name"] != f"flask {i}"]
    assert wrong == [], f"{len(wrong)} updates not stored, first ids {wrong[:5]}"
    assert fake.stats.requests == N
    assert code == 0, app.stderr
    assert shutdown_report(app.stdout) == CLEAN_SHUTDOWN
    assert problems_in_output(app.stdout + app.stderr) == []
