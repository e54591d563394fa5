"""One ``AsyncHelpCrunch`` on many event loops: one after another, at once, one budget.

A module-level client used from a new ``asyncio.run`` per task (Celery, scripts,
pytest with a loop per test), from two threads each running its own loop at once,
and with one ``RateLimit`` that all those loops share (the budget belongs to the key,
not to the loop). The fake HelpCrunch runs in a thread of this process (or of the
script's). Every call must be done, every update stored, nothing left unclosed. A
session the user passes in is the exception: it stays bound to its own loop.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from hosting_support import (
    APPS,
    LeakWatch,
    Tally,
    assert_no_growth,
    growth,
    problems_in_output,
    resources,
    run_bounded,
    run_python,
    run_threads,
)

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch


def _client(fake: FakeHelpCrunch, **options: object) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)  # type: ignore[arg-type]


def test_twenty_asyncio_runs_share_one_client(fake: FakeHelpCrunch) -> None:
    """20 sequential ``asyncio.run`` on one client made outside any loop.

    Each loop's connection pool is closed when that loop's use ends, so pools do not
    pile up run after run: after the 20th run at most one connection (2 descriptors:
    the client's end and the in-process fake's end) more than after the first.
    """
    runs = 20
    fake.seed_customers(runs)
    before = resources()
    tally = Tally()

    def use_one_client() -> str | None:
        client = _client(fake)

        async def task(n: int) -> None:
            await client.update_customer(n, name=f"run {n}")

        tally.call(lambda: run_bounded(task(1)))
        after_first = resources()
        for n in range(2, runs + 1):
            tally.call(lambda n=n: run_bounded(task(n)))
        piled_up = growth(after_first, fd_slack=2)
        run_bounded(client.aclose())  # from yet another loop
        return piled_up

    with LeakWatch() as watch:
        piled_up = use_one_client()  # the client is garbage once it returns

    tally.assert_all_done(runs)
    assert [fake.customers[n]["name"] for n in range(1, runs + 1)] == [
        f"run {n}" for n in range(1, runs + 1)
    ]
    assert fake.stats.requests == runs
    assert piled_up is None, piled_up
    assert watch.problems == []
    assert_no_growth(before)


def test_module_level_client_in_a_script_with_asyncio_run_per_task() -> None:
    """/work/shared/repros/loop_per_task.py as a real script, never closing its client:
    20 of 20 tasks done, and nothing unclosed reported, even at interpreter exit."""
    run = run_python(["-W", "always::ResourceWarning", str(APPS / "loop_per_task.py")])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {
        "done": 20,
        "hc_error": 0,
        "other": 0,
        "stored": 20,
        "requests": 20,
    }
    assert problems_in_output(run.stdout + run.stderr) == []


def test_two_threads_each_with_its_own_loop_share_one_client(fake: FakeHelpCrunch) -> None:
    """Two threads run their own event loop at the same time, 200 calls each at once."""
    per_thread = 200
    fake.seed_customers(2 * per_thread)
    before = resources()
    tally = Tally()

    def use_one_client() -> int:
        client = _client(fake)

        async def calls(first: int) -> None:
            await asyncio.gather(
                *(
                    tally.acall(client.update_customer(c, name=f"loop {c}"))
                    for c in range(first, first + per_thread)
                )
            )

        # each thread's asyncio.run is counted too (a TimeoutError if it hung)
        stuck = run_threads(
            [
                lambda first=first: tally.call(lambda: run_bounded(calls(first)))
                for first in (1, 1 + per_thread)
            ]
        )
        run_bounded(client.aclose())
        return stuck

    with LeakWatch() as watch:
        stuck = use_one_client()  # the client is garbage once it returns

    assert stuck == 0
    # 400 calls and the two asyncio.run's themselves
    tally.assert_all_done(2 * per_thread + 2)
    wrong = [c for c in range(1, 2 * per_thread + 1) if fake.customers[c]["name"] != f"loop {c}"]
    assert wrong == []
    assert fake.stats.requests == 2 * per_thread
    assert watch.problems == []
    assert_no_growth(before)


def test_one_rate_budget_shared_by_two_loops_at_once(fake: FakeHelpCrunch) -> None:
    """``RateLimit(10, 1.0)`` on the client; 10 calls from each of two loops at once.

    Together they never go over it: no window of 1 s holds more than 10 of the 20
    requests, by the times they reached the fake. The window checked is 0.97 s: the
    limiter guarantees its *send* times (11 sends are more than 1.01 s apart); the
    30 ms given away absorb the jitter between sending and arriving on a busy machine.
    Two separate budgets would send ~20 in that window.
    """
    fake.seed_customers(20)
    tally = Tally()

    def use_one_client() -> int:
        client = _client(fake, rate_limit=hc.RateLimit(10, 1.0))

        async def calls(first: int) -> None:
            await asyncio.gather(
                *(
                    tally.acall(client.update_customer(c, name=f"budget {c}"))
                    for c in range(first, first + 10)
                )
            )

        stuck = run_threads(
            [lambda first=first: tally.call(lambda: run_bounded(calls(first))) for first in (1, 11)]
        )
        run_bounded(client.aclose())
        return stuck

    with LeakWatch() as watch:
        stuck = use_one_client()

    assert stuck == 0
    tally.assert_all_done(20 + 2)
    assert [fake.customers[c]["name"] for c in range(1, 21)] == [
        f"budget {c}" for c in range(1, 21)
    ]
    times = sorted(r.time for r in fake.requests)
    assert len(times) == 20
    busiest = max(sum(1 for u in times if t <= u < t + 0.97) for t in times)
    assert busiest <= 10, [round(t - times[0], 3) for t in times]
    assert watch.problems == []


def test_own_session_used_on_another_loop_is_a_clear_helpcrunch_error(fake: FakeHelpCrunch) -> None:
    """A session the user passes in stays bound to its loop: from another loop (another
    thread's ``asyncio.run``, while the session's own loop still runs) a call is a
    ``HelpCrunchError`` and sends nothing; on its own loop the client goes on working."""
    fake.seed_customers(1)
    elsewhere = Tally()

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            client = hc.AsyncHelpCrunch(
                fake.api_key, base_url=fake.base_url, session=session, rate_limit=None
            )
            await client.update_customer(1, name="own loop")
            await asyncio.to_thread(
                elsewhere.call,
                lambda: run_bounded(client.update_customer(1, name="other loop"), 10),
            )
            await client.update_customer(1, name="own loop again")
            await client.aclose()

    with LeakWatch() as watch:
        run_bounded(main())

    assert (elsewhere.done, sum(elsewhere.hc_errors.values()), elsewhere.other) == (0, 1, [])
    assert fake.customers[1]["name"] == "own loop again"
    assert fake.stats.requests == 2
    assert watch.problems == []
