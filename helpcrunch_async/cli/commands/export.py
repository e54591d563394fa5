"""``helpcrunch export``: every customer (or every one matching ``--search``) as JSON
Lines, in the format ``update-customers`` reads — a backup before a risky job, and the
way to restore it (``helpcrunch update-customers backup.jsonl``).

Each line is ``{"id": ..., <writable fields>}``: HelpCrunch's id and every field the
update endpoint takes (``name``, ``email``, ``userId``, ``company``, ``phone``,
``firstSeen``, ``lastSeen``, ``unsubscribed``, ``blocked``, ``source``, ``referer``,
``lastPage``, ``locale``, ``notes``, ``tags``, ``customData``), with the values exactly
as HelpCrunch answered them (``null`` included: a restore clears what was empty). The
read-only ones (``location``, ``device``, ``createdFrom``, ``integrationId``) are left
out: ``update-customers`` refuses them. A field the answer did not have is left out
too, so a restore leaves it alone.

What a restore (``update-customers``, a ``PATCH`` per line) brings back: every exported
field's value. What it cannot undo: customers created or deleted since, and — as
HelpCrunch does not document whether ``tags``/``customData`` in an update replace or
merge — tags or custom-data properties added since may stay.

Customers are read with ``sort=first_seen, order=asc`` so that customers created during
the export land on the last page instead of shifting the pages still to come; one
deleted meanwhile can still make a customer slip past (offset paging). The count
written is checked against the API's ``total`` on the first and the last page, and a
difference is reported.

With ``-o FILE``, lines go to ``FILE.partial`` first, renamed to ``FILE`` once every
page is in: a ``FILE`` is always a complete export. Progress and totals go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import textwrap
import time
from datetime import datetime
from typing import IO, Any, Literal

from ..._client import AsyncHelpCrunch
from ..._config import API_KEY_ENV
from ..._convert import update_to_json
from ..._exceptions import ValidationError
from ..._filters import FIELDS, Filter
from ..._models import Customer, CustomerUpdate
from .._common import (
    EXIT_OK,
    STDOUT_NAME,
    InputError,
    OutputError,
    plural,
    say,
    stdout_closed,
    write_error,
)
from .._connect import add_client_options, json_line, run_with_client
from .._input import read_lines
from .._progress import Progress

__all__ = [
    "DESCRIPTION",
    "EPILOG",
    "HELP",
    "WRITABLE_KEYS",
    "add_arguments",
    "export_line",
    "parse_search",
    "run",
]

#: The API keys of every field ``update-customers`` writes, in the API's order: the
#: keys a ``CustomerUpdate`` with every field set goes out with.
WRITABLE_KEYS: tuple[str, ...] = tuple(
    update_to_json(
        CustomerUpdate(**dict.fromkeys((a.name for a in CustomerUpdate.__attrs_attrs__), None))
    )
)

_SHOWN_REFUSALS = 5


EPILOG = f"""\
Examples:
  export {API_KEY_ENV}=...
  helpcrunch export -o backup.jsonl                        # every customer
  helpcrunch export --search email '~' @example.com --search tags = vip,paid -o some.jsonl
  helpcrunch export --search tags = vip --search tags = paid --any    # either tag
  helpcrunch update-customers backup.jsonl --report restore.jsonl   # restore it

Output: JSON Lines, one customer a line, the format update-customers reads:
  {{"id": 1568834, "name": "John Doe", "email": "john@example.com", "userId": "u-42",
   "lastSeen": "1603885746", "tags": [{{"name": "vip", "color": "#c377e0"}}],
   "customData": {{"plan": "pro"}}, ...}}
  HelpCrunch's id and every field the update endpoint takes, values as answered (null
  included); read-only fields (location, device, createdFrom, integrationId) are left
  out. With -o FILE, lines go to FILE.partial, renamed to FILE when complete.
