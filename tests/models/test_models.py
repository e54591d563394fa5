"""The records: attrs classes (frozen, slotted, keyword-only), UNSET defaults, input copies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import attrs
import pytest
from documented_names import RESPONSE_KEYS, WIRE_KEYS

import helpcrunch_async as hc

UPDATE_FIELDS = tuple(WIRE_KEYS)  # the documented writable fields, in the docs' order
# The record's fields: the documented response keys in their order, in snake case.
CUSTOMER_FIELDS = tuple(re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), k) for k in RESPONSE_KEYS)


def test_customer_update_has_exactly_the_writable_fields_of_the_seed() -> None:
    assert tuple(a.name for a in attrs.fields(hc.CustomerUpdate)) == UPDATE_FIELDS


def test_customer_has_the_documented_fields_plus_raw() -> None:
    names = tuple(a.name for a in attrs.fields(hc.Customer))
    assert names == (*CUSTOMER_FIELDS, "raw")
    assert tuple(a.name for a in attrs.fields(hc.Location)) == (
        "region_code",
        "country_code",
        "city",
    )
    assert tuple(a.name for a in attrs.fields(hc.Device)) == (
        "id",
        "ip",
        "timezone",
        "platform",
        "user_agent",
    )


def test_customer_update_defaults_to_unset_everywhere() -> None:
    update = hc.CustomerUpdate()
    for name in UPDATE_FIELDS:
        assert getattr(update, name) is hc.UNSET, name
    assert update.is_empty()


@pytest.mark.parametrize("field", UPDATE_FIELDS)
def test_one_field_set_to_none_is_not_empty(field: str) -> None:
    assert not hc.CustomerUpdate(**{field: None}).is_empty()


@pytest.mark.parametrize("cls", [hc.CustomerUpdate, hc.Customer, hc.Tag, hc.Location, hc.Device])
def test_models_are_frozen_slotted_keyword_only(cls: type) -> None:
    assert attrs.has(cls)
    assert "__slots__" in cls.__dict__
    kwargs = {"id": 1} if cls is hc.Customer else {"name": "vip"} if cls is hc.Tag else {}
    obj = cls(**kwargs)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        obj.name = "x"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        cls(1) if cls is not hc.Tag else cls("vip")  # type: ignore[call-arg]


def test_unset_is_falsy_singleton_with_short_repr() -> None:
    assert not hc.UNSET
    assert repr(hc.UNSET) == "UNSET"
    assert hc.UNSET is not None


def test_tag_color_defaults_to_unset() -> None:
    assert hc.Tag(name="vip").color is hc.UNSET
    assert hc.Tag(name="vip", color="#ff0000").color == "#ff0000"


def test_tags_accept_names_and_tags_and_store_a_tuple() -> None:
    update = hc.CustomerUpdate(tags=["beta", hc.Tag(name="vip", color="red")])
    assert update.tags == (hc.Tag(name="beta"), hc.Tag(name="vip", color="red"))


def test_custom_data_is_copied_so_later_edits_do_not_leak_in() -> None:
    data: dict[str, hc.CustomDataInput] = {"plan": "pro"}
    update = hc.CustomerUpdate(custom_data=data)
    data["plan"] = "free"
    data["extra"] = 1
    assert update.custom_data == {"plan": "pro"}


def test_customer_defaults() -> None:
    customer = hc.Customer(id=7)
    for name in CUSTOMER_FIELDS[1:]:
        if name == "tags":
            assert customer.tags == ()
        elif name == "custom_data":
            assert customer.custom_data == {}
        else:
            assert getattr(customer, name) is None, name


def test_aware_datetime_and_epoch_accepted_for_timestamps() -> None:
    when = datetime(2020, 10, 28, tzinfo=UTC)
    assert hc.CustomerUpdate(first_seen=when, last_seen=0).first_seen == when


def test_keyword_fields_typed_dict_matches_the_record() -> None:
    assert tuple(hc.CustomerFields.__annotations__) == UPDATE_FIELDS
