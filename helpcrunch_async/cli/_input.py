"""Job files for the ``helpcrunch`` command: input lines in, report lines out.

Input is JSON Lines or CSV, one customer a line, with ``id`` (HelpCrunch's numeric
customer id) and the documented field names — camelCase as in the API docs
(``userId``, ``customData``) or snake_case (``user_id``, ``custom_data``).

* **JSON Lines**: one object a line. ``null`` clears a field; a key left out is left
  alone. ``customData`` is an object (or the API's ``[{"property", "value"}]`` list);
  ``tags`` a list of names or ``{"name", "color"}`` objects; ``firstSeen``/``lastSeen``
  epoch seconds (a number or a string of digits) or an ISO 8601 date with a timezone
  (``2020-10-28T12:00:00Z``, ``2020-10-28T14:00:00+02:00``).
* **CSV**: a header row with an ``id`` column (lowercase, comma-separated), then one
  customer a row. An empty cell leaves the field alone (use JSON Lines to clear
  fields). ``unsubscribed``/``blocked`` take ``true``/``false``/``1``/``0``/``yes``/``no``;
  ``tags`` is a ``;``-separated list of names; ``customData.<property>`` columns (or
  ``custom_data.<property>``) fill custom data, as strings; timestamps as in JSON Lines.

A line that cannot be used is reported ``invalid`` — with every problem it has, each
named by the column or key as written in the file — and the job goes on with the next
line: bad JSON or nesting too deep, a CSV row with a stray or unterminated quote, a
cell over the CSV field limit (131,072 characters), more cells than columns, wrong
values, a field given twice (``userId`` and ``user_id``). A second line with the id of
an earlier valid line is invalid too (both would be sent at once, in no fixed order):
merge them. To tell, :func:`read_lines` keeps every distinct key it has read with its
line number — about 120 bytes a line for ids, 115 plus the key's length for a
``userId`` or ``email`` — so ``update-customers`` grows with its input. ``sync`` reads
with ``unique=False`` and claims each key against the account it holds instead
(``CustomerSync.claim_key``), bounded by the account. Only a file that cannot be read
at all (missing, not UTF-8, a CSV header without ``id`` or with a column twice) stops
the job, with exit code 2.

The report (``--report``) is JSON Lines too: one line per input line, written and
flushed as each finishes — ``{"line", "id", "status", "error", "http_status",
"codes", "attempts"}`` with ``status`` ``"done"``, ``"failed"`` or ``"invalid"``. A
later line for the same input line supersedes an earlier one; ``--resume`` skips every
line whose last status is ``"done"``.

``--match user_id|email`` (see :func:`read_lines`): lines carry ``userId`` (or
``user_id``) or ``email`` instead of ``id``; that field finds the customer and is not
sent (to change a customer's userId or email, match by ``id`` or by the other key) —
except with ``--put`` or ``--batch``, where it is sent as written so that a replace
(``PUT``, or a batch item if it acts like one: undocumented) never clears it.
A key with spaces at either end is invalid (it would match nobody, and ``sync
--create-missing`` would create a second customer for the typo). The report then has
``"key"`` (the line's userId or email) and ``"id"`` is the customer it was found to be
(``null`` when none was).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import attrs

from .._account_index import MatchField, match_key
from .._exceptions import APIError, HelpCrunchError, ValidationError
from .._models import CustomerUpdate, Tag, coerce_update
from .._validation import check_customer_id

__all__ = [
    "MATCH_NAMES", "InputError", "JobLine", "ReportWriter", "check_resume", "close_input",
    "done_lines", "input_name", "line_key", "match_key", "open_input", "read_lines",
    "repeated_key", "start_reading",
]

_CAMEL = {
    "userId": "user_id", "firstSeen": "first_seen", "lastSeen": "last_seen",
    "lastPage": "last_page", "customData": "custom_data",
}
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", int() does not
_TIMESTAMPS = ("first_seen", "last_seen")
#: ``--match`` keys other than ``id``: the field as the API docs write it, and the
#: column names a CSV may use for it.
MATCH_NAMES = {"user_id": "userId", "email": "email"}
MATCH_COLUMNS = {"user_id": ("userId", "user_id"), "email": ("email",)}


class InputError(HelpCrunchError):
    """The input file as a whole cannot be read (missing, no ``id`` column, unknown format)."""


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


class _Problems:
    """Collects every problem of one line, each named by the column the user wrote."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []  # (field as written, message)

    def add(self, written: str, exc: ValidationError, internal: str | None = None) -> None:
        message = str(exc)
        if internal and internal != written and message.startswith(internal):
            message = written + message[len(internal):]  # "user_id must..." -> "userId must..."
        self.items.append((written, message))

    def error(self) -> ValidationError | None:
        if not self.items:
            return None
        return ValidationError("; ".join(m for _, m in self.items), field=self.items[0][0])