--search FIELD OP VALUE: FIELD one of
{textwrap.fill(", ".join(FIELDS), 84, initial_indent="  ", subsequent_indent="  ")};
  OP = (any field), != (not tags), ~ contains (text fields), > >= (id, last_seen);
  last_seen takes epoch seconds or ISO 8601 with a timezone; tags comma-separated names
  (the customer holds all of them). Quote ~ > >= for the shell.
Progress and totals go to stderr; a count that differs from the API's total (customers
added or deleted meanwhile) and lines update-customers would refuse are reported."""


HELP = "write every (matching) customer as JSON Lines for update-customers"

DESCRIPTION = (
    "Write every customer, or those matching --search, as JSON Lines in "
    "the format update-customers reads: a backup, and the way to restore "
    f"it. The API key is read from ${API_KEY_ENV}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch export``."""
    parser.add_argument(
        "--search",
        nargs=3,
        action="append",
        metavar=("FIELD", "OP", "VALUE"),
        help="only customers matching this condition (see below); repeat for more",
    )
    parser.add_argument(
        "--any",
        action="store_true",
        help="with several --search: customers matching any one of them (OR); "
        "default: all must hold (AND)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (via FILE.partial) instead of stdout"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    add_client_options(parser)


def parse_search(field: str, operator: str, value: str) -> Filter:
    """A ``--search FIELD OP VALUE`` as a :class:`Filter`, the value typed by the field.

    Example:
        >>> parse_search("tags", "=", "vip, paid").to_json()["value"]
        [{'name': 'vip'}, {'name': 'paid'}]
        >>> parse_search("last_seen", ">=", "2024-01-01T00:00:00Z").to_json()["value"]
        1704067200
    """
    kind = FIELDS[field][1] if field in FIELDS else "str"  # Filter names a bad field
    typed: Any = value
    if kind == "int" or (kind == "date" and value.isascii() and value.isdigit()):
        try:
            typed = int(value)
        except ValueError:
            raise ValidationError(
                f"--search {field}: expected a whole number, got {value!r}", field="filter.value"
            ) from None
    elif kind == "date":
        try:
            typed = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"--search {field}: expected epoch seconds or ISO 8601 with a timezone, got "
                f"{value!r}",
                field="filter.value",
            ) from None
    elif kind == "tags":
        typed = [name.strip() for name in value.split(",") if name.strip()]
    return Filter(field, operator, typed)  # type: ignore[arg-type]  # Filter checks op


def export_line(customer: Customer) -> dict[str, Any]:
    """The ``update-customers`` line for a customer: ``id`` and the writable fields its
    answer has, values as answered.

    Example:
        >>> export_line(Customer(id=7, raw={"id": 7, "name": "Ann", "location": {}}))
        {'id': 7, 'name': 'Ann'}
    """
    raw = customer.raw
    line: dict[str, Any] = {"id": customer.id}
    line.update((key, raw[key]) for key in WRITABLE_KEYS if key in raw)
    return line


