"""The blocking client: same methods, one loop and pool for life, threads, running loops.

The blocking client runs its event loop in the calling thread or a background one.
aioresponses patches ``aiohttp.ClientSession._request`` on the class (unittest.mock), so
the patch applies in that thread too: ``mock_api`` works here unchanged (every test
below checks what was sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import helpcrunch_async as hc

API_KEY = "sk-test-SECRET"
BASE_URL = "https://api.helpcrunch.com/v1"
URL5 = f"{BASE_URL}/customers/5"
ANY_CUSTOMER = re.compile(rf"{re.escape(BASE_URL)}/customers/(\d+)")


@pytest.fixture
def blocking_client(no_api_key_env: None) -> Any:
    with hc.HelpCrunch(API_KEY, base_url=BASE_URL, rate_limit=None, max_retries=0) as client:
        yield client


def _echo_id(url: Any, **kwargs: Any) -> Any:
    """An aioresponses callback answering with the customer whose id is in the URL."""
    from aioresponses import CallbackResult

    match = ANY_CUSTOMER.fullmatch(str(url))
    assert match is not None
    body = json.loads(kwargs["data"]) if kwargs.get("data") else {}
    return CallbackResult(payload={"id": int(match.group(1)), **body})


def test_update_customer_sends_patch(
    mock_api: Any, blocking_client: hc.HelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.patch(URL5, payload=seed_response)
    customer = blocking_client.update_customer(5, name="John Doe", email=None)
    assert isinstance(customer, hc.Customer)
    assert customer.id == 542335
    method, url, kwargs = mock_api.only_request()
    assert (method, url) == ("PATCH", URL5)
    assert json.loads(kwargs["data"]) == {"name": "John Doe", "email": None}
    assert kwargs["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_update_customer_with_a_record(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    blocking_client.update_customer(5, hc.CustomerUpdate(blocked=True))
    assert mock_api.sent_json() == {"blocked": True}


def test_replace_customer_sends_put(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.put(URL5, payload={"id": 5, "name": "Ann"})
    customer = blocking_client.replace_customer(5, hc.CustomerUpdate(name="Ann"))
    assert customer.name == "Ann"
    assert mock_api.only_request()[0] == "PUT"
    assert mock_api.sent_json() == {"name": "Ann"}


def test_get_customer(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.get(URL5, payload={"id": 5, "name": "Ann"})
    assert blocking_client.get_customer("5").name == "Ann"


def test_errors_propagate_with_their_class(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.patch(
        URL5,
        status=404,
        payload={
            "errors": [
                {"code": "invalid_request", "message": "Invalid request"},
                {"code": "not_found", "message": "Customer not found"},
            ]
        },
    )
    with pytest.raises(hc.NotFoundError) as info:
        blocking_client.update_customer(5, name="x")
    assert info.value.codes == ("invalid_request", "not_found")


def test_validation_happens_before_any_request(
    mock_api: Any, blocking_client: hc.HelpCrunch
) -> None:
    with pytest.raises(hc.ValidationError) as info:
        blocking_client.update_customer("12/../34", name="x")
    assert info.value.field == "customer_id"
    with pytest.raises(hc.ValidationError):
        blocking_client.update_customer(5)
    with pytest.raises(hc.ValidationError):
        blocking_client.replace_customer(5, hc.CustomerUpdate())
    assert mock_api.requests == {}


def test_one_loop_and_one_session_for_the_whole_life(
    mock_api: Any, blocking_client: hc.HelpCrunch
) -> None:
    mock_api.patch(ANY_CUSTOMER, callback=_echo_id, repeat=True)
    blocking_client.update_customer(1, name="a")
    [session] = blocking_client._async._transport.sessions()
    loop = blocking_client._runner._loop
    assert loop is not None
    for i in range(2, 6):
        assert blocking_client.update_customer(i, name="a").id == i
    assert blocking_client._async._transport.sessions() == [session]
    assert blocking_client._runner._loop is loop
    assert not session.closed
    # One thread calling one method after another needs no background thread.
    assert blocking_client._runner.background_thread is None
    assert threading.active_count() == 1


def test_safe_from_several_threads(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.patch(ANY_CUSTOMER, callback=_echo_id, repeat=True)
    barrier = threading.Barrier(8)

    def work(worker: int) -> list[tuple[int, str | None]]:
        barrier.wait()
        results = []
        for j in range(5):
            cid = worker * 100 + j + 1
            c = blocking_client.update_customer(cid, name=f"w{worker}-{j}")
            results.append((c.id, c.name))
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(work, range(8)))
    for worker, results in enumerate(outcomes):
        assert results == [(worker * 100 + j + 1, f"w{worker}-{j}") for j in range(5)]
    assert len(mock_api.sent()) == 40


async def test_called_inside_a_running_loop_works(mock_api: Any, no_api_key_env: None) -> None:
    # _loop_runner.py runs the call on its own loop thread and blocks this one until it is done.
    mock_api.patch(URL5, payload={"id": 5, "name": "Ann"})
    asyncio.get_running_loop()  # we really are inside a running loop
    with hc.HelpCrunch(API_KEY, rate_limit=None, max_retries=0) as client:
        customer = client.update_customer(5, name="Ann")
    assert customer.name == "Ann"
    assert mock_api.only_request()[0] == "PATCH"


def test_close_and_context_manager(mock_api: Any, no_api_key_env: None) -> None:
    mock_api.patch(URL5, payload={"id": 5}, repeat=True)
    with hc.HelpCrunch(API_KEY, rate_limit=None, max_retries=0) as client:
        client.update_customer(5, name="x")
        [session] = client._async._transport.sessions()
        loop = client._runner._loop
    assert client.closed
    assert "closed" in repr(client)
    assert session.closed
    assert loop is not None
    assert loop.is_closed()
    with pytest.raises(hc.HelpCrunchError, match="closed"):
        client.update_customer(5, name="y")
    client.close()  # twice is fine
    assert len(mock_api.sent()) == 1


def test_close_without_use(no_api_key_env: None) -> None:
    client = hc.HelpCrunch(API_KEY)
    client.close()
    client.close()
    assert client.closed


def test_user_session_is_refused(no_api_key_env: None) -> None:
    async def make_and_try() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            with pytest.raises(hc.ValidationError, match="AsyncHelpCrunch") as info:
                hc.HelpCrunch(API_KEY, session=session)
            assert info.value.field == "session"

    asyncio.run(make_and_try())


# The async client's name -> the blocking client's, where they differ on purpose.
_BLOCKING_NAME = {"aclose": "close"}
# Return types that differ on purpose: the blocking client returns plain iterators.
_BLOCKING_RETURN = {
    "AsyncCustomerPager": "CustomerPager",
    "BulkJob": "Iterator[BulkResult]",
    "CustomerSync": "Iterator[CustomerSyncResult]",
}
# The summaries that must differ: what close() closes.
_BLOCKING_SUMMARY = {
    "close": "Close the connection pool and the event loop. Safe to call twice.",
}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _summary(obj: object) -> str:
    """A docstring's first paragraph, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _for_blocking(text: str) -> str:
    return text.replace("an async iterator", "an iterator").replace(
        ":meth:`aclose`", ":meth:`close`"
    )