def _key(name: str) -> str:
    return _CAMEL.get(name, name)


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
            f"(2020-10-28T12:00:00Z), got {value!r}", field=written) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            f"{written} has no timezone, which is ambiguous: add Z or +00:00, "
            f"got {value!r}", field=written)
    return moment


def _json_fields(obj: Mapping[str, Any], problems: _Problems) -> tuple[dict[str, Any],
                                                                      dict[str, str]]:
    fields: dict[str, Any] = {}
    written: dict[str, str] = {}
    for name, value in obj.items():
        if name == "id":
            continue
        key = _key(name)
        try:
            if key == "custom_data" and isinstance(value, list):
                value = _custom_data_list(name, value)
            elif key == "tags" and isinstance(value, list):
                value = [_tag(name, i, t) for i, t in enumerate(value)]
            elif key in _TIMESTAMPS:
                value = _timestamp(name, value)
        except ValidationError as exc:
            problems.add(name, exc)
            continue
        if _given_twice(key, name, written, problems):
            continue
        fields[key] = value
        written[key] = name
    return fields, written


def _given_twice(key: str, name: str, written: dict[str, str], problems: _Problems) -> bool:
    """True (and a problem) when the line already gave this field under another name
    (``userId`` and ``user_id``, or a CSV column twice): which value was meant is not
    for the reader to guess."""
    if key not in written:
        return False
    problems.add(name, ValidationError(
        f"{name} and {written[key]} are the same field, given twice: keep one"))
    return True


