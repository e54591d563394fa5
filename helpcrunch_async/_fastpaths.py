"""Every hand-inlined path and builder of the SDK, fenced here, each with its plain twin.

A speed trick ships only with a benchmark figure that pays for it and a test that would
catch its failure mode. Each path here is equal to its plain twin, falls back to it for
anything it does not handle, and is compared with it by property tests on generated
inputs. Figures: client CPU a request above raw aiohttp (``benchmarks/client_cpu.py``'s
(a)), the trick off against on in alternating rounds of one run, (b) the awaited
``update_customer`` and (c) ``update_customers``; medians of 3 to 5 runs, 2026-12-08.

The tricks, what each paid (b) / (c) when kept, and the test that proves it equal to its
plain twin (tests/models/test_fastpaths.py):

* ``customer_from_json`` -- a response read by hand instead of by cattrs' converter
  (``_convert.customer_from_json``): +10 % / +9 %. Every response shape and error is
  compared with cattrs' on generated inputs; the common answer is shown to take this path.
* ``positional_builder`` -- a ``Customer`` built by position instead of by keywords:
  +2.1 % / +1.4 %. Built equal to the keyword build for every field (a swapped pair
  shows); a record that checks its fields is refused.
* ``fields_to_json`` -- keyword fields straight to JSON instead of through a
  ``CustomerUpdate`` and cattrs (``_convert.fields_to_json``): +4 % / +6 %. Same JSON and
  the same errors as the record, on generated inputs.

Elsewhere, measured the same way: ``InFlightLimit`` (``_in_flight.py``) instead of an
``asyncio.Semaphore``, +6 % / +2 % (tests/client/test_in_flight.py). Measured and dropped,
each under 2 %: prefilling yarl's cache of every request URL (+1.3 % / +1.1 %),
building ``BulkResult`` by position (+0.1 % / +0.8 %), ``update_customer`` returning the
request's coroutine instead of being an ``async def`` (0 %), and the blocking client's
fork detection by a counter (0.2 µs of a call of about 600 µs: a ``getpid()`` compare).

Example:
    >>> fields_to_json({"name": "Ann", "email": None})
    {'name': 'Ann', 'email': None}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from . import _convert
from . import _validation as _v
from ._models import Customer, CustomerUpdate, Device, Location, _to_tags
from ._types import UNSET

__all__ = ["customer_from_json", "fields_to_json", "positional_builder"]


# --- records built by position ----------------------------------------------------------


def positional_builder(cls: type[Any]) -> Callable[..., Any]:
    """A function building ``cls`` from every field's value, positionally, in field order.

    It builds exactly what ``cls(**fields)`` builds, without matching a score of keyword
    arguments on every response (generated code, as attrs itself does). Only for our
    frozen attrs records without validators, converters or ``__attrs_post_init__``.

    Example:
        >>> build = positional_builder(Location)
        >>> build("CA", "US", "LA") == Location(region_code="CA", country_code="US", city="LA")
        True
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


# --- responses ----------------------------------------------------------------------------

_build_customer = positional_builder(Customer)
_build_location = positional_builder(Location)
_build_device = positional_builder(Device)
_SCALARS = frozenset((str, int, float, bool))
_from_epoch = datetime.fromtimestamp


def customer_from_json(data: Any) -> Customer:
    """:func:`helpcrunch_async._convert.customer_from_json`, the common case by hand.

    Values that are already of the field's type (what HelpCrunch sends) build exactly
    what cattrs builds, without its generic dispatch. Anything else (a number where text
    is expected, a bad value, a missing ``id``, not an object at all) goes to cattrs'
    converter, which converts it or reports the error with its JSON path.

    Raises:
        ResponseShapeError: naming the JSON path of the first value that does not fit.
    """
    if type(data) is not dict:
        return _convert.customer_from_json(data)
    get = data.get
    cid = get("id")
    name, email, user_id, company, phone = (
        get("name"),
        get("email"),
        get("userId"),
        get("company"),
        get("phone"),
    )
    source, referer, last_page, locale = (
        get("source"),
        get("referer"),
        get("lastPage"),
        get("locale"),
    )
    created_from, integration_id, notes = (get("createdFrom"), get("integrationId"), get("notes"))
    unsubscribed, blocked = get("unsubscribed"), get("blocked")
    location, device = get("location"), get("device")
    if (
        type(cid) is not int
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
        or (unsubscribed is not None and unsubscribed is not True and unsubscribed is not False)
        or (blocked is not None and blocked is not True and blocked is not False)
    ):
        return _convert.customer_from_json(data)
    if location is not None:
        if not isinstance(location, dict):
            return _convert.customer_from_json(data)
        region_code, country_code, city = (
            location.get("regionCode"),
            location.get("countryCode"),
            location.get("city"),
        )
        if (
            (region_code is not None and not isinstance(region_code, str))
            or (country_code is not None and not isinstance(country_code, str))
            or (city is not None and not isinstance(city, str))
        ):
            return _convert.customer_from_json(data)
        location = _build_location(region_code, country_code, city)
    if device is not None:
        if not isinstance(device, dict):
            return _convert.customer_from_json(data)
        device_id, ip, timezone, platform, user_agent = (
            device.get("id"),
            device.get("ip"),
            device.get("timezone"),
            device.get("platform"),
            device.get("userAgent"),
        )
        if (
            (device_id is not None and type(device_id) is not int)
            or (ip is not None and not isinstance(ip, str))
            or (timezone is not None and not isinstance(timezone, str))
            or (platform is not None and not isinstance(platform, str))
            or (user_agent is not None and not isinstance(user_agent, str))
        ):
            return _convert.customer_from_json(data)
        device = _build_device(device_id, ip, timezone, platform, user_agent)
    tags, custom_data = get("tags"), get("customData")
    first_seen, last_seen = get("firstSeen"), get("lastSeen")
    try:  # null and the documented "1603885746" inline; any other form through datetime_in
        if first_seen is not None:
            first_seen = (
                _from_epoch(int(first_seen), UTC)
                if type(first_seen) is str and first_seen.isdigit() and first_seen.isascii()
                else _convert.datetime_in(first_seen)
            )
        if last_seen is not None:
            last_seen = (
                _from_epoch(int(last_seen), UTC)
                if type(last_seen) is str and last_seen.isdigit() and last_seen.isascii()
                else _convert.datetime_in(last_seen)
            )
        tags = (
            ()
            if not tags and (tags is None or type(tags) is list)
            else _convert.tags_in(tags, None)
        )
        if type(custom_data) is dict:
            for value in custom_data.values():
                if value is not None and type(value) not in _SCALARS:
                    custom_data = _convert.custom_data_in(custom_data, None)
                    break
            else:
                custom_data = dict(custom_data)  # JSON object keys are always str
        else:
            custom_data = _convert.custom_data_in(custom_data, None)
    except Exception:  # a bad value, or a timestamp out of range: the converter reports it
        pass  # (outside this handler, so that its error has no context of ours)
    else:
        # Positional, in Customer's field order (a test checks it matches cattrs).
        customer: Customer = _build_customer(
            cid,
            name,
            email,
            user_id,
            company,
            phone,
            first_seen,
            last_seen,
            location,
            device,
            unsubscribed,
            blocked,
            source,
            referer,
            last_page,
            locale,
            created_from,
            integration_id,
            notes,
            tags,
            custom_data,
            data,
        )
        return customer
    return _convert.customer_from_json(data)


