"""The wire format: seed round trip, UNSET vs None, camelCase, timestamps, custom data, tags,
forgiving reads and precise errors for responses that do not fit."""

from __future__ import annotations

import json
import math
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from documented_names import WIRE_KEYS
from hypothesis import given
from hypothesis import strategies as st

import helpcrunch_async as hc
from helpcrunch_async._convert import WIRE_KEYS as _WIRE_KEYS
from helpcrunch_async._convert import ResponseShapeError, update_to_json
from helpcrunch_async._fastpaths import customer_from_json
from helpcrunch_async._json import encode_json


def customer_to_json(customer: hc.Customer) -> dict[str, Any]:
    """The customer as HelpCrunch's response JSON (for round trips)."""
    out: dict[str, Any] = {}
    for a in attrs.fields(hc.Customer):
        if a.name == "raw":
            continue
        value = getattr(customer, a.name)
        if isinstance(value, datetime):
            value = str(math.floor(value.timestamp()))
        elif isinstance(value, hc.Location | hc.Device):
            value = {_WIRE_KEYS.get(k, k): v for k, v in attrs.asdict(value).items()}
        elif a.name == "tags":
            value = [
                {"name": t.name, "color": None if t.color is hc.UNSET else t.color} for t in value
            ]
        elif a.name == "custom_data":
            value = dict(value)
        out[_WIRE_KEYS.get(a.name, a.name)] = value
    return out


SEED_TS = 1603885746
SEED_DT = datetime(2020, 10, 28, 11, 49, 6, tzinfo=UTC)


def seed_update(seed: dict[str, Any]) -> hc.CustomerUpdate:
    """The seed's request example, written the way a caller writes it."""
    return hc.CustomerUpdate(
        name=seed["name"],
        email=seed["email"],
        user_id="user_1234567890",
        company="Example Inc.",
        phone="+10233456781",
        first_seen=SEED_TS,
        last_seen=SEED_DT,
        unsubscribed=False,
        blocked=False,
        source="https://example.com",
        referer="https://example.com",
        last_page="https://example.com",
        locale="uk",
        notes="Lorem ipsum",
        tags=[hc.Tag(name="vip", color="#ff0000")],
        custom_data={
            "subscription_status": "active",
            "number_of_payments": 15,
            "last_paid_amount": 15.99,
            "last_payment_date": datetime.fromtimestamp(SEED_TS, timezone(timedelta(hours=2))),
            "last_invoice_url": "https://example.com/invoice.html",
            "last_payment_was_successful": True,
        },
    )


# --- the seed ---------------------------------------------------------------------------


def test_seed_request_serialises_exactly(seed_request: dict[str, Any]) -> None:
    update = seed_update(seed_request)
    assert update_to_json(update) == seed_request
    assert json.loads(encode_json(update_to_json(update))) == seed_request
    # keys in the documented order, too
    assert list(update_to_json(update)) == list(seed_request)


def test_seed_response_parses_with_every_field_populated(seed_response: dict[str, Any]) -> None:
    customer = customer_from_json(seed_response)
    for a in attrs.fields(hc.Customer):
        assert getattr(customer, a.name) is not None, a.name
    for part in (customer.location, customer.device):
        assert part is not None
        for a in attrs.fields(type(part)):
            assert getattr(part, a.name) is not None, a.name
    assert customer.id == 542335
    assert customer.user_id == "user_1234567890"
    assert customer.first_seen == customer.last_seen == SEED_DT
    assert customer.location == hc.Location(
        region_code="Kyyivs'ka Oblast", country_code="UA", city="Kyiv"
    )
    assert customer.device is not None
    assert customer.device.id == 542335
    assert customer.device.user_agent is not None
    assert customer.device.user_agent.startswith("Mozilla/5.0")
    assert customer.created_from == "telegram"
    assert customer.integration_id == "465847687"
    assert customer.tags == (hc.Tag(name="vip", color="#ff0000"),)
    assert customer.custom_data == seed_response["customData"]
    assert list(customer.custom_data) == list(seed_response["customData"])
    assert customer.raw == seed_response