def _custom_data_list(written: str, items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        prop = item.get("property") if isinstance(item, Mapping) else None
        if not isinstance(prop, str) or not prop.strip():
            raise ValidationError(
                f"{written}[{i}] must be {{\"property\": \"<name>\", \"value\": ...}} with "
                f"a non-empty string property, got {item!r}"[:300], field=written)
        out[prop] = item.get("value")
    return out


def _tag(written: str, index: int, value: Any) -> Any:
    if isinstance(value, Mapping) and "name" in value:
        try:
            color = value.get("color")
            return (Tag(name=value["name"]) if color is None
                    else Tag(name=value["name"], color=color))
        except ValidationError as exc:
            raise ValidationError(f"{written}[{index}]: {exc}", field=written) from None
    return value


def _csv_fields(header: list[str], row: list[str],
                problems: _Problems) -> tuple[dict[str, Any], dict[str, str]]:
    fields: dict[str, Any] = {}
    written: dict[str, str] = {}
    custom: dict[str, Any] = {}
    if len(row) > len(header):
        problems.add("row", ValidationError(
            f"{len(row)} cells but {len(header)} columns in the header"))
    for column, cell in zip(header, row, strict=False):
        if column == "id" or cell == "":
            continue
        prefix, dot, prop = column.partition(".")
        if dot and _key(prefix) == "custom_data":
            custom[prop] = cell
            written.setdefault("custom_data", column)
            continue
        key = _key(column)
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
            problems.add(column, exc)
            continue
        if _given_twice(key, column, written, problems):
            continue
        fields[key] = value
        written[key] = column
    if custom:
        fields["custom_data"] = custom
    return fields, written


def _line(number: int, raw_id: object, parsed: tuple[dict[str, Any], dict[str, str]],
          problems: _Problems, match: str = "id") -> JobLine:
    fields, written = parsed
    cid: int | None = None
    if match != "id":
        raw_id = _match_key(match, raw_id, fields, written, problems)
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
        update = coerce_update(None, fields)
    except ValidationError:  # find every field at fault, not only the first
        for key, value in fields.items():
            try:
                coerce_update(None, {key: value})
            except ValidationError as exc:
                problems.add(written.get(key, key), exc, key)
    if update is not None and update.is_empty() and not problems.items:
        problems.add("update", ValidationError("nothing to update on this line"))
    error = problems.error()
    if error is not None:
        return JobLine(number, None, None, error, raw_id)
    return JobLine(number, cid, update, None, raw_id)


def _match_key(match: str, raw_id: object, fields: dict[str, Any], written: dict[str, str],
               problems: _Problems) -> object:
    """The line's key under ``--match user_id|email``, taken out of its fields: it says
    which customer to update and is not sent."""
    name = written.get(match, MATCH_NAMES[match])
    value = fields.pop(match, None)
    if not isinstance(value, str) or not value.strip():
        shown = "no " + name if value in (None, "") else f"{name} {value!r}"
        problems.add(name, ValidationError(
            f"the line has {shown}: with --match {match} a non-empty {name} says which "
            "customer to update"))
        value = None
    elif value != value.strip():
        # " u-42" matches nobody, so sync --create-missing would create a second customer
        # for a typo (and again each run if HelpCrunch trims it): refuse it, say why.
        problems.add(name, ValidationError(
            f"{name} {value!r} starts or ends with spaces: the key must be written exactly "
            "as HelpCrunch holds it; remove the spaces"))
    if raw_id is not None and raw_id != "":
        problems.add("id", ValidationError(
            f"the line has an id, but with --match {match} the customer is found by "
            f"{name}: drop the id, or use --match id"))
    problems.items.sort(key=lambda item: item[0] not in (name, "id"))  # the key first
    return value


def _invalid(number: int, message: str, field: str = "line", raw_id: object = None) -> JobLine:
    return JobLine(number, None, None, ValidationError(message, field=field), raw_id)


def _detect_format(path: str, first: str) -> str:
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if path.endswith(".csv"):
        return "csv"
    return "jsonl" if first.lstrip().startswith("{") else "csv"


def input_name(path: str) -> str:
    """The input as messages name it: ``-`` is standard input."""
    return "standard input" if path == "-" else path


def open_input(path: str) -> IO[str]:
    """The input stream: ``-`` is stdin. Raises :class:`InputError` if unreadable."""
    if path == "-":
        if sys.stdin is None:  # started with stdin closed (<&-)
            raise InputError("cannot read standard input: it is closed")
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


def read_lines(stream: IO[str], path: str = "-", match: MatchField = "id", *,
               unique: bool = True) -> Iterator[JobLine]:
    """Parse the input lazily, one :class:`JobLine` per non-blank line.

    ``match`` is the line's key: ``"id"`` (HelpCrunch's id, the default), or
    ``"user_id"``/``"email"`` (``--match``): then each line needs ``userId`` (or
    ``user_id``) or ``email`` instead of ``id``; that field is the key, left out of the
    update and kept as the line's ``raw_id``, with ``customer_id`` ``None`` until the
    command finds the customer. A line with an ``id`` as well is invalid.

    A bad line gives a :class:`JobLine` with its ``error``; the lines after it are
    read as usual. A later line with the key of an earlier valid line is invalid
    (emails compared ignoring case): to tell, every distinct key is kept with its line
    number, so memory grows with the input. ``unique=False`` keeps nothing and leaves
    that rule to the caller (``sync`` checks keys against the account it holds).

    Raises:
        InputError: a CSV header without the key's column, a file that is not UTF-8,
            or a stream that fails to read.
    """
    seen: dict[object, int] = {}  # key -> the line that updates it
    try:
        for line in _read_lines(stream, path, match):
            key = line_key(line, match) if unique else None
            if key is not None:
                first = seen.setdefault(key, line.number)
                if first != line.number:
                    line = repeated_key(line, first, match)
            yield line
    except UnicodeDecodeError as exc:
        raise InputError(f"{input_name(path)} is not UTF-8 text ({exc.reason}); save it as "
                         "UTF-8") from None
    except OSError as exc:  # unreadable mid-way (an I/O error), or a directory
        raise InputError(f"cannot read {input_name(path)}: {exc.strerror or exc}") from None


def start_reading(stream: IO[str], path: str = "-", match: MatchField = "id", *,
                  unique: bool = True) -> Iterator[JobLine]:
    """:func:`read_lines` with its first line read now, so that an input that cannot be
    read at all (not UTF-8, a CSV header without the key's column) is refused before
    the job starts — before any warning, and before any request.

    Raises:
        InputError: as :func:`read_lines`.
    """
    lines = read_lines(stream, path, match, unique=unique)
    first = next(lines, None)
    return iter(()) if first is None else itertools.chain([first], lines)


def line_key(line: JobLine, match: MatchField) -> str | int | None:
    """The key of a valid line in the form keys are compared in (:func:`match_key`);
    ``None`` for an invalid line."""
    if match == "id":
        return line.customer_id
    if line.error is None and isinstance(line.raw_id, str):
        return match_key(match, line.raw_id)
    return None


def repeated_key(line: JobLine, first: int, match: str) -> JobLine:
    """``line`` made invalid: it has the key of line ``first``, which came before."""
    name = "id" if match == "id" else MATCH_NAMES[match]
    shown = line.customer_id if match == "id" else repr(line.raw_id)
    return _invalid(line.number, f"{name} {shown} is already updated by line {first}; "
                    "merge the two lines (both would be sent at once, in no fixed order)",
                    name, line.raw_id)


def _read_lines(stream: IO[str], path: str, match: str) -> Iterator[JobLine]:
    first = stream.readline()
    if not first:
        return
    rest = itertools.chain([first], stream)
    if _detect_format(path, first) == "csv":
        yield from _csv_lines(rest, match)
        return
    for number, text in enumerate(rest, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield _invalid(number, f"not valid JSON: {exc}")
            continue
        except RecursionError:
            yield _invalid(number, "not valid JSON: nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield _invalid(number, "each line must be a JSON object")
            continue
        problems = _Problems()
        yield _line(number, obj.get("id"), _json_fields(obj, problems), problems, match)


class _PhysicalLines:
    """The input's lines, counted, keeping those of the CSV row being read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.count = 0
        self.row: list[str] = []

    def __iter__(self) -> _PhysicalLines:
        return self

    def __next__(self) -> str:
        text = next(self._lines)
        self.count += 1
        self.row.append(text)
        return text


def _csv_lines(lines: Iterator[str], match: str) -> Iterator[JobLine]:
    source = _PhysicalLines(lines)
    reader = csv.reader(source, strict=True)
    header: list[str] | None = None
    while True:
        start = source.count + 1
        source.row = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if header is None:
                raise InputError(f"cannot read the CSV header: {exc}") from None
            if "field limit" in str(exc):
                yield _invalid(start, f"a cell is longer than {csv.field_size_limit():,} "
                                      "characters, the CSV field limit")
                continue
            if "unexpected end of data" in str(exc) and len(source.row) > 1:
                # A quote opened on this line never closed: it swallowed the lines after
                # it. Report this line and read the swallowed ones again, as rows.
                yield _invalid(start, "a quoted cell is never closed (unterminated \")")
                again = _PhysicalLines(iter(source.row[1:]))
                again.count = start
                source, reader = again, csv.reader(again, strict=True)
                continue
            yield _invalid(start, f"not valid CSV: {exc} (a stray or unterminated \"?)")
            continue
        if not row:
            continue
        if header is None:
            header = row
            _check_header(header, match)
            continue
        problems = _Problems()
        id_column = header.index("id") if "id" in header else len(row)
        yield _line(start, row[id_column] if id_column < len(row) else None,
                    _csv_fields(header, row, problems), problems, match)


def _check_header(header: list[str], match: str = "id") -> None:
    first: dict[str, str] = {}
    for name in header:
        if not name:  # an unnamed column (trailing commas): its cells are refused if set
            continue
        prefix, dot, prop = name.partition(".")
        field = f"custom_data.{prop}" if dot and _key(prefix) == "custom_data" else _key(name)
        if field in first:
            other = first[field]
            shown = repr(name) if other == name else f"{other!r} and {name!r}"
            raise InputError(f"the CSV header has the same column twice ({shown}): which "
                             "cell is meant is not for the reader to guess; keep one")
        first[field] = name
    if match != "id":
        if any(_key(name) == match for name in header):
            return
        names = " or ".join(repr(n) for n in MATCH_COLUMNS[match])
        raise InputError(f"with --match {match} the CSV header must have a {names} "
                         f"column; found: {', '.join(repr(n) for n in header)[:300]}")
    if "id" in header:
        return
    hint = ""
    if any(name.strip().lower() == "id" for name in header):
        hint = "; column names are case-sensitive: name it 'id'"
    elif len(header) == 1 and ";" in header[0]:
        hint = "; the cells seem to be separated by ';': save the file with ',' between cells"
    elif len(header) == 1 and "\t" in header[0]:
        hint = "; the cells seem to be separated by tabs: save the file with ',' between cells"
    shown = ", ".join(repr(name) for name in header)[:300]
    raise InputError(f"the CSV header must have an 'id' column; found: {shown}{hint}")


def done_lines(path: str) -> dict[int, str | None]:
    """``{line number: id}`` of the lines whose last report entry says ``done``.

    ``--resume`` skips these lines — only where the input line still has the same id
    (see :func:`check_resume`); or the same ``key``, in a report of ``--match
    user_id|email``.
    """
    last: dict[int, tuple[str, str | None]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for text in f:
                try:
                    entry = json.loads(text)
                    raw_id = entry["key"] if "key" in entry else entry.get("id")
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
    """Appends one JSON line per finished input line, written at once (crash-safe).

    A write that fails (disk full, the file-size limit) does not raise: the writer keeps
    the OS error in :attr:`error`, writes nothing more, and lists each input line it
    could not record in :attr:`unrecorded` (line number, status), so the job can stop
    reading input, let the requests in flight finish and say which lines are done but
    not in the report. An entry cut short by the failure is skipped by ``--resume``
    (that line is simply redone), and the next run appends after a fresh newline.
    """

    def __init__(self, path: str | None, *, keyed: bool = False) -> None:
        self._file: IO[bytes] | None = None
        self._keyed = keyed
        self.path = path
        self.error: OSError | None = None
        self.unrecorded: list[tuple[int, str]] = []
        if path is not None:
            report = Path(path)
            try:
                report.parent.mkdir(parents=True, exist_ok=True)
                # unbuffered: each entry is one write() now, none left to fail at close()
                self._file = open(report, "ab", buffering=0)  # noqa: SIM115 - close()
                if report.stat().st_size and not _ends_with_newline(report):
                    _write_all(self._file, b"\n")  # a crash cut the last entry short
            except OSError as exc:  # a directory, no permission, a file where a dir should be
                if self._file is not None:
                    self._file.close()
                raise InputError(f"cannot write the report {path}: "
                                 f"{exc.strerror or exc}") from None

    def write(self, line: int, raw_id: object, status: str,
              error: HelpCrunchError | None = None, attempts: int = 0,
              key: object = None, **extra: Any) -> None:
        """Record one input line's outcome. A ``keyed`` report (``--match
        user_id|email``) has the line's ``key`` too, and ``id`` is the customer found;
        ``extra``: more keys for the entry (``sync`` adds ``action`` and ``changed``)."""
        if self._file is None:
            return
        if self.error is not None:
            self.unrecorded.append((line, status))
            return
        entry: dict[str, Any] = {
            "line": line,
            "id": raw_id if isinstance(raw_id, int | str) else None,
            "status": status,
            "error": None if error is None else str(error),
            "http_status": error.status if isinstance(error, APIError) else None,
            "codes": list(error.codes) if isinstance(error, APIError) else [],
            "attempts": attempts,
            **extra,
        }
        if self._keyed:
            entry["key"] = key if isinstance(key, str) else None
        try:
            _write_all(self._file, (json.dumps(entry) + "\n").encode())
        except OSError as exc:  # disk full, file too large: recorded, not raised
            self.error = exc
            self.unrecorded.append((line, status))

    def failure(self) -> str:
        """``cannot write the report FILE: <the OS's reason>`` (after a failed write)."""
        assert self.error is not None
        return f"cannot write the report {self.path}: {self.error.strerror or self.error}"

    def close(self) -> None:
        """Close the report file (each entry is on disk already)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                if self.error is None:
                    self.error = exc
            self._file = None


def _write_all(file: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file: a write() may take only part of it."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:  # pragma: no cover - a raw file says why with an OSError
            raise OSError(f"wrote nothing of {len(view)} bytes")
        view = view[written:]


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, io.SEEK_END)
        return f.read(1) == b"\n"
