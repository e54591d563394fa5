"""``helpcrunch sync``: make HelpCrunch match a JSON Lines or CSV file, sending only changes.

The command around :meth:`AsyncHelpCrunch.sync_customers`: the same input formats as
``update-customers`` (:mod:`helpcrunch_async.cli._input`, with the match key's column
instead of ``id``), the same report, ``--resume`` and exit codes. Progress shows the two
phases: reading the account (pages done/total), then the rows (unchanged, updated,
created, failed). The summary compares the requests sent with the one request per row
that ``update-customers`` would have sent. ``--dry-run`` reads the account, prints the
diff of every row that would change and sends no write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs

from ..._config import API_KEY_ENV
from ..._customer_diff import UNKNOWN
from ..._customer_sync import CustomerSync, CustomerSyncResult
from ..._exceptions import BulkAbortedError, HelpCrunchError
from ..._models import CustomerUpdate
from ..._types import UNSET
from .._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    InputError,
    OutputError,
    emit,
    plural,
    say,
)
from .._connect import add_client_options, failure_message
from .._input import InputLines, JobInput, line_key, repeated_key
from .._input_line import JobLine
from .._line_job import (
    JobRun,
    JobStart,
    LineJob,
    aborted,
    add_line_options,
    ending,
    job_client,
    lines_to_do,
    show_failures,
    start_job,
    warn_unresumable,
)
from .._progress import Pace, Progress
from .._report import ReportWriter

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "run"]

EPILOG = f"""\
Examples:
  export {API_KEY_ENV}=...
  helpcrunch sync users.jsonl --match user_id --dry-run          # print what would change
  helpcrunch sync users.jsonl --match user_id --create-missing --report report.jsonl
  helpcrunch sync users.jsonl --match user_id --create-missing --resume report.jsonl

Input: as for update-customers (JSON Lines or CSV, same field names), with the match
key's column instead of id: userId (or user_id) for --match user_id, email for --match
email, id for --match id. Each line holds the fields HelpCrunch should have; fields a
line leaves out are left alone. tags: tags the customer must have (--exact-tags also
removes the others); customData: the properties named (others are left alone). As with
update-customers --match, a line with an id as well, or a second line with the key of
an earlier one, is invalid (nothing sent for it); but a key that matches nobody
(without --create-missing) or several customers is not remembered: each line with it
fails alike, nothing sent. Memory: about 350 bytes per customer of the account,
nothing per line read.

What is sent: the account is read once (one request per 100 customers); a line that
already matches sends nothing, one that differs sends only the differing fields (plus a
tag/untag call), a line whose key matches nobody is created with --create-missing (and
fails without it). Several customers with the same key: the line fails, nothing sent.

Report (--report FILE): one JSON line per input line, as update-customers writes it,
plus "action" (unchanged, updated, created, failed) and "changed" (field names).
--resume FILE skips the lines FILE says are done."""


HELP = "make HelpCrunch match a JSON Lines or CSV file, sending only what changed"

DESCRIPTION = (
    "Compare every line with the customer HelpCrunch has (matched by "
    "--match) and send only the differences. The API key is read from "
    f"${API_KEY_ENV}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch sync``."""
    parser.add_argument(
        "--match",
        choices=("user_id", "email", "id"),
        required=True,
        help="the key matching a line to a customer: your user_id, the "
        "email (case ignored) or HelpCrunch's id",
    )
    parser.add_argument(
        "--create-missing",
        action="store_true",
        help="create the lines whose key matches nobody (POST, never sent "
        "twice); without it they fail",
    )
    parser.add_argument(
        "--exact-tags",
        action="store_true",
        help="also remove the tags a line does not name (untag)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read the account, print the changes, send no write"
    )
    add_line_options(
        parser, in_flight="lines", report="line, id, key, status, action, changed, error"
    )
    add_client_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    """Run ``sync``; returns the exit code."""
    if args.create_missing and args.match == "id":
        say(
            "helpcrunch: --create-missing needs --match user_id or email (HelpCrunch "
            "assigns ids itself)"
        )
        return EXIT_USAGE
    start = start_job(args, " (the sync reads the account, even with --dry-run)")
    if start is None:
        return EXIT_USAGE
    # The input, the resume report and the report are checked before anything is sent.
    with JobInput(args.file) as given:
        lines = given.lines(args.match, unique=False)
        path = None if args.dry_run else (args.report or args.resume)
        with ReportWriter(path, keyed=args.match != "id") as report:
            if args.dry_run and args.report:
                say("helpcrunch: --dry-run writes no report (nothing is done)")
            elif not (args.report or args.resume or args.dry_run):
                warn_unresumable()
            return asyncio.run(_run_sync(args, start, lines, report))


