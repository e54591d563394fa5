"""Retries, the shared 429 pause, rate limiting and timeouts — against the fake server.

Every test here goes through the real transport (aiohttp on loopback), not a mock.
Timing tests assert ratios and orderings measured in the same run, never absolute
speeds (CI machines are shared and noisy).
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest

import helpcrunch_async as hc
from helpcrunch_async import _retry
from helpcrunch_async.testing import FakeHelpCrunch, Fault


def _client(fake: FakeHelpCrunch, **options: object) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)  # type: ignore[arg-type]


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff of 10 ms: these tests are about what is retried, not how long it waits."""
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.01)


def _statuses(fake: FakeHelpCrunch, method: str = "PATCH") -> list[int | None]:
    return [r.status for r in fake.requests if r.method == method]


@pytest.mark.usefixtures("fast_backoff")
async def test_503_503_200_succeeds_in_three_attempts() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.status(503), Fault.status(503), method="PATCH")
        async with _client(fake, max_retries=2) as client:
            customer = await client.update_customer(cid, name="Ann")
            assert client.stats.requests == 3
            assert client.stats.retries == 2
        assert customer.name == "Ann"
        assert _statuses(fake) == [503, 503, 200]
        assert fake.customers[cid]["name"] == "Ann"


@pytest.mark.usefixtures("fast_backoff")
async def test_retries_exhausted_error_says_how_many_attempts() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(*[Fault.status(503)] * 5, method="PATCH")
        async with _client(fake, max_retries=2) as client:
            with pytest.raises(hc.ServerError) as info:
                await client.update_customer(cid, name="Ann")
        assert info.value.attempts == 3
        assert "3 attempts" in str(info.value)
        assert _statuses(fake) == [503, 503, 503]


@pytest.mark.usefixtures("fast_backoff")
async def test_per_call_max_retries_overrides_the_client() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.status(502), method="PATCH")
        async with _client(fake, max_retries=5) as client:
            with pytest.raises(hc.ServerError) as info:
                await client.update_customer(cid, name="Ann", max_retries=0)
        assert info.value.status == 502
        assert _statuses(fake) == [502]


async def test_400_is_sent_exactly_once() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.status(400), method="PATCH")
        async with _client(fake, max_retries=5) as client:
            with pytest.raises(hc.BadRequestError):
                await client.update_customer(cid, name="Ann")
        assert _statuses(fake) == [400]


async def test_404_is_not_retried() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        async with _client(fake, max_retries=5) as client:
            with pytest.raises(hc.NotFoundError) as info:
                await client.update_customer(987654, name="Ann")
        assert info.value.status == 404
        assert len(fake.requests) == 1


async def test_429_retry_after_pauses_every_request_of_the_client() -> None:
    # The fake allows 2 requests a second and says how long to wait.
    async with FakeHelpCrunch(rate_limit=(2, 1.0), retry_after=True) as fake:
        z, a, b, c = fake.seed_customers(4)
        async with _client(fake, max_retries=3) as client:
            await client.update_customer(z, name="Z")
            await client.update_customer(a, name="A")
            second = asyncio.create_task(client.update_customer(b, name="B"))
            while fake.stats.rate_limited == 0:  # noqa: ASYNC110 - polling the fake's log
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # let the client read it, then ask for more
            third = asyncio.create_task(client.update_customer(c, name="C"))
            await asyncio.gather(second, third)
        log = list(fake.requests)
        limited = [r for r in log if r.status == 429]
        assert len(limited) == 1
        after = [r for r in log if r.time > limited[0].time]
        assert after, "the paused requests were never sent"
        # Retry-After: 1 -> nothing of this client goes out for a second after the 429.
        assert min(r.time for r in after) - limited[0].time >= 0.99
        assert all(r.status == 200 for r in after)
        assert {fake.customers[x]["name"] for x in (a, b, c)} == {"A", "B", "C"}


@pytest.mark.usefixtures("fast_backoff")
async def test_dropped_after_apply_patch_is_retried_and_ends_right() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.drop_after(), method="PATCH")
        async with _client(fake, max_retries=2) as client:
            customer = await client.update_customer(cid, name="Ann", custom_data={"n": 1})
        assert customer.custom_data == {"n": 1}
        assert len([r for r in fake.requests if r.method == "PATCH"]) == 2
        assert fake.customers[cid]["name"] == "Ann"
        assert fake.customers[cid]["customData"] == {"n": 1}


