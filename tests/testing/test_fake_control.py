"""Running and inspecting the fake: in_thread, stats, log, seeding, reset, plugin, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest
from fake_helpers import Raw

from helpcrunch_async.testing import FakeHelpCrunch, FakeStats, Fault, RecordedRequest


def sync_call(
    fake: FakeHelpCrunch, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        fake.base_url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {key or fake.api_key}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def test_in_thread_serves_sync_code() -> None:
    with FakeHelpCrunch(rate_limit=None, api_key="k2").in_thread() as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
        assert fake.base_url.endswith("/v1")
        fake.seed_customers(2)
        assert sync_call(fake, "PATCH", "/customers/2", {"name": "T"})[0] == 200
        assert fake.customers[2]["name"] == "T"
        status, _ = sync_call(fake, "GET", "/customers/2", key="wrong")
        assert status == 401
        threads = [t for t in threading.enumerate() if t.name == "helpcrunch-fake"]
        assert len(threads) == 1
    threads[0].join(5)
    assert not threads[0].is_alive()
    with pytest.raises(urllib.error.URLError):
        sync_call(fake, "GET", "/customers/2")


async def test_stats_and_log(raw: Raw) -> None:
    fake = raw.fake
    fake.add_faults(Fault.status(503), Fault.drop_before())
    assert (await raw.call("PATCH", "/customers/1", {"name": "a"}))[0] == 503
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw.call("PATCH", "/customers/1", {"name": "b"})
    assert (await raw.call("PATCH", "/customers/1", {"name": "c"}))[0] == 200
    assert (await raw.call("GET", "/customers/1", headers={}))[0] == 401
    assert (await raw.call("GET", "/customers/x"))[0] == 400
    stats = fake.stats
    assert stats == FakeStats(requests=5, rate_limited=0, faults=2, by_status=stats.by_status)
    assert dict(stats.by_status) == {503: 1, 0: 1, 200: 1, 401: 1, 400: 1}
    log = fake.requests
    assert [(r.method, r.path, r.status, r.fault) for r in log] == [
        ("PATCH", "/v1/customers/1", 503, "503"),
        ("PATCH", "/v1/customers/1", 0, "drop_before"),
        ("PATCH", "/v1/customers/1", 200, None),
        ("GET", "/v1/customers/1", 401, None),
        ("GET", "/v1/customers/x", 400, None),
    ]
    assert [r.body for r in log[:3]] == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert log[0].headers["Authorization"] == "Bearer test-key"
    assert log[3].body is None
    assert all(isinstance(r, RecordedRequest) for r in log)
    assert log[0].time <= log[-1].time
    # snapshots: later requests do not change what was returned
    await raw.call("GET", "/customers/1")
    assert stats.requests == 5
    assert len(log) == 5


async def test_request_log_is_bounded() -> None:
    async with (
        FakeHelpCrunch(rate_limit=None, max_recorded=3) as fake,
        aiohttp.ClientSession() as session,
    ):
        raw = Raw(fake, session)
        fake.seed_customers(1)
        for i in range(5):
            await raw.call("PATCH", "/customers/1", {"name": str(i)})
        assert [r.body["name"] for r in fake.requests] == ["2", "3", "4"]
        assert fake.stats.requests == 5


def test_seed_customers() -> None:
    fake = FakeHelpCrunch()
    assert fake.seed_customers(3) == [1, 2, 3]
    assert fake.seed_customers(2, start_id=100) == [100, 101]
    assert sorted(fake.customers) == [1, 2, 3, 100, 101]
    c = fake.customers[100]
    assert c["id"] == 100
    assert c["userId"] == "user_100"
    assert c["tags"] == []
    assert c["customData"] == {}
    assert set(c["location"]) == {"regionCode", "countryCode", "city"}
    assert set(c["device"]) == {"id", "ip", "timezone", "platform", "userAgent"}
    assert fake.seed_customers(0) == []
    with pytest.raises(ValueError, match="count"):
        fake.seed_customers(-1)
    with pytest.raises(ValueError, match="start_id"):
        fake.seed_customers(1, start_id=0)


async def test_seeded_thousands_and_create_continues_after_them(raw: Raw) -> None:
    assert len(raw.fake.seed_customers(3000)) == 3000
    status, body = await raw.call("POST", "/customers", {"email": "new@example.com"})
    assert status == 201
    assert body["id"] == 3001


async def test_reset_clears_everything(raw: Raw) -> None:
    fake = raw.fake
    await raw.call("PUT", "/customers/1/tags", {"tags": [{"name": "t", "color": "red"}]})
    fake.add_faults(Fault.status(503), method="DELETE")
    fake.reset()
    assert fake.customers == {}
    assert fake.requests == []
    assert fake.stats == FakeStats()
    assert fake.pending_faults == 0
    fake.seed_customers(1)
    _, body = await raw.call("PUT", "/customers/1/tags", {"tags": [{"name": "t"}]})
    assert body["tags"] == [{"name": "t", "color": "#c377e0"}]  # tag colors forgotten
    _status, body = await raw.call("POST", "/customers", {})
    assert body["id"] == 2


async def test_reset_clears_the_window() -> None:
    async with FakeHelpCrunch(rate_limit=(2, 60.0)) as fake, aiohttp.ClientSession() as session:
        raw = Raw(fake, session)
        statuses = [(await raw.call("GET", "/customers/1"))[0] for _ in range(3)]
        assert statuses == [404, 404, 429]
        fake.reset()
        assert (await raw.call("GET", "/customers/1"))[0] == 404


def test_base_url_before_start() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeHelpCrunch().base_url


async def test_start_and_close_are_idempotent() -> None:
    fake = FakeHelpCrunch()
    await fake.start()
    url = fake.base_url
    await fake.start()
    assert fake.base_url == url
    await fake.close()
    await fake.close()


# --- the pytest plugin -------------------------------------------------------------


async def test_plugin_fake_defaults(helpcrunch_fake: FakeHelpCrunch) -> None:
    async with aiohttp.ClientSession() as session:
        raw = Raw(helpcrunch_fake, session)
        statuses = {(await raw.call("GET", "/customers/1"))[0] for _ in range(150)}
    assert statuses == {404}  # rate limit off by default


@pytest.mark.helpcrunch_fake(rate_limit=(2, 60.0), retry_after=True, api_key="marked")
async def test_plugin_marker_configures_the_fake(helpcrunch_fake: FakeHelpCrunch) -> None:
    assert helpcrunch_fake.api_key == "marked"
    async with aiohttp.ClientSession() as session:
        raw = Raw(helpcrunch_fake, session)
        statuses = [(await raw.call("GET", "/customers/1"))[0] for _ in range(3)]
        _, headers, _ = await raw.response("GET", "/customers/1")
    assert statuses == [404, 404, 429]
    assert headers["Retry-After"] == "60"


async def test_plugin_client_talks_to_the_fake(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: Any
) -> None:
    helpcrunch_fake.seed_customers(1)
    customer = await helpcrunch_client.update_customer(1, name="Ann")
    assert customer.name == "Ann"
    assert helpcrunch_fake.customers[1]["name"] == "Ann"
    assert helpcrunch_fake.requests[-1].method == "PATCH"


def test_plugin_blocking_client(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_blocking_client: Any
) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_blocking_client.update_customer(1, email="a@example.com")
    assert helpcrunch_fake.customers[1]["email"] == "a@example.com"


def test_plugin_older_fixture_names_still_work(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_sync_client: Any
) -> None:
    assert helpcrunch_fake_thread.base_url == helpcrunch_sync_client.base_url


# --- run_fake_server ----------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_run_fake_server_in_a_subprocess() -> None:
    code = (
        "from helpcrunch_async.testing import run_fake_server; "
        "run_fake_server(port=0, api_key='cli-key', customers=7, rate_limit=None)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "api_key=cli-key" in line
        base_url = line.split("base_url=")[1].split()[0]
        req = urllib.request.Request(
            f"{base_url}/customers/7", headers={"Authorization": "Bearer cli-key"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["id"] == 7
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
