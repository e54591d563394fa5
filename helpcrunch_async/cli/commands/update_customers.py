"""``helpcrunch update-customers``: a bulk update from a JSON Lines or CSV file.

Progress and a report (``--report``) as it goes, ``--resume`` after a crash, Ctrl-C or
a stop, ``--dry-run`` to validate only. The input format:
:mod:`helpcrunch_async.cli._input`.
``--match user_id|email``: lines keyed by ``userId`` or ``email``, each line's customer
found first (:mod:`helpcrunch_async.cli._resolve`); a search or list request refused
for the API key, or a host that cannot be reached, stops the job as below.

The job stops early — requests in flight finish, the lines not yet read are left for
``--resume`` (they are not in the report, so ``--resume`` sends them) — when:

* HelpCrunch refuses the API key (401 or 403): every later request would fail the
  same way. Exit 1, with ``HelpCrunch refused the API key: ...``.
* a request cannot even connect to the host after its retries (refused, DNS, connect
  timeout): the host is unreachable, and every later line would wait out the same
  retries. Exit 1, with ``cannot connect to HelpCrunch: ...``.

Lines that were read but not sent when the job stopped are reported ``failed``, which
``--resume`` redoes too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import IO

import attrs

from ..._account_index import MatchField, match_key
from ..._config import API_KEY_ENV
from ..._exceptions import BulkAbortedError, HelpCrunchError
from .._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit, plural, say
from .._connect import add_client_options, failure_message
from .._input import InputLines, JobInput, read_lines
from .._line_job import (
    JobRun,
    JobStart,
    LineJob,
    aborted,
    add_line_options,
    ending,
    id_text,
    job_client,
    lines_to_do,
    show_failures,
    start_job,
    warn_unresumable,
)
from .._progress import Progress
from .._report import ReportWriter
from .._resolve import choose_resolver

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "run"]

EPILOG = f"""\
Examples:
  helpcrunch update-customers customers.jsonl --dry-run       # validate, send nothing
  export {API_KEY_ENV}=...
  helpcrunch update-customers customers.jsonl --report report.jsonl
  helpcrunch update-customers customers.jsonl --resume report.jsonl   # after a stop
  helpcrunch update-customers customers.csv --put --yes --report report.jsonl
  helpcrunch update-customers by-user-id.jsonl --match user_id --report report.jsonl

