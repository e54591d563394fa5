"""Deadlines web handlers can rely on: ``timeout=`` bounds the whole call.

Behind an exhausted rate budget a single call with ``timeout=1.0`` fails at once with
``APITimeoutError(maybe_sent=False)`` (it cannot be granted a send time before its
deadline), not after waiting the budget out; nothing is sent for it, then or later.
A task cancelled while it waits behind the limiter (a web handler whose client went
away) sends nothing either, and leaves its place to the next call.

``RateLimit(2, 20.0)``: calls with a 1 s deadline are made one after another until
one is refused. However the limiter spreads its budget (two at once, or one every
10 s), the third at the latest cannot be sent within 1 s, and every one of them —
sent or refused — must end within the bound: the issue's 1.1 s for a 1 s deadline.
Each wait is guarded (``asyncio.timeout``), so that a library that waits the budget
out fails in seconds, not after 20.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hosting_support import Tally

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

DEADLINE = 1.0
BOUND = 1.1  # the "≤ 1.1 s" for a 1 s deadline
GUARD = BOUND + 2.0  # how long a test waits for a call that should have ended by BOUND


def _budget_of_two(fake: FakeHelpCrunch, **options: Any) -> hc.AsyncHelpCrunch:
    return hc.AsyncHelpCrunch(
        fake.api_key, base_url=fake.base_url, rate_limit=hc.RateLimit(2, 20.0), **options
    )


async def _within_bound(call: Awaitable[object]) -> hc.APITimeoutError | None:
    """Await ``call``; it must end within BOUND s: None if it returned, or its
    APITimeoutError, which must say that nothing was sent."""
    started = time.monotonic()
    error: hc.APITimeoutError | None = None
    try:
        async with asyncio.timeout(GUARD):  # a library that waits the budget out fails here
            await call
    except hc.APITimeoutError as exc:
        error = exc
    except TimeoutError:
        pytest.fail(f"still waiting for the rate limiter after {GUARD} s")
    elapsed = time.monotonic() - started
    assert elapsed <= BOUND, f"took {elapsed:.2f} s ({'refused' if error else 'sent'})"
    if error is not None:
        assert error.maybe_sent is False
    return error


async def _until_refused(call: Callable[[int], Awaitable[object]]) -> int:
    """``call(1)``, ``call(2)``, ... until one is refused (at the third at the latest);
    the number of calls that went through before."""
    for cid in (1, 2, 3):
        if await _within_bound(call(cid)) is not None:
            return cid - 1
    pytest.fail("three calls within a few seconds went through a budget of 2 per 20 s")


async def test_call_timeout_bounds_the_wait_for_the_rate_limiter(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(3)
    async with _budget_of_two(fake) as client:
        sent = await _until_refused(lambda cid: client.get_customer(cid, timeout=DEADLINE))
        await asyncio.sleep(0.5)
        assert 1 <= sent <= 2
        assert fake.stats.requests == sent  # nothing sent for the refused call, not even late


async def test_client_default_timeout_bounds_the_wait_too(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(3)
    async with _budget_of_two(fake, timeout=DEADLINE) as client:
        sent = await _until_refused(lambda cid: client.update_customer(cid, name="late"))
        await asyncio.sleep(0.5)
        assert 1 <= sent <= 2
        assert fake.stats.requests == sent
        assert fake.customers[sent + 1]["name"] != "late"


def test_blocking_client_timeout_bounds_the_wait_for_the_rate_limiter(fake: FakeHelpCrunch) -> None:
    """``HelpCrunch.get_customer(timeout=1.0)`` behind an exhausted budget: the same."""
    fake.seed_customers(3)
    client = hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=hc.RateLimit(2, 20.0))
    try:
        outcomes: list[tuple[BaseException | None, float]] = []

        def calls() -> None:
            for cid in (1, 2, 3):
                started = time.monotonic()
                try:
                    client.get_customer(cid, timeout=DEADLINE)
                    outcomes.append((None, time.monotonic() - started))
                except BaseException as exc:  # checked below
                    outcomes.append((exc, time.monotonic() - started))
                    return

        caller = threading.Thread(target=calls, daemon=True)
        caller.start()
        caller.join(3 * BOUND + 2.0)  # three calls, each to end by BOUND
        assert not caller.is_alive(), f"still waiting for the rate limiter: {outcomes}"
        assert all(took <= BOUND for _, took in outcomes), outcomes
        *sent, (refused, _) = outcomes
        assert 1 <= len(sent) <= 2
        assert all(exc is None for exc, _ in sent), outcomes
        assert isinstance(refused, hc.APITimeoutError), outcomes
        assert refused.maybe_sent is False
        time.sleep(0.5)
        assert fake.stats.requests == len(sent)
    finally:
        client.close()  # also ends a call still waiting (a library without the fix)


async def test_cancelled_waiter_sends_nothing_and_frees_its_place(fake: FakeHelpCrunch) -> None:
    """``RateLimit(2, 2.0)``: two calls use it; a third waits, and is cancelled.

    After the budget frees (~2 s after the first two) a call made just after the
    cancel goes as soon as the budget allows — first in line, as if the cancelled one
    never was — and the cancelled one is never sent.
    """
    fake.seed_customers(4)
    tally = Tally()
    async with hc.AsyncHelpCrunch(
        fake.api_key, base_url=fake.base_url, rate_limit=hc.RateLimit(2, 2.0)
    ) as client:
        await client.update_customer(1, name="a")
        await client.update_customer(2, name="b")
        first_sent = fake.requests[0].time
        waiting = asyncio.create_task(client.update_customer(3, name="cancelled"))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        async with asyncio.timeout(10):
            await tally.acall(client.update_customer(4, name="next"))
        await asyncio.sleep(1.5)  # past when the cancelled one would have gone

    tally.assert_all_done(1)
    assert [r.path for r in fake.requests] == [
        "/v1/customers/1",
        "/v1/customers/2",
        "/v1/customers/4",
    ]
    assert fake.customers[3]["name"] != "cancelled"
    # 2 requests per 2 s (the limiter's window: 2.02 s); a place still held by the
    # cancelled call would push the next one a whole slot later (~3 s)
    assert fake.requests[2].time - first_sent <= 2.02 + 0.5
