"""One input line of ``update-customers`` or ``sync`` as a job holds it: a :class:`JobLine`.

A line's fields — a JSON object, or a CSV row under its header — are read by their
names as written (camelCase as in the API docs, or snake_case), checked as a
``CustomerUpdate`` would check them, and every problem the line has is kept, each named
by the column or key as written in the file. The input format as a whole, and how the
lines are read: :mod:`helpcrunch_async.cli._input`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .._convert import WIRE_KEYS
from .._exceptions import ValidationError
from .._models import CustomerUpdate, Tag, coerce_update
from .._validation import check_customer_id

__all__ = [
    "MATCH_COLUMNS",
    "MATCH_NAMES",
    "JobLine",
    "field_name",
    "invalid_line",
    "line_from_csv",
    "line_from_json",
]

_FIELD_OF_NAME = {
    key: field for field, key in WIRE_KEYS.items() if field in attrs.fields_dict(CustomerUpdate)
}
"""An update's fields by the API's camelCase name (``userId`` → ``user_id``): the wire
names of :data:`~helpcrunch_async._convert.WIRE_KEYS` that ``CustomerUpdate`` has."""
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", int() does not
_TIMESTAMPS = ("first_seen", "last_seen")
#: ``--match`` keys other than ``id``: the field as the API docs write it, and the
#: column names a CSV may use for it.
MATCH_NAMES = {"user_id": "userId", "email": "email"}
MATCH_COLUMNS = {"user_id": ("userId", "user_id"), "email": ("email",)}


@attrs.frozen
class JobLine:
    """One input line: its 1-based number, and the parsed item or why it is invalid.

    ``error`` holds every problem of the line in its message (``; ``-separated), its
    ``field`` the first column or key at fault, as written in the file.
    """

    number: int
    customer_id: int | None
    update: CustomerUpdate | None
    error: ValidationError | None
    raw_id: object = None


def field_name(name: str) -> str:
    """The update's field for a name as written: ``userId`` → ``user_id``; other names
    as they are."""
    return _FIELD_OF_NAME.get(name, name)


def invalid_line(number: int, message: str, field: str = "line", raw_id: object = None) -> JobLine:
    """An invalid line: ``message`` says why, ``field`` names the column or key at fault."""
    return JobLine(number, None, None, ValidationError(message, field=field), raw_id)


def line_from_json(number: int, obj: Mapping[str, Any], match: str = "id") -> JobLine:
    """The :class:`JobLine` of a JSON Lines object; ``match`` is its key (``--match``)."""
    fields = _Fields()
    for name, value in obj.items():
        if name == "id":
            continue
        key = field_name(name)
        try:
            if key == "custom_data" and isinstance(value, list):
                value = _custom_data_list(name, value)
            elif key == "tags" and isinstance(value, list):
                value = [_tag(name, i, t) for i, t in enumerate(value)]
            elif key in _TIMESTAMPS:
                value = _timestamp(name, value)
        except ValidationError as exc:
            fields.problems.add(name, exc)
            continue
        fields.set(key, name, value)
    return _line(number, obj.get("id"), fields, match)


def line_from_csv(number: int, header: list[str], row: list[str], match: str = "id") -> JobLine:
    """The :class:`JobLine` of a CSV row under ``header``; ``match`` is its key."""
    fields = _Fields()
    custom: dict[str, Any] = {}
    if len(row) > len(header):
        fields.problems.add(
            "row", ValidationError(f"{len(row)} cells but {len(header)} columns in the header")
        )
    for column, cell in zip(header, row, strict=False):
        if column == "id" or cell == "":
            continue
        prefix, dot, prop = column.partition(".")
        if dot and field_name(prefix) == "custom_data":
            custom[prop] = cell
            fields.written.setdefault("custom_data", column)
            continue
        key = field_name(column)
        value: Any = cell
        try:
            if key in ("unsubscribed", "blocked"):
                if cell.strip().lower() not in _BOOL_WORDS:
                    raise ValidationError(f"{column} must be true or false, got {cell!r}")
                value = _BOOL_WORDS[cell.strip().lower()]
            elif key in _TIMESTAMPS:
                value = _timestamp(column, cell)
            elif key == "tags":
                value = [t.strip() for t in cell.split(";") if t.strip()]
        except ValidationError as exc:
            fields.problems.add(column, exc)
            continue
        fields.set(key, column, value)
    if custom:
        fields.values["custom_data"] = custom
    id_column = header.index("id") if "id" in header else len(row)
    return _line(number, row[id_column] if id_column < len(row) else None, fields, match)


class _Problems:
    """Collects every problem of one line, each named by the column the user wrote."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []  # (field as written, message)

    def add(self, written: str, exc: ValidationError, internal: str | None = None) -> None:
        message = str(exc)
        if internal and internal != written and message.startswith(internal):
            message = written + message[len(internal) :]  # "user_id must..." -> "userId must..."
        self.items.append((written, message))

    def error(self) -> ValidationError | None:
        if not self.items:
            return None
        return ValidationError("; ".join(m for _, m in self.items), field=self.items[0][0])