@pytest.mark.usefixtures("fast_backoff")
async def test_dropped_after_apply_post_is_not_resent() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.add_faults(Fault.drop_after(), method="POST")
        async with _client(fake, max_retries=5) as client:
            with pytest.raises(hc.APIConnectionError) as info:
                await client.create_customer(name="Ann", user_id="u-1")
        assert info.value.maybe_sent is True
        assert info.value.attempts == 1
        assert len([r for r in fake.requests if r.method == "POST"]) == 1
        assert len(fake.customers) == 1  # created once, never twice


@pytest.mark.usefixtures("fast_backoff")
async def test_dropped_before_apply_post_is_retried() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.add_faults(Fault.drop_before(), method="POST")
        async with _client(fake, max_retries=2) as client:
            with pytest.raises(hc.APIConnectionError):
                # The client cannot tell a drop before from a drop after applying: a POST
                # whose connection died after sending is never re-sent.
                await client.create_customer(name="Ann")
        assert len(fake.customers) == 0


@pytest.mark.usefixtures("fast_backoff")
async def test_post_5xx_is_not_retried_but_429_is() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.add_faults(Fault.status(500), method="POST")
        async with _client(fake, max_retries=3) as client:
            with pytest.raises(hc.ServerError):
                await client.create_customer(name="Ann")
            assert len(fake.requests) == 1
            fake.add_faults(Fault.status(429), method="POST")
            created = await client.create_customer(name="Bob")
        assert created.name == "Bob"
        assert [r.status for r in fake.requests] == [500, 429, 201]


async def test_cancel_during_backoff_sends_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.4)
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.status(503), Fault.status(503), method="PATCH")
        async with _client(fake, max_retries=3) as client:
            task = asyncio.create_task(client.update_customer(cid, name="Ann"))
            while len(fake.requests) < 1:  # noqa: ASYNC110 - polling the fake's log
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)  # the client got the 503 and is backing off
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.6)  # past when the retry would have gone out
        assert len(fake.requests) == 1
        assert fake.customers[cid]["name"] != "Ann"


@pytest.mark.usefixtures("fast_backoff")
async def test_timeout_is_api_timeout_error_and_patch_is_retried() -> None:
    # A retry after a timed-out attempt needs a per-attempt bound shorter than the
    # call's: `total` bounds the whole call, `sock_read` each attempt's wait for data.
    per_attempt = aiohttp.ClientTimeout(total=5.0, sock_read=0.3)
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        # 0.6 s: twice the per-attempt bound (on one event loop the 0.3 s timer always
        # fires first, however late the loop wakes).
        fake.add_faults(Fault.delay(0.6), method="PATCH")
        async with _client(fake, max_retries=1, timeout=per_attempt) as client:
            customer = await client.update_customer(cid, name="Ann")
            assert customer.name == "Ann"
            fake.add_faults(Fault.delay(0.6), Fault.delay(0.6), method="PATCH")
            with pytest.raises(hc.APITimeoutError) as info:
                await client.update_customer(cid, name="Bob")
        assert info.value.attempts == 2
        assert info.value.maybe_sent


async def test_timeout_bounds_the_whole_call_retries_included() -> None:
    # Issue 19: `timeout=` is the call's deadline, not each attempt's: no retry starts
    # that could not finish in time, and the call never runs past it.
    async with FakeHelpCrunch(rate_limit=None) as fake:
        [cid] = fake.seed_customers(1)
        fake.add_faults(Fault.delay(1.2), Fault.delay(1.2), method="PATCH")
        async with _client(fake, max_retries=3) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(hc.APITimeoutError) as info:
                await client.update_customer(cid, name="Bob", timeout=0.4)
            assert loop.time() - started < 0.9
        assert info.value.attempts == 1
        assert fake.pending_faults == 1  # one attempt reached the server, no retry


