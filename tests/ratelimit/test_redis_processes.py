"""RedisRateLimit across real OS processes sharing one fake HelpCrunch window.

Each test spawns worker processes that run ``update_customers`` against one fake
server (in this process, on its own thread) that enforces an exact sliding window and
counts 429s. Budgets are short (60 requests per 4 s) so a test takes a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from _redis_support import (
    API_KEY,
    RedisServer,
    collect,
    max_in_window,
    redis_server_fixture,  # noqa: F401 - the redis_server fixture
    require_redis_package,
    spawn_workers,
)

from helpcrunch_async.testing import FakeHelpCrunch

require_redis_package()

BUDGET = (60, 4.0)  # the fake's window and every worker's limiter
RATE = BUDGET[0] / BUDGET[1]


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(api_key=API_KEY, rate_limit=BUDGET).in_thread() as server:
        server.seed_customers(400)
        yield server


def share_of_ceiling(times: list[float]) -> float:
    """Steady rate between the first and the last request, as a share of the ceiling."""
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) / RATE


def test_processes_share_one_budget_without_429s(fake: FakeHelpCrunch,
                                                 redis_server: RedisServer) -> None:
    workers, per_worker = 4, 22  # 88 updates: ~6 s at the ceiling
    barrier, results, procs = spawn_workers(workers, fake.base_url, redis_server.url, BUDGET,
                                            per_worker)
    barrier.wait(60)
    outcomes = collect(results, procs)

    assert [o["ok"] for o in outcomes] == [per_worker] * workers
    assert sum(o["rate_limited"] for o in outcomes) == 0
    assert fake.stats.rate_limited == 0
    sent = [r.time for r in fake.requests]
    assert len(sent) == workers * per_worker  # no retries either
    assert max_in_window(sent, BUDGET[1]) <= BUDGET[0]
    assert share_of_ceiling(sent) >= 0.95
    assert redis_server.calls("evalsha") >= len(sent)  # the budget really went through Redis


def test_a_skewed_client_clock_changes_nothing(fake: FakeHelpCrunch,
                                               redis_server: RedisServer) -> None:
    # One process's wall clock 0.2 s behind, the other's an hour ahead: the limiter
    # runs on Redis's clock, so both still share the window exactly.
    skews = [{"clock_skew": -0.2}, {"clock_skew": 3600.0}]
    barrier, results, procs = spawn_workers(2, fake.base_url, redis_server.url, BUDGET, 30,
                                            skews)
    barrier.wait(60)
    outcomes = collect(results, procs)

    assert [o["ok"] for o in outcomes] == [30, 30]
    assert fake.stats.rate_limited == 0
    sent = [r.time for r in fake.requests]
    assert max_in_window(sent, BUDGET[1]) <= BUDGET[0]
    assert share_of_ceiling(sent) >= 0.95


def test_redis_killed_mid_run_loses_no_update_and_recovers(fake: FakeHelpCrunch,
                                                           redis_server: RedisServer) -> None:
    options = [{"limiter": {"fallback_share": 0.5, "timeout": 0.5,
                            "retry_redis_after": 0.5}}] * 2
    barrier, results, procs = spawn_workers(2, fake.base_url, redis_server.url, BUDGET, 45,
                                            options)
    barrier.wait(60)
    time.sleep(1.5)
    redis_server.kill()
    time.sleep(1.5)
    redis_server.start()  # same port, empty: no script, no keys
    outcomes = collect(results, procs)

    assert [(o["ok"], o["failed"]) for o in outcomes] == [(45, 0), (45, 0)]
    assert [o["warnings"] for o in outcomes] == [1, 1]  # one warning per process
    assert all(o["recovered"] >= 1 for o in outcomes)  # each said Redis was back...
    assert redis_server.calls("evalsha") > 0  # ...and used the restarted server
    assert fake.stats.by_status[200] == 90