def test_seed_customer_survives_a_json_round_trip(seed_response: dict[str, Any]) -> None:
    customer = customer_from_json(seed_response)
    assert customer_from_json(customer_to_json(customer)) == customer


# --- UNSET vs None, field by field --------------------------------------------------------


@pytest.mark.parametrize("field", list(WIRE_KEYS))
def test_unset_field_is_absent_and_none_is_null(field: str) -> None:
    others = {f: None for f in WIRE_KEYS if f != field}
    body = update_to_json(hc.CustomerUpdate(**others))
    assert WIRE_KEYS[field] not in body
    assert body == {WIRE_KEYS[f]: None for f in others}
    assert update_to_json(hc.CustomerUpdate(**{field: None})) == {WIRE_KEYS[field]: None}
    assert encode_json(update_to_json(hc.CustomerUpdate(**{field: None}))) == (
        f'{{"{WIRE_KEYS[field]}":null}}'.encode()
    )


def test_empty_update_serialises_to_empty_object() -> None:
    assert update_to_json(hc.CustomerUpdate()) == {}


@pytest.mark.parametrize(
    ("field", "value", "wire"),
    [
        ("name", "Ann", "Ann"),
        ("user_id", "u-1", "u-1"),
        ("last_page", "https://e.com/x", "https://e.com/x"),
        ("unsubscribed", True, True),
        ("blocked", False, False),
        ("locale", "en", "en"),
        ("email", "", ""),  # an empty string is a value, not "unset"
    ],
)
def test_values_go_out_under_camel_case_keys(field: str, value: Any, wire: Any) -> None:
    assert update_to_json(hc.CustomerUpdate(**{field: value})) == {WIRE_KEYS[field]: wire}


def test_false_and_zero_are_sent_not_dropped() -> None:
    body = update_to_json(hc.CustomerUpdate(blocked=False, first_seen=0, custom_data={"n": 0}))
    assert body == {
        "blocked": False,
        "firstSeen": "0",
        "customData": [{"property": "n", "value": 0}],
    }


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (SEED_TS, "1603885746"),
        (SEED_DT, "1603885746"),
        (SEED_DT.astimezone(timezone(timedelta(hours=-5, minutes=-30))), "1603885746"),
        (SEED_DT + timedelta(microseconds=999_999), "1603885746"),
        (datetime(1970, 1, 1, tzinfo=UTC), "0"),
    ],
)
@pytest.mark.parametrize("field", ["first_seen", "last_seen"])
def test_timestamps_go_out_as_strings_of_whole_seconds(field: str, value: Any, wire: str) -> None:
    assert update_to_json(hc.CustomerUpdate(**{field: value})) == {WIRE_KEYS[field]: wire}


@pytest.mark.parametrize("field", ["first_seen", "last_seen"])
def test_naive_datetime_is_refused_naming_the_field(field: str) -> None:
    with pytest.raises(hc.ValidationError, match="naive") as info:
        hc.CustomerUpdate(**{field: datetime(2020, 10, 28, 11, 49, 6)})  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("bad", [True, 1.5, -1, "1603885746", [1]])
def test_other_timestamp_types_are_refused(bad: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.CustomerUpdate(first_seen=bad)
    assert info.value.field == "first_seen"


@pytest.mark.parametrize("wire", ["1603885746", 1603885746, " 1603885746 "])
def test_timestamps_read_from_string_or_int_as_aware_utc(wire: Any) -> None:
    customer = customer_from_json({"id": 1, "firstSeen": wire, "lastSeen": wire})
    for value in (customer.first_seen, customer.last_seen):
        assert value == SEED_DT
        assert value is not None
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)


def test_missing_timestamps_read_as_none() -> None:
    customer = customer_from_json({"id": 1})
    assert customer.first_seen is None
    assert customer.last_seen is None