def _row(line: JobLine, match: str) -> dict[str, Any]:
    """The sync's row for a valid line: its fields and its key (``--match`` took the
    ``userId``/``email`` out of the fields: here it is the row's match key)."""
    update = line.update
    assert update is not None
    fields = {
        a.name: value
        for a in attrs.fields(CustomerUpdate)
        if (value := getattr(update, a.name)) is not UNSET
    }
    fields[match] = line.customer_id if match == "id" else line.raw_id
    return fields


class _Lines(LineJob):
    """The lines of a sync: rows in, results back to the report — or, under
    ``--dry-run``, the diff of each changed line to stdout. Invalid lines, the resume
    report, failures on screen and stops (refused key, unreachable host) as
    ``update-customers`` has them."""

    def __init__(
        self,
        lines: InputLines,
        args: argparse.Namespace,
        skip: dict[int, str | None],
        report: ReportWriter,
    ) -> None:
        # Counted without display while the account is read (see attach()).
        super().__init__(lines, skip, report, Progress(None, enabled=False), args.match)
        self._dry_run = args.dry_run
        self._lines_by_index: dict[int, JobLine] = {}  # the lines in flight
        self.invalid = 0
        self.rows_read = 0  # handed to the sync
        self.results = 0  # came back from it
        self.sync: CustomerSync | None = None  # set once made: it holds the keys' claims

    def _unique(self, line: JobLine) -> JobLine:
        """A second line with the key of an earlier one is invalid. The sync keeps the
        first line of each key that holds a customer (bounded by the account), not
        every key read: a key that matches nobody (without --create-missing) or several
        customers fails on every line alike, nothing sent."""
        key = line_key(line, self._match)
        if key is None or self.sync is None:
            return line
        first = self.sync.claim_key(key, line.number)
        return line if first is None else repeated_key(line, first, self._match)

    async def rows(self) -> AsyncIterator[dict[str, Any]]:
        """The valid, not-yet-done lines as rows; invalid ones are reported here and now."""
        async for line in self.lines():
            self._lines_by_index[self.rows_read] = line
            self.rows_read += 1
            yield _row(line, self._match)

    @property
    def read(self) -> int:
        """Lines read that count towards the total (not those done before)."""
        return self.rows_read + self.invalid

    @property
    def in_flight(self) -> int:
        """Rows handed to the sync whose result has not come back: waiting for requests."""
        return self.rows_read - self.results

    def attach(self, progress: Progress) -> None:
        """Show lines on ``progress`` from now on, with the failures so far."""
        self._progress = progress
        for _ in range(self.failed):
            progress.advance(ok=False)

    def _write(
        self, line: JobLine, customer_id: int | None, status: str, *rest: Any, **extra: Any
    ) -> None:
        if status == "invalid":
            self.invalid += 1
        if self._dry_run:
            return  # nothing was done: a report would make --resume skip these lines
        super()._write(line, customer_id, status, *rest, **extra)

    def synced(self, result: CustomerSyncResult) -> None:
        self.results += 1
        line = self._lines_by_index.pop(result.index)
        if self._dry_run and result.changed:
            emit(f"line {line.number} ({self._match} {result.key}): {result.action}")
            for field, (old, new) in result.diff.items():
                emit(f"  {field}: {_shown(old)} → {_shown(new)}")
        self._write(
            line,
            result.customer_id,
            "failed" if result.error else "done",
            result.error,
            action=result.action,
            changed=list(result.changed),
        )
        if result.error is None:
            self._progress.advance(ok=True)
        else:
            self._fail(line, result.error)


def _shown(value: object) -> str:
    return "(not shown by HelpCrunch)" if value is UNKNOWN else repr(value)


