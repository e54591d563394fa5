"""The fake's wire format: request bodies checked, errors shaped, as documented.

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

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "BATCH_MAX",
    "DEFAULT_TAG_COLOR",
    "NOT_EXPECTED",
    "NUMERIC",
    "ApiError",
    "JsonDict",
    "blank_customer",
    "check_fields",
    "check_tags",
    "custom_value",
    "err",
    "error_body",
    "not_found",
    "parse_customer_id",
    "type_name",
]

DEFAULT_TAG_COLOR = "#c377e0"

JsonDict = dict[str, Any]

_STRING_FIELDS = (
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "source",
    "referer",
    "lastPage",
    "notes",
    "createdFrom",
    "integrationId",
)
_TIMESTAMP_FIELDS = ("firstSeen", "lastSeen")
_BOOL_FIELDS = ("unsubscribed", "blocked")
WRITABLE_FIELDS = frozenset(
    (*_STRING_FIELDS, *_TIMESTAMP_FIELDS, *_BOOL_FIELDS, "locale", "tags", "customData")
)
_RESPONSE_ORDER = (
    "id",
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "firstSeen",
    "lastSeen",
    "location",
    "device",
    "unsubscribed",
    "blocked",
    "source",
    "referer",
    "lastPage",
    "locale",
    "createdFrom",
    "integrationId",
    "notes",
    "tags",
    "customData",
)
_MAX_LEN = 255
_LOCALE = re.compile(r"[a-z]{2}")
BATCH_MAX = 10

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


def err(code: str, message: str) -> JsonDict:
    return {"code": code, "message": message}


def not_found(customer_id: int | str) -> ApiError:
    """404 for an unknown customer."""
    return ApiError(404, [err("not_found", "Customer not found")])


def parse_customer_id(raw: str) -> int:
    """The numeric id from a path segment, or a 400 exactly as documented.

    Example:
        >>> parse_customer_id("1568834")
        1568834
        >>> parse_customer_id("abc")
        Traceback (most recent call last):
        ...
        helpcrunch_async.testing._wire.ApiError: (400, [{'code': 'customer', \
'message': 'This value should be of type numeric.'}])
    """
    if raw.isascii() and raw.isdigit():
        return int(raw)
    raise ApiError(400, [err("customer", NUMERIC)])


def type_name(kind: str) -> str:
    return f"This value should be of type {kind}."


def check_fields(body: Any, prefix: str, errors: list[JsonDict]) -> None:
    """Append an error for every problem in an update/create body."""
    if not isinstance(body, dict):
        errors.append(err(prefix.rstrip(".") or "body", type_name("object")))
        return
    for key, value in body.items():
        code = prefix + key
        if key not in WRITABLE_FIELDS:
            errors.append(err(code, NOT_EXPECTED))
        elif value is None:
            continue
        elif key in _STRING_FIELDS:
            if not isinstance(value, str):
                errors.append(err(code, type_name("string")))
            elif key == "notes" and len(value) > _MAX_LEN:
                errors.append(
                    err(code, "This value is too long. It should have 255 characters or less.")
                )
        elif key in _TIMESTAMP_FIELDS:
            if not isinstance(value, str):
                errors.append(err(code, type_name("string")))
            elif not (value.isascii() and value.isdigit()):
                errors.append(
                    err(code, "This value should be a UNIX timestamp (a string of digits).")
                )
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                errors.append(err(code, type_name("bool")))
        elif key == "locale":
            if not isinstance(value, str):
                errors.append(err(code, type_name("string")))
            elif not _LOCALE.fullmatch(value):
                errors.append(err(code, "This value is not a valid locale."))
        elif key == "tags":
            check_tags(value, code, errors)
        else:  # customData
            check_custom_data(value, code, errors)


def _objects(
    value: list[Any], code: str, keys: tuple[str, ...], errors: list[JsonDict]
) -> Iterator[tuple[str, JsonDict]]:
    """Each JSON object of a list, with its error code prefix; reports non-objects and
    keys other than ``keys``."""
    for i, item in enumerate(value):
        where = f"{code}[{i}]"
        if not isinstance(item, dict):
            errors.append(err(where, type_name("object")))
            continue
        for k in item:
            if k not in keys:
                errors.append(err(f"{where}.{k}", NOT_EXPECTED))
        yield where, item


def check_tags(value: Any, code: str, errors: list[JsonDict]) -> None:
    if not isinstance(value, list):
        errors.append(err(code, type_name("list")))
        return
    for where, tag in _objects(value, code, ("name", "color"), errors):
        name = tag.get("name")
        if not isinstance(name, str):
            errors.append(
                err(
                    f"{where}.name",
                    "This value should not be blank." if name is None else type_name("string"),
                )
            )
        elif not name.strip():
            errors.append(err(f"{where}.name", "This value should not be blank."))
        color = tag.get("color")
        if color is not None and not isinstance(color, str):
            errors.append(err(f"{where}.color", type_name("string")))


def check_custom_data(value: Any, code: str, errors: list[JsonDict]) -> None:
    if not isinstance(value, list):
        errors.append(
            err(
                code,
                type_name("list") + ' Write customData as a list of {"property", "value"} objects.',
            )
        )
        return
    for where, item in _objects(value, code, ("property", "value"), errors):
        prop = item.get("property")
        if not isinstance(prop, str) or not prop:
            errors.append(
                err(
                    f"{where}.property",
                    "This value should not be blank."
                    if prop in (None, "")
                    else type_name("string"),
                )
            )
        if "value" not in item:
            errors.append(err(f"{where}.value", "This field is missing."))
            continue
        val = item["value"]
        if val is not None and not isinstance(val, str | int | float | bool):
            errors.append(err(f"{where}.value", type_name("scalar")))
        elif isinstance(val, str) and len(val) > _MAX_LEN:
            errors.append(
                err(
                    f"{where}.value",
                    "This value is too long. It should have 255 characters or less.",
                )
            )


def custom_value(prop: str, value: Any) -> Any:
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