@pytest.mark.parametrize("key", ["firstSeen", "lastSeen"])
def test_null_timestamps_read_as_none(key: str) -> None:
    customer = customer_from_json({"id": 1, key: None})
    assert customer.first_seen is None
    assert customer.last_seen is None


# --- custom data ------------------------------------------------------------------------------


def test_custom_data_goes_out_as_property_value_list_in_order() -> None:
    data: dict[str, hc.CustomDataInput] = {
        "zeta": "z",
        "alpha": 1,
        "mid": 2.5,
        "flag": False,
        "gone": None,
    }
    body = update_to_json(hc.CustomerUpdate(custom_data=data))
    assert body == {
        "customData": [
            {"property": "zeta", "value": "z"},
            {"property": "alpha", "value": 1},
            {"property": "mid", "value": 2.5},
            {"property": "flag", "value": False},
            {"property": "gone", "value": None},
        ]
    }


def test_custom_data_datetime_value_goes_out_as_timestamp_string() -> None:
    when = datetime(2020, 10, 28, 13, 49, 6, 500_000, tzinfo=timezone(timedelta(hours=2)))
    body = update_to_json(hc.CustomerUpdate(custom_data={"paid": when}))
    assert body == {"customData": [{"property": "paid", "value": "1603885746"}]}


def test_custom_data_empty_dict_is_sent_as_empty_list() -> None:
    assert update_to_json(hc.CustomerUpdate(custom_data={})) == {"customData": []}


def test_custom_data_read_from_object_form() -> None:
    customer = customer_from_json({"id": 1, "customData": {"b": 1, "a": "x", "c": None}})
    assert customer.custom_data == {"b": 1, "a": "x", "c": None}
    assert list(customer.custom_data) == ["b", "a", "c"]


def test_custom_data_read_from_list_form() -> None:
    customer = customer_from_json(
        {
            "id": 1,
            "customData": [
                {"property": "plan", "value": "pro"},
                {"property": "seats", "value": 5},
                {"property": "paid", "value": True},
                {"property": "none"},
            ],
        }
    )
    assert customer.custom_data == {"plan": "pro", "seats": 5, "paid": True, "none": None}
    assert list(customer.custom_data) == ["plan", "seats", "paid", "none"]


def test_custom_data_null_or_missing_reads_as_empty() -> None:
    assert customer_from_json({"id": 1, "customData": None}).custom_data == {}
    assert customer_from_json({"id": 1}).custom_data == {}


# --- tags ----------------------------------------------------------------------------------------


def test_tag_without_color_has_no_color_key() -> None:
    body = update_to_json(hc.CustomerUpdate(tags=[hc.Tag(name="vip"), "beta"]))
    assert body == {"tags": [{"name": "vip"}, {"name": "beta"}]}
    assert "color" not in encode_json(body).decode()


def test_tag_with_color_keeps_it() -> None:
    body = update_to_json(hc.CustomerUpdate(tags=[hc.Tag(name="vip", color="#ff0000")]))
    assert body == {"tags": [{"name": "vip", "color": "#ff0000"}]}


def test_empty_tag_list_is_sent_as_empty_list() -> None:
    assert update_to_json(hc.CustomerUpdate(tags=[])) == {"tags": []}


def test_tags_read_with_and_without_color() -> None:
    customer = customer_from_json(
        {
            "id": 1,
            "tags": [{"name": "a", "color": "#fff"}, {"name": "b"}, {"name": "c", "color": None}],
        }
    )
    assert customer.tags == (hc.Tag(name="a", color="#fff"), hc.Tag(name="b"), hc.Tag(name="c"))


# --- forgiving reads ------------------------------------------------------------------------------


def test_unknown_response_keys_are_ignored_but_kept_in_raw() -> None:
    data = {
        "id": 3,
        "name": "Ann",
        "brandNewField": {"x": [1, 2]},
        "anotherOne": 5,
        "location": {"city": "Kyiv", "planet": "Earth"},
    }
    customer = customer_from_json(data)
    assert customer.id == 3
    assert customer.name == "Ann"
    assert customer.location == hc.Location(city="Kyiv")
    assert customer.raw["brandNewField"] == {"x": [1, 2]}


