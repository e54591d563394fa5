"""RedisRateLimit across real OS processes sharing one fake HelpCrunch window.

Each test spawns worker processes that run ``update_customers`` against one fake
server (in this process, on its own thread) that enforces an exact sliding window and
counts 429s. Budgets are short (30 requests per 1 s) so a test takes a few seconds;
each run sends about 1.5 budgets, so workers that did not share one would get 429s.
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

BUDGET = (30, 1.0)  # the fake's window and every worker's limiter
RATE = BUDGET[0] / BUDGET[1]
# RedisRateLimit spaces send times (period + headroom) / requests apart, the headroom
# 3 % of the period but at least 0.1 s: the share of the ceiling it is built to reach.
DESIGNED_SHARE = BUDGET[1] / (BUDGET[1] + max(0.03 * BUDGET[1], 0.1))


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(api_key=API_KEY, rate_limit=BUDGET).in_thread() as server:
        server.seed_customers(400)
        yield server


def share_of_ceiling(times: list[float], trim: int = 2) -> float:
    """Steady rate, as a share of the ceiling, between the ``trim``-th request from each
    end (one request that a busy machine sends late does not move it)."""
    times = sorted(times)[trim : len(times) - trim]
    return (len(times) - 1) / (times[-1] - times[0]) / RATE


def wait_for_requests(fake: FakeHelpCrunch, count: int, timeout: float = 30) -> None:
    """Until the fake has seen ``count`` requests (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while len(fake.requests) < count:
        assert time.monotonic() < deadline, f"only {len(fake.requests)} of {count} requests"
        time.sleep(0.005)


def uses_the_budget(times: list[float]) -> bool:
    """Within 10 % of the rate the limiter is built to reach (a static split between
    the workers, or one pacing on its fallback share, is far below)."""
    return share_of_ceiling(times) >= 0.9 * DESIGNED_SHARE


def test_processes_share_one_budget_without_429s(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    workers, per_worker = 4, 11  # 44 updates: ~1.6 s at the ceiling
    barrier, results, procs = spawn_workers(
        workers, fake.base_url, redis_server.url, BUDGET, per_worker
    )
    barrier.wait(60)
    outcomes = collect(results, procs)

    assert [o["ok"] for o in outcomes] == [per_worker] * workers
    assert sum(o["rate_limited"] for o in outcomes) == 0
    assert fake.stats.rate_limited == 0
    sent = [r.time for r in fake.requests]
    assert len(sent) == workers * per_worker  # no retries either
    assert max_in_window(sent, BUDGET[1]) <= BUDGET[0]
    assert uses_the_budget(sent), share_of_ceiling(sent)
    assert redis_server.calls("evalsha") >= len(sent)  # the budget really went through Redis


def test_a_skewed_client_clock_changes_nothing(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    # One process's wall clock 0.2 s behind, the other's an hour ahead: the limiter
    # runs on Redis's clock, so both still share the window exactly.
    skews = [{"clock_skew": -0.2}, {"clock_skew": 3600.0}]
    barrier, results, procs = spawn_workers(2, fake.base_url, redis_server.url, BUDGET, 22, skews)
    barrier.wait(60)
    outcomes = collect(results, procs)

    assert [o["ok"] for o in outcomes] == [22, 22]
    assert fake.stats.rate_limited == 0
    sent = [r.time for r in fake.requests]
    assert max_in_window(sent, BUDGET[1]) <= BUDGET[0]
    assert uses_the_budget(sent), share_of_ceiling(sent)


def test_redis_killed_mid_run_loses_no_update_and_recovers(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    options = [{"limiter": {"fallback_share": 0.5, "timeout": 0.5, "retry_redis_after": 0.5}}] * 2
    barrier, results, procs = spawn_workers(2, fake.base_url, redis_server.url, BUDGET, 30, options)
    barrier.wait(60)
    wait_for_requests(fake, 10)  # both pace through Redis...
    redis_server.kill()
    wait_for_requests(fake, len(fake.requests) + 10)  # ...and go on without it
    redis_server.start()  # same port, empty: no script, no keys
    outcomes = collect(results, procs)  # ~40 updates left: > 1 s to find Redis again

    assert [(o["ok"], o["failed"]) for o in outcomes] == [(30, 0), (30, 0)]
    assert [o["warnings"] for o in outcomes] == [1, 1]  # one warning per process
    assert all(o["recovered"] >= 1 for o in outcomes)  # each said Redis was back...
    assert redis_server.calls("evalsha") > 0  # ...and used the restarted server
    assert fake.stats.by_status[200] == 60
