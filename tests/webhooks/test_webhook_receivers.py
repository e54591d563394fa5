"""Framework glue: header lookup across frameworks, statuses of the aiohttp handler."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from receiver_apps import KEY, Recorder, aiohttp_receiver
from starlette.datastructures import Headers
from werkzeug.datastructures import Headers as WerkzeugHeaders

from helpcrunch_async.webhooks import (
    MemoryDeduplicator,
    encode_event,
    handle_request,
    read_signature,
    sample_event,
    send_event,
    sign,
    verify_request,
)

BODY = encode_event(sample_event("customer.new", event_id="evt-1"))
GOOD = sign(BODY, KEY)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-HelpCrunch-Signature": GOOD},
        {"x-helpcrunch-signature": GOOD},
        CIMultiDict({"X-HELPCRUNCH-SIGNATURE": GOOD}),
        Headers(raw=[(b"x-helpcrunch-signature", GOOD.encode())]),
        WerkzeugHeaders([("X-Helpcrunch-Signature", GOOD)]),
        [(b"content-type", b"application/json"), (b"x-helpcrunch-signature", GOOD.encode())],
    ],
    ids=["dict", "dict-lower", "aiohttp", "starlette", "werkzeug", "asgi-raw"],
)
def test_the_signature_header_is_found_in_every_frameworks_headers(headers: Any) -> None:
    assert read_signature(headers) == GOOD
    status, event = verify_request(BODY, headers, KEY)
    assert status == 200
    assert event is not None
    assert event.id == "evt-1"


@pytest.mark.parametrize(
    "headers",
    [
        CIMultiDict([("X-HelpCrunch-Signature", GOOD), ("X-HelpCrunch-Signature", GOOD)]),
        [(b"x-helpcrunch-signature", GOOD.encode())] * 2,
        {},
        [],
    ],
    ids=["twice-aiohttp", "twice-asgi", "none-dict", "none-asgi"],
)
def test_two_or_no_signature_headers_are_refused(headers: Any) -> None:
    assert verify_request(BODY, headers, KEY) == (400, None)


async def test_handle_request_answers_500_when_the_handler_raises_and_409_while_busy() -> None:
    dedup = MemoryDeduplicator()
    headers = {"X-HelpCrunch-Signature": GOOD}
    release = asyncio.Event()

    async def fails(event: Any) -> None:
        raise RuntimeError("db down")

    async def slow(event: Any) -> None:
        await release.wait()

    assert (await handle_request(BODY, headers, KEY, fails, dedup=dedup))[0] == 500
    first = asyncio.create_task(handle_request(BODY, headers, KEY, slow, dedup=dedup))
    await asyncio.sleep(0.01)
    assert (await handle_request(BODY, headers, KEY, slow, dedup=dedup))[0] == 409
    release.set()
    assert (await first)[0] == 200
    assert (await handle_request(BODY, headers, KEY, fails, dedup=dedup))[0] == 200  # done
    assert (await handle_request(BODY, {}, KEY, slow, dedup=dedup)) == (400, None)


async def test_the_aiohttp_handler_on_a_real_server(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(fail_first=1)
    async with aiohttp_receiver(recorder) as url, aiohttp.ClientSession() as session:
        assert await send_event(url, BODY, KEY, session=session) == 500  # handler raised
        assert await send_event(url, BODY, KEY, session=session) == 200  # the retry ran
        assert await send_event(url, BODY, "wrong-key", session=session) == 400
        async with session.post(url, data=BODY) as r:  # no signature at all
            assert r.status == 400
            assert await r.text() == "invalid signature or event"
    assert [e.id for e in recorder.events] == ["evt-1"]
    assert "receiver failing on purpose" in caplog.text
    assert KEY not in caplog.text
    assert GOOD not in caplog.text


def test_a_bad_signing_key_fails_when_the_handler_is_made() -> None:
    from helpcrunch_async.webhooks import aiohttp_handler

    with pytest.raises(ValueError, match="signing_key"):
        aiohttp_handler("", Recorder())