# --- keyword fields -------------------------------------------------------------------

# The kinds of field the fast path knows, found by the field's own validator or converter
# (a field with neither rule known here always takes the plain path).
_TEXT, _FLAG, _LOCALE, _STAMP, _TAGS, _DATA = 1, 2, 3, 4, 5, 6
_KIND_OF_RULE: dict[Any, int] = {
    _v.optional_str: _TEXT,
    _v.optional_bool: _FLAG,
    _v.optional_locale: _LOCALE,
    _v.optional_timestamp: _STAMP,
    _to_tags: _TAGS,
    _v.to_custom_data: _DATA,
}
# (name, wire key, kind) of every CustomerUpdate field, in field order: the order the
# plain path writes them in.
_FIELDS: tuple[tuple[str, str, int], ...] = tuple(
    (
        a.name,
        _convert.WIRE_KEYS.get(a.name, a.name),
        _KIND_OF_RULE.get(a.validator) or _KIND_OF_RULE.get(a.converter, 0),
    )
    for a in attrs.fields(CustomerUpdate)
)
_NAMES = frozenset(name for name, _, _ in _FIELDS)


def fields_to_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`helpcrunch_async._convert.fields_to_json` without building the record.

    Values of the common exact types that the field's converter and validator would
    pass unchanged (ASCII text, a bool, an int timestamp, plain custom data, tag names)
    go straight out as the plain path writes them, in field order. Anything else (a str
    subclass, non-ASCII text, a datetime, a ``Tag``, a bad value, an unknown name) sends
    the whole call the plain way, which checks every field and raises its errors.
    """
    if not _NAMES.issuperset(fields):
        return _convert.fields_to_json(fields)
    out: dict[str, Any] = {}
    for name, key, kind in _FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        if value is None:  # clears the field, whatever its kind
            out[key] = None
        elif value is UNSET:
            pass
        elif (
            (kind == _TEXT and type(value) is str and value.isascii())
            or (kind == _FLAG and (value is True or value is False))
            or (kind == _LOCALE and type(value) is str and value in _v.ISO_639_1)
        ):
            out[key] = value
        elif kind == _DATA and type(value) is dict and (data := _plain_custom_data(value)):
            out[key] = data
        elif kind == _STAMP and type(value) is int and value >= 0:
            out[key] = str(value)
        elif kind == _TAGS and type(value) in (list, tuple) and (tags := _plain_tags(value)):
            out[key] = tags
        else:
            return _convert.fields_to_json(fields)
    return out


def _plain_custom_data(data: dict[Any, Any]) -> list[dict[str, Any]] | None:
    """``custom_data`` on the wire if every key is ASCII text and every value a plain str,
    int, bool, finite float or None (what ``to_custom_data`` passes unchanged); else None.
    An empty dict gives ``[]``, which the caller takes as "the plain way" too."""
    out = []
    for key, value in data.items():
        if type(key) is not str or not key.isascii() or not key.strip():
            return None
        kind = type(value)
        if not (
            value is None
            or kind is int
            or kind is bool
            or (kind is str and value.isascii())
            or (kind is float and math.isfinite(value))
        ):
            return None
        out.append({"property": key, "value": value})
    return out


def _plain_tags(tags: list[Any] | tuple[Any, ...]) -> list[dict[str, str]] | None:
    """``tags`` on the wire if every item is a tag name in ASCII text (what ``Tag(name=)``
    accepts), else None; no tags gives ``[]`` (the plain way)."""
    out = []
    for name in tags:
        if type(name) is not str or not name.isascii() or not name.strip():
            return None
        out.append({"name": name})
    return out