@pytest.mark.slow
async def test_rate_limited_client_makes_no_429_and_uses_the_budget() -> None:
    """60 concurrent updates (1.5 budgets), client and fake both at 40 per 1 s."""
    async with FakeHelpCrunch(rate_limit=(40, 1.0)) as fake:
        ids = fake.seed_customers(60)
        limit = hc.RateLimit(requests=40, period=1.0)
        async with _client(fake, rate_limit=limit, max_concurrency=60) as client:
            results = await asyncio.gather(
                *(client.update_customer(cid, name=f"n{cid}") for cid in ids)
            )
            assert client.stats.rate_limited == 0
        assert len(results) == 60
        assert fake.stats.rate_limited == 0
        times = sorted(r.time for r in fake.requests)
        achieved = (len(times) - 1) / (times[-1] - times[0])
        # RateLimit's design: send times (period + slack) / requests apart, the slack
        # 1.5 % of the period but at least 50 ms: 40 per 1.05 s is what it should reach.
        ratio = achieved / (40 / 1.05)
        print(f"\nachieved rate: {ratio:.3f} of the designed rate")
        assert ratio >= 0.9
        # No window of 1 s holds more than 40 requests (a fresh client has no burst).
        assert all(times[i + 40] - times[i] >= 1.0 for i in range(len(times) - 40))


@pytest.mark.slow
async def test_two_clients_sharing_one_budget_both_finish_with_few_429s() -> None:
    """Two processes' worth of clients on one key, each thinking it has it to itself."""
    async with FakeHelpCrunch(rate_limit=(20, 1.0)) as fake:
        ids = fake.seed_customers(40)
        clients = [
            _client(fake, rate_limit=hc.RateLimit(requests=20, period=1.0), max_retries=8)
            for _ in range(2)
        ]
        try:
            halves = [ids[:20], ids[20:]]
            results = await asyncio.gather(
                *(
                    c.update_customer(cid, name=f"n{cid}")
                    for c, half in zip(clients, halves, strict=True)
                    for cid in half
                )
            )
        finally:
            for c in clients:
                await c.aclose()
        assert len(results) == 40
        assert all(fake.customers[cid]["name"] == f"n{cid}" for cid in ids)
        fraction = fake.stats.rate_limited / fake.stats.requests
        print(f"\n429 fraction with two clients on one budget: {fraction:.3f}")
        assert fraction < 0.2  # ~0.05; clients that ignore a 429's pause: ~0.33


async def test_shared_rate_limit_object_paces_both_clients() -> None:
    # 24 requests, 1.2 budgets: two limiters of 20 each would send them all in 0.3 s.
    async with FakeHelpCrunch(rate_limit=(20, 0.5)) as fake:
        ids = fake.seed_customers(24)
        shared = hc.RateLimit(requests=20, period=0.5)
        a = _client(fake, rate_limit=shared)
        b = _client(fake, rate_limit=shared)
        try:
            await asyncio.gather(
                *((a if i % 2 else b).update_customer(cid, name="x") for i, cid in enumerate(ids))
            )
        finally:
            await a.aclose()
            await b.aclose()
        assert fake.stats.rate_limited == 0
        times = sorted(r.time for r in fake.requests)
        assert all(times[i + 20] - times[i] >= 0.5 for i in range(len(times) - 20))


async def test_max_concurrency_bounds_requests_in_flight() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(12)
        for _ in ids:
            fake.add_faults(Fault.delay(0.1), method="PATCH")
        async with _client(fake, max_concurrency=3) as client:
            await asyncio.gather(*(client.update_customer(cid, name="x") for cid in ids))
        # 12 requests of 0.1 s, 3 at a time -> they arrive in 4 waves, >= 0.1 s apart.
        times = sorted(r.time for r in fake.requests)
        waves = [times[i] for i in range(0, 12, 3)]
        assert all(later - earlier >= 0.095 for earlier, later in itertools.pairwise(waves))


async def test_max_retry_after_caps_the_pause() -> None:
    async with FakeHelpCrunch(rate_limit=(1, 5.0), retry_after=True) as fake:
        a, b = fake.seed_customers(2)
        async with _client(fake, max_retries=1, max_retry_after=0.2) as client:
            await client.update_customer(a, name="A")
            with pytest.raises(hc.RateLimitError) as info:
                await client.update_customer(b, name="B")
        assert info.value.retry_after is not None
        assert info.value.retry_after >= 4
        times = [r.time for r in fake.requests]
        assert times[2] - times[1] < 1.0  # waited ~0.2 s, not the 4-5 s the server asked