class _Fields:
    """The fields of one line as they are read: each value by its field, the name it was
    written under, and every problem found."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.written: dict[str, str] = {}
        self.problems = _Problems()

    def set(self, key: str, name: str, value: Any) -> None:
        """Keep ``value`` for field ``key``, written as ``name`` — unless the line gave
        this field already under another name (``userId`` and ``user_id``, or a CSV
        column twice): which value was meant is not for the reader to guess (a problem)."""
        if key in self.written:
            self.problems.add(
                name,
                ValidationError(
                    f"{name} and {self.written[key]} are the same field, given twice: keep one"
                ),
            )
            return
        self.values[key] = value
        self.written[key] = name


def _timestamp(written: str, value: Any) -> Any:
    """Epoch seconds as given, a string of ASCII digits as an int, an ISO 8601 date with
    a timezone as an aware datetime; anything else is left for the record to refuse."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{written} must be epoch seconds or an ISO 8601 date with a timezone "
            f"(2020-10-28T12:00:00Z), got {value!r}",
            field=written,
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            f"{written} has no timezone, which is ambiguous: add Z or +00:00, got {value!r}",
            field=written,
        )
    return moment


def _custom_data_list(written: str, items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        prop = item.get("property") if isinstance(item, Mapping) else None
        if not isinstance(prop, str) or not prop.strip():
            raise ValidationError(
                f'{written}[{i}] must be {{"property": "<name>", "value": ...}} with '
                f"a non-empty string property, got {item!r}"[:300],
                field=written,
            )
        out[prop] = item.get("value")
    return out


def _tag(written: str, index: int, value: Any) -> Any:
    if isinstance(value, Mapping) and "name" in value:
        try:
            color = value.get("color")
            return (
                Tag(name=value["name"]) if color is None else Tag(name=value["name"], color=color)
            )
        except ValidationError as exc:
            raise ValidationError(f"{written}[{index}]: {exc}", field=written) from None
    return value


def _line(number: int, raw_id: object, fields: _Fields, match: str = "id") -> JobLine:
    problems = fields.problems
    cid: int | None = None
    if match != "id":
        raw_id = _match_key(match, raw_id, fields)
    else:
        try:
            if raw_id is None or raw_id == "":
                raise ValidationError("the line has no id")
            cid = check_customer_id(raw_id)
        except ValidationError as exc:
            problems.add("id", exc, "customer_id")
            problems.items.insert(0, problems.items.pop())  # the id first
    update = None
    try:
        update = coerce_update(None, fields.values)
    except ValidationError:  # find every field at fault, not only the first
        for key, value in fields.values.items():
            try:
                coerce_update(None, {key: value})
            except ValidationError as exc:
                problems.add(fields.written.get(key, key), exc, key)
    if update is not None and update.is_empty() and not problems.items:
        problems.add("update", ValidationError("nothing to update on this line"))
    error = problems.error()
    if error is not None:
        return JobLine(number, None, None, error, raw_id)
    return JobLine(number, cid, update, None, raw_id)


def _match_key(match: str, raw_id: object, fields: _Fields) -> object:
    """The line's key under ``--match user_id|email``, taken out of its fields: it says
    which customer to update and is not sent."""
    problems = fields.problems
    name = fields.written.get(match, MATCH_NAMES[match])
    value = fields.values.pop(match, None)
    if not isinstance(value, str) or not value.strip():
        shown = "no " + name if value in (None, "") else f"{name} {value!r}"
        problems.add(
            name,
            ValidationError(
                f"the line has {shown}: with --match {match} a non-empty {name} says which "
                "customer to update"
            ),
        )
        value = None
    elif value != value.strip():
        # " u-42" matches nobody, so sync --create-missing would create a second customer
        # for a typo (and again each run if HelpCrunch trims it): refuse it, say why.
        problems.add(
            name,
            ValidationError(
                f"{name} {value!r} starts or ends with spaces: the key must be written exactly "
                "as HelpCrunch holds it; remove the spaces"
            ),
        )
    if raw_id is not None and raw_id != "":
        problems.add(
            "id",
            ValidationError(
                f"the line has an id, but with --match {match} the customer is found by "
                f"{name}: drop the id, or use --match id"
            ),
        )
    problems.items.sort(key=lambda item: item[0] not in (name, "id"))  # the key first
    return value
