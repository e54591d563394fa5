"""Customers on plain dicts: request validation and the documented wire format.

Written from HelpCrunch's documentation (``shared/API_NOTES.md`` and the "Update
customer" page), deliberately **not** with the SDK's models or converter, so a wire
format mistake in the SDK fails a test instead of being mirrored here.

Documented behaviour implemented here:

* request bodies use camelCase keys; ``customData`` is written as a list of
  ``{"property", "value"}`` and returned as an object ``{property: value}``;
* ``firstSeen``/``lastSeen`` are written as strings of digits (a UNIX timestamp) and
  returned as written (the docs' response shows strings);
* ``locale`` is an ISO 639-1 code; ``null`` clears a field; ``PUT`` sets every field
  missing from the body to ``null``, ``PATCH`` only touches the fields given;
* tags: unknown tags are created; a tag without ``color`` keeps its existing color,
  or gets ``#c377e0`` when new;
* errors are ``{"errors": [{"code", "message"}, ...]}`` with a generic
  ``invalid_request`` entry first and one entry per problem, its ``code`` naming the
  field (``customer``, ``firstSeen``, ``tags[0].name``, ``[3].locale`` in a batch).

Choices where the docs are silent (the fake's own inventions):

* strict: any key that is not a documented writable field -- ``user_id``, ``id``,
  ``location`` -- is a 400 ``"This field was not expected."``, and ``firstSeen`` as an
  integer is a 400 (the docs say string);
* ``locale`` must match ``[a-z]{2}`` (lowercase, as ISO 639-1 writes codes);
* ``notes`` and each string ``customData`` value: at most 255 characters (seen by
  integrators, not documented);
* ``tags``/``customData`` are never ``null`` in a response: ``null``, or leaving them
  out of a ``PUT``, gives ``[]``/``{}``;
* ``tags`` in an update body replace the customer's tags; ``customData`` under
  ``PATCH`` is merged by property, under ``PUT`` replaced;
* a ``customData`` property whose name ends in ``_date`` written as a string of
  digits comes back as an integer (as the docs' example shows for
  ``last_payment_date``); every other value comes back as written; unregistered
  properties are accepted;
* the 404 message is ``"Customer not found"`` (the docs' example says "Chat not
  found", a copy-paste slip on their page; the code ``not_found`` is what counts);
* ``PUT /customers/batch``: items behave like ``PATCH``; the whole batch is validated
  first and applied only if every item is valid and exists (atomic); the response is
  ``200`` with a JSON list of the updated customers in item order; a count outside
  1..10 is a 400 with code ``customers``;
* customers created by ``POST`` get ``location``/``device`` ``null``; seeded ones get
  objects shaped like the docs' example.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._validation import is_int

__all__ = [
    "DEFAULT_TAG_COLOR",
    "ApiError",
    "CustomerStore",
    "error_body",
    "parse_customer_id",
]

DEFAULT_TAG_COLOR = "#c377e0"

JsonDict = dict[str, Any]

_STRING_FIELDS = (
    "name", "email", "userId", "company", "phone", "source", "referer", "lastPage",
    "notes", "createdFrom", "integrationId",
)
_TIMESTAMP_FIELDS = ("firstSeen", "lastSeen")
_BOOL_FIELDS = ("unsubscribed", "blocked")
WRITABLE_FIELDS = frozenset(
    (*_STRING_FIELDS, *_TIMESTAMP_FIELDS, *_BOOL_FIELDS, "locale", "tags", "customData"))
_RESPONSE_ORDER = (
    "id", "name", "email", "userId", "company", "phone", "firstSeen", "lastSeen", "location",
    "device", "unsubscribed", "blocked", "source", "referer", "lastPage", "locale",
    "createdFrom", "integrationId", "notes", "tags", "customData",
)
_MAX_LEN = 255
_LOCALE = re.compile(r"[a-z]{2}")
_BATCH_MAX = 10

INVALID_REQUEST = {"code": "invalid_request", "message": "Invalid request"}
NOT_EXPECTED = "This field was not expected."
NUMERIC = "This value should be of type numeric."


def error_body(*errors: JsonDict) -> JsonDict:
    """The documented error body: ``invalid_request`` first, then ``errors``.

    Example:
        >>> error_body({"code": "unauthorized", "message": "Unauthorized"})["errors"][1]
        {'code': 'unauthorized', 'message': 'Unauthorized'}
    """
    return {"errors": [dict(INVALID_REQUEST), *errors]}


class ApiError(Exception):
    """An error answer: HTTP ``status`` and the specific ``errors`` entries."""

    def __init__(self, status: int, errors: list[JsonDict]) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors

    def body(self) -> JsonDict:
        """The JSON body to send."""
        return error_body(*self.errors)


def _err(code: str, message: str) -> JsonDict:
    return {"code": code, "message": message}


def not_found(customer_id: int | str) -> ApiError:
    """404 for an unknown customer."""
    return ApiError(404, [_err("not_found", "Customer not found")])


def parse_customer_id(raw: str) -> int:
    """The numeric id from a path segment, or a 400 exactly as documented.

    Example:
        >>> parse_customer_id("1568834")
        1568834
        >>> parse_customer_id("abc")
        Traceback (most recent call last):
        ...
        helpcrunch_async.testing._store.ApiError: (400, [{'code': 'customer', \
'message': 'This value should be of type numeric.'}])
    """
    if raw.isascii() and raw.isdigit():
        return int(raw)
    raise ApiError(400, [_err("customer", NUMERIC)])


def _type_name(kind: str) -> str:
    return f"This value should be of type {kind}."


def _check_fields(body: Any, prefix: str, errors: list[JsonDict]) -> None:
    """Append an error for every problem in an update/create body."""
    if not isinstance(body, dict):
        errors.append(_err(prefix.rstrip(".") or "body", _type_name("object")))
        return
    for key, value in body.items():
        code = prefix + key
        if key not in WRITABLE_FIELDS:
            errors.append(_err(code, NOT_EXPECTED))
        elif value is None:
            continue
        elif key in _STRING_FIELDS:
            if not isinstance(value, str):
                errors.append(_err(code, _type_name("string")))
            elif key == "notes" and len(value) > _MAX_LEN:
                errors.append(_err(code, "This value is too long. It should have 255 "
                                         "characters or less."))
        elif key in _TIMESTAMP_FIELDS:
            if not isinstance(value, str):
                errors.append(_err(code, _type_name("string")))
            elif not (value.isascii() and value.isdigit()):
                errors.append(_err(code, "This value should be a UNIX timestamp "
                                         "(a string of digits)."))
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                errors.append(_err(code, _type_name("bool")))
        elif key == "locale":
            if not isinstance(value, str):
                errors.append(_err(code, _type_name("string")))
            elif not _LOCALE.fullmatch(value):
                errors.append(_err(code, "This value is not a valid locale."))
        elif key == "tags":
            _check_tags(value, code, errors)
        else:  # customData
            _check_custom_data(value, code, errors)


def _objects(
    value: list[Any], code: str, keys: tuple[str, ...], errors: list[JsonDict]
) -> Iterator[tuple[str, JsonDict]]:
    """Each JSON object of a list, with its error code prefix; reports non-objects and
    keys other than ``keys``."""
    for i, item in enumerate(value):
        where = f"{code}[{i}]"
        if not isinstance(item, dict):
            errors.append(_err(where, _type_name("object")))
            continue
        for k in item:
            if k not in keys:
                errors.append(_err(f"{where}.{k}", NOT_EXPECTED))
        yield where, item


def _check_tags(value: Any, code: str, errors: list[JsonDict]) -> None:
    if not isinstance(value, list):
        errors.append(_err(code, _type_name("list")))
        return
    for where, tag in _objects(value, code, ("name", "color"), errors):
        name = tag.get("name")
        if not isinstance(name, str):
            errors.append(_err(f"{where}.name", "This value should not be blank."
                               if name is None else _type_name("string")))
        elif not name.strip():
            errors.append(_err(f"{where}.name", "This value should not be blank."))
        color = tag.get("color")
        if color is not None and not isinstance(color, str):
            errors.append(_err(f"{where}.color", _type_name("string")))


def _check_custom_data(value: Any, code: str, errors: list[JsonDict]) -> None:
    if not isinstance(value, list):
        errors.append(_err(code, _type_name("list") + " Write customData as a list of "
                                 '{"property", "value"} objects.'))
        return
    for where, item in _objects(value, code, ("property", "value"), errors):
        prop = item.get("property")
        if not isinstance(prop, str) or not prop:
            errors.append(_err(f"{where}.property", "This value should not be blank."
                               if prop in (None, "") else _type_name("string")))
        if "value" not in item:
            errors.append(_err(f"{where}.value", "This field is missing."))
            continue
        val = item["value"]
        if val is not None and not isinstance(val, str | int | float | bool):
            errors.append(_err(f"{where}.value", _type_name("scalar")))
        elif isinstance(val, str) and len(val) > _MAX_LEN:
            errors.append(_err(f"{where}.value", "This value is too long. It should have "
                                                 "255 characters or less."))


def _custom_value(prop: str, value: Any) -> Any:
    if prop.endswith("_date") and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def blank_customer(customer_id: int) -> JsonDict:
    """A customer with every field ``null`` (``tags``/``customData`` empty)."""
    out: JsonDict = dict.fromkeys(_RESPONSE_ORDER)
    out["id"] = customer_id
    out["tags"] = []
    out["customData"] = {}
    return out


class CustomerStore:
    """The fake's customers, in the documented response format.

    Example:
        >>> store = CustomerStore()
        >>> c = store.create({"name": "Ann", "customData": [{"property": "plan",
        ...                                                   "value": "pro"}]})
        >>> c["id"], c["name"], c["customData"]
        (1, 'Ann', {'plan': 'pro'})
        >>> store.update(1, {"email": "a@example.com"}, replace=True)["name"] is None
        True
    """

    def __init__(self) -> None:
        self.customers: dict[int, JsonDict] = {}
        self.tag_colors: dict[str, str] = {}
        self._next_id = 1
        #: Called with (before, after) for every change made by a request: ``before`` is
        #: ``None`` for a new customer, ``after`` ``None`` for a deleted one (webhooks).
        self.on_change: Callable[[JsonDict | None, JsonDict | None], None] | None = None

    def _before(self, customer: JsonDict) -> JsonDict | None:
        return copy.deepcopy(customer) if self.on_change is not None else None

    def _changed(self, before: JsonDict | None, after: JsonDict | None) -> None:
        if self.on_change is not None:
            self.on_change(before, after)

    # --- reading ------------------------------------------------------------------

    def get(self, customer_id: int) -> JsonDict:
        """The stored customer or a 404."""
        customer = self.customers.get(customer_id)
        if customer is None:
            raise not_found(customer_id)
        return customer

    def delete(self, customer_id: int) -> JsonDict:
        """``DELETE /customers/{id}``: remove the customer (404 when there is none).

        The docs give only the status (200); the fake answers ``{}``.
        """
        self._changed(self.get(customer_id), None)
        del self.customers[customer_id]
        return {}

    # --- writing ------------------------------------------------------------------

    def validate(self, body: Any, prefix: str = "") -> None:
        """Raise a 400 listing every problem in an update/create body."""
        errors: list[JsonDict] = []
        _check_fields(body, prefix, errors)
        if errors:
            raise ApiError(400, errors)

    def create(self, body: Any) -> JsonDict:
        """``POST /customers``: a new customer from ``body`` (201)."""
        self.validate(body)
        customer = blank_customer(self._next_id)
        self._next_id += 1
        self._apply(customer, body)
        self.customers[customer["id"]] = customer
        self._changed(None, customer)
        return customer

    def update(self, customer_id: int, body: Any, *, replace: bool) -> JsonDict:
        """``PUT`` (``replace=True``) or ``PATCH`` one customer."""
        customer = self.get(customer_id)
        self.validate(body)
        before = self._before(customer)
        if replace:
            fresh = blank_customer(customer_id)
            fresh["location"] = customer["location"]
            fresh["device"] = customer["device"]
            customer.clear()
            customer.update(fresh)
        self._apply(customer, body)
        if before is not None:
            self._changed(before, customer)
        return customer

    def batch(self, body: Any) -> list[JsonDict]:
        """``PUT /customers/batch``: validate all items, then ``PATCH`` each (atomic)."""
        if not isinstance(body, list):
            raise ApiError(400, [_err("customers", _type_name("list"))])
        if not 1 <= len(body) <= _BATCH_MAX:
            message = ("This collection should contain 1 element or more." if not body else
                       f"This collection should contain {_BATCH_MAX} elements or less.")
            raise ApiError(400, [_err("customers", message)])
        errors: list[JsonDict] = []
        ids: list[int] = []
        for i, item in enumerate(body):
            prefix = f"[{i}]."
            if not isinstance(item, dict):
                errors.append(_err(f"[{i}]", _type_name("object")))
                continue
            cid = item.get("customer")
            if cid is None:
                errors.append(_err(prefix + "customer", "This value should not be blank."))
            elif not is_int(cid):
                errors.append(_err(prefix + "customer", NUMERIC))
            else:
                ids.append(cid)
            fields = {k: v for k, v in item.items() if k != "customer"}
            _check_fields(fields, prefix, errors)
        if errors:
            raise ApiError(400, errors)
        missing = [cid for cid in ids if cid not in self.customers]
        if missing:
            raise not_found(missing[0])
        out = []
        for item in body:
            customer = self.customers[item["customer"]]
            before = self._before(customer)
            self._apply(customer, {k: v for k, v in item.items() if k != "customer"})
            if before is not None:
                self._changed(before, customer)
            out.append(customer)
        return out

    def tag(self, customer_id: int, body: Any, *, remove: bool) -> JsonDict:
        """``PUT`` (add) or ``DELETE`` (remove) ``/customers/{id}/tags``."""
        customer = self.get(customer_id)
        errors: list[JsonDict] = []
        if not isinstance(body, dict):
            raise ApiError(400, [_err("body", _type_name("object"))])
        for k in body:
            if k != "tags":
                errors.append(_err(k, NOT_EXPECTED))
        if "tags" not in body:
            errors.append(_err("tags", "This field is missing."))
        else:
            _check_tags(body["tags"], "tags", errors)
        if errors:
            raise ApiError(400, errors)
        before = self._before(customer)
        if remove:
            names = {t["name"] for t in body["tags"]}
            customer["tags"] = [t for t in customer["tags"] if t["name"] not in names]
        else:
            have = {t["name"]: t for t in customer["tags"]}
            for tag in self._resolve_tags(body["tags"]):
                if tag["name"] in have:
                    have[tag["name"]]["color"] = tag["color"]
                else:
                    customer["tags"].append(tag)
                    have[tag["name"]] = tag
        if before is not None:
            self._changed(before, customer)
        return customer

    def _resolve_tags(self, tags: Iterable[JsonDict]) -> list[JsonDict]:
        out: list[JsonDict] = []
        seen: set[str] = set()
        for tag in tags:
            name = tag["name"]
            color = tag.get("color")
            if color is None:
                color = self.tag_colors.get(name, DEFAULT_TAG_COLOR)
            elif self.tag_colors.get(name) != color:
                self._recolor(name, color)
            self.tag_colors[name] = color
            if name not in seen:
                seen.add(name)
                out.append({"name": name, "color": color})
        return out

    def _recolor(self, name: str, color: str) -> None:
        if name not in self.tag_colors:
            return
        for customer in self.customers.values():
            for tag in customer["tags"]:
                if tag["name"] == name:
                    tag["color"] = color

    def _apply(self, customer: JsonDict, body: JsonDict) -> None:
        for key, value in body.items():
            if key == "tags":
                customer["tags"] = [] if value is None else self._resolve_tags(value)
            elif key == "customData":
                if value is None:
                    customer["customData"] = {}
                else:
                    data = customer["customData"]
                    for item in value:
                        data[item["property"]] = _custom_value(item["property"], item["value"])
            else:
                customer[key] = value

    # --- seeding ------------------------------------------------------------------

    def seed(self, count: int, start_id: int = 1, *,
             fields: dict[str, Any] | None = None) -> list[int]:
        """Create ``count`` customers with ids ``start_id..``, shaped like the docs.

        Each gets its own ``userId`` (``user_<id>``) and email; ``fields`` (response
        keys, camelCase) overrides values in every one of them.
        """
        if not is_int(count) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        if not is_int(start_id) or start_id < 1:
            raise ValueError(f"start_id must be an int >= 1, got {start_id!r}")
        ids = list(range(start_id, start_id + count))
        template = blank_customer(0)
        for cid in ids:
            customer = copy.deepcopy(template)
            customer.update({
                "id": cid,
                "name": f"Customer {cid}",
                "email": f"customer{cid}@example.com",
                "userId": f"user_{cid}",
                "firstSeen": str(1603885746 + cid),
                "lastSeen": str(1603885746 + cid),
                "location": {"regionCode": None, "countryCode": "UA", "city": "Kyiv"},
                "device": {"id": cid, "ip": "192.0.2.1", "timezone": "Europe/Kiev",
                           "platform": "desktop", "userAgent": "Mozilla/5.0"},
                "unsubscribed": False,
                "blocked": False,
                "locale": "en",
            })
            customer.update(copy.deepcopy(fields or {}))
            self.customers[cid] = customer
        if ids:
            self._next_id = max(self._next_id, ids[-1] + 1)
        return ids

    def reset(self) -> None:
        """Forget every customer and tag."""
        self.customers.clear()
        self.tag_colors.clear()
        self._next_id = 1
