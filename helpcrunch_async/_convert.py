"""The wire format: ``cattrs`` hooks between the records and HelpCrunch's JSON.

Writing (``CustomerUpdate`` → JSON object):
    * snake_case fields become camelCase keys; :data:`UNSET` fields are left out and
      ``None`` goes out as ``null``;
    * ``first_seen``/``last_seen`` and ``datetime`` custom-data values become a string of
      whole epoch seconds (``"1603885746"``), as the docs require;
    * ``custom_data`` becomes ``[{"property": k, "value": v}, ...]``;
    * a :class:`Tag` without a colour is sent without ``"color"``.

Reading (JSON object → ``Customer``):
    * unknown keys are ignored (and kept in ``Customer.raw``); missing keys become ``None``;
    * timestamps may be strings or integers; they become aware UTC ``datetime``s;
    * ``customData`` may be an object or the list form;
    * a body that does not fit raises
      :class:`~helpcrunch_async.APIResponseValidationError` naming the JSON path.

Example:
    >>> import helpcrunch_async as hc
    >>> from helpcrunch_async._convert import update_to_json
    >>> update_to_json(hc.CustomerUpdate(user_id="u1", phone=None, first_seen=1603885746))
    {'userId': 'u1', 'phone': None, 'firstSeen': '1603885746'}

These are the plain paths, the reference: :mod:`~helpcrunch_async._fastpaths` holds the
hand-inlined versions the client calls, each tested equal to the one here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from ._models import Customer, CustomerUpdate, Device, Location, Tag, coerce_update
from ._types import UNSET, CustomDataInput, CustomDataValue, Timestamp

__all__ = [
    "FIELD_OF_KEY",
    "WIRE_KEYS",
    "ResponseShapeError",
    "custom_data_in",
    "customer_from_json",
    "datetime_in",
    "tags_in",
    "timestamp_out",
    "fields_to_json",
    "tags_to_json",
    "update_to_json",
]

WIRE_KEYS: dict[str, str] = {
    "user_id": "userId",
    "first_seen": "firstSeen",
    "last_seen": "lastSeen",
    "last_page": "lastPage",
    "custom_data": "customData",
    "created_from": "createdFrom",
    "integration_id": "integrationId",
    "region_code": "regionCode",
    "country_code": "countryCode",
    "user_agent": "userAgent",
}
"""The one table of field names that differ on the wire (snake_case → camelCase), for
every record: ``CustomerUpdate`` and ``Customer`` (with ``Location``, ``Device``).
Every other field is sent and read under its own name."""

FIELD_OF_KEY: dict[str, str] = {key: field for field, key in WIRE_KEYS.items()}
""":data:`WIRE_KEYS` the other way: wire key → field name."""

# --- writing ---------------------------------------------------------------------------


def timestamp_out(value: Timestamp | None) -> str | None:
    """A timestamp as the docs require it: a string of whole epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return str(math.floor(value.timestamp()))
    return str(value)


def _tag_out(tag: Tag) -> dict[str, str]:
    if tag.color is UNSET:
        return {"name": tag.name}
    return {"name": tag.name, "color": tag.color}


def tags_to_json(tags: tuple[Tag, ...]) -> list[dict[str, str]]:
    """``[{"name", "color"?}, ...]``: a tag without a colour is sent without ``"color"``."""
    return [_tag_out(t) for t in tags]


def _tags_out(tags: tuple[Tag, ...] | None) -> list[dict[str, str]] | None:
    return None if tags is None else tags_to_json(tags)


def _custom_data_out(
    data: Mapping[str, CustomDataInput] | None,
) -> list[dict[str, CustomDataValue]] | None:
    if data is None:
        return None
    return [
        {"property": k, "value": timestamp_out(v) if isinstance(v, datetime) else v}
        for k, v in data.items()
    ]


# How a CustomerUpdate field's value goes on the wire, where it is not sent as it is.
_OUT_HOOKS: dict[str, Callable[[Any], Any]] = {
    "first_seen": timestamp_out,
    "last_seen": timestamp_out,
    "tags": _tags_out,
    "custom_data": _custom_data_out,
}

_UPDATE_FIELDS = frozenset(a.name for a in CustomerUpdate.__attrs_attrs__)
_overrides: dict[str, Any] = {
    name: override(rename=WIRE_KEYS.get(name), unstruct_hook=_OUT_HOOKS.get(name))
    for name in (WIRE_KEYS.keys() & _UPDATE_FIELDS) | _OUT_HOOKS.keys()
}
_writer = cattrs.Converter()
_unstructure_update = make_dict_unstructure_fn(
    CustomerUpdate, _writer, _cattrs_omit_if_default=True, **_overrides
)
_writer.register_unstructure_hook(CustomerUpdate, _unstructure_update)


def update_to_json(update: CustomerUpdate) -> dict[str, Any]:
    """The JSON object for ``update``: only the fields that are not :data:`UNSET`."""
    # cattrs' generated function itself, without the converter's dispatch on every call.
    result: dict[str, Any] = _unstructure_update(update)
    return result


