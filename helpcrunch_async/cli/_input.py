"""The input of ``update-customers`` and ``sync``: a file (or stdin) of customers, read.

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

``--match user_id|email`` (see :func:`read_lines`): lines carry ``userId`` (or
``user_id``) or ``email`` instead of ``id``; that field finds the customer and is not
sent (to change a customer's userId or email, match by ``id`` or by the other key) —
except with ``--put`` or ``--batch``, where it is sent as written so that a replace
(``PUT``, or a batch item if it acts like one: undocumented) never clears it.
A key with spaces at either end is invalid (it would match nobody, and ``sync
--create-missing`` would create a second customer for the typo).

Each line becomes a :class:`~helpcrunch_async.cli._input_line.JobLine`
(:mod:`helpcrunch_async.cli._input_line` reads and checks its fields); the report and
``--resume``: :mod:`helpcrunch_async.cli._report`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Protocol

from .._account_index import MatchField, match_key
from ._common import InputError
from ._input_line import (
    MATCH_COLUMNS,
    MATCH_NAMES,
    JobLine,
    field_name,
    invalid_line,
    line_from_csv,
    line_from_json,
)
from ._read_ahead import ReadAhead

__all__ = [
    "InputLines",
    "JobInput",
    "close_input",
    "input_name",
    "line_key",
    "open_input",
    "read_lines",
    "repeated_key",
]


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
        if _reads_may_wait(buffer):
            # A pipe or a terminal: read in a thread (JobInput.lines), through streams of
            # its own on the same descriptor, never holding a lock of sys.stdin's.
            return open(buffer.fileno(), encoding="utf-8-sig", newline="", closefd=False)
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
        if stream.buffer is getattr(sys.stdin, "buffer", None):
            stream.detach()  # our wrapper goes, the process's stdin stays
        else:
            stream.close()  # streams of our own on stdin's descriptor (left open)


class InputLines(Protocol):
    """The lines of a job's input, for the job to ``async for`` (see :class:`JobInput`)."""

    def __aiter__(self) -> AsyncIterator[JobLine]: ...
    async def __anext__(self) -> JobLine: ...

    def close(self) -> None:
        """Read nothing more: the iteration ends, a wait for the next line included."""


class JobInput:
    """The input of a job over lines (``update-customers``, ``sync``), open; a context
    manager, which closes it. ``read_twice``: the job reads :attr:`stream` once before
    its lines and rewinds it, so an input that cannot be rewound (a pipe) is held in
    memory.

    :meth:`lines` reads the first line at once, so that an input that cannot be read at
    all (not UTF-8, a CSV header without the key's column) is refused before the job
    starts — before any warning, and before any request — and the others as the job
    asks for them: on the event loop from a regular file or text in memory, else
    (stdin, a pipe, a terminal: a read may wait for the writer) in a thread of its own
    (:class:`~helpcrunch_async.cli._read_ahead.ReadAhead`), so that the requests in
    flight never wait for input.

    Raises:
        InputError: the input cannot be opened.
    """

    def __init__(self, path: str, *, read_twice: bool = False) -> None:
        self.path = path
        self.stream = open_input(path)
        self._lines: InputLines | None = None
        if read_twice and not self.stream.seekable():
            try:
                text = self.stream.read()
            except (UnicodeDecodeError, OSError) as exc:
                raise _unreadable(path, exc) from None
            finally:
                self._close()
            self.stream = io.StringIO(text)

    def lines(self, match: MatchField = "id", *, unique: bool = True) -> InputLines:
        """The input's lines (:func:`read_lines`), the first read now.

        Raises:
            InputError: as :func:`read_lines`.
        """
        lines = read_lines(self.stream, self.path, match, unique=unique)
        first = next(lines, None)
        if first is not None:
            lines = itertools.chain([first], lines)
        if _reads_may_wait(self.stream):
            self._lines = ReadAhead(lines, release=self._close)
        else:
            self._lines = _ReadNow(lines, release=self._close)
        return self._lines

    def _close(self) -> None:
        close_input(self.stream, self.path)

    def __enter__(self) -> JobInput:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._lines is not None:
            self._lines.close()  # the stream is closed now, or once a read in flight returns
        else:
            self._close()


