"""RedisRateLimit in one process, against a real redis-server (see _redis_support)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator

import pytest
from _ports import free_port
from _redis_support import (
    API_KEY,
    RedisServer,
    command,
    python_without_redis,
    redis_server_fixture,  # noqa: F401 - the redis_server fixture
    require_redis_package,
)

import helpcrunch_async as hc
from helpcrunch_async._ratelimit import key_digest
from helpcrunch_async.testing import FakeHelpCrunch, Fault

require_redis_package()
import redis.asyncio as aioredis  # noqa: E402


@pytest.fixture
async def fake() -> AsyncIterator[FakeHelpCrunch]:
    async with FakeHelpCrunch(api_key=API_KEY, rate_limit=(20, 2.0)) as server:
        server.seed_customers(20)
        yield server


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "helpcrunch_async" and r.levelno >= logging.WARNING
    ]


async def update_some(fake: FakeHelpCrunch, limit: hc.RateLimiter, count: int) -> int:
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=fake.base_url, rate_limit=limit, max_retries=4
    ) as client:
        ok = 0
        async for result in client.update_customers(
            (cid, {"name": f"N{cid}"}) for cid in range(1, count + 1)
        ):
            ok += result.ok
        return ok


async def test_requests_are_paced_by_redis_time_with_one_round_trip_each(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=40, period=1.0, name="pace")
    await limit.acquire()  # the first call loads the script (NOSCRIPT, SCRIPT LOAD, EVALSHA)
    before = redis_server.calls("evalsha")
    await asyncio.sleep(0.2)
    start = time.monotonic()  # the fake's clock
    assert await update_some(fake, limit, 12) == 12  # 12 at once (concurrency 16)...
    assert fake.stats.rate_limited == 0
    assert redis_server.calls("evalsha") - before == 12  # one script call per request
    # ...yet sent one interval ((1 s + 0.1 s headroom) / 40) apart: no burst (a lower
    # bound only: sleeps never end early)
    last = max(r.time for r in fake.requests)
    assert last - start >= 11 * (1.1 / 40) * 0.99


async def test_the_api_key_never_reaches_redis(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    seen: list[bytes] = []
    monitor = socket.create_connection(("127.0.0.1", redis_server.port))
    monitor.sendall(b"MONITOR\r\n")

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := monitor.recv(65536):
                seen.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    limit = hc.RedisRateLimit(redis_server.url, requests=20, period=2.0)
    assert await update_some(fake, limit, 3) == 3
    keys = command(redis_server.port, "KEYS", "*")
    values = b"".join(command(redis_server.port, "GET", k) for k in limit.keys or ())
    await asyncio.sleep(0.1)
    monitor.shutdown(socket.SHUT_RDWR)
    monitor.close()
    reader.join(5)

    traffic = b"".join(seen)
    assert b"evalsha" in traffic.lower()  # MONITOR saw the limiter's calls
    for blob in (traffic, keys, values):
        assert API_KEY.encode() not in blob
    digest = key_digest(API_KEY)
    assert limit.keys == (
        f"helpcrunch-async:{{key:{digest}}}:next",
        f"helpcrunch-async:{{key:{digest}}}:paused",
    )
    assert limit.keys[0].encode() in keys


async def test_every_key_expires_and_both_share_one_cluster_slot(redis_server: RedisServer) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=10, period=1.0, name="shop")
    await limit.acquire()
    limit.on_rate_limited(0.5)
    await limit.acquire()
    async with aioredis.Redis.from_url(redis_server.url) as r:
        # bytes (no decode_responses); redis's types allow str too
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await r.keys("*"))
        assert keys == sorted(limit.keys or ())
        for key in keys:
            assert 0 < await r.pttl(key) <= 3000
            assert "{name:shop}" in key  # the hash tag: one Redis Cluster slot
    await limit.aclose()


async def test_a_429_in_one_process_pauses_the_others(redis_server: RedisServer) -> None:
    # two limiters on one budget stand for two processes
    first = hc.RedisRateLimit(redis_server.url, requests=10, period=1.0, name="shared")
    second = hc.RedisRateLimit(redis_server.url, requests=10, period=1.0, name="shared")
    await first.acquire()
    await second.acquire()
    assert first.keys is not None  # named: its keys are known from the start
    loop = asyncio.get_running_loop()
    start = loop.time()  # the pause starts later: when the retry's reservation reaches Redis
    first.on_rate_limited(0.5)
    retry = asyncio.create_task(first.acquire())  # the 429'd request's retry: hands the pause over
    async with aioredis.Redis.from_url(redis_server.url) as r:
        while not await r.exists(first.keys[1]):  # until the pause is in Redis
            assert loop.time() - start < 5, "the 429's pause never reached Redis"
            await asyncio.sleep(0.005)
    await second.acquire()
    # Held until the pause ends (Redis's clock; sleeps never end early, a late one only
    # adds), not one interval (0.11 s) after its last send.
    assert loop.time() - start >= 0.45
    await retry
    await first.aclose()
    await second.aclose()


async def test_reservations_never_go_further_ahead_than_one_period(
    redis_server: RedisServer,
) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=10, period=0.5, name="cap")
    waiting = [asyncio.create_task(limit.acquire()) for _ in range(40)]  # 2.4 s of them
    await asyncio.sleep(0.3)
    assert limit.keys is not None  # named: its keys are known from the start
    async with aioredis.Redis.from_url(redis_server.url) as r:
        seconds, micros = await r.time()
        next_send = await r.get(limit.keys[0])
        assert next_send is not None
        ahead = int(next_send) - (seconds * 1_000_000 + micros)
    interval = (0.5 + 0.1) / 10
    assert ahead <= (0.5 + interval) * 1e6  # the rest wait without a reservation
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await asyncio.wait_for(limit.acquire(), 5)  # cancelled waits left it usable
    await limit.aclose()


async def test_a_restarted_redis_gets_the_script_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=100, period=1.0, name="restart")
    await limit.acquire()
    redis_server.kill()
    redis_server.start()  # an empty server: NOSCRIPT for the cached script
    await limit.acquire()
    assert warnings_of(caplog) == []  # no fallback: the script was loaded again
    assert redis_server.calls("script|load") + redis_server.calls("script") >= 1
    assert redis_server.calls("evalsha") == 2  # NOSCRIPT, then the reloaded script
    await limit.aclose()


async def test_redis_down_falls_back_to_a_local_share_with_one_warning(
    fake: FakeHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    limit = hc.RedisRateLimit(url, requests=40, period=1.0, fallback_share=0.5, timeout=0.5)
    assert await update_some(fake, limit, 6) == 6
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    assert "20 requests per 1 s" in warnings[0]
    assert API_KEY not in caplog.text


async def test_a_redis_that_never_answers_times_out_into_the_fallback(
    fake: FakeHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        limit = hc.RedisRateLimit(url, requests=40, period=1.0, timeout=0.3, retry_redis_after=60)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await update_some(fake, limit, 3) == 3
        assert loop.time() - start < 30  # not stuck on a library default
    assert len(warnings_of(caplog)) == 1


async def test_fallback_hands_back_to_redis_when_it_returns(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    limit = hc.RedisRateLimit(
        redis_server.url, requests=100, period=1.0, name="back", timeout=0.5, retry_redis_after=0.2
    )
    await limit.acquire()
    redis_server.kill()
    await limit.acquire()  # falls back
    await limit.acquire()
    redis_server.start()
    await asyncio.sleep(0.3)
    await limit.acquire()  # tries Redis again
    assert len(warnings_of(caplog)) == 1
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert redis_server.calls("evalsha") >= 1
    await limit.aclose()


async def test_a_429_from_the_server_goes_to_redis(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    fake.add_faults(Fault.status(429))
    limit = hc.RedisRateLimit(redis_server.url, requests=20, period=2.0)
    assert await update_some(fake, limit, 2) == 2
    assert fake.stats.faults == 1
    assert redis_server.calls("set") >= 3  # two reservations and the "paused until"


async def test_a_redis_client_you_pass_in_is_used_and_left_open(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    async with aioredis.Redis.from_url(redis_server.url) as mine:
        limit = hc.RedisRateLimit(mine, requests=20, period=2.0)
        assert await update_some(fake, limit, 2) == 2  # the client closes; the limiter too
        assert await mine.ping()  # still open: it is yours
        assert await mine.exists(*(limit.keys or ())) >= 1


def test_blocking_clients_may_share_one_redis_limit(redis_server: RedisServer) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=20, period=2.0)
    with FakeHelpCrunch(api_key=API_KEY, rate_limit=(20, 2.0)).in_thread() as fake:
        fake.seed_customers(2)
        with (
            hc.HelpCrunch(API_KEY, base_url=fake.base_url, rate_limit=limit) as a,
            hc.HelpCrunch(API_KEY, base_url=fake.base_url, rate_limit=limit) as b,
        ):
            a.update_customer(1, name="A")
            b.update_customer(2, name="B")
        assert fake.stats.by_status[200] == 2
    assert redis_server.calls("evalsha") >= 2
    assert not limit._states.values()  # each client closed the connections of its loop


def test_one_limiter_serves_one_api_key_unless_named() -> None:
    limit = hc.RedisRateLimit("redis://127.0.0.1:1/0")
    hc.AsyncHelpCrunch("key-one", rate_limit=limit)
    hc.AsyncHelpCrunch("key-one", rate_limit=limit)
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch("key-two", rate_limit=limit)
    assert info.value.field == "rate_limit"
    named = hc.RedisRateLimit("redis://127.0.0.1:1/0", name="account")
    hc.AsyncHelpCrunch("key-one", rate_limit=named)
    hc.AsyncHelpCrunch("key-two", rate_limit=named)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"redis": 42}, "redis"),
        ({"redis": "http://127.0.0.1:6379"}, "redis"),  # a ValueError of redis-py's before
        ({"redis": "redis://127.0.0.1:port/0"}, "redis"),
        ({"requests": 0}, "requests"),
        ({"period": -1}, "period"),
        ({"period": float("inf")}, "period"),  # OverflowError before
        ({"requests": 10**30}, "requests"),
        ({"name": "a{b}"}, "name"),
        ({"name": ""}, "name"),
        ({"timeout": 0}, "timeout"),
        ({"fallback_share": 1.5}, "fallback_share"),
        ({"retry_redis_after": -1}, "retry_redis_after"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object], field: str) -> None:
    args = {"redis": "redis://127.0.0.1:1/0", **kwargs}
    with pytest.raises(hc.ValidationError) as info:
        hc.RedisRateLimit(args.pop("redis"), **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_repr_never_shows_the_url() -> None:
    limit = hc.RedisRateLimit("redis://user:hunter2@127.0.0.1:1/0", name="n")
    assert "hunter2" not in repr(limit)
    assert repr(limit) == "RedisRateLimit(requests=120, period=60.0, name='n')"


def test_public_methods_have_docstrings() -> None:
    assert "RedisRateLimit" in dir(hc)
    for name, member in vars(hc.RedisRateLimit).items():
        if not name.startswith("_") and inspect.isfunction(member):
            assert inspect.getdoc(member), name


def test_without_redis_the_base_install_works_and_says_which_extra() -> None:
    done = python_without_redis(
        "import helpcrunch_async as hc\n"
        "from helpcrunch_async import *\n"
        "hc.AsyncHelpCrunch('k', rate_limit=hc.RateLimit())\n"
        "try:\n"
        "    hc.RedisRateLimit\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'helpcrunch-async[redis]'" in done.stdout


def test_many_workers_example_runs_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_readme_example import _python_blocks, _section

    [code] = _python_blocks(_section("Many workers"))
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # builds both; nothing connects yet
    limit, client = namespace["limit"], namespace["client"]
    assert isinstance(limit, hc.RedisRateLimit)
    assert isinstance(client, hc.AsyncHelpCrunch)
    assert client.rate_limit is limit
    assert (limit.requests, limit.period) == (120, 60.0)
    assert limit.keys is not None
    assert key_digest(API_KEY) in limit.keys[0]


# --- hostile conditions -------------------------------------------------------------------


async def test_a_redis_clock_stepped_back_does_not_stall_for_the_step(
    redis_server: RedisServer,
) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=10, period=0.5, name="stepped")
    assert limit.keys is not None  # named: its keys are known from the start
    async with aioredis.Redis.from_url(redis_server.url) as r:
        seconds, micros = await r.time()
        # What Redis holds after its clock went back an hour: a next send time an hour
        # "ahead", expiring in real time (as every key the script writes does).
        await r.set(limit.keys[0], str((seconds + 3600) * 1_000_000 + micros), px=300)
    await asyncio.wait_for(limit.acquire(), 10)  # not an hour
    await limit.aclose()


async def test_an_unexpected_script_reply_falls_back_instead_of_raising(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limit = hc.RedisRateLimit(redis_server.url, requests=10, period=1.0, name="odd")
    state = limit._state()

    async def odd_reply(**_: object) -> object:
        return None  # e.g. a proxy or a Redis-compatible server answering oddly

    state.script = odd_reply
    await asyncio.wait_for(limit.acquire(), 5)
    assert len(warnings_of(caplog)) == 1
    await limit.aclose()


def test_a_redis_client_you_pass_in_refuses_another_event_loop_clearly(
    redis_server: RedisServer,
) -> None:
    mine = aioredis.Redis.from_url(redis_server.url)
    limit = hc.RedisRateLimit(mine, requests=100, period=1.0, name="one-loop")
    with asyncio.Runner() as first, asyncio.Runner() as second:
        first.run(limit.acquire())
        # Its connections belong to the first loop (a RuntimeError from redis-py before).
        with pytest.raises(hc.HelpCrunchError, match="give RedisRateLimit a URL"):
            second.run(limit.acquire())
        first.run(limit.acquire())  # still fine on its own loop
        first.run(mine.aclose())


async def test_the_limiters_own_client_retries_a_dropped_connection_on_every_redis_py(
    redis_server: RedisServer,
) -> None:
    # redis-py 5.0 (the floor) retries a connection dropped by a restarted Redis only
    # for the errors in retry_on_error; without it the first call after a restart fails
    # into the fallback (seen with redis==5.0.1 on
    # test_a_restarted_redis_gets_the_script_again).
    from redis.exceptions import ConnectionError as RedisConnectionError

    limit = hc.RedisRateLimit(redis_server.url, requests=100, period=1.0, name="retry")
    kwargs = limit._state().redis.connection_pool.connection_kwargs
    assert RedisConnectionError in kwargs.get("retry_on_error", [])
    await limit.aclose()


def test_each_event_loop_closes_its_connections_when_it_ends(redis_server: RedisServer) -> None:
    # One asyncio.run per task (Celery, scripts): before, each loop left its Redis
    # client open ("unclosed transport" ResourceWarnings) and its state kept the loop.
    import gc
    import warnings

    limit = hc.RedisRateLimit(redis_server.url, requests=1000, period=1.0, name="loops")

    async def use_without_aclose() -> None:
        await limit.acquire()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            asyncio.run(use_without_aclose())
        gc.collect()
    assert not limit._states.values()  # each loop's state went with its loop
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_a_call_behind_a_spent_redis_budget_fails_at_once_and_reserves_nothing(
    fake: FakeHelpCrunch, redis_server: RedisServer
) -> None:
    # Issue 19: a call's timeout is its deadline; when Redis has no send time before
    # it, the call fails at once, sends nothing and takes no send time from the others.
    limit = hc.RedisRateLimit(redis_server.url, requests=2, period=20.0)
    async with (
        aioredis.Redis.from_url(redis_server.url) as redis,
        hc.AsyncHelpCrunch(API_KEY, base_url=fake.base_url, rate_limit=limit) as client,
    ):
        await client.get_customer(1)
        assert limit.keys is not None
        next_free = await redis.get(limit.keys[0])
        started = time.monotonic()
        with pytest.raises(hc.APITimeoutError) as info:
            await client.get_customer(1, timeout=1.0)
        assert time.monotonic() - started < 0.5
        assert info.value.maybe_sent is False
        assert await redis.get(limit.keys[0]) == next_free  # nothing reserved
        assert not await limit.acquire_within(1.0)
    assert fake.stats.requests == 1
