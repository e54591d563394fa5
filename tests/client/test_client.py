"""Exact request shapes on the wire (aioresponses): method, URL, headers, body; client life."""

from __future__ import annotations

import asyncio
import inspect
import json
import platform
import re
from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock, create_autospec

import aiohttp
import pytest
from documented_names import WIRE_KEYS

import helpcrunch_async as hc

API_KEY = "sk-test-SECRET"
BASE_URL = "https://api.helpcrunch.com/v1"
URL5 = f"{BASE_URL}/customers/5"

SAMPLE: dict[str, tuple[Any, Any]] = {  # field: (value given, value on the wire)
    "name": ("Ann", "Ann"),
    "email": ("[email protected]", "[email protected]"),
    "user_id": ("u1", "u1"),
    "company": ("ACME", "ACME"),
    "phone": ("+1", "+1"),
    "first_seen": (1603885746, "1603885746"),
    "last_seen": (datetime(2020, 10, 28, 11, 49, 6, tzinfo=UTC), "1603885746"),
    "unsubscribed": (True, True),
    "blocked": (False, False),
    "source": ("s", "s"),
    "referer": ("r", "r"),
    "last_page": ("p", "p"),
    "locale": ("uk", "uk"),
    "notes": ("n", "n"),
    "tags": (["vip"], [{"name": "vip"}]),
    "custom_data": ({"plan": "pro"}, [{"property": "plan", "value": "pro"}]),
}


# --- methods, URL, headers ------------------------------------------------------------------


