"""Job files for the ``helpcrunch`` command: input lines in, report lines out.

Input is JSON Lines or CSV, one customer a line, with ``id`` (HelpCrunch's numeric
customer id) and the documented field names — camelCase as in the API docs
(``userId``, ``customData``) or snake_case (``user_id``, ``custom_data``).

* **JSON Lines**: one object a line. ``null`` clears a field; a key left out is left
  alone. ``customData`` is an object (or the API's ``[{"property", "value"}]`` list);
  ``tags`` a list of names or ``{"name", "color"}`` objects; ``firstSeen``/``lastSeen``
  epoch seconds (a number or a string of digits).
* **CSV**: a header row, then one customer a row. An empty cell leaves the field
  alone (use JSON Lines to clear fields). ``unsubscribed``/``blocked`` take
  ``true``/``false``/``1``/``0``/``yes``/``no``; ``tags`` is a ``;``-separated list of
  names; ``customData.<property>`` columns (or ``custom_data.<property>``) fill custom
  data, as strings.

The report (``--report``) is JSON Lines too: one line per input line, written and
flushed as each finishes — ``{"line", "id", "status", "error", "http_status",
"codes", "attempts"}`` with ``status`` ``"done"``, ``"failed"`` or ``"invalid"``. A
later line for the same input line supersedes an earlier one; ``--resume`` skips every
line whose last status is ``"done"``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from .._exceptions import APIError, HelpCrunchError, ValidationError
from .._models import CustomerUpdate, Tag, coerce_update
from .._validation import check_customer_id

__all__ = [
    "InputError", "JobLine", "ReportWriter", "check_resume", "close_input", "done_lines",
    "read_lines",
]

_CAMEL = {
    "userId": "user_id", "firstSeen": "first_seen", "lastSeen": "last_seen",
    "lastPage": "last_page", "customData": "custom_data",
}
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class InputError(HelpCrunchError):
    """The input file as a whole cannot be read (missing, no ``id`` column, unknown format)."""


@attrs.frozen
class JobLine:
    """One input line: its 1-based number, and the parsed item or why it is invalid."""

    number: int
    customer_id: int | None
    update: CustomerUpdate | None
    error: ValidationError | None
    raw_id: object = None


def _key(name: str) -> str:
    return _CAMEL.get(name, name)


def _json_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in obj.items():
        if name == "id":
            continue
        key = _key(name)
        if key == "custom_data" and isinstance(value, list):
            value = _custom_data_list(value)
        elif key == "tags" and isinstance(value, list):
            value = [_tag(t) for t in value]
        elif key in ("first_seen", "last_seen") and isinstance(value, str) and value.isdigit():
            value = int(value)
        fields[key] = value
    return fields


def _custom_data_list(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, Mapping) or "property" not in item:
            raise ValidationError(
                "customData list entries must be {\"property\": ..., \"value\": ...}",
                field="custom_data",
            )
        out[item["property"]] = item.get("value")
    return out


def _tag(value: Any) -> Any:
    if isinstance(value, Mapping) and "name" in value:
        color = value.get("color")
        return Tag(name=value["name"]) if color is None else Tag(name=value["name"], color=color)
    return value


def _csv_fields(row: Mapping[str, str | None]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None:
            raise ValidationError("more cells than columns in the header", field="row")
        if column == "id" or cell is None or cell == "":
            continue
        prefix, dot, prop = column.partition(".")
        if dot and _key(prefix) == "custom_data":
            custom[prop] = cell
            continue
        key = _key(column)
        value: Any = cell
        if key in ("unsubscribed", "blocked"):
            if cell.strip().lower() not in _BOOL_WORDS:
                raise ValidationError(f"{column} must be true or false, got {cell!r}", field=key)
            value = _BOOL_WORDS[cell.strip().lower()]
        elif key in ("first_seen", "last_seen"):
            if not cell.strip().isdigit():
                raise ValidationError(
                    f"{column} must be epoch seconds, got {cell!r}", field=key)
            value = int(cell)
        elif key == "tags":
            value = [t.strip() for t in cell.split(";") if t.strip()]
        fields[key] = value
    if custom:
        fields["custom_data"] = custom
    return fields


def _line(number: int, raw_id: object, build: Any) -> JobLine:
    try:
        if raw_id is None or raw_id == "":
            raise ValidationError("the line has no id", field="id")
        cid = check_customer_id(raw_id)
        update = coerce_update(None, build())
        if update.is_empty():
            raise ValidationError("nothing to update on this line", field="update")
    except ValidationError as exc:
        return JobLine(number, None, None, exc, raw_id)
    return JobLine(number, cid, update, None, raw_id)


def _detect_format(path: str, first: str) -> str:
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if path.endswith(".csv"):
        return "csv"
    return "jsonl" if first.lstrip().startswith("{") else "csv"


def open_input(path: str) -> IO[str]:
    """The input stream: ``-`` is stdin. Raises :class:`InputError` if unreadable."""
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a text-only stdin (tests, embedding): read it as it is
            return sys.stdin
        # utf-8-sig: files saved by Excel and others start with a byte-order mark.
        return io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def close_input(stream: IO[str], path: str) -> None:
    """Close what :func:`open_input` opened; stdin itself stays open."""
    if path != "-":
        stream.close()
    elif isinstance(stream, io.TextIOWrapper) and stream is not sys.stdin:
        stream.detach()  # our wrapper goes, the process's stdin stays


def read_lines(stream: IO[str], path: str = "-") -> Iterator[JobLine]:
    """Parse the input lazily, one :class:`JobLine` per non-blank line.

    Raises:
        InputError: a CSV without an ``id`` column, a file that is not UTF-8, or an
            unreadable stream.
    """
    try:
        yield from _read_lines(stream, path)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None


def _read_lines(stream: IO[str], path: str) -> Iterator[JobLine]:
    first = stream.readline()
    if not first:
        return
    fmt = _detect_format(path, first)
    rest = itertools.chain([first], stream)
    if fmt == "csv":
        reader = csv.DictReader(rest)
        if reader.fieldnames is None or "id" not in reader.fieldnames:
            raise InputError("the CSV header must have an 'id' column")
        for row in reader:
            number = reader.line_num
            yield _line(number, row.get("id"), lambda row=row: _csv_fields(row))
        return
    for number, text in enumerate(rest, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield JobLine(number, None, None,
                          ValidationError(f"not valid JSON: {exc}", field="line"))
            continue
        if not isinstance(obj, dict):
            yield JobLine(number, None, None,
                          ValidationError("each line must be a JSON object", field="line"))
            continue
        yield _line(number, obj.get("id"), lambda obj=obj: _json_fields(obj))


def done_lines(path: str) -> dict[int, str | None]:
    """``{line number: id}`` of the lines whose last report entry says ``done``.

    ``--resume`` skips these lines — only where the input line still has the same id
    (see :func:`check_resume`).
    """
    last: dict[int, tuple[str, str | None]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for text in f:
                try:
                    entry = json.loads(text)
                    raw_id = entry.get("id")
                    last[int(entry["line"])] = (
                        str(entry["status"]), None if raw_id is None else str(raw_id))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by a crash: that item is simply redone
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return {line: raw_id for line, (status, raw_id) in last.items() if status == "done"}


def check_resume(line: JobLine, done_id: str | None) -> None:
    """Refuse to skip a line whose id differs from the one the report recorded.

    Raises:
        InputError: the input changed since the report was written (or it is another
            job's report); skipping by line number would skip the wrong customers.
    """
    given = None if line.raw_id is None else str(line.raw_id)
    if given != done_id:
        raise InputError(
            f"line {line.number} has id {given!r} but the report says line {line.number} "
            f"(id {done_id!r}) is done: the input changed since the report was written, "
            "or the report belongs to another file"
        )


class ReportWriter:
    """Appends one JSON line per finished input line, flushed at once (crash-safe)."""

    def __init__(self, path: str | None) -> None:
        self._file: IO[str] | None = None
        if path is not None:
            report = Path(path)
            report.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(report, "a", encoding="utf-8")  # noqa: SIM115 - see close()
            if report.stat().st_size and not _ends_with_newline(report):
                self._file.write("\n")  # a crash cut the last entry short: start afresh

    def write(self, line: int, raw_id: object, status: str,
              error: HelpCrunchError | None = None, attempts: int = 0) -> None:
        """Record one input line's outcome."""
        if self._file is None:
            return
        entry: dict[str, Any] = {
            "line": line,
            "id": raw_id if isinstance(raw_id, int | str) else None,
            "status": status,
            "error": None if error is None else str(error),
            "http_status": error.status if isinstance(error, APIError) else None,
            "codes": list(error.codes) if isinstance(error, APIError) else [],
            "attempts": attempts,
        }
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush and close the report file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, io.SEEK_END)
        return f.read(1) == b"\n"
