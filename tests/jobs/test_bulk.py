"""update_customers(): lazy, exactly once, ordered, batch — against the fake server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async import _retry
from helpcrunch_async.testing import FakeHelpCrunch, Fault


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.005)


def _client(fake: FakeHelpCrunch, **options: Any) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)


def _update(cid: int) -> dict[str, Any]:
    return {"name": f"name-{cid}", "custom_data": {"n": cid}}


async def test_every_item_reported_once_and_stored() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(50)
        async with _client(fake) as client:
            results = [
                r
                async for r in client.update_customers(
                    ((cid, _update(cid)) for cid in ids), max_concurrency=5
                )
            ]
        assert sorted(r.index for r in results) == list(range(50))
        assert all(r.ok and r.error is None and r.attempts == 1 for r in results)
        assert {r.customer_id: r.customer.name for r in results if r.customer} == {
            cid: f"name-{cid}" for cid in ids
        }
        assert all(fake.customers[cid]["name"] == f"name-{cid}" for cid in ids)


async def test_input_is_consumed_lazily() -> None:
    pulled = 0

    def source() -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal pulled
        for i in range(1, 10_001):
            pulled += 1
            yield i % 20 + 1, {"name": f"n{i}"}

    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(20)
        async with _client(fake, max_concurrency=4) as client:
            stream = client.update_customers(source(), max_concurrency=4)
            seen = 0
            async for _ in stream:
                seen += 1
                assert pulled <= seen + 4 + 1  # at most the in-flight window ahead
                if seen == 100:
                    break
            await stream.aclose()
    assert pulled < 110


async def test_async_iterable_input() -> None:
    async def source() -> AsyncIterator[tuple[int, hc.CustomerUpdate]]:
        for cid in range(1, 11):
            await asyncio.sleep(0)
            yield cid, hc.CustomerUpdate(name=f"a{cid}")

    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(10)
        async with _client(fake) as client:
            results = [r async for r in client.update_customers(source())]
        # customer_id is typed int | str | None (the id as given): all ints here
        ids = sorted(r.customer_id for r in results)  # type: ignore[type-var]
        assert ids == list(range(1, 11))
        assert fake.customers[7]["name"] == "a7"


async def test_invalid_items_fail_with_validation_error_and_the_job_goes_on() -> None:
    items: list[Any] = [
        (1, {"name": "ok"}),
        (-5, {"name": "bad id"}),
        (2, {"blocked": "yes"}),
        (3, {"nmae": "typo"}),
        "not a pair",
        (4, {}),
        (5, {"name": "ok too"}),
    ]
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(5)
        async with _client(fake) as client:
            results = [r async for r in client.update_customers(items, ordered=True)]
        assert [r.ok for r in results] == [True, False, False, False, False, False, True]
        assert [r.index for r in results] == list(range(7))
        fields = [r.error.field for r in results if isinstance(r.error, hc.ValidationError)]
        assert fields == ["customer_id", "blocked", "nmae", "updates", "update"]
        assert all(r.attempts == 0 for r in results if not r.ok)
        assert len(fake.requests) == 2  # bad items never reach the network


async def test_ordered_yields_input_order_despite_slow_items() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(12)
        fake.add_faults(Fault.delay(0.3), method="PATCH")  # the first request is slow
        async with _client(fake) as client:
            results = [
                r
                async for r in client.update_customers(
                    ((cid, {"name": "x"}) for cid in ids), ordered=True, max_concurrency=4
                )
            ]
            unordered = [
                r
                async for r in client.update_customers(
                    ((cid, {"name": "y"}) for cid in ids), max_concurrency=4
                )
            ]
        assert [r.index for r in results] == list(range(12))
        assert sorted(r.index for r in unordered) == list(range(12))


async def test_api_errors_are_reported_per_item() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(3)
        async with _client(fake) as client:
            results = [
                r
                async for r in client.update_customers(
                    [(1, {"name": "a"}), (999, {"name": "b"}), (3, {"name": "c"})], ordered=True
                )
            ]
        assert [r.ok for r in results] == [True, False, True]
        assert isinstance(results[1].error, hc.NotFoundError)
        assert results[1].attempts == 1


@pytest.mark.slow
async def test_exactly_once_under_faults_and_429s_final_state_equals_input() -> None:
    kinds = ("500", "502", "503", "504", "drop_before", "drop_after", "truncated")
    async with FakeHelpCrunch(
        rate_limit=(60, 0.5), fault_rate=0.15, fault_kinds=kinds, seed=1234
    ) as fake:
        ids = fake.seed_customers(150)
        # The client paces 10 % faster than the fake allows: 429s come, AIMD slows it
        # (73, not 66: the limiter's 50 ms slack a period takes 10 % of 0.5 s).
        too_fast = hc.RateLimit(requests=73, period=0.5)
        async with _client(fake, rate_limit=too_fast, max_retries=12, max_concurrency=16) as client:
            results = [r async for r in client.update_customers((cid, _update(cid)) for cid in ids)]
            stats = client.stats
        counts = Counter(r.index for r in results)
        assert set(counts) == set(range(150))
        assert set(counts.values()) == {1}
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
        assert fake.stats.faults > 8
        assert fake.stats.rate_limited > 0
        assert stats.retries >= fake.stats.faults
        for cid in ids:
            assert fake.customers[cid]["name"] == f"name-{cid}"
            assert fake.customers[cid]["customData"] == {"n": cid}


async def test_unretryable_failures_are_reported_not_lost() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(30)
        for _ in range(5):
            fake.add_faults(Fault.status(503), method="PATCH")
        async with _client(fake, max_retries=0) as client:
            results = [
                r async for r in client.update_customers((cid, {"name": "x"}) for cid in ids)
            ]
        assert len(results) == 30
        failed = [r for r in results if not r.ok]
        assert len(failed) == 5
        assert all(isinstance(r.error, hc.ServerError) for r in failed)


async def test_input_iterator_error_drains_in_flight_then_raises() -> None:
    def source() -> Iterator[tuple[int, dict[str, Any]]]:
        yield 1, {"name": "a"}
        yield 2, {"name": "b"}
        raise RuntimeError("input broke")

    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(2)
        async with _client(fake) as client:
            seen = []

            async def collect() -> None:
                async for r in client.update_customers(source()):
                    seen.append(r.index)

            with pytest.raises(RuntimeError, match="input broke"):
                await collect()
        assert sorted(seen) == [0, 1]


async def test_batch_sends_ten_customers_a_request() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(25)
        async with _client(fake) as client:
            results = [
                r
                async for r in client.update_customers(
                    ((cid, _update(cid)) for cid in ids), batch=True
                )
            ]
        batches = [r for r in fake.requests if r.path == "/v1/customers/batch"]
        assert sorted(len(r.body) for r in batches) == [5, 10, 10]
        assert all(item["customer"] in ids for r in batches for item in r.body)
        assert sorted(r.index for r in results) == list(range(25))
        assert all(r.ok for r in results)
        assert all(fake.customers[cid]["name"] == f"name-{cid}" for cid in ids)


async def test_failed_batch_reports_each_item_or_falls_back() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(10)
        # 403, not a 400: a batch refused with 400/404/... is always retried singly
        # (tests/jobs/test_batch_refused.py), a 403 only with batch_fallback=True.
        fake.add_faults(Fault.status(403), path="/v1/customers/batch")
        async with _client(fake) as client:
            failed: list[hc.BulkResult] = []

            async def collect() -> None:
                async for r in client.update_customers(
                    ((cid, {"name": "x"}) for cid in ids), batch=True
                ):
                    failed.append(r)

            with pytest.raises(hc.BulkAbortedError):  # a 403 stops the job, after the results
                await collect()
            fake.add_faults(Fault.status(403), path="/v1/customers/batch")
            fallback = [
                r
                async for r in client.update_customers(
                    ((cid, {"name": "y"}) for cid in ids), batch=True, batch_fallback=True
                )
            ]
        assert len(failed) == 10
        assert not any(r.ok for r in failed)
        assert all(isinstance(r.error, hc.PermissionDeniedError) for r in failed)
        assert len({id(r.error) for r in failed}) == 1  # the one batch error, for each item
        assert len(fallback) == 10
        assert all(r.ok for r in fallback)
        assert all(fake.customers[cid]["name"] == "y" for cid in ids)


def test_blocking_client_update_customers_is_an_iterator() -> None:
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        ids = fake.seed_customers(10)
        with hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None) as client:
            results = client.update_customers(((cid, {"name": "s"}) for cid in ids), ordered=True)
            assert iter(results) is results
            assert [r.index for r in results] == list(range(10))
            # Leaving early closes the job cleanly; the client stays usable.
            for r in client.update_customers((cid, {"name": "t"}) for cid in ids):
                assert r.ok
                break
            assert client.update_customer(ids[0], name="after").name == "after"
        assert fake.customers[ids[0]]["name"] == "after"
        # The early exit cancelled what was still queued: not every customer became "t".
        assert sum(c["name"] == "t" for c in fake.customers.values()) < len(ids)


async def test_bad_updates_argument_is_rejected() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake, _client(fake) as client:
        with pytest.raises(hc.ValidationError):
            async for _ in client.update_customers(42):  # type: ignore[arg-type]
                pass
        with pytest.raises(hc.ValidationError):
            async for _ in client.update_customers([], max_concurrency=0):
                pass


def test_ctrl_c_during_sync_bulk_raises_keyboard_interrupt() -> None:
    import os
    import signal
    import threading

    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        ids = fake.seed_customers(30)
        fake.add_faults(*[Fault.delay(0.3)] * 30, method="PATCH")
        with hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None) as client:
            for delay in (0.45, 0.5):  # interrupt while the main thread waits for a result
                timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
                timer.start()
                results = client.update_customers(
                    ((cid, {"name": "x"}) for cid in ids), max_concurrency=4
                )
                with pytest.raises(KeyboardInterrupt):  # not "generator already running"
                    list(results)
                timer.join()
                assert fake.stats.requests < len(ids)
            # The job was cancelled cleanly: the client goes on working.
            assert client.update_customer(ids[0], name="after").name == "after"


def test_batch_outcomes_fail_items_the_response_does_not_confirm() -> None:
    from helpcrunch_async._bulk import batch_outcomes

    path = "/v1/customers/batch"
    data = [
        {"id": 1, "name": "a"},
        {"errors": [{"code": "not_found", "message": "Customer not found"}]},
        {"id": 99, "name": "someone else"},
        "not a customer",
    ]
    first, second, third, fourth = batch_outcomes(data, [1, 2, 3, 4], path)
    assert isinstance(first, hc.Customer)
    assert first.id == 1
    assert isinstance(second, hc.BatchItemError)
    assert second.codes == ("not_found",)
    assert isinstance(third, hc.BatchItemError)
    assert "customer 99, not 3" in str(third)
    assert isinstance(fourth, hc.BatchItemError)
    assert "not confirmed" in str(fourth)
    assert second.path == path
    assert second.method == "PUT"
    # A 2xx body with nothing per item: the request succeeded, nothing to read.
    assert batch_outcomes({"ok": True}, [1, 2], path) == [None, None]
    assert batch_outcomes({"data": [{"id": 5}]}, [5], path)[0].id == 5  # type: ignore[union-attr]
    # A list of the wrong length, or top-level errors, confirms nothing.
    short = batch_outcomes([{"id": 1}], [1, 2], path)
    assert all(isinstance(o, hc.BatchItemError) for o in short)
    assert "1 entries for 2 items" in str(short[1])
    assert all(isinstance(o, hc.BatchItemError) for o in batch_outcomes([], [1], path))
    top = batch_outcomes({"errors": [{"code": "x", "message": "y"}]}, [1, 2], path)
    assert [o.codes for o in top] == [("x",), ("x",)]  # type: ignore[union-attr]
    # An empty errors list is no error; the item's own customer in a shape we cannot
    # read is still this customer.
    ok, unreadable = batch_outcomes([{"id": 1, "errors": []}, {"id": 2, "tags": "x"}], [1, 2], path)
    assert isinstance(ok, hc.Customer)
    assert unreadable is None


async def test_batch_item_errors_in_a_2xx_response_are_reported_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from helpcrunch_async import _bulk

    real = _bulk.batch_outcomes

    def second_item_failed(data: Any, ids: Any, path: str) -> Any:
        data[1] = {"errors": [{"code": "not_found", "message": "gone"}]}
        return real(data, ids, path)

    monkeypatch.setattr("helpcrunch_async._bulk.batch_outcomes", second_item_failed)
    async with FakeHelpCrunch(rate_limit=None) as fake:
        ids = fake.seed_customers(3)
        async with _client(fake) as client:
            results = [
                r
                async for r in client.update_customers(
                    ((cid, {"name": "b"}) for cid in ids), batch=True, ordered=True
                )
            ]
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, hc.BatchItemError)


async def test_bad_items_do_not_make_the_job_read_ahead() -> None:
    pulled = 0

    def source() -> Iterator[tuple[Any, dict[str, Any]]]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield (-1 if i % 2 else 1), {"name": "x"}

    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(1)
        async with _client(fake, max_concurrency=4) as client:
            stream = client.update_customers(source(), max_concurrency=4)
            await anext(stream)
            assert pulled <= 3 * 4
            await stream.aclose()


async def test_flags_must_be_bools_and_arguments_are_checked_at_call_time() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(1)
        async with _client(fake) as client:
            with pytest.raises(hc.ValidationError) as info:
                client.update_customers([(1, {"name": "A"})], replace="false")  # type: ignore[arg-type]
            assert info.value.field == "replace"
            with pytest.raises(hc.ValidationError):
                client.update_customers([], max_concurrency=0)
            with pytest.raises(hc.ValidationError) as info:
                client.update_customers(5)  # type: ignore[arg-type]
            assert info.value.field == "updates"
        assert len(fake.requests) == 0


def test_bulk_item_is_a_real_type_alias() -> None:
    import typing

    def f(items: list[hc.BulkItem]) -> None: ...

    assert typing.get_type_hints(f)["items"] == list[hc.BulkItem]


def test_ctrl_c_while_the_loop_is_stuck_in_slow_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import threading
    import time

    from helpcrunch_async import _loop_runner

    monkeypatch.setattr(_loop_runner, "_UNWIND_TIMEOUT", 0.1)

    def slow_input() -> Iterator[tuple[int, dict[str, Any]]]:
        yield 1, {"name": "a"}
        time.sleep(1.0)  # a blocking input iterator runs on the client's loop thread
        yield 1, {"name": "b"}

    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(1)
        with hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None) as client:
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            results = client.update_customers(slow_input(), max_concurrency=1)
            with pytest.raises(KeyboardInterrupt):  # not "generator already running"
                list(results)
            timer.join()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_bulk_first_thing_in_a_forked_child_uses_the_childs_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        ids = fake.seed_customers(3)
        monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
        limit = hc.RateLimit(requests=1000, period=1.0)
        with hc.HelpCrunch(base_url=fake.base_url, rate_limit=limit) as client:
            assert client.update_customer(ids[0], name="parent").name == "parent"
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: the key was resolved at construction, not re-read now
                status = 1
                try:
                    os.environ["HELPCRUNCH_API_KEY"] = "some-other-key"
                    results = list(client.update_customers((cid, {"name": "child"}) for cid in ids))
                    os.write(write_fd, str(sum(r.ok for r in results)).encode())
                    status = 0
                finally:
                    os._exit(status)
            os.close(write_fd)
            _, status = os.waitpid(pid, 0)
            with os.fdopen(read_fd) as pipe:
                answer = pipe.read()
        assert os.waitstatus_to_exitcode(status) == 0
        assert answer == "3"
        assert all(fake.customers[cid]["name"] == "child" for cid in ids)