def test_missing_optional_keys_become_none() -> None:
    customer = customer_from_json({"id": 3})
    assert customer == hc.Customer(id=3)
    for name in (
        "name",
        "email",
        "user_id",
        "location",
        "device",
        "blocked",
        "locale",
        "created_from",
        "integration_id",
    ):
        assert getattr(customer, name) is None


def test_explicit_nulls_become_none() -> None:
    data: dict[str, Any] = {k: None for k in customer_to_json(hc.Customer(id=1))}
    data["id"] = 9
    customer = customer_from_json(data)
    assert customer == hc.Customer(id=9)


def test_numbers_where_strings_are_expected_are_read_as_text() -> None:
    customer = customer_from_json({"id": "12", "phone": 10233456781, "integrationId": 465847687})
    assert customer.id == 12
    assert customer.phone == "10233456781"
    assert customer.integration_id == "465847687"


# --- malformed responses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], "$"),
        ("customer", "$"),
        (None, "$"),
        ({}, "$.id"),
        ({"id": None}, "$.id"),
        ({"id": "abc"}, "$.id"),
        ({"id": True}, "$.id"),
        ({"id": 1, "userId": {}}, "$.userId"),
        ({"id": 1, "name": ["x"]}, "$.name"),
        ({"id": 1, "blocked": "yes"}, "$.blocked"),
        ({"id": 1, "firstSeen": "yesterday"}, "$.firstSeen"),
        ({"id": 1, "lastSeen": []}, "$.lastSeen"),
        ({"id": 1, "location": "Kyiv"}, "$.location"),
        ({"id": 1, "location": {"regionCode": []}}, "$.location.regionCode"),
        ({"id": 1, "device": {"id": "x"}}, "$.device.id"),
        ({"id": 1, "device": {"userAgent": {}}}, "$.device.userAgent"),
        ({"id": 1, "tags": "vip"}, "$.tags"),
        ({"id": 1, "tags": [{"name": 5}]}, "$.tags"),
        ({"id": 1, "tags": [{"name": "a"}, 3]}, "$.tags"),
        ({"id": 1, "customData": "x"}, "$.customData"),
        ({"id": 1, "customData": {"a": [1]}}, "$.customData"),
        ({"id": 1, "customData": [{"value": 1}]}, "$.customData"),
    ],
)
def test_malformed_response_names_the_json_path(data: Any, path: str) -> None:
    with pytest.raises(ResponseShapeError) as info:
        customer_from_json(data)
    assert info.value.json_path == path
    if path != "$":
        assert path in str(info.value)
    assert not isinstance(info.value, KeyError | TypeError)


# --- properties -----------------------------------------------------------------------------------

_text = st.text(max_size=20)
_epoch = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100
_aware = st.builds(
    lambda ts, micros, minutes: (
        datetime.fromtimestamp(ts, UTC)
        .replace(microsecond=micros)
        .astimezone(timezone(timedelta(minutes=minutes)))
    ),
    _epoch,
    st.integers(0, 999_999),
    st.integers(-14 * 60, 14 * 60),
)
_timestamp = st.one_of(_epoch, _aware)
_name = st.text(min_size=1, max_size=10).filter(lambda s: s.strip() != "")
_tag = st.one_of(
    _name.map(lambda n: hc.Tag(name=n)),
    st.builds(lambda n, c: hc.Tag(name=n, color=c), _name, _name),
    _name,
)
_custom_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    _text,
    st.floats(allow_nan=False, allow_infinity=False),
    _aware,
)
_locale = st.sampled_from(["en", "uk", "de", "fr", "zh"])


def _field(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(hc.UNSET), st.none(), values)


