"""The fake's deliveries reach real receivers: aiohttp.web, and FastAPI on uvicorn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from receiver_apps import KEY, Recorder, aiohttp_receiver, uvicorn_in_thread

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch
from helpcrunch_async.webhooks import construct_event, sign


def _client(fake: FakeHelpCrunch) -> hc.AsyncHelpCrunch:
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, rate_limit=None)


def _fake(url: str, **options: Any) -> FakeHelpCrunch:
    options.setdefault("webhook_retry_delay", 0.01)
    return FakeHelpCrunch(rate_limit=None, webhook_url=url, webhook_signing_key=KEY, **options)


async def test_each_change_through_the_api_is_one_signed_event() -> None:
    recorder = Recorder()
    async with aiohttp_receiver(recorder) as url, _fake(url) as fake:
        fake.seed_customers(1)  # seeding sends nothing
        async with _client(fake) as client:
            new = await client.create_customer(name="Ann", email="ann@example.com")
            await client.update_customer(new.id, name="Ann B.")  # no webhook for a name
            await client.update_customer(new.id, email=None)  # to null counts
            await client.tag_customer(new.id, ["vip", "beta"])
            await client.tag_customer(new.id, [hc.Tag(name="vip", color="#000000")])  # colour
            await client.untag_customer(new.id, ["vip", "beta"])  # removing all counts
            await client.update_customer(new.id, unsubscribed=True)
            await client.delete_customer(new.id)
        await fake.webhooks_idle()
        deliveries = fake.webhook_deliveries
    types = [e.type for e in recorder.events]
    assert types == [
        "customer.new",
        "customer.email_updated",
        "customer.tags_changed",
        "customer.tags_changed",
        "customer.unsubscribed",
        "customer.deleted",
    ]
    assert [d.event_type for d in deliveries] == types
    assert all(d.ok and d.attempt == 1 for d in deliveries)
    assert len({e.id for e in recorder.events}) == len(types)
    first, email, *_, deleted = recorder.events
    assert first.customer == hc.webhooks.WebhookCustomer(
        id=new.id, name="Ann", email="ann@example.com", unsubscribed=None
    )
    assert email.customer is not None
    assert email.customer.email is None
    assert email.customer.name == "Ann B."
    assert deleted.customer is not None
    assert deleted.customer.unsubscribed is True
    for d in deliveries:  # what was sent verifies as sent
        assert construct_event(d.body, d.signature, KEY).id == d.event_id
        assert set(d.payload) == {
            "event",
            "eventData",
            "attempts",
            "lastAttemptAt",
            "createdAt",
            "id",
        }


async def test_a_500_gets_the_same_event_again_with_attempts_plus_one() -> None:
    recorder = Recorder(fail_first=2)
    async with aiohttp_receiver(recorder) as url, _fake(url) as fake:
        fake.seed_customers(1)
        async with _client(fake) as client:
            await client.update_customer(1, email="new@example.com")
        await fake.webhooks_idle()
        deliveries = fake.webhook_deliveries
    assert [(d.attempt, d.status) for d in deliveries] == [(1, 500), (2, 500), (3, 200)]
    assert len({d.event_id for d in deliveries}) == 1
    assert [d.payload["attempts"] for d in deliveries] == [1, 2, 3]
    assert len({d.signature for d in deliveries}) == 3  # a new body each time, signed
    [event] = recorder.events
    assert event.attempts == 3
    assert event.id == deliveries[0].event_id


async def test_a_receiver_that_times_out_gets_a_retry_and_the_answer_is_not_held_up() -> None:
    recorder = Recorder(delay=0.3)
    async with (
        aiohttp_receiver(recorder) as url,
        _fake(url, webhook_timeout=0.1, webhook_max_attempts=2) as fake,
    ):
        async with _client(fake) as client:
            started = time.monotonic()
            await client.create_customer(name="Ann")
            assert time.monotonic() - started < 0.25  # sent in the background
        await fake.webhooks_idle()
        deliveries = fake.webhook_deliveries
    assert [(d.attempt, d.status, d.error) for d in deliveries] == [
        (1, None, "timeout"),
        (2, None, "timeout"),
    ]


async def test_closing_with_a_delivery_pending_is_clean() -> None:
    recorder = Recorder(delay=0.4)
    async with aiohttp_receiver(recorder) as url:
        fake = _fake(url, webhook_timeout=0.1, webhook_retry_delay=5)
        async with fake:
            async with _client(fake) as client:
                await client.create_customer(name="Ann")
            await asyncio.sleep(0.05)
            started = time.monotonic()
        assert time.monotonic() - started < 1.5  # waited 0.1 s, then dropped the 5 s retry
        assert [d.error for d in fake.webhook_deliveries] == ["timeout"]


async def test_an_unreachable_receiver_is_retried_then_given_up() -> None:
    async with _fake("http://127.0.0.1:9/hooks", webhook_max_attempts=3) as fake:
        async with _client(fake) as client:
            await client.create_customer(name="Ann")
        await fake.webhooks_idle()
        assert [(d.attempt, d.status) for d in fake.webhook_deliveries] == [
            (1, None),
            (2, None),
            (3, None),
        ]
        assert all(d.error for d in fake.webhook_deliveries)


def test_the_options_are_checked() -> None:
    with pytest.raises(ValueError, match="go together"):
        FakeHelpCrunch(webhook_url="http://127.0.0.1:1/")
    with pytest.raises(hc.ValidationError):
        FakeHelpCrunch(webhook_url="http://127.0.0.1:1/", webhook_signing_key="")
    with pytest.raises(ValueError, match="URL"):
        FakeHelpCrunch(webhook_url="ftp://x", webhook_signing_key="k")


async def test_the_fakes_deliveries_reach_fastapi_on_uvicorn_with_a_retry_after_a_500() -> None:
    received: list[hc.webhooks.Event] = []
    from fastapi_receiver import fastapi_app

    with uvicorn_in_thread(fastapi_app(received, fail_first=1)) as base:
        async with _fake(f"{base}/helpcrunch/webhooks") as fake:
            fake.seed_customers(1)
            async with _client(fake) as client:
                await client.tag_customer(1, ["vip"])
            await fake.webhooks_idle()
            deliveries = fake.webhook_deliveries
    assert [(d.attempt, d.status) for d in deliveries] == [(1, 500), (2, 200)]
    [event] = received
    assert (event.type, event.attempts, event.id) == (
        "customer.tags_changed",
        2,
        deliveries[0].event_id,
    )
    assert event.customer is not None
    assert event.customer.id == 1


async def test_fastapi_refuses_a_forged_request_with_400() -> None:
    import aiohttp

    received: list[hc.webhooks.Event] = []
    body = hc.webhooks.encode_event(hc.webhooks.sample_event("customer.deleted"))
    from fastapi_receiver import fastapi_app

    with uvicorn_in_thread(fastapi_app(received, fail_first=0)) as base:
        async with aiohttp.ClientSession() as session:
            for signature in (sign(body, "not-the-key"), sign(body, KEY)):
                async with session.post(
                    f"{base}/helpcrunch/webhooks",
                    data=body,
                    headers={"X-HelpCrunch-Signature": signature},
                ) as r:
                    assert r.status == (400 if signature != sign(body, KEY) else 200)
    assert [e.type for e in received] == ["customer.deleted"]
