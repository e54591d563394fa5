"""The job engine (`_job_engine.JobEngine`) on its own, without HTTP: exactly once, bounded.

A property test drives it with random inputs, chunk sizes, concurrency, ordering, job
latencies, a slow consumer, bad items, a refused key and a failing input iterator,
and checks the contract every bulk job relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async import AuthenticationError, BulkAbortedError, HelpCrunchError
from helpcrunch_async._job_engine import JobEngine


@dataclass
class _Result:
    index: int
    error: HelpCrunchError | None = None
    job: bool = True


@dataclass
class _Run:
    """What one job saw: results in yield order, items read, the most jobs at once."""

    results: list[_Result]
    pulled: int
    input_broke: bool
    most_in_flight: int
    raised: BaseException | None


def _refusal() -> AuthenticationError:
    return AuthenticationError(status=401, method="PATCH", path="/v1/customers/1")


async def _run(
    *,
    n: int,
    bad: set[int],
    delays: list[int],
    chunk_size: int,
    max_concurrency: int,
    ordered: bool,
    async_input: bool,
    refuse_at: int | None,
    fail_input_at: int | None,
    consumer_pauses: int,
) -> _Run:
    pulled = 0
    broke = False
    in_flight = most = 0
    refused = False  # a refusal was handed back: nothing may start after it

    def items() -> Iterator[int]:
        nonlocal pulled, broke
        for i in range(n):
            if i == fail_input_at:
                broke = True
                raise RuntimeError("input broke")
            pulled += 1
            yield i

    async def async_items() -> AsyncIterator[int]:
        for i in items():
            await asyncio.sleep(0)
            yield i

    def prepare(index: int, item: int) -> _Result | int:
        assert index == item  # read in order, each index once
        return _Result(index, job=False) if item in bad else item

    async def start(jobs: list[int]) -> list[_Result]:
        nonlocal in_flight, most, refused
        assert 1 <= len(jobs) <= chunk_size
        assert not refused, f"{jobs} started after the key was refused"
        in_flight += 1
        most = max(most, in_flight)
        try:
            for _ in range(max(delays[j % len(delays)] for j in jobs)):
                await asyncio.sleep(0)
        finally:
            in_flight -= 1
        refused = refused or refuse_at in jobs
        return [_Result(j, _refusal() if j == refuse_at else None) for j in jobs]

    def unsent(job: int, error: HelpCrunchError) -> _Result:
        return _Result(job, error)

    results: list[_Result] = []
    raised: BaseException | None = None
    stream = JobEngine(
        async_items() if async_input else items(),
        prepare=prepare,
        result_type=_Result,
        start=start,
        unsent=unsent,
        chunk_size=chunk_size,
        max_concurrency=max_concurrency,
        ordered=ordered,
    ).results()
    try:
        async for result in stream:
            results.append(result)
            for _ in range(consumer_pauses):
                await asyncio.sleep(0)
    except (RuntimeError, BulkAbortedError) as exc:
        raised = exc
    return _Run(results, pulled, broke, most, raised)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 60),
    bad=st.sets(st.integers(0, 59), max_size=20),
    delays=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    chunk_size=st.integers(1, 4),
    max_concurrency=st.integers(1, 5),
    ordered=st.booleans(),
    async_input=st.booleans(),
    refuse_at=st.none() | st.integers(0, 59),
    fail_input_at=st.none() | st.integers(0, 59),
    consumer_pauses=st.integers(0, 3),
)
def test_every_item_read_is_reported_exactly_once(
    n: int,
    bad: set[int],
    delays: list[int],
    chunk_size: int,
    max_concurrency: int,
    ordered: bool,
    async_input: bool,
    refuse_at: int | None,
    fail_input_at: int | None,
    consumer_pauses: int,
) -> None:
    run = asyncio.run(
        _run(
            n=n,
            bad=bad,
            delays=delays,
            chunk_size=chunk_size,
            max_concurrency=max_concurrency,
            ordered=ordered,
            async_input=async_input,
            refuse_at=refuse_at,
            fail_input_at=fail_input_at,
            consumer_pauses=consumer_pauses,
        )
    )
    indices = [r.index for r in run.results]
    # Every item read is reported, once; nothing unread is.
    assert sorted(indices) == list(range(run.pulled))
    if ordered:
        assert indices == sorted(indices)
    assert run.most_in_flight <= max_concurrency
    refused = refuse_at is not None and refuse_at < run.pulled and refuse_at not in bad
    if run.input_broke:  # its own error first: it says why the input was not read to the end
        assert isinstance(run.raised, RuntimeError)
    elif refused:
        assert isinstance(run.raised, BulkAbortedError)
        # (start() itself asserts that nothing started after the refusal came back.)
    else:
        assert run.raised is None
        assert run.pulled == n
    if refused:
        assert any(isinstance(r.error, AuthenticationError) for r in run.results)


async def test_a_slow_consumer_does_not_stop_requests_but_bounds_reading() -> None:
    """Workers keep sending while the caller is busy, and stop reading at the bound."""
    pulled = 0
    sent: list[int] = []

    def items() -> Iterator[int]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield i

    async def start(jobs: list[int]) -> list[_Result]:
        await asyncio.sleep(0)
        sent.extend(jobs)
        return [_Result(j) for j in jobs]

    stream = JobEngine(
        items(), prepare=lambda i, item: item, result_type=_Result, start=start, max_concurrency=4
    ).results()
    first = await anext(stream)
    await asyncio.sleep(0.05)  # the caller is busy; the loop runs the workers
    assert first.index == 0
    assert len(sent) > 1  # requests went on without the caller asking for results
    assert pulled <= 1 + 2 * 4  # yielded + at most 4 waiting + 4 in flight
    rest = [r.index async for r in stream]
    assert sorted([first.index, *rest]) == list(range(1000))


async def test_a_failing_prepare_ends_the_job_with_its_error() -> None:
    """A bug in prepare is raised from the iterator, not reported as an item."""
    started: list[int] = []

    def prepare(index: int, item: int) -> int:
        if item == 5:
            raise ZeroDivisionError("bug")
        return item

    async def start(jobs: list[int]) -> list[_Result]:
        started.extend(jobs)
        await asyncio.sleep(0.01)
        return [_Result(j) for j in jobs]

    stream = JobEngine(
        iter(range(100)), prepare=prepare, result_type=_Result, start=start, max_concurrency=3
    ).results()
    with pytest.raises(ZeroDivisionError):
        async for _ in stream:
            pass
    assert max(started) < 5 + 3


def test_chunks_need_unsent() -> None:
    async def start(jobs: list[Any]) -> list[_Result]:
        return []

    with pytest.raises(TypeError, match="unsent"):
        JobEngine(
            [],
            prepare=lambda i, item: item,
            result_type=_Result,
            start=start,
            chunk_size=2,
            max_concurrency=1,
        )
