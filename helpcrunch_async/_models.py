"""The records the SDK speaks in: what you send (``CustomerUpdate``) and get back (``Customer``).

All are ``attrs`` classes: frozen, slotted, keyword-only. Field names are
snake_case; :mod:`helpcrunch_async._convert` maps them to the API's camelCase.

Example:
    >>> import helpcrunch_async as hc
    >>> from datetime import datetime, timezone
    >>> update = hc.CustomerUpdate(
    ...     name="John Doe",
    ...     phone=None,                                   # clear the phone number
    ...     last_seen=datetime(2020, 10, 28, tzinfo=timezone.utc),
    ...     tags=[hc.Tag(name="vip", color="#ff0000"), "beta"],
    ...     custom_data={"plan": "pro", "seats": 5},
    ... )
    >>> update.email is hc.UNSET                          # not sent at all
    True
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

import attrs

from . import _validation as _v
from ._exceptions import ValidationError
from ._types import UNSET, CustomDataInput, CustomDataValue, Timestamp, Unset

__all__ = ["Customer", "CustomerFields", "CustomerUpdate", "Device", "Location", "Tag"]


@attrs.frozen(kw_only=True)
class Tag:
    """A customer tag. Without ``color``, none is sent and the server keeps or picks one.

    HelpCrunch creates unknown tags on the fly and colours a new one ``#c377e0`` when no
    colour is given. The SDK never sends a default colour itself: that would recolour an
    existing tag.

    Example:
        >>> Tag(name="vip")
        Tag(name='vip', color=UNSET)
        >>> Tag(name="vip", color="#ff0000").color
        '#ff0000'
    """

    name: str = attrs.field(validator=_v.tag_name)
    color: str | Unset = attrs.field(default=UNSET, validator=_v.tag_color)


@attrs.frozen(kw_only=True)
class Location:
    """Where HelpCrunch last saw the customer (read-only).

    Example:
        >>> Location(country_code="UA", city="Kyiv").city
        'Kyiv'
    """

    region_code: str | None = None
    country_code: str | None = None
    city: str | None = None


@attrs.frozen(kw_only=True)
class Device:
    """The customer's last device (read-only).

    Example:
        >>> Device(platform="web", timezone="Europe/Kyiv").platform
        'web'
    """

    id: int | None = None
    ip: str | None = None
    timezone: str | None = None
    platform: str | None = None
    user_agent: str | None = None


def _to_tags(value: Sequence[Tag | str] | None | Unset) -> tuple[Tag, ...] | None | Unset:
    """Accept ``Tag`` objects or plain names; store an immutable tuple.

    A ``Tag`` is checked again for text UTF-8 cannot carry: one built from a response
    (a ``"\\ud800"`` escape decodes to a lone surrogate) skipped the input checks.
    """
    if value is UNSET or value is None:
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _v.fail_tags(value)
    tags: list[Tag] = []
    for i, item in enumerate(value):
        if isinstance(item, Tag):
            name, color = item.name, item.color
            if not name.isascii():
                _v.check_text(f"tags[{i}].name", name)
            if isinstance(color, str) and not color.isascii():
                _v.check_text(f"tags[{i}].color", color)
            tags.append(item)
        elif isinstance(item, str):
            try:
                tags.append(Tag(name=item))
            except ValidationError as exc:
                raise ValidationError(f"tags[{i}]: {exc}", field=f"tags[{i}].name") from None
        else:
            raise _v.fail_tag_item(i, item)
    return tuple(tags)


def _str_field() -> Any:
    return attrs.field(default=UNSET, validator=_v.optional_str)


def _bool_field() -> Any:
    return attrs.field(default=UNSET, validator=_v.optional_bool)


def _timestamp_field() -> Any:
    return attrs.field(default=UNSET, validator=_v.optional_timestamp)


@attrs.frozen(kw_only=True)
class CustomerUpdate:
    """The writable fields of a customer; every one defaults to :data:`UNSET` (not sent).

    ``None`` clears a field (sent as JSON ``null``). Values are checked here, when the
    record is built, so bad input never reaches the network: a wrong type, a naive
    ``datetime``, a ``locale`` that is not an ISO 639-1 code, an empty tag name or a
    ``custom_data`` key or value the API cannot take raises
    :class:`~helpcrunch_async.ValidationError` naming the field.

    ``first_seen``/``last_seen`` take an aware ``datetime`` or epoch seconds and are sent
    as a string of whole seconds, as the API requires. ``tags`` takes :class:`Tag`
    objects or plain names. ``custom_data`` properties must already exist in HelpCrunch
    (Settings → Contacts → Custom attributes); what the API does with an unregistered one
    is not documented. Whether ``tags``/``custom_data`` in an update replace or merge
    with what the customer has is not documented either; use the tag endpoints to add or
    remove single tags.

    Example:
        >>> CustomerUpdate(name="Ann", email=None).email is None
        True
        >>> CustomerUpdate(blocked="yes")
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: blocked must be a bool, None (to \
clear) or UNSET, got str 'yes'
    """

    name: str | None | Unset = _str_field()
    email: str | None | Unset = _str_field()
    user_id: str | None | Unset = _str_field()
    company: str | None | Unset = _str_field()
    phone: str | None | Unset = _str_field()
    first_seen: Timestamp | None | Unset = _timestamp_field()
    last_seen: Timestamp | None | Unset = _timestamp_field()
    unsubscribed: bool | None | Unset = _bool_field()
    blocked: bool | None | Unset = _bool_field()
    source: str | None | Unset = _str_field()
    referer: str | None | Unset = _str_field()
    last_page: str | None | Unset = _str_field()
    locale: str | None | Unset = attrs.field(default=UNSET, validator=_v.optional_locale)
    notes: str | None | Unset = _str_field()
    tags: tuple[Tag, ...] | None | Unset = attrs.field(default=UNSET, converter=_to_tags)
    custom_data: Mapping[str, CustomDataInput] | None | Unset = attrs.field(
        default=UNSET, converter=_v.to_custom_data
    )

    def is_empty(self) -> bool:
        """True when every field is :data:`UNSET`, so there is nothing to send."""
        for value in _update_values(self):  # noqa: SIM110 - a loop exits at the first set field
            if value is not UNSET:
                return False
        return True


_UPDATE_FIELDS = attrs.fields(CustomerUpdate)
_UPDATE_NAMES = frozenset(a.name for a in _UPDATE_FIELDS)
_update_values = operator.attrgetter(*(a.name for a in _UPDATE_FIELDS))


class CustomerFields(TypedDict, total=False):
    """The keyword fields of ``update_customer(...)``: the same as :class:`CustomerUpdate`.

    Example:
        >>> fields: CustomerFields = {"name": "Ann", "email": None}
        >>> CustomerUpdate(**fields).email is None
        True
    """

    name: str | None | Unset
    email: str | None | Unset
    user_id: str | None | Unset
    company: str | None | Unset
    phone: str | None | Unset
    first_seen: Timestamp | None | Unset
    last_seen: Timestamp | None | Unset
    unsubscribed: bool | None | Unset
    blocked: bool | None | Unset
    source: str | None | Unset
    referer: str | None | Unset
    last_page: str | None | Unset
    locale: str | None | Unset
    notes: str | None | Unset
    tags: Sequence[Tag | str] | None | Unset
    custom_data: Mapping[str, CustomDataInput] | None | Unset


def coerce_update(update: object, fields: Mapping[str, Any]) -> CustomerUpdate:
    """One :class:`CustomerUpdate` from either a record/mapping or keyword fields.

    Unknown field names (``userId`` for ``user_id``, typos) are a
    :class:`ValidationError` naming the field, with a suggestion.
    """
    if update is not None and fields:
        raise ValidationError(
            "give either a CustomerUpdate or keyword fields, not both", field="update"
        )
    if isinstance(update, CustomerUpdate):
        return update
    if update is None:
        update = fields
    if not isinstance(update, Mapping):
        raise ValidationError(
            f"update must be a CustomerUpdate or a mapping of fields, got {type(update).__name__}",
            field="update",
        )
    check_field_names(update)
    return CustomerUpdate(**update)


def check_field_names(fields: Mapping[str, Any]) -> None:
    """Refuse a name that is not a :class:`CustomerUpdate` field, suggesting the right one.

    Example:
        >>> check_field_names({"userId": "u1"})
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: unknown customer field 'userId'; \
did you mean 'user_id'? (writable fields: name, email, user_id, company, phone, \
first_seen, last_seen, unsubscribed, blocked, source, referer, last_page, locale, notes, \
tags, custom_data)
    """
    if _UPDATE_NAMES.issuperset(fields):
        return
    for key in fields:
        if key not in _UPDATE_NAMES:
            hint = difflib.get_close_matches(_snake(str(key)), _UPDATE_NAMES, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValidationError(
                f"unknown customer field {key!r}{suggestion} "
                f"(writable fields: {', '.join(a.name for a in _UPDATE_FIELDS)})",
                field=str(key),
            )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@attrs.frozen(kw_only=True)
class Customer:
    """A customer as HelpCrunch returns it.

    Fields the response leaves out are ``None`` (``tags`` empty, ``custom_data``
    empty). Keys the SDK does not know are ignored but kept in ``raw``, the response
    object exactly as parsed from JSON. Timestamps are aware UTC ``datetime``s.

    Example:
        >>> c = Customer(id=1568834, name="John Doe")
        >>> c.email is None, c.tags
        (True, ())
    """

    id: int
    name: str | None = None
    email: str | None = None
    user_id: str | None = None
    company: str | None = None
    phone: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    location: Location | None = None
    device: Device | None = None
    unsubscribed: bool | None = None
    blocked: bool | None = None
    source: str | None = None
    referer: str | None = None
    last_page: str | None = None
    locale: str | None = None
    created_from: str | None = None
    integration_id: str | None = None
    notes: str | None = None
    tags: tuple[Tag, ...] = ()
    custom_data: Mapping[str, CustomDataValue] = attrs.field(factory=dict)
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
