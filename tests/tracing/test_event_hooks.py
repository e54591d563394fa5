"""Event hooks: what each hook sees, in order, and that a raising hook breaks nothing."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import Any

import attrs
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault

SECRET_EMAIL = "ann.secret@example.com"


class Recorder:
    """Hooks that keep every record they get, in one list, in order."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def hooks(self) -> hc.EventHooks:
        return hc.EventHooks(
            on_request=self.records.append,
            on_response=self.records.append,
            on_retry=self.records.append,
            on_rate_limit_wait=self.records.append,
        )

    def kinds(self) -> list[tuple[str, int]]:
        return [(type(r).__name__, r.attempt) for r in self.records]


def _client(fake: FakeHelpCrunch, **options: Any) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)


async def test_hooks_see_sent_received_retry_and_wait_in_order(
    helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(429), method="PATCH")
    seen = Recorder()
    async with _client(helpcrunch_fake, event_hooks=seen.hooks()) as client:
        await client.update_customer(cid, name="Ann")
    assert seen.kinds() == [
        ("RequestSent", 1),
        ("ResponseReceived", 1),
        ("RetryScheduled", 1),
        ("RateLimitWait", 2),
        ("RequestSent", 2),
        ("ResponseReceived", 2),
    ]
    sent, first, retry, wait, _, second = seen.records
    assert sent == hc.RequestSent(
        call="update_customer", method="PATCH", path=f"/v1/customers/{cid}", attempt=1
    )
    assert (first.status, second.status) == (429, 200)
    assert 0 <= first.elapsed_s < 5
    assert (retry.status, retry.error_type, retry.wait_s) == (429, "RateLimitError", 0.15)
    assert wait.after_429 is True
    assert 0.1 <= wait.wait_s < 5  # the 0.15 s pause


async def test_a_dropped_connection_is_a_retry_without_a_status(
    helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.drop_before(), Fault.status(503), method="PATCH")
    seen = Recorder()
    async with _client(helpcrunch_fake, event_hooks=seen.hooks()) as client:
        await client.update_customer(cid, name="Ann")
    retries = [r for r in seen.records if isinstance(r, hc.RetryScheduled)]
    assert [(r.attempt, r.status, r.error_type, r.wait_s) for r in retries] == [
        (1, None, "APIConnectionError", 0.01),
        (2, 503, "ServerError", 0.01),
    ]
    assert seen.kinds()[-2:] == [("RequestSent", 3), ("ResponseReceived", 3)]


async def test_a_wait_for_the_budget_is_reported(helpcrunch_fake: FakeHelpCrunch) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    waits: list[hc.RateLimitWait] = []
    hooks = hc.EventHooks(on_rate_limit_wait=waits.append)
    async with _client(
        helpcrunch_fake, rate_limit=hc.RateLimit(2, 0.4), event_hooks=hooks
    ) as client:
        await client.get_customer(cid)  # the budget's first: no wait
        await client.get_customer(cid)  # 0.2 s after the first
    [wait] = waits
    assert (wait.call, wait.method, wait.attempt, wait.after_429) == (
        "get_customer",
        "GET",
        1,
        False,
    )
    assert 0.1 <= wait.wait_s < 5


async def test_records_carry_no_key_query_or_body(helpcrunch_fake: FakeHelpCrunch) -> None:
    ids = helpcrunch_fake.seed_customers(3)
    seen = Recorder()
    async with _client(helpcrunch_fake, event_hooks=seen.hooks()) as client:
        await client.update_customer(ids[0], email=SECRET_EMAIL)
        assert len([c async for c in client.list_customers(page_size=2, sort="first_seen")]) == 3
        [r async for r in client.update_customers([(ids[1], {"email": SECRET_EMAIL})])]
    calls = [(r.call, r.path) for r in seen.records if isinstance(r, hc.RequestSent)]
    assert calls == [
        ("update_customer", f"/v1/customers/{ids[0]}"),
        ("list_customers", "/v1/customers"),
        ("list_customers", "/v1/customers"),
        ("update_customers", f"/v1/customers/{ids[1]}"),
    ]
    for record in seen.records:
        text = repr(record) + repr(attrs.asdict(record))
        assert helpcrunch_fake.api_key not in text
        assert SECRET_EMAIL not in text
        assert "?" not in text
        assert "offset" not in text


