"""Run once per event id: in memory, and across two processes sharing a real Redis."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _redis_support import RedisServer, redis_server_fixture  # noqa: F401

from helpcrunch_async.webhooks import MemoryDeduplicator, Outcome, RedisDeduplicator


async def test_a_duplicate_is_skipped_and_a_failed_handler_lets_the_retry_run() -> None:
    dedup = MemoryDeduplicator()
    runs: list[str] = []

    async def fails() -> None:
        runs.append("fail")
        raise RuntimeError("database down")

    async def works() -> None:
        runs.append("ok")

    with pytest.raises(RuntimeError):
        await dedup.run_once("e1", fails)
    assert await dedup.run_once("e1", works) is Outcome.HANDLED
    assert await dedup.run_once("e1", works) is Outcome.DUPLICATE
    assert runs == ["fail", "ok"]


async def test_a_delivery_while_another_is_being_handled_is_in_progress() -> None:
    dedup = MemoryDeduplicator()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await release.wait()

    first = asyncio.create_task(dedup.run_once("e1", slow))
    await started.wait()
    assert await dedup.run_once("e1", slow) is Outcome.IN_PROGRESS
    release.set()
    assert await first is Outcome.HANDLED
    assert await dedup.run_once("e1", slow) is Outcome.DUPLICATE


async def test_a_cancelled_handler_releases_its_claim() -> None:
    dedup = MemoryDeduplicator()

    async def hangs() -> None:
        await asyncio.sleep(60)

    task = asyncio.create_task(dedup.run_once("e1", hangs))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def works() -> None:
        pass

    assert await dedup.run_once("e1", works) is Outcome.HANDLED


async def test_memory_keeps_the_last_max_events_ids() -> None:
    dedup = MemoryDeduplicator(max_events=3)

    async def noop() -> None:
        pass

    for i in range(5):
        await dedup.run_once(f"e{i}", noop)
    outcomes = [await dedup.run_once(f"e{i}", noop) for i in (4, 3, 2)]
    assert outcomes == [Outcome.DUPLICATE] * 3
    assert await dedup.run_once("e0", noop) is Outcome.HANDLED  # forgotten: the oldest


# --- Redis: two workers (threads, each with its own event loop and Redis client) --------
# Nothing is shared between them but the Redis server, as between two processes (which
# would only add interpreter start-up time to the test).

IDS = [f"evt-{i}" for i in range(40)]


def _worker(redis_url: str, worker: int, barrier: threading.Barrier) -> dict[str, int]:
    import redis.asyncio

    async def main() -> dict[str, int]:
        client = redis.asyncio.Redis.from_url(redis_url)
        dedup = RedisDeduplicator(client, claim_ttl=30)
        counts = {o.value: 0 for o in Outcome}

        async def deliver(event_id: str) -> None:
            async def handler() -> None:
                await client.rpush("handled", f"{event_id} by {worker}")
                await asyncio.sleep(0.2)  # slow: the other worker's copies arrive meanwhile

            outcome = await dedup.run_once(event_id, handler)
            counts[outcome.value] += 1

        try:
            await client.ping()
            barrier.wait(10)
            await asyncio.gather(*(deliver(i) for i in IDS))
            barrier.wait(10)  # both first rounds over: the retries come later
            await asyncio.gather(*(deliver(i) for i in IDS))
        finally:
            await client.aclose()
        return counts

    return asyncio.run(main())


def test_duplicate_deliveries_run_a_handler_once_across_two_workers(
    redis_server: RedisServer,
) -> None:
    import redis

    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_worker, redis_server.url, w, barrier) for w in range(2)]
        outcomes = [f.result(timeout=30) for f in futures]
    with redis.Redis.from_url(redis_server.url) as sync_client:
        handled = [h.decode() for h in sync_client.lrange("handled", 0, -1)]
    assert sorted(h.split(" by ")[0] for h in handled) == sorted(IDS)  # each exactly once
    total = {k: outcomes[0][k] + outcomes[1][k] for k in outcomes[0]}
    assert total["handled"] == len(IDS)
    assert total["duplicate"] + total["in_progress"] == 3 * len(IDS)
    assert total["duplicate"] >= 2 * len(IDS)  # the later rounds: all done by then
    assert total["in_progress"] > 0  # the first rounds' copies did overlap


async def test_redis_releases_a_failed_claim_and_expires_a_dead_workers_claim(
    redis_server: RedisServer,
) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        dedup = RedisDeduplicator(client, claim_ttl=0.2, seen_ttl=60)

        async def fails() -> None:
            raise RuntimeError("boom")

        async def works() -> None:
            pass

        with pytest.raises(RuntimeError):
            await dedup.run_once("e1", fails)
        assert await dedup.run_once("e1", works) is Outcome.HANDLED
        assert await dedup.run_once("e1", works) is Outcome.DUPLICATE
        assert 0 < await client.pttl("helpcrunch:webhook:e1") <= 60_000

        claim = await dedup.claim("e2")  # a worker that claims, then dies
        assert claim.state == "new"
        assert await dedup.run_once("e2", works) is Outcome.IN_PROGRESS
        await asyncio.sleep(0.3)
        assert await dedup.run_once("e2", works) is Outcome.HANDLED
        await dedup.settle(claim, succeeded=False)  # the late release leaves "done" alone
        assert await dedup.run_once("e2", works) is Outcome.DUPLICATE
    finally:
        await client.aclose()