async def test_update_customer_sends_patch_with_only_given_fields(
    mock_api: Any, client: hc.AsyncHelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.patch(URL5, payload=seed_response)
    customer = await client.update_customer(
        5, name="John Doe", email=None, custom_data={"plan": "pro"}
    )
    method, url, kwargs = mock_api.only_request()
    assert (method, url) == ("PATCH", URL5)
    assert json.loads(kwargs["data"]) == {
        "name": "John Doe",
        "email": None,
        "customData": [{"property": "plan", "value": "pro"}],
    }
    assert kwargs["allow_redirects"] is False
    assert customer.id == 542335


async def test_a_base_url_path_with_escapes_is_sent_as_written(
    mock_api: Any, seed_response: dict[str, Any]
) -> None:
    base = "https://api.helpcrunch.com/my%20proxy/v1"
    mock_api.patch(f"{base}/customers/5", payload=seed_response)
    async with hc.AsyncHelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
        await client.update_customer(5, name="x")
    method, url, _ = mock_api.only_request()
    assert (method, url) == ("PATCH", f"{base}/customers/5")


async def test_update_customer_with_a_record_sends_the_same(
    mock_api: Any, client: hc.AsyncHelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.patch(URL5, payload=seed_response)
    await client.update_customer(5, hc.CustomerUpdate(name="John Doe", phone=None))
    assert mock_api.only_request()[0] == "PATCH"
    assert mock_api.sent_json() == {"name": "John Doe", "phone": None}


async def test_update_customer_accepts_a_mapping_of_fields(
    mock_api: Any, client: hc.AsyncHelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.patch(URL5, payload=seed_response)
    await client.update_customer(5, {"user_id": "u1"})  # type: ignore[arg-type]
    assert mock_api.sent_json() == {"userId": "u1"}


async def test_replace_customer_sends_put(
    mock_api: Any, client: hc.AsyncHelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.put(URL5, payload=seed_response)
    await client.replace_customer(5, hc.CustomerUpdate(name="John Doe"))
    method, url, _ = mock_api.only_request()
    assert (method, url) == ("PUT", URL5)
    assert mock_api.sent_json() == {"name": "John Doe"}


async def test_get_customer_sends_get_without_body(
    mock_api: Any, client: hc.AsyncHelpCrunch, seed_response: dict[str, Any]
) -> None:
    mock_api.get(URL5, payload=seed_response)
    customer = await client.get_customer("5")
    method, url, kwargs = mock_api.only_request()
    assert (method, url) == ("GET", URL5)
    assert kwargs.get("data") is None
    assert customer.name == "John Doe"


@pytest.mark.parametrize("field", list(WIRE_KEYS))
@pytest.mark.parametrize("value_kind", ["value", "none"])
async def test_patch_body_holds_exactly_the_one_given_field(
    mock_api: Any, client: hc.AsyncHelpCrunch, field: str, value_kind: str
) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    given, wire = SAMPLE[field] if value_kind == "value" else (None, None)
    await client.update_customer(5, **{field: given})
    assert mock_api.sent_json() == {WIRE_KEYS[field]: wire}


async def test_seed_request_goes_out_on_the_wire(
    mock_api: Any,
    client: hc.AsyncHelpCrunch,
    seed_request: dict[str, Any],
    seed_response: dict[str, Any],
) -> None:
    mock_api.put(URL5, payload=seed_response)
    seed = dict(seed_request)
    update = hc.CustomerUpdate(
        name=seed["name"],
        email=seed["email"],
        user_id=seed["userId"],
        company=seed["company"],
        phone=seed["phone"],
        first_seen=int(seed["firstSeen"]),
        last_seen=int(seed["lastSeen"]),
        unsubscribed=seed["unsubscribed"],
        blocked=seed["blocked"],
        source=seed["source"],
        referer=seed["referer"],
        last_page=seed["lastPage"],
        locale=seed["locale"],
        notes=seed["notes"],
        tags=[hc.Tag(**t) for t in seed["tags"]],
        custom_data={i["property"]: i["value"] for i in seed["customData"]},
    )
    await client.replace_customer(5, update)
    assert mock_api.only_request()[0] == "PUT"
    assert mock_api.sent_json() == seed_request


async def test_headers(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    await client.update_customer(5, name="x")
    headers = mock_api.only_request()[2]["headers"]
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    major, minor = platform.python_version_tuple()[:2]
    aiohttp_mm = ".".join(aiohttp.__version__.split(".")[:2])
    assert headers["User-Agent"] == (
        f"helpcrunch-async/{hc.__version__} python/{major}.{minor} aiohttp/{aiohttp_mm}"
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.helpcrunch.com/v1", "https://api.helpcrunch.com/v1/customers/5"),
        ("https://api.helpcrunch.com/v1/", "https://api.helpcrunch.com/v1/customers/5"),
        ("https://proxy.example.com/hc/v1", "https://proxy.example.com/hc/v1/customers/5"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/customers/5"),
    ],
)
async def test_url_is_base_url_plus_customers_id(
    mock_api: Any, no_api_key_env: None, base_url: str, expected: str
) -> None:
    mock_api.patch(expected, payload={"id": 5})
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=base_url, rate_limit=None, max_retries=0
    ) as client:
        await client.update_customer("0005", name="x")
    assert mock_api.only_request()[1] == expected


async def test_digit_string_id_is_normalised(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(f"{BASE_URL}/customers/1568834", payload={"id": 1568834})
    customer = await client.update_customer("1568834", name="x")
    assert customer.id == 1568834


async def test_malformed_success_body_is_api_response_validation_error(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(
        URL5, payload={"id": 5, "userId": {"nested": True}}, headers={"X-Request-Id": "req-9"}
    )
    with pytest.raises(hc.APIResponseValidationError) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert isinstance(err, hc.HelpCrunchError)
    assert err.json_path == "$.userId"
    assert "$.userId" in str(err)
    assert err.status == 200
    assert (err.method, err.path) == ("PATCH", "/v1/customers/5")
    assert err.request_id == "req-9"
    assert json.loads(err.body) == {"id": 5, "userId": {"nested": True}}


@pytest.mark.parametrize("body", ["<html>oops</html>", "", "[1,", "null", "[]"])
async def test_unparseable_success_body_is_api_response_validation_error(
    mock_api: Any, client: hc.AsyncHelpCrunch, body: str
) -> None:
    mock_api.patch(URL5, body=body, content_type="text/html")
    with pytest.raises(hc.APIResponseValidationError) as info:
        await client.update_customer(5, name="x")
    assert info.value.json_path == "$"
    assert info.value.body == body


# --- timeouts -----------------------------------------------------------------------------------


async def test_float_timeout_becomes_client_timeout(mock_api: Any, no_api_key_env: None) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    async with hc.AsyncHelpCrunch(API_KEY, timeout=7.5, rate_limit=None, max_retries=0) as c:
        await c.update_customer(5, name="x")
    timeout = mock_api.only_request()[2]["timeout"]
    assert isinstance(timeout, aiohttp.ClientTimeout)
    assert timeout.total == 7.5
    assert timeout.connect == 7.5


async def test_client_timeout_is_used_as_given(mock_api: Any, no_api_key_env: None) -> None:
    given = aiohttp.ClientTimeout(total=3, sock_read=1)
    mock_api.patch(URL5, payload={"id": 5})
    async with hc.AsyncHelpCrunch(API_KEY, timeout=given, rate_limit=None, max_retries=0) as c:
        await c.update_customer(5, name="x")
    assert mock_api.only_request()[2]["timeout"] == given


async def test_per_call_timeout_overrides(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    await client.update_customer(5, name="x", timeout=2)
    assert mock_api.only_request()[2]["timeout"].total == 2


# --- lifecycle ----------------------------------------------------------------------------------


async def test_async_with_closes_and_closed_client_refuses(
    mock_api: Any, no_api_key_env: None
) -> None:
    mock_api.patch(URL5, payload={"id": 5}, repeat=True)
    async with hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0) as client:
        assert not client.closed
        await client.update_customer(5, name="x")
    assert client.closed
    assert "closed" in repr(client)
    with pytest.raises(hc.HelpCrunchError, match="closed"):
        await client.update_customer(5, name="y")
    assert len(mock_api.sent()) == 1


async def test_aclose_twice_is_fine(no_api_key_env: None) -> None:
    client = hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    await client.aclose()
    await client.aclose()
    assert client.closed


async def test_aclose_after_use_closes_the_owned_session(
    mock_api: Any, no_api_key_env: None
) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    client = hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    await client.update_customer(5, name="x")
    [session] = client._transport.sessions()
    await client.aclose()
    assert session.closed
    await client.aclose()


async def test_callers_session_is_used_and_not_closed(mock_api: Any, no_api_key_env: None) -> None:
    mock_api.patch(URL5, payload={"id": 5}, repeat=True)
    async with aiohttp.ClientSession(
        headers={"X-Caller": "mine", "Authorization": "Bearer theirs"}
    ) as session:
        async with hc.AsyncHelpCrunch(
            API_KEY, session=session, rate_limit=None, max_retries=0
        ) as client:
            await client.update_customer(5, name="x")
        assert client.closed
        assert not session.closed
        # the caller's session-level headers travel: it really was their session
        headers = mock_api.only_request()[2]["headers"]
        assert headers["X-Caller"] == "mine"
        assert headers.getall("Authorization") == [f"Bearer {API_KEY}"]  # ours, only ours
        async with session.patch(URL5, data=b"{}") as resp:  # still usable
            assert resp.status == 200


async def test_own_session_sends_the_headers_as_its_defaults(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    await client.update_customer(5, name="x")
    [session] = client._transport.sessions()
    assert session.headers["Authorization"] == f"Bearer {API_KEY}"
    headers = mock_api.only_request()[2]["headers"]
    assert headers.getall("Authorization") == [f"Bearer {API_KEY}"]
    assert API_KEY not in repr(client._transport) + repr(client._requestor)


async def test_update_customer_raises_bad_input_where_it_is_awaited(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    # As from an ``async def``: calling never raises, awaiting does; nothing is sent.
    bad_id = client.update_customer(0, name="x")
    nothing = client.update_customer(5)
    bad_field = client.update_customer(5, locale="klingon")
    assert inspect.iscoroutine(bad_id)
    with pytest.raises(hc.ValidationError) as info:
        await bad_id
    assert info.value.field == "customer_id"
    with pytest.raises(hc.ValidationError, match="nothing to update"):
        await asyncio.create_task(nothing)
    with pytest.raises(hc.ValidationError) as info:
        await bad_field
    assert info.value.field == "locale"
    assert not mock_api.requests


def test_update_customer_is_still_a_coroutine_function_to_mock() -> None:
    # A plain method returning a coroutine, marked: users' autospec mocks of the client
    # give an AsyncMock for it, so ``await mock.update_customer(...)`` keeps working.
    mock = create_autospec(hc.AsyncHelpCrunch, instance=True)
    assert isinstance(mock.update_customer, AsyncMock)
    assert isinstance(mock.get_customer, AsyncMock)  # an async def, for comparison


def test_client_constructed_outside_a_loop_creates_its_session_lazily(
    mock_api: Any, no_api_key_env: None
) -> None:
    client = hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    assert client._transport.sessions() == []
    mock_api.patch(URL5, payload={"id": 5})

    async def use() -> int:
        try:
            assert client._transport.sessions() == []
            customer = await client.update_customer(5, name="x")
            [session] = client._transport.sessions()
            assert session._loop is asyncio.get_running_loop()
            return customer.id
        finally:
            await client.aclose()

    assert asyncio.run(use()) == 5


async def test_client_used_from_another_loop_at_once_gets_a_pool_there(
    mock_api: Any, no_api_key_env: None
) -> None:
    # Issue 19: before, "this client is bound to the event loop it was first used in".
    mock_api.patch(URL5, payload={"id": 5}, repeat=True)
    client = hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    await client.update_customer(5, name="x")
    [here] = client._transport.sessions()
    seen: list[Any] = []

    def elsewhere() -> None:
        async def call() -> None:
            await client.update_customer(5, name="y")
            seen.extend(client._transport.sessions())

        asyncio.run(call())  # the other loop's pool is closed as asyncio.run ends

    await asyncio.to_thread(elsewhere)
    assert len(seen) == 2
    [there] = [s for s in seen if s is not here]
    assert there.closed
    assert not here.closed
    assert client._transport.sessions() == [here]
    assert len(mock_api.sent()) == 2
    await client.aclose()
    assert here.closed


async def test_a_callers_session_used_from_another_loop_refuses_clearly(
    mock_api: Any, no_api_key_env: None
) -> None:
    mock_api.patch(URL5, payload={"id": 5}, repeat=True)
    async with aiohttp.ClientSession() as session:
        client = hc.AsyncHelpCrunch(API_KEY, session=session, rate_limit=None, max_retries=0)
        await client.update_customer(5, name="x")

        def elsewhere() -> None:
            async def call() -> None:
                await client.update_customer(5, name="y")

            with pytest.raises(hc.HelpCrunchError, match="belongs to another event loop"):
                asyncio.run(call())

        await asyncio.to_thread(elsewhere)
        await client.aclose()
    assert len(mock_api.sent()) == 1


def test_repr_shows_base_url_not_key(no_api_key_env: None) -> None:
    client = hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0)
    assert BASE_URL in repr(client)
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(client._requestor)
    assert client.base_url == BASE_URL


async def test_concurrent_calls_share_one_session(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(
        re.compile(rf"{re.escape(BASE_URL)}/customers/\d+"), payload={"id": 1}, repeat=True
    )
    await asyncio.gather(*(client.update_customer(i, name=str(i)) for i in range(1, 21)))
    assert len(mock_api.sent()) == 20
    bodies = sorted(json.loads(k["data"])["name"] for _, _, k in mock_api.sent())
    assert bodies == sorted(str(i) for i in range(1, 21))


async def test_unset_keyword_is_dropped(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    await client.update_customer(5, name=hc.UNSET, email="[email protected]", phone=None)
    assert mock_api.sent_json() == {"email": "[email protected]", "phone": None}


async def test_non_ascii_goes_out_as_utf8_json(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(URL5, payload={"id": 5, "name": "Іван Франко"})
    customer = await client.update_customer(5, name="Іван Франко", notes='"quoted"\n')
    assert mock_api.only_request()[2]["data"] == (
        '{"name":"Іван Франко","notes":"\\"quoted\\"\\n"}'.encode()
    )
    assert customer.name == "Іван Франко"


@pytest.mark.parametrize(("seconds", "connect"), [(30, 10.0), (60.0, 10.0), (4, 4.0)])
async def test_connect_timeout_is_capped(
    mock_api: Any, no_api_key_env: None, seconds: float, connect: float
) -> None:
    mock_api.patch(URL5, payload={"id": 5})
    async with hc.AsyncHelpCrunch(API_KEY, timeout=seconds, rate_limit=None, max_retries=0) as c:
        await c.update_customer(5, name="x")
    timeout = mock_api.only_request()[2]["timeout"]
    assert (timeout.total, timeout.connect) == (float(seconds), connect)


async def test_create_customer_sends_post(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.post(f"{BASE_URL}/customers", status=201, payload={"id": 77, "name": "Ann"})
    customer = await client.create_customer(name="Ann", user_id="u-17")
    method, url, _ = mock_api.only_request()
    assert (method, url) == ("POST", f"{BASE_URL}/customers")
    assert mock_api.sent_json() == {"name": "Ann", "userId": "u-17"}
    assert customer.id == 77


# --- the real transport on loopback (no aioresponses) ------------------------------------------


async def test_real_transport_round_trip(
    no_api_key_env: None, seed_response: dict[str, Any]
) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.json_response(seed_response, headers={"X-Request-Id": "rid"})

    app = web.Application()
    app.router.add_route("*", "/v1/customers/{cid}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        base = f"http://127.0.0.1:{server.port}/v1"
        async with hc.AsyncHelpCrunch(
            API_KEY, base_url=base, rate_limit=None, max_retries=0
        ) as client:
            patched = await client.update_customer("42", last_seen=0, tags=["vip"])
            replaced = await client.replace_customer(42, hc.CustomerUpdate(email=None))
    assert patched == replaced
    assert patched.id == seed_response["id"]
    assert patched.custom_data == seed_response["customData"]
    (m1, p1, h1, b1), (m2, p2, h2, b2) = seen
    assert (m1, p1, m2, p2) == ("PATCH", "/v1/customers/42", "PUT", "/v1/customers/42")
    assert json.loads(b1) == {"lastSeen": "0", "tags": [{"name": "vip"}]}
    assert b2 == b'{"email":null}'
    for headers in (h1, h2):
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("helpcrunch-async/")


# --- the aioresponses shim (tests/conftest.py) ------------------------------------------------


def test_aioresponses_shim_is_detected_not_assumed(
    aioresponses_shim: tuple[Any, type], monkeypatch: pytest.MonkeyPatch
) -> None:
    import inspect

    import aioresponses.core

    probe, shim_class = aioresponses_shim
    needs = probe()
    required = inspect.signature(aiohttp.ClientResponse.__init__).parameters.get("stream_writer")
    if required is None or required.default is not inspect.Parameter.empty:
        assert needs is False  # an aiohttp that doesn't require it: nothing to patch
    # A fixed aioresponses (simulated: its response class no longer needs the keyword)
    # makes the probe pass, so mock_api patches nothing.
    monkeypatch.setattr(aioresponses.core, "ClientResponse", shim_class)
    assert probe() is False


async def test_mock_api_fixture_really_mocks(mock_api: Any) -> None:
    mock_api.get("https://example.invalid/x", payload={"ok": True}, headers={"X-A": "b"})
    async with aiohttp.ClientSession() as session, session.get("https://example.invalid/x") as resp:
        assert resp.status == 200
        assert resp.headers["X-A"] == "b"
        assert await resp.json() == {"ok": True}
