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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from . import _validation as _v
from ._models import (
    Customer,
    CustomerUpdate,
    Device,
    Location,
    Tag,
    _to_tags,
    check_field_names,
)
from ._types import UNSET, CustomDataInput, CustomDataValue, Timestamp

__all__ = [
    "InvalidJSON", "customer_from_json", "decode_json", "encode_body", "encode_json",
    "fields_to_json", "positional_builder", "tags_to_json", "update_to_json",
]

# --- writing ---------------------------------------------------------------------------


def _timestamp_out(value: Timestamp | None) -> str | None:
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
        {"property": k, "value": _timestamp_out(v) if isinstance(v, datetime) else v}
        for k, v in data.items()
    ]


# How each CustomerUpdate field goes on the wire (both writers below follow this table).
_WIRE_KEYS = {"user_id": "userId", "first_seen": "firstSeen", "last_seen": "lastSeen",
              "last_page": "lastPage", "custom_data": "customData"}
_OUT_HOOKS: dict[str, Callable[[Any], Any]] = {
    "first_seen": _timestamp_out, "last_seen": _timestamp_out, "tags": _tags_out,
    "custom_data": _custom_data_out,
}

_overrides: dict[str, Any] = {
    name: override(rename=_WIRE_KEYS.get(name), unstruct_hook=_OUT_HOOKS.get(name))
    for name in _WIRE_KEYS.keys() | _OUT_HOOKS.keys()
}
_writer = cattrs.Converter()
_unstructure_update = make_dict_unstructure_fn(
    CustomerUpdate, _writer, _cattrs_omit_if_default=True, **_overrides)
_writer.register_unstructure_hook(CustomerUpdate, _unstructure_update)


def update_to_json(update: CustomerUpdate) -> dict[str, Any]:
    """The JSON object for ``update``: only the fields that are not :data:`UNSET`."""
    # cattrs' generated function itself, without the converter's dispatch on every call.
    result: dict[str, Any] = _unstructure_update(update)
    return result


# name -> (position, attrs attribute, converter, validator, wire key, out hook)
_update_attributes: tuple[attrs.Attribute[Any], ...] = attrs.fields(CustomerUpdate)
_UPDATE_FIELDS: dict[str, tuple[int, attrs.Attribute[Any], Any, Any, str, Any]] = {
    a.name: (i, a, a.converter, a.validator, _WIRE_KEYS.get(a.name, a.name),
             _OUT_HOOKS.get(a.name))
    for i, a in enumerate(_update_attributes)
}
_FIELD_POSITION = {name: spec[0] for name, spec in _UPDATE_FIELDS.items()}.__getitem__

# The fast path's kinds of field, found by the field's own validator or converter (a
# field with neither rule known here always takes the general path).
_TEXT, _FLAG, _LOCALE, _STAMP, _TAGS, _DATA = 1, 2, 3, 4, 5, 6
_KIND_OF_RULE: dict[Any, int] = {
    _v.optional_str: _TEXT, _v.optional_bool: _FLAG, _v.optional_locale: _LOCALE,
    _v.optional_timestamp: _STAMP, _to_tags: _TAGS, _v.to_custom_data: _DATA,
}
# The given names (in the caller's order) -> (the fast path's (name, wire key, kind) of
# each, the general path's (name, converter, attribute, validator, wire key, out hook)
# of each), both in field order: a call usually gives the same few names again.
_Plan: TypeAlias = tuple[tuple[str, Any, "attrs.Attribute[Any]", Any, str, Any], ...]
_FastPlan: TypeAlias = tuple[tuple[str, str, int], ...]
_PLANS: dict[tuple[str, ...], tuple[_FastPlan, _Plan]] = {}
_MAX_PLANS = 1024


def _plan(names: tuple[str, ...], fields: Mapping[str, Any]) -> tuple[_FastPlan, _Plan]:
    check_field_names(fields)
    plan = tuple((name, spec[2], spec[1], spec[3], spec[4], spec[5])
                 for name in sorted(names, key=_FIELD_POSITION)
                 for spec in (_UPDATE_FIELDS[name],))
    fast = tuple((name, key, _KIND_OF_RULE.get(validate) or _KIND_OF_RULE.get(convert, 0))
                 for name, convert, _, validate, key, _ in plan)
    if len(_PLANS) < _MAX_PLANS:
        _PLANS[names] = (fast, plan)
    return fast, plan