class _ReadNow:
    """The lines of an input whose reads do not wait (a regular file, text in memory),
    read on the event loop as the job asks for them."""

    def __init__(self, lines: Iterator[JobLine], *, release: Callable[[], None]) -> None:
        self._lines: Iterator[JobLine] | None = lines
        self._release = release

    def __aiter__(self) -> _ReadNow:
        return self

    async def __anext__(self) -> JobLine:
        line = None if self._lines is None else next(self._lines, None)
        if line is None:
            raise StopAsyncIteration
        return line

    def close(self) -> None:
        if self._lines is not None:
            self._lines = None
            self._release()


def _reads_may_wait(stream: IO[str] | IO[bytes]) -> bool:
    """True when a read of ``stream`` can wait for a writer (stdin, a pipe, a terminal, a
    FIFO: anything but a regular file); False for text in memory."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # in memory (io.UnsupportedOperation is both), closed
        return False
    try:
        return not stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return True


def read_lines(
    stream: IO[str], path: str = "-", match: MatchField = "id", *, unique: bool = True
) -> Iterator[JobLine]:
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
    except (UnicodeDecodeError, OSError) as exc:  # not UTF-8, an I/O error mid-way
        raise _unreadable(path, exc) from None


def _unreadable(path: str, exc: UnicodeDecodeError | OSError) -> InputError:
    """What to say of an input that fails to read: not UTF-8, or the OS's reason."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"{input_name(path)} is not UTF-8 text ({exc.reason}); save it as UTF-8")
    return InputError(f"cannot read {input_name(path)}: {exc.strerror or exc}")


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
    return invalid_line(
        line.number,
        f"{name} {shown} is already updated by line {first}; "
        "merge the two lines (both would be sent at once, in no fixed order)",
        name,
        line.raw_id,
    )


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
            yield invalid_line(number, f"not valid JSON: {exc}")
            continue
        except RecursionError:
            yield invalid_line(number, "not valid JSON: nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield invalid_line(number, "each line must be a JSON object")
            continue
        yield line_from_json(number, obj, match)


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
                yield invalid_line(
                    start,
                    f"a cell is longer than {csv.field_size_limit():,} "
                    "characters, the CSV field limit",
                )
                continue
            if "unexpected end of data" in str(exc) and len(source.row) > 1:
                # A quote opened on this line never closed: it swallowed the lines after
                # it. Report this line and read the swallowed ones again, as rows.
                yield invalid_line(start, 'a quoted cell is never closed (unterminated ")')
                again = _PhysicalLines(iter(source.row[1:]))
                again.count = start
                source, reader = again, csv.reader(again, strict=True)
                continue
            yield invalid_line(start, f'not valid CSV: {exc} (a stray or unterminated "?)')
            continue
        if not row:
            continue
        if header is None:
            header = row
            _check_header(header, match)
            continue
        yield line_from_csv(start, header, row, match)


def _check_header(header: list[str], match: str = "id") -> None:
    first: dict[str, str] = {}
    for name in header:
        if not name:  # an unnamed column (trailing commas): its cells are refused if set
            continue
        prefix, dot, prop = name.partition(".")
        custom = dot and field_name(prefix) == "custom_data"
        field = f"custom_data.{prop}" if custom else field_name(name)
        if field in first:
            other = first[field]
            shown = repr(name) if other == name else f"{other!r} and {name!r}"
            raise InputError(
                f"the CSV header has the same column twice ({shown}): which "
                "cell is meant is not for the reader to guess; keep one"
            )
        first[field] = name
    if match != "id":
        if any(field_name(name) == match for name in header):
            return
        names = " or ".join(repr(n) for n in MATCH_COLUMNS[match])
        raise InputError(
            f"with --match {match} the CSV header must have a {names} "
            f"column; found: {', '.join(repr(n) for n in header)[:300]}"
        )
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