class _Pages:
    """Phase 1 on screen: the account's list pages, done/total, while they are read
    (``CustomerSync.on_progress``)."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._progress: Progress | None = None

    def __call__(self, job: CustomerSync) -> None:
        if job.phase == "reading" and self._progress is None:
            self._progress = Progress(
                job.pages_total, enabled=self._enabled, label="account pages read"
            ).__enter__()
        if self._progress is not None:
            while self._progress.done < job.pages_read:
                self._progress.advance(ok=True)
            if job.phase != "reading":
                self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
            self._progress = None


async def _run_sync(
    args: argparse.Namespace, start: JobStart, read: InputLines, report: ReportWriter
) -> int:
    report_path = report.path
    total = lines_to_do(args.file, start.skip)
    started = time.monotonic()
    refused: BulkAbortedError | None = None
    lines = _Lines(read, args, start.skip, report)
    try:
        with JobRun(report) as running:
            async with job_client(args, start) as client:
                job = client.sync_customers(
                    lines.rows(),
                    match=args.match,
                    create_missing=args.create_missing,
                    exact_tags=args.exact_tags,
                    dry_run=args.dry_run,
                    max_concurrency=args.concurrency,
                )
                lines.sync = lines.sending = job

                # Ctrl-C while the account is read aborts at once: nothing was written yet.
                running.watch(lines, lambda: job.phase != "rows")
                job.on_progress = pages = _Pages(not args.no_progress)
                try:
                    async with contextlib.aclosing(job):
                        first = await anext(job, None)  # comes once the account is read
                        pages.close()
                        pace = Pace(lambda: lines.read, lambda: client.stats.requests)
                        ceiling = (
                            None
                            if args.rate_limit is None
                            else args.rate_limit[0] / args.rate_limit[1]
                        )
                        with Progress(
                            total,
                            enabled=not args.no_progress,
                            label="lines",
                            detail=lambda: _counts(job, args.dry_run),
                            eta=lambda: _time_left(lines, total, pace, ceiling),
                        ) as progress:
                            lines.attach(progress)
                            if first is not None:
                                lines.synced(first)
                            async for result in job:
                                lines.synced(result)
                                pace.sample()
                except BulkAbortedError as exc:
                    refused = exc
                finally:
                    pages.close()
                stats = client.stats
    except asyncio.CancelledError:
        return aborted(report_path, "lines")
    except (InputError, OutputError):  # said by main(): exit 2 or 1
        raise
    except HelpCrunchError as exc:  # reading the account failed: nothing was written
        say(failure_message(exc))
        say("helpcrunch: could not read the account; nothing sent")
        return EXIT_FAILED
    return _summary(args, job, lines, stats, time.monotonic() - started, report_path, refused)


def _time_left(lines: _Lines, total: int | None, pace: Pace, ceiling: float | None) -> float | None:
    """The sync's ETA in seconds, from the work left rather than the lines left: an
    unchanged line costs no request, a changed one a request at the rate limit.

    The lines in flight each wait for a request, at the recent request rate (else the
    rate limit's); the lines not yet read come at the recent reading pace, which the
    requests set (a line is read when a request frees its place). So a run that turns
    from unchanged lines to changed ones — new users at the end of the file — shows it
    within seconds. ``None``: unknown (stdin, or nothing read lately).
    """
    if total is None:
        return None
    read_rate, sent_rate = pace.rates()
    request_rate = sent_rate or ceiling
    left = 0.0
    if lines.in_flight > 0 and request_rate:
        left += lines.in_flight / request_rate
    unread = total - lines.read
    if unread > 0:
        if read_rate <= 0:
            return None
        left += unread / read_rate
    return left


def _counts(job: CustomerSync, dry_run: bool) -> str:
    """The lines by action, without the failed ones (the bar shows those itself); a dry
    run says what it would do."""
    c = job.counts
    would = "would be " if dry_run else ""
    return (
        f"{c['unchanged']} unchanged, {c['updated']} {would}updated, {c['created']} {would}created"
    )


def _summary(
    args: argparse.Namespace,
    job: CustomerSync,
    lines: _Lines,
    stats: Any,
    elapsed: float,
    report_path: str | None,
    refused: BulkAbortedError | None,
) -> int:
    show_failures(lines, report_path)
    c = job.counts
    emit(
        f"{'dry run: ' if args.dry_run else ''}{_counts(job, args.dry_run)}, "
        f"{lines.failed} failed"
        + (f" ({plural(lines.invalid, 'invalid line')})" if lines.invalid else "")
        + lines.not_done()
        + f" in {elapsed:.1f} s"
    )
    emit(
        f"requests: {stats.requests:,} sent ({job.reads:,} reading, {job.writes:,} "
        f"writing, {plural(stats.retries, 'retry', 'retries')}, {stats.rate_limited} "
        f"rate-limited); update-customers would have sent {sum(c.values()):,} (one per "
        "line)" + (f"; report: {report_path}" if report_path else "")
    )
    code = ending(lines, refused, report_path, noun="sync", verb="sync", resumable=not args.dry_run)
    if args.dry_run and lines.invalid and code == EXIT_FAILED:
        return EXIT_USAGE  # as documented: invalid lines under --dry-run are exit 2
    return code