_update_kwargs = st.fixed_dictionaries(
    {
        "name": _field(_text),
        "email": _field(_text),
        "user_id": _field(_text),
        "company": _field(_text),
        "phone": _field(_text),
        "first_seen": _field(_timestamp),
        "last_seen": _field(_timestamp),
        "unsubscribed": _field(st.booleans()),
        "blocked": _field(st.booleans()),
        "source": _field(_text),
        "referer": _field(_text),
        "last_page": _field(_text),
        "locale": _field(_locale),
        "notes": _field(_text),
        "tags": _field(st.lists(_tag, max_size=4)),
        "custom_data": _field(st.dictionaries(_name, _custom_value, max_size=5)),
    }
)


def _expected(field: str, value: Any) -> Any:
    """What the field should look like after the wire, in the independent reader's terms."""
    if value is None:
        return None
    if field in ("first_seen", "last_seen"):
        return math.floor(value.timestamp()) if isinstance(value, datetime) else value
    if field == "tags":
        return [
            (t, None) if isinstance(t, str) else (t.name, None if t.color is hc.UNSET else t.color)
            for t in value
        ]
    if field == "custom_data":
        return [
            (k, str(math.floor(v.timestamp())) if isinstance(v, datetime) else v)
            for k, v in value.items()
        ]
    return value


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c in string.ascii_uppercase else c for c in key)


def _read_back(wire: bytes) -> dict[str, Any]:
    """A tiny reader that shares no code with the SDK."""
    out: dict[str, Any] = {}
    for key, value in json.loads(wire).items():
        field = _snake(key)
        if value is None:
            out[field] = None
        elif field in ("first_seen", "last_seen"):
            assert isinstance(value, str)
            assert value.isdigit()
            out[field] = int(value)
        elif field == "tags":
            for tag in value:
                assert set(tag) <= {"name", "color"}
                if "color" in tag:
                    assert tag["color"] is not None
            out[field] = [(t["name"], t.get("color")) for t in value]
        elif field == "custom_data":
            for item in value:
                assert set(item) == {"property", "value"}
            out[field] = [(i["property"], i["value"]) for i in value]
        else:
            out[field] = value
    return out


@given(_update_kwargs)
def test_any_update_round_trips_through_json(kwargs: dict[str, Any]) -> None:
    update = hc.CustomerUpdate(**kwargs)
    read = _read_back(encode_json(update_to_json(update)))
    given_fields = {k: v for k, v in kwargs.items() if v is not hc.UNSET}
    assert set(read) == set(given_fields)
    for field, value in given_fields.items():
        assert read[field] == _expected(field, value), field


_opt = st.none
_customer = st.builds(
    hc.Customer,
    id=st.integers(1, 2**40),
    name=st.one_of(_opt(), _text),
    email=st.one_of(_opt(), _text),
    user_id=st.one_of(_opt(), _text),
    first_seen=st.one_of(_opt(), _epoch.map(lambda t: datetime.fromtimestamp(t, UTC))),
    last_seen=st.one_of(_opt(), _epoch.map(lambda t: datetime.fromtimestamp(t, UTC))),
    location=st.one_of(_opt(), st.builds(hc.Location, city=st.one_of(_opt(), _text))),
    device=st.one_of(
        _opt(),
        st.builds(
            hc.Device,
            id=st.one_of(_opt(), st.integers(1, 10**9)),
            user_agent=st.one_of(_opt(), _text),
        ),
    ),
    blocked=st.one_of(_opt(), st.booleans()),
    locale=st.one_of(_opt(), _locale),
    tags=st.lists(_tag.filter(lambda t: isinstance(t, hc.Tag)), max_size=3).map(tuple),
    custom_data=st.dictionaries(
        _name, st.one_of(st.none(), st.booleans(), _text, st.integers(-(2**53), 2**53)), max_size=4
    ),
)


@given(_customer)
def test_any_customer_round_trips_through_json(customer: hc.Customer) -> None:
    wire = json.loads(json.dumps(customer_to_json(customer)))
    assert customer_from_json(wire) == customer