def test_every_public_name_has_its_twin() -> None:
    async_names = {_BLOCKING_NAME.get(n, n) for n in _public(hc.AsyncHelpCrunch)}
    assert async_names == _public(hc.HelpCrunch)


@pytest.mark.parametrize("name", [*sorted(_public(hc.AsyncHelpCrunch)), "__init__"])
def test_blocking_twin_has_the_same_signature_and_summary(name: str) -> None:
    async_attr = inspect.getattr_static(hc.AsyncHelpCrunch, name)
    blocking_name = _BLOCKING_NAME.get(name, name)
    blocking_attr = inspect.getattr_static(hc.HelpCrunch, blocking_name)
    assert type(async_attr) is type(blocking_attr), "a property twins a property"
    if isinstance(async_attr, property):
        async_attr, blocking_attr = async_attr.fget, blocking_attr.fget
    async_sig = inspect.signature(async_attr)
    blocking_sig = inspect.signature(blocking_attr)
    described = [(p.name, p.kind, p.default, p.annotation) for p in async_sig.parameters.values()]
    assert [
        (p.name, p.kind, p.default, p.annotation) for p in blocking_sig.parameters.values()
    ] == described
    expected_return = _BLOCKING_RETURN.get(
        str(async_sig.return_annotation), async_sig.return_annotation
    )
    assert blocking_sig.return_annotation == expected_return
    assert not inspect.iscoroutinefunction(blocking_attr)
    assert not inspect.isasyncgenfunction(blocking_attr)
    if name != "__init__":
        expected = _BLOCKING_SUMMARY.get(blocking_name, _for_blocking(_summary(async_attr)))
        assert expected, f"AsyncHelpCrunch.{name} has no docstring"
        assert _summary(blocking_attr) == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_survives_fork(mock_api: Any, blocking_client: hc.HelpCrunch) -> None:
    mock_api.patch(ANY_CUSTOMER, callback=_echo_id, repeat=True)
    assert blocking_client.update_customer(1, name="parent").id == 1
    parent_runner = blocking_client._runner
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not use the parent's loop or connections
        status = 1
        try:
            customer = blocking_client.update_customer(2, name="child")
            fresh = blocking_client._runner is not parent_runner
            os.write(write_fd, f"{customer.id}:{customer.name}:{fresh}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd) as pipe:
        answer = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == "2:child:True"
    assert blocking_client.update_customer(3, name="parent").id == 3
    assert blocking_client._runner is parent_runner


def test_forgotten_client_is_cleaned_up_by_gc(mock_api: Any, no_api_key_env: None) -> None:
    import gc

    mock_api.patch(URL5, payload={"id": 5})
    client = hc.HelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    client.update_customer(5, name="x")
    [session] = client._async._transport.sessions()
    loop = client._runner._loop
    assert loop is not None
    del client
    gc.collect()  # the finalizer closes the session (no ResourceWarning) and the loop
    assert session.closed
    assert loop.is_closed()


def test_close_while_another_thread_waits_does_not_hang(
    mock_api: Any, no_api_key_env: None
) -> None:
    mock_api.patch(ANY_CUSTOMER, callback=_echo_id, repeat=True)
    client = hc.HelpCrunch(
        API_KEY, rate_limit=hc.RateLimit(requests=1, period=30), max_retries=0, timeout=60
    )
    client.update_customer(1, name="a")  # spends the budget: the next call waits ~30 s
    outcome: list[BaseException | hc.Customer] = []

    def waiter() -> None:
        try:
            outcome.append(client.update_customer(2, name="b"))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    threading.Event().wait(0.3)  # let the second call reach the limiter
    client.close()
    thread.join(timeout=3)
    assert not thread.is_alive(), "the waiting thread hangs after close()"
    assert len(outcome) == 1
    assert isinstance(outcome[0], hc.HelpCrunchError)
    assert "closed" in str(outcome[0])


def _close_while_a_thread_holds_a_bulk_iterator(fake: Any, delay: float) -> list[bool]:
    """Thread A holds an open update_customers() iterator, thread B waits in a call, the
    main thread closes the client while A closes its iterator ``delay`` s later.
    Returns what the job's input generator saw: [True] once its ``finally`` ran."""
    import time
    from collections.abc import AsyncIterator

    from helpcrunch_async.testing import Fault

    fake.reset()
    ids = fake.seed_customers(50)
    fake.add_faults(Fault.delay(0.5), method="GET")  # B still waits when the close comes
    client = hc.HelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None, max_retries=0)
    opened, go = threading.Event(), threading.Event()
    input_closed: list[bool] = []

    async def source() -> AsyncIterator[tuple[int, dict[str, Any]]]:
        try:
            for cid in ids:
                yield cid, {"name": "x"}
        finally:
            input_closed.append(True)

    def holder() -> None:
        it = client.update_customers(source(), max_concurrency=4)
        assert next(it).ok
        opened.set()
        go.wait(5)
        time.sleep(delay)
        it.close()  # type: ignore[attr-defined]  # typed Iterator; a generator, documented closable

    def caller() -> None:
        with contextlib.suppress(hc.HelpCrunchError):
            client.get_customer(ids[0])

    a = threading.Thread(target=holder, daemon=True)
    b = threading.Thread(target=caller, daemon=True)
    a.start()
    assert opened.wait(5)
    b.start()
    time.sleep(0.05)  # B is now waiting for its delayed answer
    go.set()
    client.close()
    a.join(5)
    b.join(5)
    assert not a.is_alive()
    assert not b.is_alive()
    return input_closed


