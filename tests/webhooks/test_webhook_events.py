"""Event parsing: documented customer events, generic chat/message events, bad bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_support import EXAMPLE_BODY, EXAMPLE_KEY, EXAMPLE_SIGNATURE

import helpcrunch_async as hc
from helpcrunch_async.webhooks import (
    CUSTOMER_EVENT_TYPES,
    Event,
    InvalidEventError,
    WebhookCustomer,
    construct_event,
    sign,
)

KEY = "k-test"


def _signed(payload: Any) -> Event:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return construct_event(body, sign(body, KEY), KEY)


def _event(event_type: Any, data: Any, **extra: Any) -> dict[str, Any]:
    return {
        "event": event_type,
        "eventData": data,
        "attempts": 1,
        "lastAttemptAt": 1638953590,
        "createdAt": 1638953588,
        "id": "evt-1",
        **extra,
    }


CUSTOMER = {
    "id": 8745474,
    "name": "Paul",
    "userId": "example_2924",
    "email": "p@example.com",
    "unsubscribed": False,
    "customData": {"Role": "admin", "Plan": "Enterprise $9999/mo"},
}


def test_the_documented_types_are_all_there() -> None:
    assert set(CUSTOMER_EVENT_TYPES) == {
        "customer.new",
        "customer.email_updated",
        "customer.tags_changed",
        "customer.unsubscribed",
        "customer.subscribed",
        "customer.blocked",
        "customer.unblocked",
        "customer.deleted",
    }


@pytest.mark.parametrize("event_type", CUSTOMER_EVENT_TYPES)
def test_every_customer_event_parses_with_its_customer(event_type: str) -> None:
    event = _signed(_event(event_type, CUSTOMER))
    assert event == Event(
        id="evt-1",
        type=event_type,
        attempts=1,
        created_at=datetime(2021, 12, 8, 8, 53, 8, tzinfo=UTC),
        last_attempt_at=datetime(2021, 12, 8, 8, 53, 10, tzinfo=UTC),
        data=CUSTOMER,
        customer=WebhookCustomer(
            id=8745474,
            name="Paul",
            email="p@example.com",
            user_id="example_2924",
            unsubscribed=False,
            custom_data={"Role": "admin", "Plan": "Enterprise $9999/mo"},
        ),
    )
    assert event.created_at.utcoffset() is not None


def test_an_email_changed_to_null_and_missing_optional_keys_parse_as_none() -> None:
    event = _signed(_event("customer.email_updated", {"id": 5, "email": None}))
    assert event.customer == WebhookCustomer(id=5)
    assert event.customer.custom_data == {}


CHAT = {
    "communicatedAgents": [2924],
    "customer": {"id": 8745474, "name": "Paul", "email": "p@example.com", "userId": "example_9106"},
    "closedBy": "customer",
    "status": "closed",
    "closedAt": "1607542030.713",
    "rating": "great",
    "id": 12,
}
MESSAGE = {
    "chat_id": 5224081,
    "agent": None,
    "customer": {"id": 8745474},
    "message": {"id": 38488, "text": "Thanks!", "createdAt": "1638953586.915"},
}


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("chat.snoozed", CHAT),
        ("chat.closed", CHAT),
        ("message.chat.customer", MESSAGE),
        ("something.new_next_year", {"anything": [1, {"x": None}]}),
    ],
)
def test_chat_message_and_unknown_events_parse_generically(
    event_type: str, data: dict[str, Any]
) -> None:
    event = _signed(_event(event_type, data, attempts=0))  # the docs' message example: 0
    assert event.type == event_type
    assert event.customer is None
    assert event.data == data
    assert event.attempts == 0


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (1638953588, datetime(2021, 12, 8, 8, 53, 8, tzinfo=UTC)),
        (1638953588.5, datetime(2021, 12, 8, 8, 53, 8, 500000, tzinfo=UTC)),
        ("1638953588", datetime(2021, 12, 8, 8, 53, 8, tzinfo=UTC)),
        ("1638953588.25", datetime(2021, 12, 8, 8, 53, 8, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_aware_utc(created: Any, expected: datetime) -> None:
    event = _signed(_event("chat.new", {}, createdAt=created, lastAttemptAt=None))
    assert event.created_at == expected
    assert event.created_at.tzinfo is UTC
    assert event.last_attempt_at is None


BAD = [
    (b"not json", None),
    (b"\xff\xfe{}", None),
    (b"[" * 100_000, None),
    (b"[]", None),
    (b'"customer.new"', None),
    (b"null", None),
    (_event("customer.new", CUSTOMER, event=None), "event"),
    (_event("", CUSTOMER), "event"),
    (_event(1, CUSTOMER), "event"),
    (_event("customer.new", CUSTOMER, id=None), "id"),
    (_event("customer.new", CUSTOMER, id=7), "id"),
    (_event("customer.new", [CUSTOMER]), "eventData"),
    (_event("customer.new", None), "eventData"),
    (_event("customer.new", CUSTOMER, attempts="1"), "attempts"),
    (_event("customer.new", CUSTOMER, attempts=True), "attempts"),
    (_event("customer.new", CUSTOMER, attempts=-1), "attempts"),
    (_event("customer.new", CUSTOMER, attempts=1.5), "attempts"),
    (_event("customer.new", CUSTOMER, createdAt=None), "createdAt"),
    (_event("customer.new", CUSTOMER, createdAt="yesterday"), "createdAt"),
    (_event("customer.new", CUSTOMER, createdAt=True), "createdAt"),
    (_event("customer.new", CUSTOMER, createdAt=10**30), "createdAt"),
    (_event("customer.new", CUSTOMER, createdAt="1e9"), "createdAt"),
    (_event("customer.new", CUSTOMER, lastAttemptAt=[]), "lastAttemptAt"),
    (json.dumps(_event("chat.new", {})).replace("1638953588", "Infinity").encode(), "createdAt"),
    (_event("customer.new", {**CUSTOMER, "id": "8745474"}), "eventData.id"),
    (_event("customer.new", {**CUSTOMER, "id": None}), "eventData.id"),
    (_event("customer.new", {**CUSTOMER, "id": True}), "eventData.id"),
    (_event("customer.new", {**CUSTOMER, "email": 5}), "eventData.email"),
    (_event("customer.new", {**CUSTOMER, "name": ["Paul"]}), "eventData.name"),
    (_event("customer.new", {**CUSTOMER, "userId": 1}), "eventData.userId"),
    (_event("customer.new", {**CUSTOMER, "unsubscribed": "no"}), "eventData.unsubscribed"),
    (_event("customer.new", {**CUSTOMER, "unsubscribed": 0}), "eventData.unsubscribed"),
    (
        _event("customer.new", {**CUSTOMER, "customData": [{"property": "a"}]}),
        "eventData.customData",
    ),
]


@pytest.mark.parametrize(("payload", "field"), BAD, ids=range(len(BAD)))
def test_a_signed_body_that_is_not_an_event_is_an_invalid_event_error(
    payload: Any, field: str | None
) -> None:
    with pytest.raises(InvalidEventError) as info:
        _signed(payload)
    assert isinstance(info.value, hc.HelpCrunchError)
    assert not isinstance(info.value, KeyError | ValueError | TypeError)
    assert info.value.field == field
    assert KEY not in str(info.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_near_events = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["customer.new", "chat.new", ""]) | _json,
        "eventData": st.fixed_dictionaries(
            {},
            optional={"id": st.integers() | _json, "email": st.text() | _json, "customData": _json},
        )
        | _json,
        "attempts": st.integers() | _json,
        "id": st.text() | _json,
        "createdAt": st.integers() | st.floats() | _json,
        "lastAttemptAt": st.integers() | _json,
    },
)


@settings(max_examples=60)  # the suite's time budget; the cases are cheap but many
@given(payload=_near_events | _json)
def test_any_signed_json_is_an_event_or_an_invalid_event_error(payload: Any) -> None:
    try:
        event = _signed(payload)
    except InvalidEventError:
        return
    assert isinstance(event.id, str)
    assert isinstance(event.attempts, int)
    assert event.created_at.tzinfo is UTC


def test_the_example_body_parses_in_the_documented_shape() -> None:
    event = construct_event(EXAMPLE_BODY, EXAMPLE_SIGNATURE, EXAMPLE_KEY)
    assert event.type == "customer.email_updated"
    assert event.customer is not None
    assert event.customer.custom_data == {"Role": "admin", "Plan": "Enterprise $9999/mo"}
    assert event.customer.user_id == "example_2924"
    assert "eventData" not in repr(event)
    assert repr(event).startswith("Event(id=")
