"""RateLimit and RetryPolicy on their own: pacing, the shared pause, AIMD, backoff.

Timing checks compare times measured in the same run (orderings, windows), never
absolute speeds.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time

import pytest

import helpcrunch_async as hc
from helpcrunch_async._retry import RetryPolicy


async def _acquire_times(limit: hc.RateLimit, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one() -> None:
        await limit.acquire()
        times.append(loop.time())

    await asyncio.gather(*(one() for _ in range(count)))
    return sorted(times)


async def test_fresh_limiter_has_no_opening_burst() -> None:
    limit = hc.RateLimit(requests=10, period=0.5)
    times = await _acquire_times(limit, 15)  # 1.5 budgets
    # Any window of `period` holds at most `requests` acquisitions, from the very start.
    assert all(times[i + 10] - times[i] >= 0.5 for i in range(len(times) - 10))
    # ...and they are spread out, not 10 at once then a wait.
    assert times[9] - times[0] >= 0.5 * 0.8


async def test_single_429_pauses_everyone_but_keeps_the_rate() -> None:
    limit = hc.RateLimit(requests=20, period=1.0)
    loop = asyncio.get_running_loop()
    await limit.acquire()
    rate = limit.current_rate
    limit.on_rate_limited(0.3)
    start = loop.time()
    times = await _acquire_times(limit, 3)
    assert min(times) - start >= 0.29  # nobody went through during the pause
    assert limit.current_rate == rate
    # After the pause they resume at the bucket's pace, not all at once.
    assert times[-1] - times[0] >= 1.0 / 20 * 0.9


async def test_429s_that_keep_coming_halve_the_rate_down_to_a_floor() -> None:
    limit = hc.RateLimit(requests=20, period=1.0)
    full = limit.current_rate
    for expected in (1.0, 0.5, 0.25, 0.125, 1 / 16, 1 / 16):
        limit.on_rate_limited(0.001)
        await asyncio.sleep(0.005)  # the pause ends: the next 429 is a new episode
        assert limit.current_rate == pytest.approx(full * expected)


async def test_429s_within_one_pause_count_once() -> None:
    limit = hc.RateLimit(requests=20, period=1.0)
    full = limit.current_rate
    limit.on_rate_limited(0.2)
    await asyncio.sleep(0.01)
    limit.on_rate_limited(0.2)  # same episode: the pause is still on
    limit.on_rate_limited(0.2)
    assert limit.current_rate == full


async def test_rate_climbs_back_after_a_quiet_period() -> None:
    limit = hc.RateLimit(requests=10, period=0.2)
    full = limit.current_rate
    limit.on_rate_limited(0.001)
    await asyncio.sleep(0.005)
    limit.on_rate_limited(0.001)
    assert limit.current_rate == pytest.approx(full / 2)
    limit.on_success()  # too soon: no change
    assert limit.current_rate == pytest.approx(full / 2)
    await asyncio.sleep(0.21)
    limit.on_success()
    assert limit.current_rate == pytest.approx(full * 0.6)
    limit.on_success()  # one step per period / 10
    assert limit.current_rate == pytest.approx(full * 0.6)
    for _ in range(6):
        await asyncio.sleep(0.021)
        limit.on_success()
    assert limit.current_rate == pytest.approx(full)  # never above the configured rate


async def test_non_adaptive_limiter_never_lowers_its_rate() -> None:
    limit = hc.RateLimit(requests=10, period=1.0, adaptive=False)
    full = limit.current_rate
    for _ in range(3):
        limit.on_rate_limited(0.001)
        await asyncio.sleep(0.005)
    assert limit.current_rate == full


def _send_times_from_threads(limit: hc.RateLimit, threads: int, each: int) -> list[float]:
    """Acquire ``each`` times on each of ``threads`` threads, each with its own loop."""
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        async def main() -> None:
            for _ in range(each):
                await limit.acquire()
                with lock:
                    times.append(time.monotonic())

        start.wait()
        asyncio.run(main())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sorted(times)


def test_one_limiter_paces_every_event_loop_and_thread_together() -> None:
    # Issue 19: the budget belongs to the key, not to a loop. Before, a second loop got
    # a HelpCrunchError (and aiolimiter itself raises RuntimeError across loops).
    limit = hc.RateLimit(requests=10, period=0.5)
    times = _send_times_from_threads(limit, threads=3, each=5)
    assert len(times) == 15
    # One schedule for all three loops: 15 sends span 14 intervals (three schedules of
    # their own would span 4). Times are taken when each thread wakes, and a thread on a
    # busy machine wakes late, so the checks allow for lateness and never for a burst.
    assert times[-1] - times[0] >= 14 * limit.interval * 0.9
    assert all(times[i + 10] - times[i] >= 0.5 * 0.9 for i in range(len(times) - 10))


def test_one_asyncio_run_after_another_shares_the_schedule() -> None:
    limit = hc.RateLimit(requests=5, period=0.5)
    times: list[float] = []
    for _ in range(4):  # e.g. one asyncio.run per Celery task
        asyncio.run(limit.acquire())
        times.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= limit.interval * 0.9  # a new loop is no fresh budget
    copy = limit.copy()
    assert (copy.requests, copy.period, copy.adaptive) == (5, 0.5, True)
    started = time.monotonic()
    asyncio.run(copy.acquire())  # a copy has a budget of its own
    assert time.monotonic() - started < limit.interval / 2


async def _acquire_times_monotonic(limit: hc.RateLimit, count: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await limit.acquire()
        times.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    return sorted(times)


async def test_the_first_five_send_times_are_evenly_spaced_from_the_start() -> None:
    # Issue 20 item 3: RateLimit(120, 60) sent at 0.0, 0.0, 0.51, 1.02, ...: two at once.
    limit = hc.RateLimit(requests=10, period=2.0)
    start = time.monotonic()
    times = await _acquire_times_monotonic(limit, 5)
    offsets = [t - start for t in times]
    interval = limit.interval
    assert offsets[0] < interval / 2  # the first goes at once, not an interval in
    # Then the i-th at i intervals, never sooner: never two back to back. (Sleeps never
    # end early -- 5 ms for the loop's clock resolution -- but may end late on a busy
    # machine: the upper bound allows a late wake of an interval.)
    for i in range(1, 5):
        assert i * interval - 0.005 <= offsets[i] < (i + 1) * interval, (i, offsets)


def test_slack_is_1_5_percent_of_the_period_and_at_least_50_ms() -> None:
    assert hc.RateLimit(120, 60.0).interval == pytest.approx(60.0 * 1.015 / 120)
    assert hc.RateLimit(20, 2.0).interval == pytest.approx(2.05 / 20)


async def test_a_cancelled_wait_gives_its_send_time_to_the_next_request() -> None:
    limit = hc.RateLimit(requests=2, period=1.0)  # one send time every ~0.5 s
    await limit.acquire()
    first = time.monotonic()
    waiter = asyncio.create_task(limit.acquire())  # takes the send time ~0.5 s away
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await limit.acquire()  # gets the cancelled one's send time, not the one after it
    # One interval after the first send; two without the give-back.
    assert time.monotonic() - first < 1.5 * limit.interval


async def test_a_send_time_given_back_in_the_middle_goes_to_a_newcomer() -> None:
    limit = hc.RateLimit(requests=4, period=1.0)
    await limit.acquire()
    first = asyncio.create_task(limit.acquire())  # ~0.25 s
    second = asyncio.create_task(limit.acquire())  # ~0.5 s
    await asyncio.sleep(0.02)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    started = time.monotonic()
    await limit.acquire()  # the newcomer goes at ~0.25 s, before `second`
    assert time.monotonic() - started < limit.interval * 1.5
    assert not second.done()
    await second


async def test_acquire_within_refuses_at_once_and_takes_nothing() -> None:
    limit = hc.RateLimit(requests=2, period=20.0)  # one send time every ~10 s
    assert await limit.acquire_within(1.0)
    started = time.monotonic()
    assert not await limit.acquire_within(1.0)  # ~10 s away: no waiting it out
    assert time.monotonic() - started < 0.1
    next_free = limit._next
    assert not await limit.acquire_within(1.0)
    assert limit._next == next_free  # refusing took nothing from the budget


async def test_acquire_within_gives_up_when_a_429_pushes_past_its_deadline() -> None:
    limit = hc.RateLimit(requests=10, period=1.0)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire_within(0.5))
    await asyncio.sleep(0.01)
    limit.on_rate_limited(5.0)  # the server says: wait 5 s
    started = time.monotonic()
    assert await waiter is False
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"requests": 0}, "requests"),
        ({"requests": True}, "requests"),
        ({"requests": 1.5}, "requests"),
        ({"period": 0}, "period"),
        ({"period": -1.0}, "period"),
        ({"period": "60"}, "period"),
        ({"period": float("inf")}, "period"),  # accepted before, then waited forever
        ({"period": float("nan")}, "period"),
        ({"requests": 10**30}, "requests"),  # OverflowError before
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.RateLimit(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_client_rejects_a_rate_limit_of_the_wrong_type() -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch("key", rate_limit=(120, 60))  # type: ignore[arg-type]
    assert info.value.field == "rate_limit"


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    random.seed(1)
    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=8.0)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (9, 8.0)]:
        delays = [policy.backoff(retry) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spans the range...
        assert min(delays) < ceiling * 0.2  # ...down to nearly nothing


def test_rate_limit_pause_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.rate_limit_pause(1, 2.0) == 2.0
    assert policy.rate_limit_pause(1, 3600.0) == 60.0
    # Without Retry-After: a backoff that never drops to zero.
    assert all(0.5 <= policy.rate_limit_pause(1, None) <= 1.0 for _ in range(100))


@pytest.mark.parametrize(
    ("method", "status", "retried"),
    [
        ("PATCH", 429, True),
        ("POST", 429, True),
        ("PATCH", 500, True),
        ("PUT", 502, True),
        ("GET", 503, True),
        ("PATCH", 504, True),
        ("POST", 500, False),
        ("POST", 503, False),
        ("PATCH", 400, False),
        ("PATCH", 401, False),
        ("PATCH", 404, False),
        ("PATCH", 409, False),
        ("PATCH", 422, False),
        ("PATCH", 501, False),
    ],
)
def test_which_answers_are_retried(method: str, status: int, retried: bool) -> None:
    assert RetryPolicy().retryable_status(method, status) is retried


@pytest.mark.parametrize(
    ("method", "maybe_sent", "retried"),
    [
        ("POST", False, True),
        ("POST", True, False),
        ("PATCH", True, True),
        ("PUT", True, True),
        ("GET", True, True),
    ],
)
def test_which_connection_failures_are_retried(
    method: str, maybe_sent: bool, retried: bool
) -> None:
    assert RetryPolicy().retryable_failure(method, maybe_sent=maybe_sent) is retried


def test_negative_max_retries_is_rejected() -> None:
    with pytest.raises(hc.ValidationError):
        hc.AsyncHelpCrunch("key", max_retries=-1)


def test_blocking_clients_may_share_a_rate_limit() -> None:
    # Before, a RateLimit belonged to one event loop, so two blocking clients (each
    # with its own loop) could not share one: "Share the client instead".
    shared = hc.RateLimit(requests=10, period=1.0)
    with (
        hc.HelpCrunch("key", rate_limit=shared) as first,
        hc.HelpCrunch("key", rate_limit=shared) as second,
    ):
        assert first.rate_limit is shared
        assert second.rate_limit is shared
