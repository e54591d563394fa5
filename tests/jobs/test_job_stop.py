"""``stop()`` on a bulk job and on the data sync: nothing more is sent, nothing is lost.

Issue 20 item 2: after Ctrl-C, 8 more PATCHes went out over 4 s under "finishing
requests in flight": they were queued behind the rate limiter, not yet sent. Now a
stopped job cancels, at once, every request not on the wire (its item is reported
failed with ``JobStoppedError``) and lets the ones on the wire finish.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault


def _client(fake: FakeHelpCrunch, **options: object) -> hc.AsyncHelpCrunch:
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)  # type: ignore[arg-type]


async def test_stop_cancels_what_waits_for_the_limiter_and_finishes_what_is_on_the_wire() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(30)
        fake.add_faults(Fault.delay(0.6), method="PATCH")  # the first PATCH is slow
        limit = hc.RateLimit(5, 1.0)  # one send time every ~0.2 s
        async with _client(fake, rate_limit=limit) as client:
            job = client.update_customers(
                ((cid, {"name": "new"}) for cid in ids), max_concurrency=8
            )
            first = await anext(job)  # ~0.2 s: the second PATCH; the first is on the wire
            sent_at_stop = fake.stats.requests + 1  # + the slow one, on the wire
            stopped_at = time.monotonic()
            job.stop()
            rest = [r async for r in job]
            took = time.monotonic() - stopped_at
            await asyncio.sleep(3 * limit.interval)  # nothing goes out later either
        results = [first, *rest]
        assert took < 0.55  # not one send time per queued request: at once, bar the slow one
        assert sorted(r.index for r in results) == list(range(len(results)))  # each once
        done = [r for r in results if r.ok]
        stopped = [r for r in results if not r.ok]
        assert len(done) == 2  # the fast one and the slow one that was on the wire
        assert stopped  # those queued behind the limiter
        assert all(isinstance(r.error, hc.JobStoppedError) for r in stopped)
        assert all(
            isinstance(r.error, hc.JobStoppedError) and not r.error.maybe_sent for r in stopped
        )
        assert fake.stats.requests == sent_at_stop  # no request after the stop
        stored = {cid for cid in ids if fake.customers[cid]["name"] == "new"}
        assert stored == {r.customer_id for r in done}


async def test_stop_before_anything_was_sent_reports_every_item_read() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(5)
        async with _client(fake, rate_limit=hc.RateLimit(1, 30.0)) as client:
            await client.get_customer(ids[0])  # the budget is spent for 30 s
            job = client.update_customers((cid, {"name": "x"}) for cid in ids)
            asyncio.get_running_loop().call_later(0.05, job.stop)
            started = time.monotonic()
            results = [r async for r in job]
            assert time.monotonic() - started < 1.0
        assert results
        assert all(isinstance(r.error, hc.JobStoppedError) for r in results)
        assert sorted(r.index for r in results) == list(range(len(results)))
        assert fake.stats.requests == 1


async def test_stop_is_safe_twice_and_after_the_end() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(2)
        async with _client(fake, rate_limit=None) as client:
            job = client.update_customers((cid, {"name": "x"}) for cid in ids)
            results = [r async for r in job]
            job.stop()
            job.stop()
        assert [r.ok for r in results] == [True, True]


async def test_a_stopped_sync_reports_every_row_read_and_sends_nothing_more() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(20)
        rows = [{"user_id": f"user_{cid}", "name": f"synced {cid}"} for cid in ids]
        limit = hc.RateLimit(5, 1.0)
        async with _client(fake, rate_limit=limit) as client:
            sync = client.sync_customers(rows, strategy="list", max_concurrency=8)
            first = await anext(sync)
            sent_at_stop = fake.stats.requests
            stopped_at = time.monotonic()
            sync.stop()
            rest = [r async for r in sync]
            assert time.monotonic() - stopped_at < 0.3
            await asyncio.sleep(3 * limit.interval)
        results = [first, *rest]
        assert sorted(r.index for r in results) == list(range(len(results)))
        failed = [r for r in results if r.action == "failed"]
        assert failed
        assert all(isinstance(r.error, hc.JobStoppedError) for r in failed)
        assert fake.stats.requests == sent_at_stop
        for r in results:  # what is reported done is stored, and nothing else
            cid = int(str(r.key).removeprefix("user_"))
            assert (fake.customers[cid]["name"] == f"synced {cid}") == (r.action == "updated")


@pytest.mark.parametrize("pages", [3])
async def test_a_sync_stopped_while_reading_the_account_reads_no_row(pages: int) -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(100 * pages)
        rows_read: list[int] = []

        def rows() -> object:
            for i in range(10):
                rows_read.append(i)
                yield {"user_id": f"user_{i + 1}", "name": "x"}

        async with _client(fake, rate_limit=hc.RateLimit(4, 2.0)) as client:
            sync = client.sync_customers(rows(), strategy="list")  # type: ignore[arg-type]
            asyncio.get_running_loop().call_later(0.1, sync.stop)
            results = [r async for r in sync]
        assert results == []
        assert rows_read == []
        assert fake.stats.requests < pages  # stopped between pages