async def test_records_are_read_only(helpcrunch_fake: FakeHelpCrunch) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    seen = Recorder()
    async with _client(helpcrunch_fake, event_hooks=seen.hooks()) as client:
        await client.get_customer(cid)
    for record in seen.records:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            record.status = 500


async def test_a_raising_hook_breaks_nothing_and_is_logged_once(
    helpcrunch_fake: FakeHelpCrunch, caplog: pytest.LogCaptureFixture
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    responses: list[int] = []

    def broken(record: hc.RequestSent) -> None:
        raise RuntimeError("a bug in the user's hook")

    hooks = hc.EventHooks(on_request=broken, on_response=lambda r: responses.append(r.status))
    caplog.set_level(logging.WARNING, logger="helpcrunch_async")
    async with _client(helpcrunch_fake, event_hooks=hooks) as client:
        for _ in range(3):
            customer = await client.update_customer(cid, name="Ann")
    assert customer.name == "Ann"
    assert responses == [200, 200, 200]  # the other hook still runs, every time
    [logged] = [r for r in caplog.records if "event hook" in r.getMessage()]
    assert "on_request" in logged.getMessage()
    assert logged.exc_info is not None
    assert logged.exc_info[0] is RuntimeError


def test_the_blocking_client_takes_hooks(helpcrunch_fake: FakeHelpCrunch) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    seen = Recorder()
    with hc.HelpCrunch(
        helpcrunch_fake.api_key,
        base_url=helpcrunch_fake.base_url,
        rate_limit=None,
        event_hooks=seen.hooks(),
    ) as client:
        client.get_customer(cid)
    assert seen.kinds() == [("RequestSent", 1), ("ResponseReceived", 1)]


@pytest.mark.parametrize(
    ("hooks", "field"),
    [
        ("on_request", "event_hooks"),
        ({"request": [print]}, "event_hooks"),
        (hc.EventHooks(on_response=42), "event_hooks.on_response"),  # type: ignore[arg-type]
    ],
)
def test_bad_hooks_are_refused_naming_the_field(hooks: Any, field: str) -> None:
    with pytest.raises(hc.ValidationError) as caught:
        hc.AsyncHelpCrunch("key", event_hooks=hooks)
    assert caught.value.field == field


def test_async_hooks_are_refused() -> None:
    async def hook(record: hc.RequestSent) -> None: ...

    class Callable:
        async def __call__(self, record: hc.RetryScheduled) -> None: ...

    with pytest.raises(hc.ValidationError, match="not async def") as caught:
        hc.AsyncHelpCrunch("key", event_hooks=hc.EventHooks(on_request=hook))
    assert caught.value.field == "event_hooks.on_request"
    with pytest.raises(hc.ValidationError) as caught:
        hc.HelpCrunch("key", event_hooks=hc.EventHooks(on_retry=Callable()))
    assert caught.value.field == "event_hooks.on_retry"


def test_without_hooks_or_opentelemetry_the_requestor_watches_nothing() -> None:
    """The zero-cost path: no opentelemetry-api importable and no hooks (or empty ones)
    leave the requestor without observers; hooks alone give it some, and calls work."""
    code = textwrap.dedent("""
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
        import helpcrunch_async as hc
        from helpcrunch_async import _tracing
        from helpcrunch_async.testing import FakeHelpCrunch

        async def main():
            async with FakeHelpCrunch() as fake:
                [cid] = fake.seed_customers(1)
                seen = []
                for hooks in (None, hc.EventHooks(), hc.EventHooks(on_response=seen.append)):
                    async with hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url,
                                                  event_hooks=hooks) as client:
                        await client.get_customer(cid)
                        print(client._requestor._observers is None, len(seen))

        print(_tracing.AVAILABLE, _tracing.active_tracer())
        asyncio.run(main())
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["False None", "True 0", "True 0", "False 1", ""]


def test_with_opentelemetry_but_no_provider_a_call_is_not_observed(
    helpcrunch_fake: FakeHelpCrunch,
) -> None:
    """With opentelemetry-api importable (as here) and no provider set, the requestor asks
    for an observer per call and gets none."""
    from helpcrunch_async import _tracing

    client = _client(helpcrunch_fake)
    observers = client._requestor._observers
    assert _tracing.AVAILABLE
    assert observers is not None
    assert observers.start("get_customer", "GET", "/v1/customers/1") is None
