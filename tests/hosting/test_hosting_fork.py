"""``multiprocessing`` with the fork start method after the parent used the client.

The child's calls on the inherited client work (the child gets its own connections;
the parent's sockets are left alone), and the parent's calls still work after. For the
blocking ``HelpCrunch`` and for ``AsyncHelpCrunch`` used with ``asyncio.run``. Also a
single-threaded script: one blocking call leaves no extra thread, so a fork after it
is quiet on Python 3.12+ (no "This process is multi-threaded" ``DeprecationWarning``).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import signal
import sys
import urllib.request
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _ports import free_port
from hosting_support import (
    APPS,
    LeakWatch,
    Tally,
    assert_no_growth,
    problems_in_output,
    resources,
    run_bounded,
    run_python,
    serve,
)

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

CHILD_CALLS = (2, 3, 4)


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except hc.HelpCrunchError as exc:
        return f"HelpCrunchError: {exc}"
    except BaseException as exc:  # reported to the parent as it is
        return f"other: {exc!r}"
    return "done"


def _sync_child(client: hc.HelpCrunch, out: Connection) -> None:
    out.send(
        [
            _outcome(functools.partial(client.update_customer, c, name=f"child {c}"))
            for c in CHILD_CALLS
        ]
    )


def _async_child(client: hc.AsyncHelpCrunch, out: Connection) -> None:
    out.send([_outcome(functools.partial(_bounded_update, client, c)) for c in CHILD_CALLS])


def _bounded_update(client: hc.AsyncHelpCrunch, c: int) -> Any:
    return run_bounded(client.update_customer(c, name=f"child {c}"))


def _fork_child(target: Callable[..., None], client: object) -> list[str]:
    """Run ``target(client, pipe)`` in a forked child; what it sent back."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():
        # This test process is multi-threaded anyway (the fake runs in a thread), so
        # Python 3.12+ warns on any fork here; the single-threaded script tests the SDK's
        # part of that warning.
        warnings.filterwarnings("ignore", "This process", DeprecationWarning)
        child = ctx.Process(target=target, args=(client, send))
        child.start()
    send.close()
    try:
        assert receive.poll(60), "the child sent nothing within 60 s"
        outcomes: list[str] = receive.recv()
        child.join(30)
        assert child.exitcode == 0, child.exitcode
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
            child.join()
        child.close()
    return outcomes


def _check_stored(fake: FakeHelpCrunch) -> None:
    assert {c: fake.customers[c]["name"] for c in (1, *CHILD_CALLS, 5)} == {
        1: "parent before",
        **{c: f"child {c}" for c in CHILD_CALLS},
        5: "parent after",
    }
    assert fake.stats.requests == 2 + len(CHILD_CALLS)


def test_fork_after_the_parent_used_a_blocking_client(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(5)
    before = resources()
    tally = Tally()
    with LeakWatch() as watch:
        client = hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None)
        tally.call(lambda: client.update_customer(1, name="parent before"))
        child = _fork_child(_sync_child, client)
        tally.call(lambda: client.update_customer(5, name="parent after"))
        client.close()

    assert child == ["done"] * len(CHILD_CALLS)
    tally.assert_all_done(2)
    _check_stored(fake)
    assert watch.problems == []
    assert_no_growth(before)


def test_fork_after_the_parent_used_an_async_client(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(5)
    before = resources()
    tally = Tally()
    with LeakWatch() as watch:
        client = hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None)
        tally.call(lambda: run_bounded(client.update_customer(1, name="parent before")))
        child = _fork_child(_async_child, client)
        tally.call(lambda: run_bounded(client.update_customer(5, name="parent after")))
        tally.call(lambda: run_bounded(client.aclose()))

    assert child == ["done"] * len(CHILD_CALLS)
    tally.assert_all_done(3)
    _check_stored(fake)
    assert watch.problems == []
    assert_no_growth(before)


def test_single_threaded_script_forks_without_extra_threads(tmp_path: Path) -> None:
    """One blocking call starts no thread: the script is still single-threaded after it.

    The fake runs in its own process (``helpcrunch fake-server``), so that the script
    has no thread but its own. On Python 3.12+ the script's fork would also fail on the
    "multi-threaded" ``DeprecationWarning`` (an error there); on 3.11 the thread count
    is the check.
    """
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "helpcrunch_async",
        "fake-server",
        "--port",
        str(port),
        "--rate-limit",
        "off",
        "--customers",
        "3",
    ]
    with serve(argv, port=port, log_dir=tmp_path, name="fake") as fake:
        base_url = f"http://127.0.0.1:{port}/v1"
        run = run_python([str(APPS / "single_thread_fork.py"), base_url, "test-key"])
        names = [_name(base_url, c) for c in (1, 2, 3)]
        code = fake.stop(signal.SIGINT)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {
        "threads_after_call": ["MainThread"],
        "child_exit": 0,
        "threads_after_close": 1,
    }
    assert problems_in_output(run.stdout + run.stderr) == []
    assert names == ["before fork", "in child", "after fork"]
    assert code == 0, fake.stderr
    assert problems_in_output(fake.stdout + fake.stderr) == []


def _name(base_url: str, customer_id: int) -> str:
    """A customer's name as the fake server has it (read without the SDK)."""
    request = urllib.request.Request(
        f"{base_url}/customers/{customer_id}", headers={"Authorization": "Bearer test-key"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        name: str = json.load(response)["name"]
        return name