def fields_to_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``update_to_json(CustomerUpdate(**fields))``, without building the record.

    Keyword fields of ``update_customer(**fields)`` go straight to the JSON object. Each
    value is checked by its own :class:`CustomerUpdate` field's converter and validator
    (the same functions, so one set of rules), in the order the record's ``__init__``
    runs them — converters, then validators, each in field order — so the same input
    raises the same :class:`ValidationError`.

    Example:
        >>> fields_to_json({"phone": None, "user_id": "u1", "first_seen": 1603885746})
        {'userId': 'u1', 'phone': None, 'firstSeen': '1603885746'}
    """
    names = tuple(fields)
    fast, plan = _PLANS.get(names) or _plan(names, fields)
    # Fast path: values of the common exact types that the field's converter and
    # validator would pass unchanged (ASCII text, a bool, an int timestamp, ...) go
    # straight out, as its out hook writes them. Anything else (a str subclass,
    # non-ASCII text, a datetime, a Tag, a bad value) sends the whole call the general
    # way, which checks every field in the record's order and raises its errors.
    out: dict[str, Any] = {}
    for name, key, kind in fast:
        value = fields[name]
        if value is None:  # clears the field, whatever its kind
            out[key] = None
        elif value is UNSET:
            pass
        elif ((kind == _TEXT and type(value) is str and value.isascii())
              or (kind == _FLAG and (value is True or value is False))
              or (kind == _LOCALE and type(value) is str and value in _v.ISO_639_1)):
            out[key] = value
        elif kind == _DATA and type(value) is dict and (data := _plain_custom_data(value)):
            out[key] = data
        elif kind == _STAMP and type(value) is int and value >= 0:
            out[key] = str(value)
        elif kind == _TAGS and type(value) in (list, tuple) and (tags := _plain_tags(value)):
            out[key] = tags
        else:
            return _checked_fields_to_json(plan, fields)
    return out


def _checked_fields_to_json(plan: _Plan, fields: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`fields_to_json` the general way: every field's converter, then validator."""
    # converters first, as attrs runs them while assigning; then validators
    values = [fields[name] if convert is None else convert(fields[name])
              for name, convert, _, _, _, _ in plan]
    out: dict[str, Any] = {}
    for (_, _, attribute, validate, key, hook), value in zip(plan, values, strict=True):
        if validate is not None:
            validate(None, attribute, value)
        if value is not UNSET:
            out[key] = value if hook is None else hook(value)
    return out


def _plain_custom_data(data: dict[Any, Any]) -> list[dict[str, Any]] | None:
    """``custom_data`` on the wire if every key is ASCII text and every value a plain str,
    int, bool, finite float or None (what ``to_custom_data`` passes unchanged); else None.
    An empty dict gives ``[]``, which the caller takes as "the general way" too."""
    out = []
    for key, value in data.items():
        if type(key) is not str or not key.isascii() or not key.strip():
            return None
        kind = type(value)
        if not (value is None or kind is int or kind is bool
                or (kind is str and value.isascii())
                or (kind is float and math.isfinite(value))):
            return None
        out.append({"property": key, "value": value})
    return out


