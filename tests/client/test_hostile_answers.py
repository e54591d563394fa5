"""Hostile answers: a body nested too deeply to decode is an APIError, never RecursionError.

Every place the SDK decodes JSON from the server is covered: a 2xx customer answer, an
error answer (its ``errors[]``), and a batch answer; each with json and with orjson.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import helpcrunch_async as hc
from helpcrunch_async import _json

DEEP = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.fixture(params=["json", "orjson"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the stdlib decoder and with orjson (the ``speedups`` extra)."""
    if request.param == "json":
        monkeypatch.setattr(_json, "_orjson_loads", None)
    else:
        pytest.importorskip("orjson")
        assert _json._orjson_loads is not None
    return str(request.param)


@pytest.mark.parametrize(
    "body", [DEEP, DEEP_OBJECTS, DEEP.decode()], ids=["arrays", "objects", "str"]
)
def test_decode_json_raises_invalid_json_for_deep_nesting(decoder: str, body: Any) -> None:
    with pytest.raises(_json.InvalidJSON, match="nested too deeply"):
        _json.decode_json(body)


def test_decode_json_invalid_json_is_a_value_error(decoder: str) -> None:
    for body in (b"{", b"\xff\xfe", "nope", b""):
        with pytest.raises(_json.InvalidJSON) as info:
            _json.decode_json(body)
        assert isinstance(info.value, ValueError)


def test_decode_json_reads_str_and_bytes_alike(decoder: str) -> None:
    text = '{"id": 12345678901234567890123, "name": "ü"}'
    assert _json.decode_json(text) == _json.decode_json(text.encode())
    assert _json.decode_json(text)["id"] == 12345678901234567890123


class Answers:
    """A loopback server that answers every request with ``status`` and ``body``."""

    status = 200
    body = b""
    base_url = ""

    def client(self) -> hc.AsyncHelpCrunch:
        return hc.AsyncHelpCrunch(
            api_key="sk-test", base_url=self.base_url, rate_limit=None, max_retries=0
        )


@pytest.fixture
async def server() -> AsyncIterator[Answers]:
    answers = Answers()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            status=answers.status, body=answers.body, content_type="application/json"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    answers.base_url = f"http://127.0.0.1:{port}/v1"
    yield answers
    await runner.cleanup()


async def test_deep_2xx_body_is_response_validation_error(decoder: str, server: Answers) -> None:
    server.status, server.body = 200, DEEP
    async with server.client() as client:
        with pytest.raises(hc.APIResponseValidationError) as info:
            await client.update_customer(1, name="x")
    assert info.value.status == 200
    assert info.value.json_path == "$"
    assert "nested too deeply" in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, hc.BadRequestError),
        (404, hc.NotFoundError),
        (500, hc.ServerError),
    ],
)
async def test_deep_error_body_is_the_status_error(
    decoder: str, server: Answers, status: int, cls: type[hc.APIError]
) -> None:
    server.status, server.body = status, DEEP
    async with server.client() as client:
        with pytest.raises(cls) as info:
            await client.update_customer(1, name="x")
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.errors == ()
    assert info.value.body == DEEP.decode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (200, hc.APIResponseValidationError),
        (500, hc.ServerError),
    ],
)
async def test_deep_batch_body_fails_each_item_with_an_api_error(
    decoder: str, server: Answers, status: int, cls: type[hc.APIError]
) -> None:
    server.status, server.body = status, DEEP
    async with server.client() as client:
        results = [
            r
            async for r in client.update_customers(
                [(1, {"name": "a"}), (2, {"name": "b"})], batch=True
            )
        ]
    assert len(results) == 2
    for r in results:
        assert not r.ok
        assert type(r.error) is cls, r.error


def test_batch_entry_nested_just_below_the_decoder_limit_fails_only_that_item() -> None:
    """The deepest list json still decodes, met deeper in the stack: a BatchItemError."""
    from helpcrunch_async._bulk import batch_outcomes

    depth = 0
    for d in range(100, 5000, 10):
        try:
            entry = _json.decode_json("[" * d + "]" * d)
        except _json.InvalidJSON:
            break
        depth = d
    assert depth > 0
    entry = _json.decode_json("[" * depth + "]" * depth)

    def deeper(levels: int) -> Any:
        return (
            batch_outcomes([entry], [1], "/v1/customers/batch")
            if levels == 0
            else (deeper(levels - 1))
        )

    [outcome] = deeper(100)
    assert isinstance(outcome, hc.BatchItemError)
