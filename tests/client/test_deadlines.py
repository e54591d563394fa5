"""``timeout=`` as a deadline for the whole call; a job's requests queue without one.

Issue 19: ``RateLimit(2, 20.0)`` and ``await c.get_customer(1, timeout=1.0)`` returned
after 20.2 s, and requests whose callers had long given up were still sent afterwards.
Against the fake server (real transport); times are bounded generously, never exact.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch


def _client(fake: FakeHelpCrunch, **options: object) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)  # type: ignore[arg-type]


class SlowLimiter:
    """A limiter without acquire_within: every acquire waits ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.waits = 0

    async def acquire(self) -> None:
        self.waits += 1
        await asyncio.sleep(self.delay)

    def on_rate_limited(self, pause: float) -> None:
        pass

    def on_success(self) -> None:
        pass


async def test_a_call_behind_a_spent_budget_fails_at_once_and_sends_nothing() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        async with _client(fake, rate_limit=hc.RateLimit(2, 20.0)) as client:
            await client.get_customer(cid)  # the next send time is ~10 s away
            started = time.monotonic()
            with pytest.raises(hc.APITimeoutError) as info:
                await client.get_customer(cid, timeout=1.0)
            took = time.monotonic() - started
        assert took < 0.5  # at once: not after 1 s, and never after the 10 s wait
        assert info.value.maybe_sent is False
        assert info.value.attempts == 0
        assert "rate limit" in str(info.value)
        assert fake.stats.requests == 1  # the failed call sent nothing


async def test_a_limiter_without_acquire_within_is_cut_at_the_deadline() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        limiter = SlowLimiter(5.0)
        async with _client(fake, rate_limit=limiter) as client:
            started = time.monotonic()
            with pytest.raises(hc.APITimeoutError) as info:
                await client.get_customer(cid, timeout=0.5)
            took = time.monotonic() - started
        assert 0.4 < took < 1.5
        assert info.value.maybe_sent is False
        assert limiter.waits == 1
        assert fake.stats.requests == 0


async def test_the_default_timeout_is_a_deadline_too() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        async with _client(fake, rate_limit=hc.RateLimit(2, 20.0), timeout=1.0) as client:
            await client.update_customer(cid, name="a")
            with pytest.raises(hc.APITimeoutError):
                await client.update_customer(cid, name="b")
        assert fake.customers[cid]["name"] == "a"


async def test_a_cancelled_caller_sends_nothing_and_gives_its_turn_back() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        limit = hc.RateLimit(2, 1.0)  # one send time every ~0.5 s
        async with _client(fake, rate_limit=limit) as client:
            await client.get_customer(cid)
            gave_up = asyncio.create_task(client.update_customer(cid, name="gave up"))
            await asyncio.sleep(0.1)  # now waiting behind the limiter
            gave_up.cancel()  # e.g. the web handler's client disconnected
            with pytest.raises(asyncio.CancelledError):
                await gave_up
            await client.update_customer(cid, name="next")  # takes the freed send time
            await asyncio.sleep(1.5 * limit.interval)  # past the send time after it
        get, patch, *more = fake.requests
        # The freed send time is one interval after the GET; without it, two.
        assert patch.time - get.time < 1.5 * limit.interval
        assert [r.method for r in [get, patch, *more]] == ["GET", "PATCH"]
        assert fake.customers[cid]["name"] == "next"


async def test_a_429_pause_longer_than_the_deadline_fails_the_next_call_at_once() -> None:
    async with FakeHelpCrunch(rate_limit=(1, 30.0), retry_after=True) as fake:
        [cid] = fake.seed_customers(1)
        async with _client(fake, max_retries=2) as client:
            await client.get_customer(cid)  # the fake's budget: one request per 30 s
            started = time.monotonic()
            with pytest.raises(hc.RateLimitError):  # the server's answer: no 30 s wait
                await client.update_customer(cid, name="a", timeout=2.0)
            with pytest.raises(hc.APITimeoutError) as info:  # the pause is on for all
                await client.get_customer(cid, timeout=2.0)
            assert time.monotonic() - started < 1.0
        assert info.value.maybe_sent is False
        assert "429 pause" in str(info.value)
        assert fake.stats.requests == 2  # the first call and the refused PATCH


async def test_a_bulk_jobs_requests_queue_past_the_timeout() -> None:
    # A job's requests wait their turn behind the limiter by nature: each one's
    # timeout starts when it is sent, so a job longer than `timeout` still completes.
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(4)
        async with _client(fake, rate_limit=hc.RateLimit(4, 1.2), timeout=0.5) as client:
            started = time.monotonic()
            results = [
                r
                async for r in client.update_customers(
                    ((cid, {"name": "bulk"}) for cid in ids), max_concurrency=4
                )
            ]
            took = time.monotonic() - started
        assert [r.ok for r in results] == [True] * 4
        assert took > 0.5  # longer than one timeout, and nothing failed
        assert all(fake.customers[cid]["name"] == "bulk" for cid in ids)


async def test_the_data_syncs_requests_queue_past_the_timeout() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(3)
        rows = [{"user_id": f"user_{cid}", "name": f"synced {cid}"} for cid in ids]
        # 6 requests (a search and an update a row) 0.16 s apart: the last waits 0.8 s.
        async with _client(fake, rate_limit=hc.RateLimit(8, 1.2), timeout=0.5) as client:
            results = [r async for r in client.sync_customers(rows, strategy="search")]
        assert [r.action for r in results] == ["updated"] * 3
        assert all(fake.customers[cid]["name"] == f"synced {cid}" for cid in ids)


async def test_find_customer_has_one_deadline_for_all_its_pages() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(150, email="same@example.com")  # two pages of matches
        limiter = SlowLimiter(0.3)  # each page waits 0.3 s: the second passes 0.5 s
        async with _client(fake, rate_limit=limiter) as client:
            started = time.monotonic()
            with pytest.raises(hc.APITimeoutError):
                await client.find_customer(email="same@example.com", timeout=0.5)
            assert time.monotonic() - started < 1.0
        assert limiter.waits == 2
        assert fake.stats.requests == 1