def _refusal(text: str) -> ValidationError | None:
    """Why ``update-customers`` would refuse this line (its own reader decides)."""
    for parsed in read_lines(io.StringIO(text), "export.jsonl"):
        return parsed.error
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``export``; returns the exit code."""
    filters = [parse_search(*triple) for triple in args.search or ()]  # before any request

    async def work(client: AsyncHelpCrunch) -> int:
        with _Output(args.output) as out:
            await _export(client, filters, args, out)
        return EXIT_OK

    return run_with_client(args, work)


async def _export(
    client: AsyncHelpCrunch, filters: list[Filter], args: argparse.Namespace, out: _Output
) -> None:
    order: dict[str, Any] = {"sort": "first_seen", "order": "asc"}
    match: Literal["all", "any"] = "any" if args.any else "all"
    pager = (
        client.search_customers(*filters, match=match, **order)
        if filters
        else client.list_customers(**order)
    )
    start = time.monotonic()
    refused: list[str] = []
    refused_count = 0
    first_total: int | None = None
    with contextlib.ExitStack() as stack:
        progress: Progress | None = None
        async for customer in pager:
            if progress is None:  # the API's total is known once the first page is in
                first_total = pager.total
                progress = stack.enter_context(
                    Progress(pager.total, enabled=not args.no_progress, label="customers")
                )
            text = json_line(export_line(customer), out.stream)
            out.write(text)
            error = _refusal(text)
            if error is not None:
                refused_count += 1
                if len(refused) < _SHOWN_REFUSALS:
                    refused.append(f"  id {customer.id}: {error}")
            progress.advance(ok=True)
    out.flush()  # a full disk shows before the totals, not after them
    what = plural(out.count, "customer") + (" matching the search" if filters else "")
    say(
        f"exported {what} to {out.name} in {time.monotonic() - start:.1f} s; "
        f"{plural(client.stats.requests, 'request')} "
        f"({plural(pager.pages_fetched, 'page')})"
    )
    if pager.total is not None and (first_total, out.count) != (pager.total, pager.total):
        counted = (
            f"{pager.total}"
            if first_total == pager.total
            else f"{first_total} at the start and {pager.total} at the end"
        )
        say(
            f"helpcrunch: warning: the API counted {counted}, and {out.count} came: "
            "customers were added or deleted during the export (a deletion can make one "
            "slip past); run it again while nothing else writes for an exact copy"
        )
    if refused_count:
        say(
            f"helpcrunch: warning: update-customers would refuse {refused_count} of these "
            "lines as they are (HelpCrunch holds values its update does not take); edit "
            "them before a restore:"
        )
        for text in refused:
            say(text)


class _Output:
    """Stdout, or ``FILE.partial`` renamed to ``FILE`` when the export completes.

    A write that fails (disk full, the file-size limit) is an :class:`OutputError`
    naming the file and saying the export is incomplete (``FILE`` is not written).
    """

    def __init__(self, path: str | None) -> None:
        self._path = None if path in (None, "-") else path
        self.count = 0
        self.name = "stdout" if self._path is None else self._path
        self.stream: IO[str] = sys.stdout
        self._partial = ""

    def __enter__(self) -> _Output:
        if self._path is None and sys.stdout is None:  # found now, not after the export
            raise stdout_closed()
        if self._path is not None:
            if os.path.isdir(self._path):  # found now, not after reading every customer
                raise InputError(f"cannot write {self._path}: it is a directory")
            self._partial = f"{self._path}.partial"
            try:
                self.stream = open(self._partial, "w", encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot write {self._partial}: {exc.strerror}") from None
        return self

    def write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None
        self.count += 1

    def flush(self) -> None:
        """Write out what is buffered."""
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> OutputError:
        if self._path is None:
            return OutputError(
                f"{write_error(STDOUT_NAME, exc)}; the export is incomplete", stdout=True
            )
        return OutputError(
            f"{write_error(self._partial, exc)}; the export is incomplete "
            f"and {self._path} was not written"
        )

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        failed = exc_type is not None and issubclass(exc_type, BrokenPipeError | OutputError)
        if self._path is None:
            if exc_type is not None and not failed:
                say(
                    f"helpcrunch: the export is incomplete: {plural(self.count, 'customer')} "
                    "written to stdout"
                )
            try:
                self.stream.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                if exc_type is None:
                    raise self._failed(exc) from None
            return
        try:
            self.stream.close()  # what is buffered is written now: the disk may be full
        except OSError as exc:
            if exc_type is None:
                raise self._failed(exc) from None
        if exc_type is None:
            try:
                os.replace(self._partial, self._path)
            except OSError as exc:
                raise OutputError(
                    f"{write_error(self._path, exc)}; the {plural(self.count, 'customer')} "
                    f"exported are in {self._partial}"
                ) from None
        elif not failed:
            say(
                f"helpcrunch: the export is incomplete: {plural(self.count, 'customer')} "
                f"written to {self._partial}; {self._path} was not written"
            )
