"""Deadlines web handlers can rely on: ``timeout=`` bounds the whole call.

Behind an exhausted rate budget a single call with ``timeout=1.0`` fails at once with
``APITimeoutError(maybe_sent=False)`` (it cannot be granted a slot before its
deadline), not after waiting the budget out; nothing is sent for it, then or later.
A task cancelled while it waits behind the limiter (a web handler whose client went
away) sends nothing either, and leaves its place to the next call.

``RateLimit(2, 20.0)``: the third call would get its slot ~20 s after the first two.
The bound asserted is the issue's: at most 1.1 s for a 1 s deadline. Each test guards
its own wait (``asyncio.timeout``) so that on a library that waits the budget out it
fails in seconds, not after 20.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable

import pytest
from hosting_support import Tally

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

DEADLINE = 1.0
BOUND = 1.1  # the "≤ 1.1 s" for a 1 s deadline


def _exhausting(fake: FakeHelpCrunch, **options: object) -> hc.AsyncHelpCrunch:
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url,  # type: ignore[arg-type]
                              rate_limit=hc.RateLimit(2, 20.0), **options)


async def _timed_out_at_once(call: Awaitable[object]) -> None:
    """Await ``call``: it must raise APITimeoutError(maybe_sent=False) within BOUND s."""
    started = time.monotonic()
    error: hc.APITimeoutError | None = None
    try:
        async with asyncio.timeout(BOUND + 2.0):  # a library that waits it out fails here
            await call
    except hc.APITimeoutError as exc:
        error = exc
    except TimeoutError:
        pytest.fail(f"still waiting for the rate limiter after {BOUND + 2.0} s")
    elapsed = time.monotonic() - started
    assert error is not None, "the call went through: it waited the budget out"
    assert error.maybe_sent is False
    assert elapsed <= BOUND, f"took {elapsed:.2f} s"


async def test_call_timeout_bounds_the_wait_for_the_rate_limiter(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(3)
    async with _exhausting(fake) as client:
        await client.get_customer(1)
        await client.get_customer(2)  # the budget is used up for ~20 s
        await _timed_out_at_once(client.get_customer(3, timeout=DEADLINE))
        await asyncio.sleep(0.5)
        assert fake.stats.requests == 2  # nothing sent for it, not even late


async def test_client_default_timeout_bounds_the_wait_too(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(3)
    async with _exhausting(fake, timeout=DEADLINE) as client:
        await client.update_customer(1, name="a")
        await client.update_customer(2, name="b")
        await _timed_out_at_once(client.update_customer(3, name="late"))
        await asyncio.sleep(0.5)
        assert fake.stats.requests == 2
        assert fake.customers[3]["name"] != "late"


def test_blocking_client_timeout_bounds_the_wait_for_the_rate_limiter(
        fake: FakeHelpCrunch) -> None:
    """``HelpCrunch.get_customer(timeout=1.0)`` behind an exhausted budget: the same."""
    fake.seed_customers(3)
    client = hc.HelpCrunch(fake.api_key, base_url=fake.base_url,
                           rate_limit=hc.RateLimit(2, 20.0))
    try:
        client.get_customer(1)
        client.get_customer(2)
        outcome: list[BaseException | None] = []
        elapsed: list[float] = []

        def call() -> None:
            started = time.monotonic()
            try:
                client.get_customer(3, timeout=DEADLINE)
                outcome.append(None)
            except BaseException as exc:  # checked below
                outcome.append(exc)
            elapsed.append(time.monotonic() - started)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(BOUND + 2.0)
        assert not caller.is_alive(), "still waiting for the rate limiter"
        assert isinstance(outcome[0], hc.APITimeoutError), outcome
        assert outcome[0].maybe_sent is False
        assert elapsed[0] <= BOUND
        time.sleep(0.5)
        assert fake.stats.requests == 2
    finally:
        client.close()  # also ends a call still waiting (a library without the fix)


async def test_cancelled_waiter_sends_nothing_and_frees_its_place(
        fake: FakeHelpCrunch) -> None:
    """``RateLimit(2, 2.0)``: two calls use it; a third waits, and is cancelled.

    After the budget frees (~2 s after the first two) a call made just after the
    cancel goes as soon as the budget allows — first in line, as if the cancelled one
    never was — and the cancelled one is never sent.
    """
    fake.seed_customers(4)
    tally = Tally()
    async with hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url,
                                  rate_limit=hc.RateLimit(2, 2.0)) as client:
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
        "/v1/customers/1", "/v1/customers/2", "/v1/customers/4"]
    assert fake.customers[3]["name"] != "cancelled"
    # 2 requests per 2 s (the limiter's window: 2.02 s); a place still held by the
    # cancelled call would push the next one a whole slot later (~3 s)
    assert fake.requests[2].time - first_sent <= 2.02 + 0.5