Input (one customer a line; `id` is HelpCrunch's numeric customer id):
  JSON Lines  {{"id": 1568834, "name": "John Doe", "email": null,
               "lastSeen": "2020-10-28T12:00:00Z", "customData": {{"plan": "pro"}},
               "tags": ["vip"]}}
              null clears a field; a key left out is left alone. Field names as in
              the API docs (userId, customData) or snake_case (user_id, custom_data).
  CSV         id,name,blocked,lastSeen,customData.plan,tags
              1568834,John Doe,false,1603885746,pro,vip;beta
              a header row with a lowercase `id` column, comma-separated; an empty
              cell leaves the field alone; tags separated by `;`.
  Timestamps (firstSeen, lastSeen): epoch seconds or ISO 8601 with a timezone.
  A bad line is reported `invalid` with every problem it has; the job goes on. A
  second line for the same id (or key) is invalid: merge the two. To tell, every id
  or key read is kept: about 120 bytes a line (10 million lines: 1.2 GB; split
  bigger files).

Lines keyed by your own ids (--match user_id) or by email (--match email):
  {{"userId": "u-42", "name": "John Doe"}}        {{"email": "ann@example.com", "notes": null}}
  userId (or user_id) / email instead of id; it finds the customer (email ignoring case)
  and is not sent, so it cannot be changed this way (use --match id); with --put or
  --batch it is sent as written, so that a replace never clears it. A line with an id
  too is invalid. Each customer is looked up first: --resolve search (one request per
  line), list (one pass over every customer: total/100 requests), or auto (default):
  the cheaper, said on stderr. A key with spaces at either end is invalid; one that
  matches nobody or several customers fails the line, and nothing is sent for it. The
  report then adds "key", and "id" is the customer found.

Report (--report FILE): one JSON line per input line, written as each finishes:
  {{"line": 3, "id": 1568834, "status": "done" | "failed" | "invalid", "error": ...,
   "http_status": ..., "codes": [...], "attempts": ...}}
  --resume FILE skips the lines FILE says are done and sends all others again.

Stops early (exit 1; the rest is left for --resume): HelpCrunch refuses the API key
(401/403), or the host cannot be reached."""


HELP = "update customers from a JSON Lines or CSV file"

DESCRIPTION = (
    "Update one customer per input line (PATCH: only the given fields). "
    f"The API key is read from ${API_KEY_ENV}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch update-customers``."""
    parser.add_argument(
        "--put",
        action="store_true",
        help="replace (PUT) instead of patch: every field missing from a line "
        "is set to null; asks for confirmation (see --yes)",
    )
    parser.add_argument(
        "--yes", action="store_true", help="do not ask before --put (needed when not on a terminal)"
    )
    parser.add_argument(
        "--batch",
        action="store_true",
        help="send PUT /customers/batch, 10 customers a request (semantics of "
        "left-out fields undocumented by HelpCrunch)",
    )
    add_line_options(parser, in_flight="requests", report="line, id, status, error")
    parser.add_argument(
        "--dry-run", action="store_true", help="validate every line and send nothing"
    )
    parser.add_argument(
        "--match",
        choices=("id", "user_id", "email"),
        default="id",
        help="what identifies a line's customer: HelpCrunch's id (default), "
        "or the line's userId or email, looked up first (not sent)",
    )
    parser.add_argument(
        "--resolve",
        choices=("auto", "search", "list"),
        help="with --match user_id|email: one search per line, one pass over "
        "the customer list, or the cheaper in requests (auto, default)",
    )
    add_client_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    """Run ``update-customers``; returns the exit code."""
    if args.resolve is not None and args.match == "id":
        say("helpcrunch: --resolve needs --match user_id or --match email")
        return EXIT_USAGE
    if args.dry_run:
        return _dry_run(args.file, args.match)
    start = start_job(args, " (or use --dry-run)")
    if start is None:
        return EXIT_USAGE
    # The input, the resume report and the report are checked before anything is sent.
    listing = args.match != "id" and args.resolve != "search"  # the keys to find first
    with JobInput(args.file, read_twice=listing) as given:
        wanted = _keys_to_find(args, given.stream, start.skip) if listing else None
        lines = given.lines(args.match)
        if args.put and not _confirm_put(args.file, args.yes):
            return EXIT_USAGE
        with ReportWriter(args.report or args.resume, keyed=args.match != "id") as report:
            if not (args.report or args.resume):
                warn_unresumable()
            return asyncio.run(_run_job(args, start, _Input(lines, wanted, report)))


def _confirm_put(path: str, yes: bool) -> bool:
    """Ask before ``--put`` on a terminal; refuse without ``--yes`` elsewhere (a script
    or a pipe has nobody to ask, and a wrong guess nulls fields)."""
    warning = (
        "--put replaces customers: every field missing from a line is set to null on HelpCrunch"
    )
    if yes:
        say(f"helpcrunch: warning: {warning}")
        return True
    if path == "-" or not (sys.stdin.isatty() and sys.stderr.isatty()):
        say(f"helpcrunch: {warning}; add --yes to confirm (no terminal to ask on)")
        return False
    print(f"helpcrunch: {warning}. Go on? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()  # "" at end of input: no
    if answer.strip().lower() in ("y", "yes"):
        return True
    say("helpcrunch: nothing sent")
    return False


def _dry_run(path: str, match: MatchField) -> int:
    valid = invalid = 0
    with JobInput(path) as given:
        for line in read_lines(given.stream, path, match):
            if line.error is None:
                valid += 1
            else:
                invalid += 1
                say(f"line {line.number}{id_text(line.raw_id, match)}: {line.error}")
    looked_up = "" if match == "id" else "; customers are not looked up in a dry run"
    emit(f"dry run: {valid} valid, {plural(invalid, 'invalid line')}; nothing sent{looked_up}")
    return EXIT_OK if invalid == 0 else EXIT_USAGE


def _keys_to_find(
    args: argparse.Namespace, stream: IO[str], skip: dict[int, str | None]
) -> set[str | int]:
    """The keys of the lines to send (``match_key`` form); rewinds ``stream``."""
    keys = {
        match_key(args.match, line.raw_id)
        for line in read_lines(stream, args.file, args.match)
        if line.error is None and line.number not in skip and isinstance(line.raw_id, str)
    }
    stream.seek(0)
    return keys


@attrs.frozen
class _Input:
    """The job's input and report, checked: its lines (the first read), under
    ``--match`` the keys to find (``None``: search each), and the report (open)."""

    lines: InputLines
    wanted: set[str | int] | None
    report: ReportWriter


async def _run_job(args: argparse.Namespace, start: JobStart, given: _Input) -> int:
    report = given.report
    report_path = report.path
    total = lines_to_do(args.file, start.skip)
    refused: BulkAbortedError | None = None
    try:
        with JobRun(report) as running:
            async with job_client(args, start) as client:
                resolver = None
                if args.match != "id":
                    how = args.resolve or "auto"
                    try:
                        resolver = await choose_resolver(client, args.match, how, given.wanted)
                    except HelpCrunchError as exc:
                        say(failure_message(exc))
                        say(
                            "helpcrunch: could not read the customer list to find the "
                            "lines' customers; nothing sent"
                        )
                        return EXIT_FAILED
                with Progress(total, enabled=not args.no_progress) as progress:
                    job = LineJob(
                        given.lines,
                        start.skip,
                        report,
                        progress,
                        args.match,
                        send_key=resolver is not None and (args.put or args.batch),
                    )

                    running.watch(job)
                    items = (
                        job.items()
                        if resolver is None
                        else job.resolved_items(resolver, args.concurrency)
                    )
                    results = job.sending = client.update_customers(
                        items,
                        max_concurrency=args.concurrency,
                        replace=args.put,
                        batch=args.batch,
                    )
                    try:
                        async with contextlib.aclosing(results):
                            async for result in results:
                                job.finished(result.index, result.ok, result.error, result.attempts)
                    except BulkAbortedError as exc:
                        refused = exc
                    stats = client.stats
    except asyncio.CancelledError:
        return aborted(report_path, "requests")
    show_failures(job, report_path)
    emit(
        f"{progress.done} done, {job.failed} failed"
        + job.not_done()
        + f" in {progress.elapsed:.1f} s; {plural(stats.requests, 'request')}, "
        f"{plural(stats.retries, 'retry', 'retries')}, {stats.rate_limited} rate-limited "
        "(429)" + (f"; report: {report_path}" if report_path else "")
    )
    return ending(job, refused, report_path)
