"""Error answers map onto the exception tree with every detail; the key never leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import helpcrunch_async as hc
from helpcrunch_async import _retry

API_KEY = "sk-test-SECRET"
BASE_URL = "https://api.helpcrunch.com/v1"
URL5 = f"{BASE_URL}/customers/5"
PATH5 = "/v1/customers/5"

STATUS_CLASSES = [
    (400, hc.BadRequestError),
    (401, hc.AuthenticationError),
    (403, hc.PermissionDeniedError),
    (404, hc.NotFoundError),
    (409, hc.ConflictError),
    (422, hc.UnprocessableEntityError),
    (429, hc.RateLimitError),
    (500, hc.ServerError),
    (502, hc.ServerError),
    (503, hc.ServerError),
]
ERRORS_BODY = {
    "errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": "customer", "message": "This value should be of type numeric."},
        {"code": "filter[0].field", "message": "This value should not be blank."},
    ]
}
EXPECTED_DETAILS = tuple(hc.ErrorDetail(**e) for e in ERRORS_BODY["errors"])


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.0)
    monkeypatch.setattr(_retry.RetryPolicy, "rate_limit_pause", lambda self, r, a: 0.0)


def make_client(**options: Any) -> hc.AsyncHelpCrunch:
    options = {"base_url": BASE_URL, "rate_limit": None, "max_retries": 0, **options}
    return hc.AsyncHelpCrunch(api_key=API_KEY, **options)


# --- status → class ---------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_status_maps_to_class_with_every_detail(
    mock_api: Any, client: hc.AsyncHelpCrunch, status: int, cls: type[hc.APIError]
) -> None:
    body = json.dumps(ERRORS_BODY)
    mock_api.patch(URL5, status=status, body=body, headers={"X-Request-Id": "req-123"})
    with pytest.raises(hc.APIError) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert type(err) is cls
    assert isinstance(err, hc.HelpCrunchError)
    assert err.status == status
    assert err.errors == EXPECTED_DETAILS
    assert err.codes == ("invalid_request", "customer", "filter[0].field")
    assert (err.method, err.path) == ("PATCH", PATH5)
    assert err.body == body
    assert err.request_id == "req-123"
    assert err.attempts == 1
    text = str(err)
    assert str(status) in text
    assert "PATCH /v1/customers/5" in text
    assert "customer: This value should be of type numeric." in text
    assert "req-123" in text
    assert cls.__name__ in repr(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(418, hc.APIError), (504, hc.ServerError), (599, hc.ServerError), (405, hc.APIError)],
)
async def test_other_statuses(
    mock_api: Any, client: hc.AsyncHelpCrunch, status: int, cls: type[hc.APIError]
) -> None:
    mock_api.put(URL5, status=status, payload={"errors": []})
    with pytest.raises(hc.APIError) as info:
        await client.replace_customer(5, hc.CustomerUpdate(name="x"))
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.method == "PUT"


async def test_error_order_is_kept_even_when_generic_entry_is_not_first(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(
        URL5,
        status=400,
        payload={
            "errors": [
                {"code": "invalid_userId_value", "message": "dup"},
                {"code": "invalid_request", "message": "Invalid request"},
            ]
        },
    )
    with pytest.raises(hc.BadRequestError) as info:
        await client.update_customer(5, user_id="dup")
    assert info.value.codes == ("invalid_userId_value", "invalid_request")


@pytest.mark.parametrize(
    ("status", "cls", "body", "content_type"),
    [
        (502, hc.ServerError, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (500, hc.ServerError, "", "text/plain"),
        (401, hc.AuthenticationError, "", "text/plain"),
        (404, hc.NotFoundError, "Not Found", "text/plain"),
        (429, hc.RateLimitError, "<html>slow down</html>", "text/html"),
        (400, hc.BadRequestError, '{"errors": "bad"}', "application/json"),
        (400, hc.BadRequestError, '["not", "an", "object"]', "application/json"),
        (422, hc.UnprocessableEntityError, '{"errors": [1, {"code": "x"}]}', "application/json"),
    ],
)
async def test_non_json_or_odd_error_body_still_gives_the_right_class(
    mock_api: Any,
    client: hc.AsyncHelpCrunch,
    status: int,
    cls: type[hc.APIError],
    body: str,
    content_type: str,
) -> None:
    mock_api.patch(URL5, status=status, body=body, content_type=content_type)
    with pytest.raises(hc.APIError) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.body == body
    assert err.request_id is None
    if not body.startswith("{"):
        assert err.errors == ()
    if body.startswith("<html>"):
        assert "body: '<html>" in str(err)


async def test_attempts_count_retries(
    mock_api: Any, no_api_key_env: None, no_backoff: None
) -> None:
    for _ in range(3):
        mock_api.patch(URL5, status=503, body="busy")
    async with make_client(max_retries=2) as client:
        with pytest.raises(hc.ServerError) as info:
            await client.update_customer(5, name="x")
    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert len(mock_api.sent()) == 3


async def test_retry_then_success(mock_api: Any, no_api_key_env: None, no_backoff: None) -> None:
    mock_api.patch(URL5, status=502, body="<html>bad gateway</html>")
    mock_api.patch(URL5, payload={"id": 5})
    async with make_client(max_retries=1) as client:
        customer = await client.update_customer(5, name="x")
    assert customer.id == 5
    assert len(mock_api.sent()) == 2


async def test_4xx_is_not_retried(mock_api: Any, no_api_key_env: None, no_backoff: None) -> None:
    mock_api.patch(URL5, status=404, payload={"errors": []}, repeat=True)
    async with make_client(max_retries=3) as client:
        with pytest.raises(hc.NotFoundError) as info:
            await client.update_customer(5, name="x")
    assert info.value.attempts == 1
    assert len(mock_api.sent()) == 1


# --- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("0", 0.0), ("1.5", 1.5)])
async def test_rate_limit_retry_after_seconds(
    mock_api: Any, client: hc.AsyncHelpCrunch, header: str, expected: float
) -> None:
    mock_api.patch(URL5, status=429, payload=ERRORS_BODY, headers={"Retry-After": header})
    with pytest.raises(hc.RateLimitError) as info:
        await client.update_customer(5, name="x")
    assert info.value.retry_after == expected


async def test_rate_limit_retry_after_http_date(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    mock_api.patch(
        URL5,
        status=429,
        payload=ERRORS_BODY,
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    with pytest.raises(hc.RateLimitError) as info:
        await client.update_customer(5, name="x")
    assert info.value.retry_after is not None
    assert 27 <= info.value.retry_after <= 30


@pytest.mark.parametrize("header", [None, "soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_rate_limit_retry_after_absent_bad_or_past(
    mock_api: Any, client: hc.AsyncHelpCrunch, header: str | None
) -> None:
    headers = {} if header is None else {"Retry-After": header}
    mock_api.patch(URL5, status=429, payload=ERRORS_BODY, headers=headers)
    with pytest.raises(hc.RateLimitError) as info:
        await client.update_customer(5, name="x")
    expected = 0.0 if header and header.startswith("Wed") else None
    assert info.value.retry_after == expected


# --- connection failures -------------------------------------------------------------------------


async def test_connection_error_becomes_api_connection_error(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(URL5, exception=aiohttp.ClientConnectionError("connection reset by peer"))
    with pytest.raises(hc.APIConnectionError) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert not isinstance(err, hc.APITimeoutError)
    assert (err.method, err.path, err.attempts) == ("PATCH", PATH5, 1)
    assert "PATCH /v1/customers/5" in str(err)


async def test_timeout_becomes_api_timeout_error(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(URL5, timeout=True)
    with pytest.raises(hc.APITimeoutError) as info:
        await client.update_customer(5, name="x")
    assert isinstance(info.value, hc.APIConnectionError)
    assert info.value.path == PATH5


_KEY = aiohttp.client_reqrep.ConnectionKey("api.helpcrunch.com", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("raised", "cls", "maybe_sent"),
    [
        (aiohttp.ClientConnectionError("connection reset"), hc.APIConnectionError, True),
        (
            aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")),
            hc.APIConnectionError,
            False,
        ),
        (aiohttp.ConnectionTimeoutError("connect"), hc.APITimeoutError, False),
        (TimeoutError(), hc.APITimeoutError, True),
        (aiohttp.ServerDisconnectedError(), hc.APIConnectionError, True),
    ],
)
async def test_connection_failures_keep_aiohttps_error_as_their_cause(
    mock_api: Any,
    client: hc.AsyncHelpCrunch,
    raised: Exception,
    cls: type[Exception],
    maybe_sent: bool,
) -> None:
    mock_api.patch(URL5, exception=raised)
    with pytest.raises(cls) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert isinstance(err, hc.APIConnectionError)
    assert err.maybe_sent is maybe_sent
    assert err.__cause__ is raised  # as "raise ... from", context hidden
    assert err.__suppress_context__


def _raise_client_response_error(url: Any, **kwargs: Any) -> None:
    """What aiohttp raises for a broken response: its RequestInfo carries our headers."""
    info = aiohttp.RequestInfo(
        url=url,
        method=kwargs.get("method", "PATCH"),
        headers=CIMultiDictProxy(CIMultiDict(kwargs["headers"])),
        real_url=url,
    )
    raise aiohttp.ClientResponseError(info, (), status=400, message="Invalid HTTP header")


async def test_client_response_error_becomes_api_connection_error(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    mock_api.patch(URL5, callback=_raise_client_response_error)
    with pytest.raises(hc.APIConnectionError) as info:
        await client.update_customer(5, name="x")
    assert "Invalid HTTP header" in str(info.value)


# --- the key never leaks --------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)


def _assert_no_key(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for e in _chain(exc):
        assert API_KEY not in str(e), type(e)
        assert API_KEY not in repr(e), type(e)
        assert all(API_KEY not in repr(a) for a in e.args), type(e)
    assert API_KEY not in "".join(traceback.format_exception(exc))
    assert API_KEY not in "".join(traceback.format_exception(exc, chain=True))
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)
        if record.exc_info:
            assert API_KEY not in "".join(traceback.format_exception(*record.exc_info))
    assert API_KEY not in caplog.text


LEAK_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "401",
        {
            "status": 401,
            "payload": {"errors": [{"code": "unauthorized", "message": "Unauthorized"}]},
        },
    ),
    ("502 html", {"status": 502, "body": "<html>bad gateway</html>"}),
    ("429", {"status": 429, "payload": ERRORS_BODY, "headers": {"Retry-After": "1"}}),
    ("bad body", {"status": 200, "payload": {"id": "nope"}}),
    ("not json", {"status": 200, "body": "<html>"}),
    ("connection", {"exception": aiohttp.ClientConnectionError("connection reset")}),
    ("connector", {"exception": aiohttp.ServerDisconnectedError()}),
    ("timeout", {"timeout": True}),
]


@pytest.mark.parametrize(("name", "mock"), LEAK_CASES, ids=[c[0] for c in LEAK_CASES])
async def test_api_key_never_leaks(
    mock_api: Any,
    no_api_key_env: None,
    caplog: pytest.LogCaptureFixture,
    name: str,
    mock: dict[str, Any],
    no_backoff: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    mock_api.patch(URL5, repeat=True, **mock)
    async with make_client(max_retries=1) as client:
        with pytest.raises(hc.HelpCrunchError) as info:
            await client.update_customer(5, name="x")
    assert len(mock_api.sent()) >= 1
    _assert_no_key(info.value, caplog)


async def test_api_key_never_leaks_from_client_response_error_str_or_traceback(
    mock_api: Any, client: hc.AsyncHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock_api.patch(URL5, callback=_raise_client_response_error)
    with pytest.raises(hc.APIConnectionError) as info:
        await client.update_customer(5, name="x")
    err = info.value
    assert API_KEY not in str(err)
    assert API_KEY not in repr(err)
    assert API_KEY not in "".join(traceback.format_exception(err))
    assert API_KEY not in caplog.text


async def test_api_key_never_leaks_from_client_response_error_context(
    mock_api: Any, client: hc.AsyncHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.patch(URL5, callback=_raise_client_response_error)
    with pytest.raises(hc.APIConnectionError) as info:
        await client.update_customer(5, name="x")
    _assert_no_key(info.value, caplog)


async def test_debug_log_names_method_path_status(
    mock_api: Any, client: hc.AsyncHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch_async")
    mock_api.patch(URL5, payload={"id": 5})
    await client.update_customer(5, name="x")
    messages = [r.getMessage() for r in caplog.records if r.name == "helpcrunch_async"]
    assert any(re.search(r"PATCH /v1/customers/5 -> 200 in [\d.]+ ms", m) for m in messages)
    assert API_KEY not in caplog.text


def test_whitespace_key_is_refused_without_echoing_it(no_api_key_env: None) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch("sk-test SECRET\n")
    assert "SECRET" not in str(info.value)
    assert info.value.field == "api_key"


# --- pickling -------------------------------------------------------------------------------------


def _sample_errors() -> list[hc.HelpCrunchError]:
    common: dict[str, Any] = dict(
        status=400,
        method="PATCH",
        path=PATH5,
        errors=EXPECTED_DETAILS,
        body='{"errors": []}',
        request_id="r-1",
        attempts=2,
    )
    errors: list[hc.HelpCrunchError] = [
        hc.HelpCrunchError("plain"),
        hc.ValidationError("bad name", field="name"),
        hc.APIConnectionError("reset", method="PUT", path=PATH5, attempts=3, maybe_sent=False),
        hc.APITimeoutError("slow", method="PATCH", path=PATH5),
        hc.RateLimitError(retry_after=2.5, **{**common, "status": 429}),
        hc.APIResponseValidationError(json_path="$.userId", **{**common, "status": 200}),
    ]
    for status, cls in STATUS_CLASSES:
        if cls is not hc.RateLimitError:
            errors.append(cls(**{**common, "status": status}))
    return errors


@pytest.mark.parametrize("err", _sample_errors(), ids=lambda e: type(e).__name__)
def test_errors_are_picklable(err: hc.HelpCrunchError) -> None:
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert repr(copy) == repr(err)
    assert vars(copy) == vars(err)


async def test_raised_error_is_picklable(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.patch(
        URL5, status=429, payload=ERRORS_BODY, headers={"Retry-After": "4", "X-Request-Id": "q"}
    )
    with pytest.raises(hc.RateLimitError) as info:
        await client.update_customer(5, name="x")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.retry_after, copy.errors, copy.request_id, copy.status) == (
        4.0,
        EXPECTED_DETAILS,
        "q",
        429,
    )


def test_hierarchy() -> None:
    assert issubclass(hc.ValidationError, hc.HelpCrunchError)
    assert issubclass(hc.ValidationError, ValueError)
    assert issubclass(hc.APITimeoutError, hc.APIConnectionError)
    assert issubclass(hc.APIConnectionError, hc.HelpCrunchError)
    for _, cls in STATUS_CLASSES:
        assert issubclass(cls, hc.APIError)
    assert issubclass(hc.APIResponseValidationError, hc.APIError)
    assert issubclass(hc.APIError, hc.HelpCrunchError)


async def test_cancellation_propagates(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    started = asyncio.Event()

    async def slow(url: Any, **kwargs: Any) -> None:
        started.set()
        await asyncio.sleep(10)

    mock_api.patch(URL5, callback=slow)
    task = asyncio.create_task(client.update_customer(5, name="x"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- the real transport path on loopback (no mocking) ---------------------------------------


async def _garbage_server() -> asyncio.Server:
    """A loopback server answering every request with an unparseable HTTP response."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_real_malformed_response_str_and_traceback_hold_no_key(
    no_api_key_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await _garbage_server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with make_client(base_url=f"http://127.0.0.1:{port}/v1") as client:
            with pytest.raises(hc.APIConnectionError) as info:
                await client.update_customer(5, name="x")
    finally:
        server.close()
        await server.wait_closed()
    err = info.value
    assert "invalid response" in str(err)
    assert err.maybe_sent is True
    assert err.__cause__ is None
    assert API_KEY not in str(err)
    assert API_KEY not in repr(err)
    assert API_KEY not in "".join(traceback.format_exception(err))
    assert API_KEY not in caplog.text


async def test_real_malformed_response_chain_holds_no_key(
    no_api_key_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    server = await _garbage_server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with make_client(base_url=f"http://127.0.0.1:{port}/v1") as client:
            with pytest.raises(hc.APIConnectionError) as info:
                await client.update_customer(5, name="x")
    finally:
        server.close()
        await server.wait_closed()
    _assert_no_key(info.value, caplog)


async def test_real_connection_refused(
    no_api_key_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:  # a port nobody listens on once this is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with make_client(base_url=f"http://127.0.0.1:{port}/v1") as client:
        with pytest.raises(hc.APIConnectionError) as info:
            await client.update_customer(5, name="x")
    err = info.value
    assert "cannot connect" in str(err)
    assert err.maybe_sent is False
    assert (err.method, err.path) == ("PATCH", "/v1/customers/5")
    _assert_no_key(err, caplog)
