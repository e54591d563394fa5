"""OpenTelemetry: one span per call against the fake server, recorded in memory.

Each span's name, kind and every attribute are checked, and everything a span records
is scanned for the API key and for customer data sent in the body.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from tracing_support import Spans, reset_globals

import helpcrunch_async as hc
from helpcrunch_async import _tracing
from helpcrunch_async.testing import FakeHelpCrunch, Fault

SECRET_EMAIL = "ann.secret@example.com"


def _client(fake: FakeHelpCrunch, **options: Any) -> hc.AsyncHelpCrunch:
    options.setdefault("rate_limit", None)
    return hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url, **options)


def _recorded_text(span: ReadableSpan) -> list[str]:
    """Every string a span carries: name, attribute values, status, events, links."""
    texts = [span.name, str(span.status.description)]
    texts += [f"{k}={v!s}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        texts.append(event.name)
        texts += [f"{k}={v!s}" for k, v in (event.attributes or {}).items()]
    return texts


def _assert_no_secrets(recorded: list[ReadableSpan], *secrets: str) -> None:
    assert recorded
    for span in recorded:
        for text in _recorded_text(span):
            for secret in secrets:
                assert secret not in text, (span.name, text)


async def test_a_call_is_one_span_with_its_attributes_and_no_secrets(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    async with _client(helpcrunch_fake) as client:
        await client.update_customer(cid, email=SECRET_EMAIL, name="Ann Secret")
    [span] = spans.all()
    assert span.name == "helpcrunch.update_customer"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "http.request.method": "PATCH",
        "http.response.status_code": 200,
        "helpcrunch.attempts": 1,
        "helpcrunch.rate_limit_wait_s": 0.0,
    }
    assert helpcrunch_fake.customers[cid]["email"] == SECRET_EMAIL  # it was sent
    _assert_no_secrets(spans.all(), helpcrunch_fake.api_key, SECRET_EMAIL, "Ann Secret")


@pytest.mark.parametrize(
    ("call", "name", "method"),
    [
        (lambda c: c.get_customer(1), "helpcrunch.get_customer", "GET"),
        (
            lambda c: c.replace_customer(1, hc.CustomerUpdate(name="A")),
            "helpcrunch.replace_customer",
            "PUT",
        ),
        (lambda c: c.create_customer(name="B"), "helpcrunch.create_customer", "POST"),
        (lambda c: c.tag_customer(1, ["vip"]), "helpcrunch.tag_customer", "PUT"),
        (lambda c: c.untag_customer(1, ["vip"]), "helpcrunch.untag_customer", "DELETE"),
        (lambda c: c.delete_customer(1), "helpcrunch.delete_customer", "DELETE"),
        (lambda c: c.find_customer(user_id="user_1"), "helpcrunch.find_customer", "POST"),
    ],
)
async def test_each_method_names_its_span(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch, call: Any, name: str, method: str
) -> None:
    helpcrunch_fake.seed_customers(1)
    async with _client(helpcrunch_fake) as client:
        await call(client)
    [span] = spans.all()
    assert (span.name, span.attributes["http.request.method"]) == (name, method)
    assert span.attributes["http.response.status_code"] == (201 if "create" in name else 200)


async def test_each_page_of_a_pager_is_a_span(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(5)
    async with _client(helpcrunch_fake) as client:
        assert len([c async for c in client.list_customers(page_size=2)]) == 5
        assert (
            len(
                [
                    c
                    async for c in client.search_customers(
                        hc.Filter("email", "~", "example"), page_size=3
                    )
                ]
            )
            == 5
        )
    assert [s.name for s in spans.all()] == ["helpcrunch.list_customers"] * 3 + [
        "helpcrunch.search_customers"
    ] * 2


async def test_retries_are_counted_in_one_span(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(503), Fault.drop_before(), method="PATCH")
    async with _client(helpcrunch_fake) as client:
        await client.update_customer(cid, name="Ann")
    [span] = spans.all()
    assert span.attributes["helpcrunch.attempts"] == 3
    assert span.attributes["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET


async def test_a_failed_call_has_error_status_and_type(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    async with _client(helpcrunch_fake) as client:
        with pytest.raises(hc.NotFoundError):
            await client.get_customer(404404)
        # no answer to a create: never re-sent (it may have been applied)
        helpcrunch_fake.add_faults(Fault.drop_before(), method="POST")
        with pytest.raises(hc.APIConnectionError):
            await client.create_customer(email=SECRET_EMAIL)
    not_found, dropped = spans.all()
    assert not_found.status.status_code is StatusCode.ERROR
    assert not_found.status.description == "NotFoundError"
    assert not_found.attributes["error.type"] == "NotFoundError"
    assert not_found.attributes["http.response.status_code"] == 404
    assert not_found.attributes["helpcrunch.attempts"] == 1
    assert dropped.status.status_code is StatusCode.ERROR
    assert dropped.attributes["error.type"] == "APIConnectionError"
    assert dropped.attributes["helpcrunch.attempts"] == 1
    assert "http.response.status_code" not in dropped.attributes  # no answer came
    assert not dropped.events  # no exception (and its message) recorded
    _assert_no_secrets(spans.all(), helpcrunch_fake.api_key, SECRET_EMAIL)


async def test_a_429_pause_is_rate_limit_wait(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(429), method="GET")
    async with _client(helpcrunch_fake) as client:
        await client.get_customer(cid)
    [span] = spans.all()
    assert span.attributes["helpcrunch.attempts"] == 2
    assert 0.1 <= span.attributes["helpcrunch.rate_limit_wait_s"] < 5  # the 0.15 s pause


async def test_a_wait_for_the_budget_is_rate_limit_wait(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    async with _client(helpcrunch_fake, rate_limit=hc.RateLimit(2, 0.4)) as client:
        await client.get_customer(cid)
        await client.get_customer(cid)  # the second goes 0.2 s after the first
    first, second = spans.all()
    assert first.attributes["helpcrunch.rate_limit_wait_s"] < 0.1
    assert 0.1 <= second.attributes["helpcrunch.rate_limit_wait_s"] < 5


async def test_a_bulk_update_has_one_span_per_item(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(3)
    items = [(cid, {"email": f"{cid}.{SECRET_EMAIL}"}) for cid in [*ids, 999_999]]
    async with _client(helpcrunch_fake) as client:
        results = [r async for r in client.update_customers(items)]
    assert sorted(r.ok for r in results) == [False, True, True, True]
    recorded = spans.all()
    assert [s.name for s in recorded] == ["helpcrunch.update_customers"] * 4
    statuses = sorted(s.attributes["http.response.status_code"] for s in recorded)
    assert statuses == [200, 200, 200, 404]
    [failed] = [s for s in recorded if s.status.status_code is StatusCode.ERROR]
    assert failed.attributes["error.type"] == "NotFoundError"
    _assert_no_secrets(recorded, helpcrunch_fake.api_key, SECRET_EMAIL)


async def test_a_sync_has_one_span_per_row_around_its_calls(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1, fields={"userId": "u-1", "name": "Ann"})
    rows = [
        {"user_id": "u-1", "name": "Ann Lee"},
        {"user_id": "u-2", "email": SECRET_EMAIL},
        {"user_id": "u-3", "name": "Cy"},
    ]
    async with _client(helpcrunch_fake) as client:
        results = [r async for r in client.sync_customers(rows, strategy="search")]
    assert sorted(r.action for r in results) == ["failed", "failed", "updated"]
    recorded = spans.all()
    row_spans = sorted(
        spans.named("helpcrunch.sync_customers"),
        key=lambda s: s.attributes["helpcrunch.item_index"],
    )
    assert [
        (s.attributes["helpcrunch.item_index"], s.attributes["helpcrunch.sync.action"])
        for s in row_spans
    ] == [(0, "updated"), (1, "failed"), (2, "failed")]
    assert row_spans[0].status.status_code is StatusCode.UNSET
    assert row_spans[1].attributes["error.type"] == "CustomerNotFoundError"
    # the calls of row 0 (find, then update) are its children
    children = [
        s
        for s in recorded
        if s.parent is not None and s.parent.span_id == row_spans[0].context.span_id
    ]
    assert [s.name for s in children] == ["helpcrunch.find_customer", "helpcrunch.update_customer"]
    _assert_no_secrets(recorded, helpcrunch_fake.api_key, SECRET_EMAIL, "Ann Lee")


async def test_the_aiohttp_instrumentation_sees_our_requests_as_children(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch, short_waits: None
) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(503), method="PATCH")
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        async with _client(helpcrunch_fake) as client:  # its session is made after
            await client.update_customer(cid, name="Ann", email=SECRET_EMAIL)
    finally:
        instrumentor.uninstrument()
    [ours] = spans.ours()
    http = [s for s in spans.all() if s.kind is SpanKind.CLIENT]
    assert len(http) == 2  # the 503 and the retry
    assert all(s.parent is not None and s.parent.span_id == ours.context.span_id for s in http)
    assert all(s.context.trace_id == ours.context.trace_id for s in http)
    statuses = sorted(
        s.attributes.get(
            "http.response.status_code",  # newer conventions
            s.attributes.get("http.status_code"),
        )
        for s in http
    )
    assert statuses == [200, 503]
    _assert_no_secrets(spans.all(), helpcrunch_fake.api_key, SECRET_EMAIL)


async def test_a_span_of_the_caller_is_the_parent(
    spans: Spans, helpcrunch_fake: FakeHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    tracer = spans.provider.get_tracer("app")
    async with _client(helpcrunch_fake) as client:
        with tracer.start_as_current_span("handler") as handler:
            await client.get_customer(cid)
    [ours] = spans.ours()
    assert ours.parent is not None
    assert ours.parent.span_id == handler.get_span_context().span_id


async def test_a_provider_set_after_the_client_was_made_is_used(
    helpcrunch_fake: FakeHelpCrunch, request: pytest.FixtureRequest
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    async with _client(helpcrunch_fake) as client:
        assert _tracing.active_tracer() is None
        await client.get_customer(cid)  # nothing records it
        recorded: Spans = request.getfixturevalue("spans")  # sets the provider now
        await client.get_customer(cid)
    assert [s.name for s in recorded.all()] == ["helpcrunch.get_customer"]


def test_no_tracer_without_a_provider_or_with_the_no_op_one() -> None:
    from opentelemetry import trace

    reset_globals()
    try:
        assert _tracing.active_tracer() is None
        trace.set_tracer_provider(trace.NoOpTracerProvider())
        assert _tracing.active_tracer() is None
    finally:
        reset_globals()