def _plain_tags(tags: list[Any] | tuple[Any, ...]) -> list[dict[str, str]] | None:
    """``tags`` on the wire if every item is a tag name in ASCII text (what ``Tag(name=)``
    accepts), else None; no tags gives ``[]`` (the general way)."""
    out = []
    for name in tags:
        if type(name) is not str or not name.isascii() or not name.strip():
            return None
        out.append({"name": name})
    return out


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, refusing NaN/Infinity (which are not JSON)."""
    # One encoder for every call: json.dumps() with options builds a new one each time.
    return _ENCODER.encode(payload).encode()


_orjson_dumps: Callable[..., bytes] | None
try:  # the optional ``speedups`` extra
    from orjson import OPT_PASSTHROUGH_DATACLASS as _PD
    from orjson import OPT_PASSTHROUGH_DATETIME as _PT
    from orjson import OPT_PASSTHROUGH_SUBCLASS as _PS
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_dumps, _ORJSON_OPTIONS = None, 0
else:
    _ORJSON_OPTIONS = _PD | _PT | _PS


def encode_body(payload: Any) -> bytes:
    """:func:`encode_json` of a request body built from :func:`update_to_json` objects.

    With orjson installed (the ``speedups`` extra) it encodes instead of json: the same
    JSON (compact UTF-8, keys in order; a float may be spelled differently, ``1e-7``
    for ``1e-07``, with the same value). Whatever orjson would encode where json
    refuses or differs goes to :func:`encode_json`: anything orjson refuses (a subclass
    of str/int/dict/list, a datetime, an int beyond 64 bits, a non-str key, a lone
    surrogate) and a payload holding NaN or Infinity (orjson writes them as ``null``;
    json refuses them). A legitimate ``null`` (``email=None``) stays with orjson.
    """
    if _orjson_dumps is not None:
        try:
            out = _orjson_dumps(payload, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
        else:
            # find(), not "in": "in" on bytes tries the needle as an int first, which costs.
            if out.find(b"null") < 0 or (type(payload) in (dict, list) and _all_finite(payload)):
                return out
    return encode_json(payload)


def _all_finite(value: dict[str, Any] | list[Any]) -> bool:
    """False if a float in ``value`` (nested in dicts and lists) is NaN or infinite."""
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                return False
        elif (kind is dict or kind is list) and not _all_finite(item):
            return False
    return True


# --- reading ---------------------------------------------------------------------------

_orjson_loads: Callable[[bytes | str], Any] | None
try:  # the optional ``speedups`` extra
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None

# orjson reads an integer of more than 64 bits as a float, where json gives an int: a
# body with a run of 20+ digits anywhere (even inside a string) goes to json instead.
# (Mapping every digit to "0" and everything else to " " finds one fast, in C.)
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_DIGITS = b"0" * 20
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{20}")


def _has_long_digits(body: bytes) -> bool:
    """True if ``body`` holds a run of 20 or more ASCII digits."""
    # Any 20 consecutive positions hold four multiples of 5, so such a run shows as four
    # digits in a row among every 5th byte: that fifth of the body is mapped first, and
    # only a body where it does is mapped whole. (Timestamps and ISO dates never do.)
    # find(), not "in": "in" on bytes tries the needle as an int first, which costs.
    return (body[::5].translate(_DIGITS_TO_ZERO).find(b"0000") >= 0
            and body.translate(_DIGITS_TO_ZERO).find(_LONG_DIGITS) >= 0)


class InvalidJSON(ValueError):
    """What :func:`decode_json` raises: the text is not JSON the SDK can read.

    That is: not JSON at all, not UTF-8, or nested so deeply that decoding it would
    exhaust the interpreter's stack (``[`` × 200,000 would otherwise end in a
    ``RecursionError``). ``str(exc)`` says which.
    """


def decode_json(body: bytes | str) -> Any:
    """``json.loads(body)``, with orjson when it is installed (the ``speedups`` extra).

    The result is the same either way: whatever orjson refuses or might read differently
    (NaN, Infinity, a BOM, integers beyond 64 bits, invalid text) is left to json.
    Every failure is an :class:`InvalidJSON` (a ``ValueError``), never anything else:
    use this for any JSON that comes from outside (responses, error bodies, input lines).

    Example:
        >>> decode_json(b'{"id": 1}')
        {'id': 1}
        >>> decode_json("[" * 100_000 + "]" * 100_000)
        Traceback (most recent call last):
        ...
        helpcrunch_async._convert.InvalidJSON: JSON nested too deeply to read
    """
    if _orjson_loads is not None and (
            not _has_long_digits(body) if isinstance(body, bytes)
            else _LONG_DIGITS_TEXT.search(body) is None):
        try:
            return _orjson_loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise InvalidJSON("JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidJSON(f"not valid JSON: {exc}") from exc

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


def _datetime_in(value: Any, _: Any) -> datetime | None:
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


def _custom_data_in(value: Any, _: Any) -> dict[str, CustomDataValue]:
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


def _tags_in(value: Any, _: Any) -> tuple[Tag, ...]:
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
_reader.register_structure_hook(datetime, _datetime_in)
_reader.register_structure_hook(
    Location,
    make_dict_structure_fn(
        Location, _reader, region_code=override(rename="regionCode"),
        country_code=override(rename="countryCode"),
    ),
)
_reader.register_structure_hook(
    Device, make_dict_structure_fn(Device, _reader, user_agent=override(rename="userAgent"))
)
_structure_customer = make_dict_structure_fn(
    Customer,
    _reader,
    user_id=override(rename="userId"),
    first_seen=override(rename="firstSeen", struct_hook=_datetime_in),
    last_seen=override(rename="lastSeen", struct_hook=_datetime_in),
    location=override(struct_hook=_optional_object(Location)),
    device=override(struct_hook=_optional_object(Device)),
    last_page=override(rename="lastPage"),
    created_from=override(rename="createdFrom"),
    integration_id=override(rename="integrationId"),
    tags=override(struct_hook=_tags_in),
    custom_data=override(rename="customData", struct_hook=_custom_data_in),
    raw=override(omit=True),
)
_KEYS = {  # wire key → field name, for error paths
    "userId": "user_id", "firstSeen": "first_seen", "lastSeen": "last_seen",
    "lastPage": "last_page", "createdFrom": "created_from", "integrationId": "integration_id",
    "customData": "custom_data", "regionCode": "region_code", "countryCode": "country_code",
    "userAgent": "user_agent",
}
_FIELD_TO_KEY = {v: k for k, v in _KEYS.items()}


class ResponseShapeError(ValueError):
    """A JSON value that is not the documented customer shape; ``json_path`` says where."""

    def __init__(self, message: str, json_path: str) -> None:
        super().__init__(message)
        self.json_path = json_path


_SCALARS = frozenset((str, int, float, bool))
_from_epoch = datetime.fromtimestamp


def positional_builder(cls: type[Any]) -> Callable[..., Any]:
    """A function building ``cls`` from every field's value, positionally, in field order.

    It builds exactly what ``cls(**fields)`` builds, without matching a score of keyword
    arguments on every response (generated code, as attrs itself does). Only for our
    frozen attrs records without validators, converters or ``__attrs_post_init__``.
    """
    fields = attrs.fields(cls)
    if any(a.validator or a.converter for a in fields) or hasattr(cls, "__attrs_post_init__"):
        raise TypeError(f"{cls.__name__} checks its fields: build it with keywords")
    names = [a.name for a in fields]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def build({', '.join(names)}):", "    self = _new(_cls)"]
    for name in names:
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__  # the slot itself
        lines.append(f"    _set_{name}(self, {name})")
    lines.append("    return self")
    exec("\n".join(lines), namespace)  # our own field names only
    build: Callable[..., Any] = namespace["build"]
    return build


_build_customer = positional_builder(Customer)
_build_location = positional_builder(Location)
_build_device = positional_builder(Device)


def customer_from_json(data: Any) -> Customer:
    """Build a :class:`Customer` from a parsed JSON object.

    The common case by hand, without cattrs' generic dispatch: values that are already
    of the field's type (what HelpCrunch sends) build exactly what the cattrs path
    builds. Anything else (a number where text is expected, a bad value, a missing
    ``id``, not an object at all) goes to cattrs' converter, which converts it or
    reports the error with its JSON path.

    Raises:
        ResponseShapeError: naming the JSON path of the first value that does not fit.
    """
    if type(data) is not dict:
        return _slow_customer(data)
    get = data.get
    cid = get("id")
    name, email, user_id, company, phone = (
        get("name"), get("email"), get("userId"), get("company"), get("phone"))
    source, referer, last_page, locale = (
        get("source"), get("referer"), get("lastPage"), get("locale"))
    created_from, integration_id, notes = (
        get("createdFrom"), get("integrationId"), get("notes"))
    unsubscribed, blocked = get("unsubscribed"), get("blocked")
    location, device = get("location"), get("device")
    if (type(cid) is not int
            or (name is not None and not isinstance(name, str))
            or (email is not None and not isinstance(email, str))
            or (user_id is not None and not isinstance(user_id, str))
            or (company is not None and not isinstance(company, str))
            or (phone is not None and not isinstance(phone, str))
            or (source is not None and not isinstance(source, str))
            or (referer is not None and not isinstance(referer, str))
            or (last_page is not None and not isinstance(last_page, str))
            or (locale is not None and not isinstance(locale, str))
            or (created_from is not None and not isinstance(created_from, str))
            or (integration_id is not None and not isinstance(integration_id, str))
            or (notes is not None and not isinstance(notes, str))
            or (unsubscribed is not None and unsubscribed is not True
                and unsubscribed is not False)
            or (blocked is not None and blocked is not True and blocked is not False)):
        return _slow_customer(data)
    if location is not None:
        if not isinstance(location, dict):
            return _slow_customer(data)
        region_code, country_code, city = (
            location.get("regionCode"), location.get("countryCode"), location.get("city"))
        if ((region_code is not None and not isinstance(region_code, str))
                or (country_code is not None and not isinstance(country_code, str))
                or (city is not None and not isinstance(city, str))):
            return _slow_customer(data)
        location = _build_location(region_code, country_code, city)
    if device is not None:
        if not isinstance(device, dict):
            return _slow_customer(data)
        device_id, ip, timezone, platform, user_agent = (
            device.get("id"), device.get("ip"), device.get("timezone"),
            device.get("platform"), device.get("userAgent"))
        if ((device_id is not None and type(device_id) is not int)
                or (ip is not None and not isinstance(ip, str))
                or (timezone is not None and not isinstance(timezone, str))
                or (platform is not None and not isinstance(platform, str))
                or (user_agent is not None and not isinstance(user_agent, str))):
            return _slow_customer(data)
        device = _build_device(device_id, ip, timezone, platform, user_agent)
    tags, custom_data = get("tags"), get("customData")
    first_seen, last_seen = get("firstSeen"), get("lastSeen")
    try:  # null and the documented "1603885746" inline; any other form through _datetime_in
        if first_seen is not None:
            first_seen = (_from_epoch(int(first_seen), UTC) if type(first_seen) is str
                          and first_seen.isdigit() and first_seen.isascii()
                          else _datetime_in(first_seen, None))
        if last_seen is not None:
            last_seen = (_from_epoch(int(last_seen), UTC) if type(last_seen) is str
                         and last_seen.isdigit() and last_seen.isascii()
                         else _datetime_in(last_seen, None))
        tags = () if not tags and (tags is None or type(tags) is list) else _tags_in(tags, None)
        if type(custom_data) is dict:
            for value in custom_data.values():
                if value is not None and type(value) not in _SCALARS:
                    custom_data = _custom_data_in(custom_data, None)
                    break
            else:
                custom_data = dict(custom_data)  # JSON object keys are always str
        else:
            custom_data = _custom_data_in(custom_data, None)
    except Exception:  # _Invalid, or a timestamp out of range: the converter reports it
        pass  # (outside this handler, so that its error has no context of ours)
    else:
        # Positional, in Customer's field order (test_fast_paths checks it matches cattrs).
        customer: Customer = _build_customer(
            cid, name, email, user_id, company, phone, first_seen, last_seen, location,
            device, unsubscribed, blocked, source, referer, last_page, locale, created_from,
            integration_id, notes, tags, custom_data, data,
        )
        return customer
    return _slow_customer(data)


def _slow_customer(data: Any) -> Customer:
    """:func:`customer_from_json` the general way: cattrs' converter, its errors' paths."""
    if not isinstance(data, dict):
        raise ResponseShapeError(
            f"expected a customer object, got {type(data).__name__}", "$"
        )
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
        _FIELD_TO_KEY.get(p.split("[")[0], p.split("[")[0]) + p[len(p.split("[")[0]):]
        for p in parts
    )


def customer_to_json(customer: Customer) -> dict[str, Any]:
    """The customer as HelpCrunch's response JSON (for round trips and the demo's report)."""
    out: dict[str, Any] = {}
    for a in attrs.fields(Customer):
        if a.name == "raw":
            continue
        value = getattr(customer, a.name)
        key = _FIELD_TO_KEY.get(a.name, a.name)
        if isinstance(value, datetime):
            value = str(math.floor(value.timestamp()))
        elif isinstance(value, Location | Device):
            value = {_FIELD_TO_KEY.get(k, k): v for k, v in attrs.asdict(value).items()}
        elif a.name == "tags":
            value = [{"name": t.name, "color": None if t.color is UNSET else t.color}
                     for t in value]
        elif a.name == "custom_data":
            value = dict(value)
        out[key] = value
    return out