def test_close_while_another_thread_holds_a_bulk_iterator_leaves_nothing_pending(
    caplog: pytest.LogCaptureFixture, no_api_key_env: None
) -> None:
    # Issue 10 item 3: the job must be shut down on the loop (its input's `finally`
    # runs) and nothing may be left pending on the stopped loop (asyncio logs that at
    # ERROR when such a task is collected), wherever A's close lands in close().
    import gc
    import logging

    from helpcrunch_async.testing import FakeHelpCrunch

    caplog.set_level(logging.ERROR, logger="asyncio")
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        for attempt in range(10):
            input_closed = _close_while_a_thread_holds_a_bulk_iterator(fake, attempt * 0.0003)
            gc.collect()
            assert input_closed == [True], f"attempt {attempt}: the job was not shut down"
    pending = [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]
    assert pending == []


def test_ctrl_c_during_a_call_this_thread_runs(no_api_key_env: None) -> None:
    # A plain script's call runs the loop in the calling (main) thread: Ctrl-C there
    # raises KeyboardInterrupt, cancels the request, and leaves the client usable.
    import signal
    import time

    from helpcrunch_async.testing import FakeHelpCrunch, Fault

    assert threading.current_thread() is threading.main_thread()
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        ids = fake.seed_customers(1)
        fake.add_faults(Fault.delay(3.0), method="PATCH")
        with hc.HelpCrunch(
            fake.api_key, base_url=fake.base_url, rate_limit=None, max_retries=0
        ) as client:
            assert client.get_customer(ids[0]).id == ids[0]
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                client.update_customer(ids[0], name="slow")
            timer.join()
            assert time.monotonic() - started < 2.5  # not after the delayed answer
            assert client.update_customer(ids[0], name="after").name == "after"
            assert client._runner._driver is None  # nobody holds the loop
            assert client._runner.background_thread is None


def test_a_keep_alive_connection_closed_by_the_server_is_not_reused(
    no_api_key_env: None,
) -> None:
    # Between calls the loop may not run at all (the calling thread runs it during a
    # call); a connection the server closed meanwhile must still be seen as closed, or
    # a create (never re-sent) would fail on the dead connection.
    import time

    from aiohttp import web

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"id": 7, **body})

    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/v1/customers", create)
        runner = web.AppRunner(app, keepalive_timeout=0.05, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"

    runner, base_url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        with hc.HelpCrunch(API_KEY, base_url=base_url, rate_limit=None, max_retries=0) as client:
            for i in range(3):
                assert client.create_customer(name=f"n{i}").name == f"n{i}"
                time.sleep(0.3)  # the server closes the idle keep-alive connection
            assert client.stats.requests == 3
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        server.join(10)
        loop.close()
