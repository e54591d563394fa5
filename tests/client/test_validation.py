"""Bad input is refused with a ValidationError naming the field, before any request."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async._validation import check_customer_id

URL_RE = r"https://api\.helpcrunch\.com/v1/customers/.*"


async def _assert_refused(
    mock_api: Any, call: Callable[[], Awaitable[Any]], field: str | None
) -> hc.ValidationError:
    """``call`` raises ValidationError naming ``field`` and nothing reaches the network."""
    import re

    mock_api.patch(re.compile(URL_RE), payload={"id": 1}, repeat=True)
    mock_api.put(re.compile(URL_RE), payload={"id": 1}, repeat=True)
    with pytest.raises(hc.ValidationError) as info:
        await call()
    assert mock_api.requests == {}
    if field is not None:
        assert info.value.field == field
    assert isinstance(info.value, hc.HelpCrunchError)
    assert isinstance(info.value, ValueError)
    return info.value


# --- customer_id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"), [(5, 5), ("5", 5), (1568834, 1568834), ("0042", 42), (2**40, 2**40)]
)
def test_customer_id_accepts_positive_ints_and_digit_strings(given: Any, expected: int) -> None:
    assert check_customer_id(given) == expected


class _Id(int):
    pass


@pytest.mark.parametrize("given", [1, 2**63, 2**70, 0, -1, True, False, _Id(5), _Id(0)])
def test_customer_id_fast_path_agrees_with_the_general_checks(given: Any) -> None:
    # check_customer_id passes an exact positive int straight through; every other int
    # (bools, subclasses, 0 and below) takes the general checks.
    expected_ok = not isinstance(given, bool) and given > 0
    if expected_ok:
        assert check_customer_id(given) == given
    else:
        with pytest.raises(hc.ValidationError, match="customer_id must be a positive integer"):
            check_customer_id(given)


BAD_IDS = [
    True,
    False,
    1.5,
    5.0,
    -1,
    0,
    "0",
    "12/../34",
    "abc",
    "",
    " 5",
    "5\n",
    "-5",
    "+5",
    "1e3",
    "٥",
    None,
    b"5",
    [5],
]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_customer_id_is_refused_before_any_request(
    mock_api: Any, client: hc.AsyncHelpCrunch, bad: Any
) -> None:
    err = await _assert_refused(
        mock_api, lambda: client.update_customer(bad, name="x"), "customer_id"
    )
    assert "customer_id" in str(err)
    await _assert_refused(
        mock_api, lambda: client.replace_customer(bad, hc.CustomerUpdate(name="x")), "customer_id"
    )
    await _assert_refused(mock_api, lambda: client.get_customer(bad), "customer_id")


# --- field types -------------------------------------------------------------------------------

BAD_FIELDS = [
    ("blocked", "yes"),
    ("blocked", 1),
    ("unsubscribed", "false"),
    ("name", 5),
    ("email", b"[email protected]"),
    ("user_id", 123),
    ("notes", ["x"]),
    ("locale", "english"),
    ("locale", "EN?"),
    ("locale", "EN"),
    ("locale", "en-US"),
    ("locale", ""),
    ("locale", 5),
    ("tags", "vip"),
    ("tags", [""]),
    ("tags", ["   "]),
    ("tags", [5]),
    ("custom_data", [("a", 1)]),
    ("custom_data", {"a": [1, 2]}),
    ("custom_data", {"a": {"b": 1}}),
    ("custom_data", {"a": math.nan}),
    ("custom_data", {"a": math.inf}),
    ("custom_data", {"a": datetime(2020, 1, 1)}),
    ("custom_data", {5: "x"}),
    ("custom_data", {"": "x"}),
    ("custom_data", {"  ": "x"}),
    ("first_seen", datetime(2020, 1, 1)),
    ("last_seen", "1603885746"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_field_value_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.CustomerUpdate(**{field: value})
    assert info.value.field is not None
    assert info.value.field.startswith(field)
    assert field in str(info.value)


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
async def test_bad_keyword_field_is_refused_before_any_request(
    mock_api: Any, client: hc.AsyncHelpCrunch, field: str, value: Any
) -> None:
    err = await _assert_refused(mock_api, lambda: client.update_customer(5, **{field: value}), None)
    assert err.field is not None
    assert err.field.startswith(field)


def test_blocked_yes_message_is_clear() -> None:
    with pytest.raises(hc.ValidationError, match=r"blocked must be a bool.*'yes'") as info:
        hc.CustomerUpdate(blocked="yes")  # type: ignore[arg-type]
    assert info.value.field == "blocked"


def test_empty_tag_name_is_refused() -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.Tag(name="")
    assert "name" in (info.value.field or "")
    with pytest.raises(hc.ValidationError):
        hc.Tag(name="vip", color="")


@pytest.mark.parametrize("locale", ["en", "uk", "de", "zh"])
def test_valid_locales_pass(locale: str) -> None:
    assert hc.CustomerUpdate(locale=locale).locale == locale


# --- keyword names and the shape of the call ------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [
        ("userId", "user_id"),
        ("nmae", "name"),
        ("lastSeen", "last_seen"),
        ("customData", "custom_data"),
    ],
)
async def test_unknown_keyword_is_refused_with_a_suggestion(
    mock_api: Any, client: hc.AsyncHelpCrunch, keyword: str, suggestion: str
) -> None:
    err = await _assert_refused(
        mock_api,
        lambda: client.update_customer(5, **{keyword: "x"}),  # type: ignore[arg-type]
        keyword,
    )
    assert f"did you mean {suggestion!r}" in str(err)


async def test_unknown_keyword_without_close_match_lists_the_fields(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    err = await _assert_refused(
        mock_api,
        lambda: client.update_customer(5, favourite_colour="x"),  # type: ignore[call-arg]
        "favourite_colour",
    )
    assert "user_id" in str(err)


async def test_record_and_keywords_together_are_refused(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    await _assert_refused(
        mock_api,
        lambda: client.update_customer(5, hc.CustomerUpdate(name="a"), email="b"),
        "update",
    )


async def test_empty_update_is_refused(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    err = await _assert_refused(mock_api, lambda: client.update_customer(5), "update")
    assert "nothing to update" in str(err)
    await _assert_refused(
        mock_api, lambda: client.update_customer(5, hc.CustomerUpdate()), "update"
    )
    await _assert_refused(mock_api, lambda: client.update_customer(5, name=hc.UNSET), "update")


async def test_replace_with_empty_record_is_refused(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    err = await _assert_refused(
        mock_api, lambda: client.replace_customer(5, hc.CustomerUpdate()), "update"
    )
    assert "null" in str(err)


async def test_replace_requires_a_record(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    await _assert_refused(
        mock_api,
        lambda: client.replace_customer(5, {"name": "x"}),  # type: ignore[arg-type]
        "update",
    )


async def test_update_of_wrong_type_is_refused(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    await _assert_refused(
        mock_api,
        lambda: client.update_customer(5, "name=x"),  # type: ignore[arg-type]
        "update",
    )


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
async def test_bad_per_call_max_retries_is_refused(
    mock_api: Any, client: hc.AsyncHelpCrunch, bad: Any
) -> None:
    await _assert_refused(
        mock_api, lambda: client.update_customer(5, name="x", max_retries=bad), "max_retries"
    )


@pytest.mark.parametrize("bad", [0, -1, "5", True])
async def test_bad_per_call_timeout_is_refused(
    mock_api: Any, client: hc.AsyncHelpCrunch, bad: Any
) -> None:
    await _assert_refused(
        mock_api, lambda: client.update_customer(5, name="x", timeout=bad), "timeout"
    )


def test_datetime_before_1970_is_rejected_like_a_negative_int() -> None:
    from datetime import UTC, datetime

    with pytest.raises(hc.ValidationError) as info:
        hc.CustomerUpdate(first_seen=datetime(1969, 12, 31, tzinfo=UTC))
    assert info.value.field == "first_seen"
    with pytest.raises(hc.ValidationError):
        hc.CustomerUpdate(last_seen=-1)