def fields_to_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``update_to_json(CustomerUpdate(**fields))``: keyword fields checked by the record.

    An unknown name is a :class:`~helpcrunch_async.ValidationError` with a suggestion.

    Example:
        >>> fields_to_json({"phone": None, "user_id": "u1", "first_seen": 1603885746})
        {'userId': 'u1', 'phone': None, 'firstSeen': '1603885746'}
    """
    return update_to_json(coerce_update(None, fields))


# --- reading ---------------------------------------------------------------------------


class _Invalid(ValueError):
    """A value of the response that does not fit; cattrs adds where it was."""


def _str_in(value: Any, _: Any) -> str:
    # Numbers are accepted as text (a phone number sent back as a number must not break
    # every call); objects, lists and bools are not text.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Invalid(f"expected a string, got {type(value).__name__}")


def _int_in(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise _Invalid(f"expected an integer, got {type(value).__name__}")


def _bool_in(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    raise _Invalid(f"expected a boolean, got {type(value).__name__}")


def datetime_in(value: Any, _: Any = None) -> datetime | None:
    """A timestamp as HelpCrunch sends it (string or number of epoch seconds, or ISO
    8601), as an aware UTC ``datetime``; ``None`` for null or empty."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isascii() and text.isdigit():  # the documented form, "1603885746"
            return datetime.fromtimestamp(int(text), UTC)
        try:  # not documented, but an ISO 8601 string is unambiguous enough to take
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise _Invalid(f"expected a UNIX timestamp, got {type(value).__name__} {value!r}")


def _custom_value_in(value: Any) -> CustomDataValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _Invalid(f"expected a scalar custom data value, got {type(value).__name__}")


def custom_data_in(value: Any, _: Any) -> dict[str, CustomDataValue]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): _custom_value_in(v) for k, v in value.items()}
    if isinstance(value, list):  # the list form one doc version shows
        out: dict[str, CustomDataValue] = {}
        for item in value:
            if not isinstance(item, dict) or "property" not in item:
                raise _Invalid("expected {property, value} items in the list form")
            out[str(item["property"])] = _custom_value_in(item.get("value"))
        return out
    raise _Invalid(f"expected an object or a list, got {type(value).__name__}")


def _tag_in(value: Any, _: Any) -> Tag:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a tag object, got {type(value).__name__}")
    name, color = value.get("name"), value.get("color")
    if not isinstance(name, str) or not isinstance(color, str | None):
        raise _Invalid("expected a tag {name: string, color: string}")
    # A stored tag may in principle have an empty name; don't let our input rules refuse it.
    tag = Tag.__new__(Tag)
    object.__setattr__(tag, "name", name)
    object.__setattr__(tag, "color", UNSET if color is None else color)
    return tag


def tags_in(value: Any, _: Any) -> tuple[Tag, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of tags, got {type(value).__name__}")
    tags = []
    for i, item in enumerate(value):
        try:
            tags.append(_tag_in(item, Tag))
        except _Invalid as exc:
            raise _Invalid(f"tags[{i}]: {exc}") from None
    return tuple(tags)


def _optional_object(cls: type[Any]) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {type(value).__name__}")
        return _reader.structure(value, cls)

    return hook


_reader = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
_reader.register_structure_hook(str, _str_in)
_reader.register_structure_hook(int, _int_in)
_reader.register_structure_hook(bool, _bool_in)
_reader.register_structure_hook(datetime, datetime_in)


def _renamed(cls: type[Any]) -> dict[str, Any]:
    """The cattrs overrides reading ``cls``'s fields under their wire keys."""
    return {
        a.name: override(rename=WIRE_KEYS[a.name])
        for a in cls.__attrs_attrs__
        if a.name in WIRE_KEYS
    }


_reader.register_structure_hook(
    Location, make_dict_structure_fn(Location, _reader, **_renamed(Location))
)
_reader.register_structure_hook(Device, make_dict_structure_fn(Device, _reader, **_renamed(Device)))
_structure_customer = make_dict_structure_fn(
    Customer,
    _reader,
    **{
        **_renamed(Customer),
        "first_seen": override(rename=WIRE_KEYS["first_seen"], struct_hook=datetime_in),
        "last_seen": override(rename=WIRE_KEYS["last_seen"], struct_hook=datetime_in),
        "location": override(struct_hook=_optional_object(Location)),
        "device": override(struct_hook=_optional_object(Device)),
        "tags": override(struct_hook=tags_in),
        "custom_data": override(rename=WIRE_KEYS["custom_data"], struct_hook=custom_data_in),
        "raw": override(omit=True),
    },
)


class ResponseShapeError(ValueError):
    """A JSON value that is not the documented customer shape; ``json_path`` says where."""

    def __init__(self, message: str, json_path: str) -> None:
        super().__init__(message)
        self.json_path = json_path


def customer_from_json(data: Any) -> Customer:
    """Build a :class:`Customer` from a parsed JSON object, with cattrs' converter.

    Raises:
        ResponseShapeError: naming the JSON path of the first value that does not fit.
    """
    if not isinstance(data, dict):
        raise ResponseShapeError(f"expected a customer object, got {type(data).__name__}", "$")
    try:
        customer = _structure_customer(data, Customer)
    except Exception as exc:  # cattrs raises ExceptionGroups with path notes
        messages = cattrs.transform_error(exc, format_exception=_describe)
        first = messages[0] if messages else str(exc)
        path = first.rpartition(" @ ")[2] if " @ " in first else "$"
        path = _wire_path(path)
        raise ResponseShapeError(f"{first.rpartition(' @ ')[0] or first} at {path}", path) from None
    object.__setattr__(customer, "raw", data)  # frozen: set once, right after building
    return customer


def _describe(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _Invalid):
        return str(exc)
    return format_exception(exc, type_)


def _wire_path(path: str) -> str:
    """Turn cattrs' attribute path (``$.user_id``) into the wire key path (``$.userId``)."""
    parts = path.split(".")
    return ".".join(
        WIRE_KEYS.get(p.split("[")[0], p.split("[")[0]) + p[len(p.split("[")[0]) :] for p in parts
    )
