"""Each fault kind, scripted and seeded, seen from a raw aiohttp client."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from fake_helpers import Raw

from helpcrunch_async.testing import ALL_FAULT_KINDS, FakeHelpCrunch, Fault

PATCH = ("PATCH", "/customers/1", {"name": "changed"})


def name_of(raw: Raw) -> str:
    return str(raw.fake.customers[1]["name"])


@pytest.mark.parametrize("code", [500, 503, 504])
async def test_status_fault_json_body_not_applied(raw: Raw, code: int) -> None:
    raw.fake.add_faults(Fault.status(code))
    status, headers, data = await raw.response(*PATCH)
    assert status == code
    assert headers["Content-Type"].startswith("application/json")
    assert "X-Request-Id" in headers
    body = json.loads(data)
    assert body["errors"][0] == {"code": "invalid_request", "message": "Invalid request"}
    assert len(body["errors"]) == 2
    assert name_of(raw) == "Customer 1"
    last = raw.fake.requests[-1]
    assert (last.status, last.fault) == (code, str(code))


async def test_502_is_html(raw: Raw) -> None:
    raw.fake.add_faults(Fault.status(502))
    status, headers, data = await raw.response(*PATCH)
    assert status == 502
    assert headers["Content-Type"].startswith("text/html")
    assert data.startswith(b"<html>")
    assert b"Bad Gateway" in data
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(data)
    assert name_of(raw) == "Customer 1"


async def test_drop_before_closes_without_response_and_without_applying(raw: Raw) -> None:
    raw.fake.add_faults(Fault.drop_before())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw.call(*PATCH)
    assert name_of(raw) == "Customer 1"
    last = raw.fake.requests[-1]
    assert (last.status, last.fault, last.body) == (0, "drop_before", {"name": "changed"})
    # the next request on the same session works (a new connection)
    assert (await raw.call(*PATCH))[0] == 200


async def test_drop_after_applies_then_closes(raw: Raw) -> None:
    raw.fake.add_faults(Fault.drop_after())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw.call(*PATCH)
    assert name_of(raw) == "changed"
    assert raw.fake.requests[-1].status == 0
    assert raw.fake.stats.by_status[0] == 1


async def test_delay_sleeps_then_answers(raw: Raw) -> None:
    raw.fake.add_faults(Fault.delay(0.3))
    start = time.monotonic()
    status, body = await raw.call(*PATCH)
    assert time.monotonic() - start >= 0.29
    assert status == 200
    assert body["name"] == "changed"
    assert raw.fake.requests[-1].fault == "delay"


async def test_delay_hits_a_client_timeout(raw: Raw) -> None:
    raw.fake.add_faults(Fault.delay(2.0))
    with pytest.raises(TimeoutError):
        async with raw.session.patch(
            raw.fake.base_url + "/customers/1",
            json={"name": "x"},
            headers=raw.auth,
            timeout=aiohttp.ClientTimeout(total=0.2),
        ) as r:
            await r.read()


async def test_truncated_body_applies_and_fails_to_read(raw: Raw) -> None:
    raw.fake.add_faults(Fault.truncated())
    async with raw.session.patch(
        raw.fake.base_url + "/customers/1", json={"name": "changed"}, headers=raw.auth
    ) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        assert r.content_length is not None
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert name_of(raw) == "changed"
    last = raw.fake.requests[-1]
    assert (last.status, last.fault) == (200, "truncated")
    assert (await raw.call("GET", "/customers/1"))[0] == 200


async def test_non_json_applies_and_answers_html(raw: Raw) -> None:
    raw.fake.add_faults(Fault.non_json())
    async with raw.session.patch(
        raw.fake.base_url + "/customers/1", json={"name": "changed"}, headers=raw.auth
    ) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        with pytest.raises(aiohttp.ContentTypeError):
            await r.json()
        with pytest.raises(ValueError, match="Expecting value"):
            json.loads(await r.read())
    assert name_of(raw) == "changed"


async def test_queue_order_and_filters(raw: Raw) -> None:
    fake = raw.fake
    fake.add_faults(Fault.status(503), Fault.status(500), method="patch")
    fake.add_faults(Fault.status(504), path="/v1/customers/2*")
    assert (await raw.call("GET", "/customers/1"))[0] == 200
    assert (await raw.call("GET", "/customers/2"))[0] == 504
    assert (await raw.call(*PATCH))[0] == 503
    assert (await raw.call("PATCH", "/customers/2", {"name": "b"}))[0] == 500
    assert (await raw.call(*PATCH))[0] == 200
    assert fake.pending_faults == 0
    assert [r.fault for r in fake.requests] == [None, "504", "503", "500", None]


async def test_401_does_not_consume_a_queued_fault(raw: Raw) -> None:
    raw.fake.add_faults(Fault.status(503))
    status, _ = await raw.call(*PATCH, headers={})
    assert status == 401
    assert raw.fake.pending_faults == 1
    assert (await raw.call(*PATCH))[0] == 503


async def test_fault_on_an_invalid_request_still_validates(raw: Raw) -> None:
    raw.fake.add_faults(Fault.non_json())
    status, body = await raw.call("PATCH", "/customers/1", {"user_id": "x"})
    assert status == 400
    assert isinstance(body, str)  # the HTML body, with the status of the real answer


async def _fault_sequence(seed: int, n: int = 60) -> list[str | None]:
    kinds = tuple(k for k in ALL_FAULT_KINDS if k != "delay")
    async with (
        FakeHelpCrunch(rate_limit=None, fault_rate=0.5, fault_kinds=kinds, seed=seed) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.seed_customers(1)
        raw = Raw(fake, session)
        for _ in range(n):
            try:
                async with session.get(fake.base_url + "/customers/1", headers=raw.auth) as r:
                    await r.read()
            except aiohttp.ClientError:
                pass
        return [r.fault for r in fake.requests]


async def test_same_seed_same_fault_sequence() -> None:
    first = await _fault_sequence(7)
    second = await _fault_sequence(7)
    assert first == second
    assert 10 < sum(f is not None for f in first) < 50
    assert len({f for f in first if f is not None}) >= 4
    assert await _fault_sequence(8) != first


async def test_random_faults_counted_and_reset_restarts_the_sequence() -> None:
    async with (
        FakeHelpCrunch(rate_limit=None, fault_rate=1.0, fault_kinds=("503", "500"), seed=3) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.seed_customers(1)
        raw = Raw(fake, session)
        first = [(await raw.call("GET", "/customers/1"))[0] for _ in range(10)]
        assert set(first) == {500, 503}
        assert fake.stats.faults == 10
        fake.reset()
        fake.seed_customers(1)
        assert [(await raw.call("GET", "/customers/1"))[0] for _ in range(10)] == first


def test_fault_constructors_validate() -> None:
    assert Fault.status(503).status_code == 503
    assert Fault.drop_before().status_code is None
    with pytest.raises(ValueError, match=r"400\.\.599"):
        Fault.status(200)
    with pytest.raises(ValueError, match="seconds"):
        Fault.delay(-1)
    with pytest.raises(ValueError, match="fault kind"):
        FakeHelpCrunch(fault_kinds=("boom",))
    with pytest.raises(ValueError, match="fault_rate"):
        FakeHelpCrunch(fault_rate=1.5)
    with pytest.raises(TypeError, match="Fault"):
        FakeHelpCrunch().add_faults("503")  # type: ignore[arg-type]
