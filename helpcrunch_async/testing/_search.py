"""The fake's customer listing and search, on plain dicts, from the docs.

Documented ("List customers", "Search for customers"), implemented here:

* answers are ``{"data": [...], "total": N}``; ``limit``/``offset`` page them;
* ``sort`` on ``customers.firstSeen`` / ``customers.lastSeen``, ``order`` ``asc``/``desc``
  (either case);
* search fields ``customers.id`` (int), ``name``, ``email``, ``company``, ``phone``,
  ``countryCode``, ``city``, ``regionCode``, ``userId``, the messenger ids
  ``telegramId``, ``facebookId``, ``instagramId``, ``viberId``, ``whatsappId``
  (strings), ``lastSeen`` (UNIX timestamp) and ``tagsData`` (``[{"name"}]``, matching
  customers holding *all* listed tags); a value of the wrong type fails the query;
* operators ``=`` (all types), ``!=`` (all but arrays), ``~`` (contains), ``>`` and
  ``>=`` (numbers and dates); ``comparison`` ``AND``/``OR``.

Choices where the docs are silent (the fake's own):

* ``limit`` above 100 is a 400 (code ``limit``); no ``limit`` means 100; without
  ``sort`` customers come in id order; ties of a sort go by id;
* string ``=``, ``!=`` and ``~`` ignore case (like a database's default collation):
  a loose match, so clients must check answers themselves;
* ``lastSeen`` takes an integer or a string of digits; ``~`` only on strings; a
  ``null`` field matches no operator (``!=`` included), as in SQL;
* ``comparison`` defaults to ``AND``; any other value, an empty or missing ``filter``
  list, or an unknown key in the body or a filter is a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._validation import is_int
from ._wire import ApiError

__all__ = ["MAX_LIMIT", "list_page", "search_page"]

JsonDict = dict[str, Any]
MAX_LIMIT = 100
SORT_KEYS = {"customers.firstSeen": "firstSeen", "customers.lastSeen": "lastSeen"}

_STRING_FIELDS = {
    "customers.name": ("name",),
    "customers.email": ("email",),
    "customers.userId": ("userId",),
    "customers.company": ("company",),
    "customers.phone": ("phone",),
    "customers.countryCode": ("location", "countryCode"),
    "customers.regionCode": ("location", "regionCode"),
    "customers.city": ("location", "city"),
    "customers.telegramId": ("telegramId",),
    "customers.facebookId": ("facebookId",),
    "customers.instagramId": ("instagramId",),
    "customers.viberId": ("viberId",),
    "customers.whatsappId": ("whatsappId",),
}
_OPERATORS = {
    "string": ("=", "!=", "~"),
    "number": ("=", "!=", ">", ">="),
    "array": ("=",),
}


def _err(code: str, message: str) -> ApiError:
    return ApiError(400, [{"code": code, "message": message}])


def _number(value: Any, code: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    number = _timestamp(value) if isinstance(value, str) else None
    if number is not None:
        return number
    raise _err(code, "This value should be of type numeric.")


def _paged(
    customers: Iterable[JsonDict], limit: Any, offset: Any, sort: Any, order: Any
) -> JsonDict:
    count = _number(limit, "limit", MAX_LIMIT)
    start = _number(offset, "offset", 0)
    if count > MAX_LIMIT:
        raise _err("limit", f"This value should be {MAX_LIMIT} or less.")
    rows = sorted(customers, key=lambda c: c["id"])
    if order is not None and (not isinstance(order, str) or order.lower() not in ("asc", "desc")):
        raise _err("order", "The value you selected is not a valid choice.")
    if sort is not None:
        if not isinstance(sort, str) or sort not in SORT_KEYS:
            raise _err("sort", "The value you selected is not a valid choice.")
        key = SORT_KEYS[sort]
        rows.sort(
            key=lambda c: (_timestamp(c.get(key)) or 0, c["id"]),
            reverse=isinstance(order, str) and order.lower() == "desc",
        )
    return {"total": len(rows), "data": rows[start : start + count]}


def list_page(customers: Iterable[JsonDict], query: Mapping[str, str]) -> JsonDict:
    """``GET /customers``: one page of every customer."""
    return _paged(
        customers, query.get("limit"), query.get("offset"), query.get("sort"), query.get("order")
    )


def search_page(customers: Iterable[JsonDict], body: Any) -> JsonDict:
    """``POST /customers/search``: one page of the matching customers."""
    if not isinstance(body, dict):
        raise _err("body", "This value should be of type object.")
    for key in body:
        if key not in ("filter", "comparison", "limit", "offset", "sort", "order"):
            raise _err(key, "This field was not expected.")
    comparison = body.get("comparison", "AND")
    if comparison not in ("AND", "OR"):
        raise _err("comparison", "The value you selected is not a valid choice.")
    raw = body.get("filter")
    if not isinstance(raw, list) or not raw:
        raise _err("filter", "This collection should contain 1 element or more.")
    tests = [_condition(item, f"filter[{i}]") for i, item in enumerate(raw)]
    combine = all if comparison == "AND" else any
    matching = [c for c in customers if combine(test(c) for test in tests)]
    return _paged(
        matching, body.get("limit"), body.get("offset"), body.get("sort"), body.get("order")
    )


def _timestamp(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # more digits than Python converts (sys.int_info)
            return None
    return None


def _condition(item: Any, code: str) -> Callable[[JsonDict], bool]:
    if not isinstance(item, dict):
        raise _err(code, "This value should be of type object.")
    for key in item:
        if key not in ("field", "operator", "value"):
            raise _err(f"{code}.{key}", "This field was not expected.")
    field, op, value = item.get("field"), item.get("operator"), item.get("value")
    get: Callable[[JsonDict], Any]
    if not isinstance(field, str):
        raise _err(f"{code}.field", "The value you selected is not a valid choice.")
    if field in _STRING_FIELDS:
        kind, path = "string", _STRING_FIELDS[field]

        def get(c: JsonDict) -> Any:
            node: Any = c
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            return node

        if not isinstance(value, str):
            raise _err(f"{code}.value", "This value should be of type string.")
    elif field == "customers.id":
        kind = "number"

        def get(c: JsonDict) -> Any:
            return c["id"]

        if not is_int(value):
            raise _err(f"{code}.value", "This value should be of type integer.")
    elif field == "customers.lastSeen":
        kind = "number"

        def get(c: JsonDict) -> Any:
            return _timestamp(c.get("lastSeen"))

        if isinstance(value, bool) or _timestamp(value) is None:
            raise _err(f"{code}.value", "This value should be a UNIX timestamp.")
        value = _timestamp(value)
    elif field == "customers.tagsData":
        kind = "array"

        def get(c: JsonDict) -> Any:
            return {t["name"] for t in c.get("tags") or ()}

        if (
            not isinstance(value, list)
            or not value
            or not all(
                isinstance(t, dict) and isinstance(t.get("name"), str) and set(t) == {"name"}
                for t in value
            )
        ):
            raise _err(f"{code}.value", 'This value should be a list of {"name"} objects.')
        value = {t["name"] for t in value}
    else:
        raise _err(f"{code}.field", "The value you selected is not a valid choice.")
    if op not in _OPERATORS[kind]:
        raise _err(f"{code}.operator", "The value you selected is not a valid choice.")
    return _matcher(kind, op, value, get)


def _matcher(
    kind: str, op: str, value: Any, get: Callable[[JsonDict], Any]
) -> Callable[[JsonDict], bool]:
    if kind == "array":
        return lambda c: bool(value <= get(c))
    if kind == "string":
        wanted: str = value.casefold()

        def test(c: JsonDict) -> bool:
            raw = get(c)
            if not isinstance(raw, str):
                return False
            have = raw.casefold()
            return {"=": have == wanted, "!=": have != wanted, "~": wanted in have}[op]

        return test

    def compare(c: JsonDict) -> bool:
        have = get(c)
        if have is None:
            return False
        return bool(
            {"=": have == value, "!=": have != value, ">": have > value, ">=": have >= value}[op]
        )

    return compare
