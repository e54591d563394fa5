"""The data sync's pure part: normalising a row and a customer and planning the difference."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async._customer_diff import (
    UNKNOWN,
    CustomerRecord,
    RecordBuilder,
    needs_full_customer,
    plan_create,
    plan_update,
    record_of,
    same_custom_value,
)
from helpcrunch_async._fastpaths import customer_from_json

TS = 1603885746
MOMENT = datetime.fromtimestamp(TS, UTC)


def full(**overrides: Any) -> dict[str, Any]:
    """A customer as the list endpoint answers it: every documented key present."""
    data: dict[str, Any] = {
        "id": 7,
        "name": "Ann",
        "email": "ann@example.com",
        "userId": "u7",
        "company": None,
        "phone": None,
        "firstSeen": str(TS),
        "lastSeen": str(TS),
        "location": None,
        "device": None,
        "unsubscribed": False,
        "blocked": False,
        "source": None,
        "referer": None,
        "lastPage": None,
        "locale": "en",
        "createdFrom": None,
        "integrationId": None,
        "notes": None,
        "tags": [{"name": "vip", "color": "#ff0000"}],
        "customData": {"plan": "pro"},
    }
    data.update(overrides)
    return data


def rec(**overrides: Any) -> CustomerRecord:
    return record_of(customer_from_json(full(**overrides)))


def plan(record: CustomerRecord, exact_tags: bool = False, **fields: Any) -> Any:
    return plan_update(hc.CustomerUpdate(**fields), record, exact_tags=exact_tags)


# --- unchanged rows send nothing --------------------------------------------------------


def test_identical_row_is_unchanged() -> None:
    p = plan(
        rec(),
        name="Ann",
        email="ann@example.com",
        user_id="u7",
        locale="en",
        unsubscribed=False,
        blocked=False,
        tags=["vip"],
        custom_data={"plan": "pro"},
    )
    assert p.unchanged
    assert p.patch is None
    assert not p.add_tags
    assert not p.remove_tags
    assert p.changed == ()


def test_row_naming_no_field_is_unchanged() -> None:
    assert plan(rec()).unchanged


@pytest.mark.parametrize("answer", [str(TS), TS, "2020-10-28T11:49:06Z"])
@pytest.mark.parametrize(
    "row",
    [
        TS,
        MOMENT,
        MOMENT.astimezone(timezone(timedelta(hours=3))),
        MOMENT + timedelta(microseconds=999_999),
    ],
)
def test_timestamps_compare_as_whole_seconds(answer: Any, row: Any) -> None:
    """String or integer from HelpCrunch, int or datetime (any zone, fractions) in the row."""
    assert plan(rec(firstSeen=answer), first_seen=row).unchanged


def test_a_different_second_is_a_change() -> None:
    p = plan(rec(), first_seen=TS + 1, last_seen=MOMENT)
    assert p.changed == ("first_seen",)
    assert p.diff["first_seen"] == (TS, TS + 1)
    assert p.patch == hc.CustomerUpdate(first_seen=TS + 1)


def test_phone_returned_as_a_number_equals_the_string() -> None:
    assert plan(rec(phone=380501234567), phone="380501234567").unchanged


# --- only differing fields are sent -----------------------------------------------------


def test_only_differing_fields_go_into_the_patch() -> None:
    p = plan(rec(), name="Anna", email="ann@example.com", locale="uk", blocked=False)
    assert p.action == "updated"
    assert p.patch == hc.CustomerUpdate(name="Anna", locale="uk")
    assert p.diff == {"name": ("Ann", "Anna"), "locale": ("en", "uk")}
    assert p.changed == ("name", "locale")


def test_bool_change() -> None:
    p = plan(rec(), unsubscribed=True)
    assert p.patch == hc.CustomerUpdate(unsubscribed=True)


# --- None means clear; missing means unknown --------------------------------------------


def test_none_equals_null() -> None:
    assert plan(rec(), company=None, phone=None, notes=None).unchanged


def test_none_clears_a_value() -> None:
    p = plan(rec(), name=None)
    assert p.patch == hc.CustomerUpdate(name=None)
    assert p.diff == {"name": ("Ann", None)}


def test_empty_string_is_not_none() -> None:
    assert plan(rec(), company="").patch == hc.CustomerUpdate(company="")
    assert plan(rec(company=""), company=None).patch == hc.CustomerUpdate(company=None)


def test_field_missing_from_the_answer_is_unknown_and_sent() -> None:
    data = full()
    del data["notes"], data["name"]
    record = record_of(customer_from_json(data))
    assert not record.is_known("notes")
    assert record.is_known("email")
    p = plan(record, notes=None, name="Ann", email="ann@example.com")
    assert p.patch == hc.CustomerUpdate(notes=None, name="Ann")
    assert p.diff == {"name": (UNKNOWN, "Ann"), "notes": (UNKNOWN, None)}


def test_a_customer_without_raw_is_all_unknown() -> None:
    record = record_of(hc.Customer(id=1, name="Ann"))
    assert plan(record, name="Ann").patch == hc.CustomerUpdate(name="Ann")


# --- custom data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ("5", 5),
        (5, "5"),
        (5, 5.0),
        (1.5, "1.5"),
        ("1.5", 1.5),
        (0, "0"),
        (-3, "-3"),
        (MOMENT, TS),
        (MOMENT, str(TS)),
        (MOMENT, "2020-10-28 11:49:06"),
        (str(TS), "2020-10-28 11:49:06"),
        ("2020-10-28 11:49:06", TS),
        (TS, "2020-10-28T11:49:06Z"),
        (None, None),
        (True, True),
        ("pro", "pro"),
    ],
)
def test_custom_values_that_are_the_same(new: Any, old: Any) -> None:
    assert same_custom_value(new, old)
    assert plan(rec(customData={"p": old}), custom_data={"p": new}).unchanged


@pytest.mark.parametrize(
    ("new", "old"),
    [
        (True, 1),
        (1, True),
        (False, 0),
        ("", None),
        (None, ""),
        ("007", 7),
        ("5", 6),
        ("pro", "Pro"),
        (MOMENT, TS + 1),
        ("1.50", 1.5),
        ("2020-10-28", TS),
        ("true", True),
    ],
)
def test_custom_values_that_differ(new: Any, old: Any) -> None:
    assert not same_custom_value(new, old)
    p = plan(rec(customData={"p": old, "other": "kept"}), custom_data={"p": new})
    assert p.changed == ("custom_data.p",)


def test_custom_data_patch_keeps_the_properties_the_row_does_not_name() -> None:
    record = rec(customData={"plan": "free", "seats": 3, "signup_date": TS})
    p = plan(record, custom_data={"plan": "pro", "seats": "3"})
    assert p.changed == ("custom_data.plan",)
    assert p.diff["custom_data.plan"] == ("free", "pro")
    # Merge or replace under PATCH is undocumented: the current properties go along.
    assert p.patch == hc.CustomerUpdate(
        custom_data={"plan": "pro", "seats": "3", "signup_date": TS}
    )


def test_custom_property_none_equals_an_absent_property() -> None:
    assert plan(rec(customData={"plan": "pro"}), custom_data={"gone": None}).unchanged


def test_custom_property_none_clears_it() -> None:
    p = plan(rec(customData={"plan": "pro", "x": 1}), custom_data={"plan": None})
    assert p.diff == {"custom_data.plan": ("pro", None)}
    assert p.patch == hc.CustomerUpdate(custom_data={"plan": None, "x": 1})


def test_custom_data_none_clears_everything_once() -> None:
    p = plan(rec(customData={"plan": "pro"}), custom_data=None)
    assert p.patch == hc.CustomerUpdate(custom_data=None)
    assert p.diff == {"custom_data": ({"plan": "pro"}, None)}
    assert plan(rec(customData={}), custom_data=None).unchanged
    assert plan(rec(customData=[]), custom_data=None).unchanged


def test_custom_data_list_form_is_compared_too() -> None:
    record = rec(customData=[{"property": "plan", "value": "pro"}])
    assert plan(record, custom_data={"plan": "pro"}).unchanged


def test_unknown_custom_data_is_sent_and_asks_for_the_full_customer() -> None:
    data = full()
    del data["customData"]
    record = record_of(customer_from_json(data))
    update = hc.CustomerUpdate(custom_data={"plan": "pro"})
    assert needs_full_customer(update, record)
    p = plan_update(update, record)
    assert p.diff == {"custom_data.plan": (UNKNOWN, "pro")}
    assert p.patch == update
    assert plan(record, custom_data=None).patch == hc.CustomerUpdate(custom_data=None)
    assert not needs_full_customer(hc.CustomerUpdate(custom_data=None), record)
    assert not needs_full_customer(hc.CustomerUpdate(name="x"), record)


def test_datetime_in_custom_data_shows_as_seconds_in_the_diff() -> None:
    p = plan(rec(customData={}), custom_data={"paid": MOMENT})
    assert p.diff == {"custom_data.paid": (None, TS)}


# --- tags -------------------------------------------------------------------------------


def test_missing_tags_are_added_others_left_alone() -> None:
    record = rec(tags=[{"name": "vip", "color": "#f00"}, {"name": "old", "color": "#000"}])
    p = plan(record, tags=["vip", "beta"])
    assert p.patch is None
    assert p.add_tags == (hc.Tag(name="beta"),)
    assert p.remove_tags == ()
    assert p.diff == {"tags": (("vip", "old"), ("vip", "old", "beta"))}


def test_present_tags_are_unchanged() -> None:
    assert plan(rec(), tags=["vip"]).unchanged
    assert plan(rec(), tags=[hc.Tag(name="vip", color="#ff0000")]).unchanged
    assert plan(rec(), tags=[]).unchanged


def test_a_tag_with_another_colour_is_sent_again() -> None:
    p = plan(rec(), tags=[hc.Tag(name="vip", color="#00ff00")])
    assert p.add_tags == (hc.Tag(name="vip", color="#00ff00"),)


def test_exact_tags_removes_the_others() -> None:
    record = rec(tags=[{"name": "vip", "color": "#f00"}, {"name": "old", "color": "#000"}])
    p = plan(record, exact_tags=True, tags=["vip", "new", "new"])
    assert p.add_tags == (hc.Tag(name="new"),)
    assert p.remove_tags == ("old",)
    assert p.diff == {"tags": (("vip", "old"), ("vip", "new"))}
    assert plan(record, exact_tags=True, tags=["old", "vip"]).unchanged
    assert plan(record, exact_tags=True, name="Ann").unchanged  # tags not named: left alone


def test_tags_none_removes_every_tag() -> None:
    p = plan(rec(), tags=None)
    assert p.remove_tags == ("vip",)
    assert p.add_tags == ()
    assert p.patch is None
    assert plan(rec(tags=[]), tags=None).unchanged


def test_unknown_tags() -> None:
    data = full()
    del data["tags"]
    record = record_of(customer_from_json(data))
    assert plan(record, tags=["vip"]).add_tags == (hc.Tag(name="vip"),)  # sent: unknown
    assert not needs_full_customer(hc.CustomerUpdate(tags=["vip"]), record)
    assert needs_full_customer(hc.CustomerUpdate(tags=["vip"]), record, exact_tags=True)
    assert needs_full_customer(hc.CustomerUpdate(tags=None), record)
    with pytest.raises(hc.HelpCrunchError, match="tags to remove are unknown"):
        plan(record, exact_tags=True, tags=["vip"])


# --- creates ----------------------------------------------------------------------------


def test_plan_create_posts_the_whole_row() -> None:
    update = hc.CustomerUpdate(
        user_id="u9",
        name="Bo",
        phone=None,
        tags=["a", "b"],
        custom_data={"plan": "pro", "x": None},
        last_seen=MOMENT,
    )
    p = plan_create(update)
    assert p.action == "created"
    assert p.patch is update
    assert p.diff == {
        "user_id": (None, "u9"),
        "name": (None, "Bo"),
        "last_seen": (None, TS),
        "custom_data.plan": (None, "pro"),
        "tags": ((), ("a", "b")),
    }


# --- the compact record -----------------------------------------------------------------


def test_record_is_compact_and_shares_equal_tags() -> None:
    builder = RecordBuilder()
    a = builder.record(customer_from_json(full(id=1)))
    b = builder.record(customer_from_json(full(id=2)))
    assert type(a) is CustomerRecord
    assert not hasattr(a, "__dict__")
    assert a.tags is b.tags
    assert a.locale is b.locale
    assert a.first_seen == TS
    assert a.custom_data == (("plan", "pro"),)
    assert a.unknown == 0
    assert sys.getsizeof(a) < 250  # a tuple of the compared fields, not the JSON


def test_records_of_a_thousand_customers_stay_small() -> None:
    """The map the sync keeps: a few hundred bytes per customer, not the JSON (~1.2 KB)."""
    import tracemalloc

    from helpcrunch_async.testing._store import CustomerStore

    store = CustomerStore()
    store.seed(1000)
    customers = [customer_from_json(c) for c in store.customers.values()]
    builder = RecordBuilder()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = {}
        for customer in customers:
            record = builder.record(customer)
            index[record.user_id] = record
        per_customer = (tracemalloc.get_traced_memory()[0] - before) / len(customers)
    finally:
        tracemalloc.stop()
    assert len(index) == 1000
    assert per_customer < 450


def test_digit_strings_over_pythons_int_limit_compare_as_text() -> None:
    long = "1" * 5000  # int() refuses it (ValueError): the whole sync crashed on it
    assert same_custom_value(long, long)
    assert not same_custom_value("2", long)
    assert not same_custom_value(long, 1)
