"""``Filter``: one condition of a customer search (``POST /customers/search``).

HelpCrunch's "Search for customers" page documents which fields can be searched, the
type of each, and the operators; a filter that does not fit is refused here, with a
:class:`~helpcrunch_async.ValidationError` naming the culprit, before any request:

=====================  ===========================  ====================  ==============
Python name            API name                     value                 operators
=====================  ===========================  ====================  ==============
``id``                 ``customers.id``             ``int``               = != > >=
``name``, ``email``,   ``customers.name``, ...      ``str``               = != ~
``user_id``,
``company``, ``phone``,
``country_code``,
``region_code``,
``city``, messenger
ids (``telegram_id``,
``facebook_id``,
``instagram_id``,
``viber_id``,
``whatsapp_id``)
``last_seen``          ``customers.lastSeen``       aware ``datetime``    = != > >=
                                                    or epoch seconds
``tags``               ``customers.tagsData``       tag names / ``Tag``s  =
=====================  ===========================  ====================  ==============

``~`` is "contains". ``!=`` is documented for every type but arrays (so not ``tags``);
``>`` and ``>=`` appear in the docs' examples on numbers and dates only. One ``tags``
filter matches customers holding *all* the listed tags (for "any of", give one filter
per tag and ``match="any"``); tags go out as ``[{"name": ...}]`` (a colour is never sent).

Not documented, so chosen here: ``last_seen`` goes out as an integer of whole epoch
seconds (the docs call it a "UNIX timestamp" without showing its JSON type).

Example:
    >>> import helpcrunch_async as hc
    >>> hc.Filter("email", "~", "@gmail.com").to_json()
    {'field': 'customers.email', 'operator': '~', 'value': '@gmail.com'}
    >>> hc.Filter("customers.tagsData", "=", ["vip", hc.Tag(name="paid")]).to_json()
    {'field': 'customers.tagsData', 'operator': '=', 'value': [{'name': 'vip'}, {'name': 'paid'}]}
    >>> hc.Filter("tags", "~", ["vip"])
    Traceback (most recent call last):
    ...
    helpcrunch_async._exceptions.ValidationError: operator '~' is not documented for \
field 'tags' (allowed: =)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import attrs

from ._exceptions import ValidationError
from ._models import _to_tags
from ._validation import _check_timestamp, check_text

__all__ = ["FIELDS", "Filter", "FilterOperator"]

FilterOperator = Literal["=", "!=", "~", ">", ">="]

_STR_OPS = ("=", "!=", "~")
_ORDERED_OPS = ("=", "!=", ">", ">=")
_KINDS: dict[str, tuple[str, ...]] = {
    "str": _STR_OPS,
    "int": _ORDERED_OPS,
    "date": _ORDERED_OPS,
    "tags": ("=",),
}

#: Python name -> (API name, kind), for every documented searchable field.
FIELDS: dict[str, tuple[str, str]] = {
    "id": ("customers.id", "int"),
    "name": ("customers.name", "str"),
    "email": ("customers.email", "str"),
    "user_id": ("customers.userId", "str"),
    "company": ("customers.company", "str"),
    "phone": ("customers.phone", "str"),
    "country_code": ("customers.countryCode", "str"),
    "region_code": ("customers.regionCode", "str"),
    "city": ("customers.city", "str"),
    "last_seen": ("customers.lastSeen", "date"),
    "tags": ("customers.tagsData", "tags"),
    "telegram_id": ("customers.telegramId", "str"),
    "facebook_id": ("customers.facebookId", "str"),
    "instagram_id": ("customers.instagramId", "str"),
    "viber_id": ("customers.viberId", "str"),
    "whatsapp_id": ("customers.whatsappId", "str"),
}
_BY_API_NAME = {api: name for name, (api, _) in FIELDS.items()}


def _field_name(value: object) -> str:
    if isinstance(value, str):
        if value in FIELDS:
            return value
        if value in _BY_API_NAME:
            return _BY_API_NAME[value]
    raise ValidationError(
        f"filter field must be a documented searchable field ({', '.join(FIELDS)}, or "
        f"their API names such as 'customers.email'), got {value!r}",
        field="filter.field",
    )


@attrs.frozen
class Filter:
    """One search condition: ``Filter(field, operator, value)``.

    ``field`` is stored as its Python name (``"customers.userId"`` becomes
    ``"user_id"``); ``value`` as given, except tags (a tuple of :class:`Tag`).
    See the module docstring for the fields, their value types and operators.

    Example:
        >>> from datetime import datetime, timezone
        >>> Filter("customers.lastSeen", ">=", datetime(2024, 1, 1, tzinfo=timezone.utc))
        Filter(field='last_seen', operator='>=', value=datetime.datetime(2024, 1, 1, \
0, 0, tzinfo=datetime.timezone.utc))
        >>> Filter("id", "=", "7")
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: filter value for 'id' must be an \
int >= 0, got str '7'
    """

    field: str = attrs.field(converter=_field_name)
    operator: FilterOperator
    value: Any

    def __attrs_post_init__(self) -> None:
        kind = FIELDS[self.field][1]
        allowed = _KINDS[kind]
        if not isinstance(self.operator, str) or self.operator not in allowed:
            raise ValidationError(
                f"operator {self.operator!r} is not documented for field {self.field!r} "
                f"(allowed: {' '.join(allowed)})",
                field="filter.operator",
            )
        object.__setattr__(self, "value", _check_value(self.field, kind, self.value))

    def to_json(self) -> dict[str, Any]:
        """The filter as the search body's ``{"field", "operator", "value"}``."""
        api_name, kind = FIELDS[self.field]
        value = self.value
        if kind == "tags":
            value = [{"name": tag.name} for tag in value]
        elif kind == "date" and isinstance(value, datetime):
            value = math.floor(value.timestamp())
        return {"field": api_name, "operator": self.operator, "value": value}


def _check_value(field: str, kind: str, value: object) -> object:
    where = f"filter value for {field!r}"
    if kind == "str":
        if isinstance(value, str):
            check_text("filter.value", value)
            return value
        expected = "a str"
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        expected = "an int >= 0"
    elif kind == "date":
        try:
            return _check_timestamp(where, value)
        except ValidationError as exc:
            raise ValidationError(str(exc), field="filter.value") from None
    else:  # tags
        tags = _to_tags(value) if not isinstance(value, str) else None  # type: ignore[arg-type]
        if tags:
            return tags
        expected = "a non-empty list of tag names or Tag objects"
    raise ValidationError(
        f"{where} must be {expected}, got {type(value).__name__} {value!r}", field="filter.value"
    )
