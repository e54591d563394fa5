"""The CPU fast paths give exactly what the general paths give (issue 6).

``customer_from_json`` takes a hand-written path for well-typed responses and falls back
to the cattrs converter for anything else; ``decode_json``/``encode_body`` use orjson
when it is installed and fall back to json where the two could differ.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from documented_names import RESPONSE_KEYS, WIRE_KEYS
from hypothesis import given
from hypothesis import strategies as st

import helpcrunch_async as hc
from helpcrunch_async import _convert, _json
from helpcrunch_async._convert import ResponseShapeError
from helpcrunch_async._fastpaths import customer_from_json
from helpcrunch_async._json import decode_json, encode_body, encode_json

# Maps every byte to a digit or "x": bodies dense with digit runs of every length.
_DIGITS_OR_X = bytes(0x30 + i % 10 if i % 3 else 0x78 for i in range(256))


def slow_customer(data: Any) -> hc.Customer:
    """customer_from_json without its fast path (the cattrs converter only)."""
    return _convert.customer_from_json(data)


def outcome(fn: Any, data: Any) -> Any:
    try:
        customer = fn(data)
    except ResponseShapeError as exc:
        return ("error", str(exc), exc.json_path)
    return ("ok", customer, customer.raw, type(customer.first_seen))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**40),
    st.text(max_size=5),
    st.sampled_from(["", " 17 ", "1603885746", "2020-10-28T11:49:06+02:00"]),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.sampled_from(["city", "countryCode", "id", "ip", "x"]), scalars, max_size=3),
)
keys = st.sampled_from([*RESPONSE_KEYS, "extra"])
BASE = {
    "id": 7,
    "name": "Ann",
    "email": None,
    "userId": "u7",
    "firstSeen": "1603885746",
    "lastSeen": 1603885746,
    "location": {"regionCode": None, "countryCode": "UA", "city": "Kyiv"},
    "device": {
        "id": 1,
        "ip": "192.0.2.1",
        "timezone": None,
        "platform": "desktop",
        "userAgent": "Mozilla/5.0",
    },
    "unsubscribed": False,
    "blocked": None,
    "locale": "en",
    "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "b", "color": None}],
    "customData": {"plan": "pro", "seats": 5, "ratio": 0.5, "on": True, "gone": None},
}


@given(st.dictionaries(keys, values, max_size=6))
def test_fast_customer_matches_the_converter(changes: dict[str, Any]) -> None:
    data = {**BASE, **changes}
    assert outcome(customer_from_json, data) == outcome(slow_customer, data)


@pytest.mark.parametrize(
    "data",
    [
        BASE,
        {"id": 1},
        {"id": 1, "customData": [{"property": "a", "value": 1}]},
        {"id": "12"},
        {"id": True},
        {"id": 1, "name": 5},
        {"id": 1, "tags": [{"color": "x"}]},
        {"id": 1, "location": []},
        {"id": 1, "device": {"id": "x"}},
        {"id": 1, "blocked": 1},
        {"id": 1, "customData": {"a": [1]}},
        {"id": 1, "firstSeen": "soon"},
        # the fast path's own shortcuts: null timestamps, empty tags (and falsy non-lists)
        {"id": 1, "firstSeen": None, "lastSeen": None, "tags": None},
        {"id": 1, "tags": []},
        {"id": 1, "tags": ""},
        {"id": 1, "tags": 0},
        {"id": 1, "tags": {}},
        {"id": 1, "tags": False},
        {"id": 1, "lastSeen": ""},
        {"id": 1, "firstSeen": 0},
    ],
)
def test_fast_customer_examples(data: dict[str, Any]) -> None:
    assert outcome(customer_from_json, data) == outcome(slow_customer, data)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1, "name": "x"}',
        b'{"a": 123456789012345678901234567890}',
        b"[NaN, Infinity]",
        b"\xef\xbb\xbf[1]",
        b"[18446744073709551615, -9223372036854775808]",
        b'"\\ud800"',
        b"[1e400]",
        b'{"a": 1, "a": 2}',
        '["é"]'.encode(),
    ],
)
def test_decode_json_is_json_loads(body: bytes) -> None:
    expected = json.loads(body)
    got = decode_json(body)
    assert repr(got) == repr(expected)  # repr: NaN != NaN, and int vs float shows


@given(st.binary(max_size=80).map(lambda b: b.translate(_DIGITS_OR_X)))
def test_long_digit_runs_are_found_by_the_sampled_check(body: bytes) -> None:
    # decode_json's pre-check looks at every 5th byte first; it must miss no run of 20.
    assert _json._has_long_digits(body) == bool(re.search(rb"[0-9]{20}", body))


@pytest.mark.parametrize("offset", range(5))
@pytest.mark.parametrize("digits", [19, 20, 21, 24, 25])
def test_decode_json_reads_long_integers_as_json_does(offset: int, digits: int) -> None:
    body = b'{"a": "' + b"x" * offset + b'", "n": ' + b"9" * digits + b', "t": "1603885746"}'
    assert repr(decode_json(body)) == repr(json.loads(body))
    assert _json._has_long_digits(body) == (digits >= 20)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"<html>"])
def test_decode_json_refuses_what_json_refuses(body: bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)):
        json.loads(body)
    with pytest.raises((ValueError, UnicodeDecodeError)):
        decode_json(body)


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "é\u2028x", "customData": [{"property": "p", "value": 1.5e-7}]},
        {"a": None},
        [{"customer": 1, "name": "x"}],
        {"a": 2**63},
        {"a": 2**70},
        {"t": "null"},
    ],
)
def test_encode_body_is_the_same_json(payload: Any) -> None:
    assert json.loads(encode_body(payload)) == json.loads(encode_json(payload))


@pytest.mark.parametrize("payload", [{"a": math.nan}, {"a": math.inf}, {1: 2}, {"a": "\ud800"}])
def test_encode_body_refuses_what_encode_json_refuses(payload: Any) -> None:
    try:
        expected: Any = encode_json(payload)
    except Exception as exc:
        expected = type(exc)
    try:
        got: Any = encode_body(payload)
    except Exception as exc:
        got = type(exc)
    assert got == expected


def test_a_well_typed_response_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = slow_customer(dict(BASE))

    def no_slow_path(data: Any) -> hc.Customer:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(_convert, "customer_from_json", no_slow_path)
    assert customer_from_json(dict(BASE)) == expected


def _via_record(fields: dict[str, Any]) -> Any:
    from helpcrunch_async._convert import update_to_json
    from helpcrunch_async._models import coerce_update

    try:
        return ("ok", list(update_to_json(coerce_update(None, fields)).items()))  # in order
    except hc.ValidationError as exc:
        return ("error", str(exc), exc.field)


def _via_keywords(fields: dict[str, Any]) -> Any:
    from helpcrunch_async._fastpaths import fields_to_json

    try:
        return ("ok", list(fields_to_json(fields).items()))
    except hc.ValidationError as exc:
        return ("error", str(exc), exc.field)


class _Str(str):
    pass


class _Dict(dict[Any, Any]):
    pass


_UTC = __import__("datetime").timezone.utc
# Text on the edges of fields_to_json's fast path (ASCII only, exact str, not blank).
_edge_text = st.sampled_from(["vip", "", " ", "\t", "é", "a\ud800", _Str("s"), _Str("en")])
_custom_values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=2),
    _edge_text,
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=1),
    st.datetimes(timezones=st.just(_UTC)),
)
_field_values = st.one_of(
    st.none(),
    st.just(hc.UNSET),
    st.booleans(),
    st.integers(-2, 2**40),
    st.text(max_size=3),
    st.sampled_from(["en", "uk", "EN", " ", "1603885746", "#fff"]),
    _edge_text,
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.sampled_from([None, _UTC])),
    st.lists(
        st.one_of(
            st.text(max_size=3), _edge_text, st.integers(), st.builds(hc.Tag, name=st.just("t"))
        ),
        max_size=2,
    ),
    st.lists(_edge_text, max_size=2).map(tuple),
    st.dictionaries(
        st.one_of(st.sampled_from(["plan", "", " ", "n", 1]), _edge_text),
        _custom_values,
        max_size=2,
    ),
    st.dictionaries(st.sampled_from(["plan", "n"]), _custom_values, max_size=2).map(_Dict),
)
_field_names = st.sampled_from([*WIRE_KEYS, "userId", "nmae"])  # and two no field is called


@given(st.dictionaries(_field_names, _field_values, max_size=5))
def test_keyword_fields_go_to_the_wire_exactly_as_through_the_record(
    fields: dict[str, Any],
) -> None:
    # update_customer(**fields) skips the CustomerUpdate record: same JSON object, and
    # the same ValidationError (message and field) for the same bad input.
    assert _via_keywords(fields) == _via_record(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\ud800"},
        {"name": "é"},
        {"name": _Str("x")},
        {"name": 5},
        {"locale": "EN"},
        {"locale": _Str("en")},
        {"blocked": 1},
        {"first_seen": -1},
        {"first_seen": True},
        {"last_seen": 2**70},
        {"custom_data": {}},
        {"custom_data": {" ": 1}},
        {"custom_data": {"": 1}},
        {"custom_data": {1: 1}},
        {"custom_data": {"a": math.nan}},
        {"custom_data": {"a": -math.inf}},
        {"custom_data": {"é": "\ud800"}},
        {"custom_data": {"a": [1]}},
        {"custom_data": _Dict(a=1)},
        {"custom_data": [("a", 1)]},
        {"tags": []},
        {"tags": ["", "x"]},
        {"tags": [" "]},
        {"tags": ["\ud800"]},
        {"tags": "vip"},
        {"tags": ["vip", hc.Tag(name="b", color="#fff")]},
        {"name": "ok", "tags": [5]},
        {"name": "a\ud800", "custom_data": {"a": math.nan}},
    ],
)
def test_keyword_fields_off_the_fast_path_are_checked_as_by_the_record(
    fields: dict[str, Any],
) -> None:
    assert _via_keywords(fields) == _via_record(fields)


def test_common_keyword_fields_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual values never reach the plain path, and give what the record gives.
    fields = {
        "name": "Ann",
        "email": None,
        "user_id": hc.UNSET,
        "blocked": False,
        "locale": "en",
        "last_seen": 1603885746,
        "tags": ["vip", "beta"],
        "custom_data": {"plan": "pro", "seats": 5, "ratio": 0.5, "gone": None, "on": True},
    }
    expected = _via_record(fields)

    def general(*_: Any) -> Any:
        raise AssertionError("took the general path")

    monkeypatch.setattr(_convert, "fields_to_json", general)
    assert _via_keywords(fields) == expected


def test_keyword_fields_errors_come_in_the_records_order() -> None:
    # Converters (tags, custom_data) run before validators, as in CustomerUpdate.__init__.
    bad = {"name": 5, "custom_data": {"a": math.nan}, "tags": [""]}
    assert _via_keywords(bad) == _via_record(bad)
    assert _via_keywords(bad)[2].startswith("tags")


def test_positional_builder_builds_what_keywords_build() -> None:
    import attrs

    from helpcrunch_async._fastpaths import positional_builder

    for cls in (hc.Customer, hc.Location, hc.Device):
        names = [a.name for a in attrs.fields(cls)]
        values = [object() for _ in names]  # distinct: a swapped pair would show
        built = positional_builder(cls)(*values)
        assert type(built) is cls
        assert [getattr(built, n) for n in names] == values
        assert built == cls(**dict(zip(names, values, strict=True)))


def test_positional_builder_refuses_a_record_that_checks_its_fields() -> None:
    from helpcrunch_async._fastpaths import positional_builder

    with pytest.raises(TypeError, match="checks its fields"):
        positional_builder(hc.CustomerUpdate)
