"""RateLimit and RetryPolicy on their own: pacing, the shared pause, AIMD, backoff.

Timing checks compare times measured in the same run (orderings, windows), never
absolute speeds.
"""

from __future__ import annotations

import asyncio
import random
import threading

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
    times = await _acquire_times(limit, 25)
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


def test_a_limiter_belongs_to_one_running_event_loop() -> None:
    limit = hc.RateLimit(requests=100, period=1.0)
    errors: list[BaseException] = []

    async def main() -> None:
        await limit.acquire()

        def other_loop() -> None:
            try:
                asyncio.run(limit.acquire())
            except hc.HelpCrunchError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_loop)
        thread.start()
        await asyncio.to_thread(thread.join)

    asyncio.run(main())
    assert len(errors) == 1
    assert "one event loop" in str(errors[0])
    # Once the first loop is closed, the limiter moves on (a second asyncio.run()).
    asyncio.run(limit.acquire())
    copy = limit.copy()
    asyncio.run(copy.acquire())
    assert (copy.requests, copy.period, copy.adaptive) == (100, 1.0, True)


def test_blocking_clients_cannot_share_a_rate_limit() -> None:
    shared = hc.RateLimit(requests=10, period=1.0)
    with hc.HelpCrunch("key", rate_limit=shared) as first:
        assert first.rate_limit is shared
        with pytest.raises(hc.ValidationError, match="Share the client instead") as info:
            hc.HelpCrunch("key", rate_limit=shared)
        assert info.value.field == "rate_limit"
    # Once the first client is closed, the limiter may go to a new one.
    with hc.HelpCrunch("key", rate_limit=shared) as second:
        assert second.rate_limit is shared


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
        ("PATCH", 429, True), ("POST", 429, True), ("PATCH", 500, True), ("PUT", 502, True),
        ("GET", 503, True), ("PATCH", 504, True), ("POST", 500, False), ("POST", 503, False),
        ("PATCH", 400, False), ("PATCH", 401, False), ("PATCH", 404, False),
        ("PATCH", 409, False), ("PATCH", 422, False), ("PATCH", 501, False),
    ],
)
def test_which_answers_are_retried(method: str, status: int, retried: bool) -> None:
    assert RetryPolicy().retryable_status(method, status) is retried


@pytest.mark.parametrize(
    ("method", "maybe_sent", "retried"),
    [("POST", False, True), ("POST", True, False), ("PATCH", True, True),
     ("PUT", True, True), ("GET", True, True)],
)
def test_which_connection_failures_are_retried(method: str, maybe_sent: bool,
                                               retried: bool) -> None:
    assert RetryPolicy().retryable_failure(method, maybe_sent=maybe_sent) is retried


def test_negative_max_retries_is_rejected() -> None:
    with pytest.raises(hc.ValidationError):
        hc.AsyncHelpCrunch("key", max_retries=-1)


def test_a_failed_blocking_client_does_not_keep_its_rate_limit() -> None:
    shared = hc.RateLimit(requests=10, period=1.0)
    with pytest.raises(hc.ValidationError):
        hc.HelpCrunch("key", base_url="http://example.com/v1", rate_limit=shared)
    with hc.HelpCrunch("key", rate_limit=shared) as client:
        assert client.rate_limit is shared
