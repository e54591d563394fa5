"""``helpcrunch update-customers``: a bulk update from a JSON Lines or CSV file.

Progress and a report (``--report``) as it goes, ``--resume`` after a crash, Ctrl-C or
a stop, ``--dry-run`` to validate only. The input format: :mod:`helpcrunch_async.cli._jobfile`.

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
import os
import sys
from collections.abc import Iterator
from typing import Any

from .._client import AsyncHelpCrunch
from .._config import API_KEY_ENV, DEFAULT_BASE_URL
from .._exceptions import APIConnectionError, BulkAbortedError, HelpCrunchError
from .._models import CustomerUpdate
from .._ratelimit import RateLimit
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_command,
    add_signal_handler,
    non_negative_int,
    parse_rate_limit,
    positive_int,
    remove_signal_handler,
    say,
)
from ._jobfile import (
    JobLine,
    ReportWriter,
    check_resume,
    close_input,
    done_lines,
    open_input,
    read_lines,
)
from ._progress import Progress

__all__ = ["add_parser", "run"]

SHOWN_FAILURES = 5
"""Failed lines printed on screen, with line, id and message; the rest are counted."""

_EPILOG = f"""\
Examples:
  helpcrunch update-customers customers.jsonl --dry-run       # validate, send nothing
  export {API_KEY_ENV}=...
  helpcrunch update-customers customers.jsonl --report report.jsonl
  helpcrunch update-customers customers.jsonl --resume report.jsonl   # after a stop
  helpcrunch update-customers customers.csv --put --yes --report report.jsonl

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
  second line for the same id is invalid: merge the two.

Report (--report FILE): one JSON line per input line, written as each finishes:
  {{"line": 3, "id": 1568834, "status": "done" | "failed" | "invalid", "error": ...,
   "http_status": ..., "codes": [...], "attempts": ...}}
  --resume FILE skips the lines FILE says are done and sends all others again.

Stops early (exit 1; the rest is left for --resume): HelpCrunch refuses the API key
(401/403), or the host cannot be reached."""


def add_parser(commands: Any) -> None:
    """Add ``update-customers`` to the subcommands of the ``helpcrunch`` parser."""
    up = add_command(
        commands, "update-customers", help="update customers from a JSON Lines or CSV file",
        description="Update one customer per input line (PATCH: only the given fields). "
                    f"The API key is read from ${API_KEY_ENV}.",
        epilog=_EPILOG)
    up.add_argument("file", help="JSON Lines (.jsonl) or CSV (.csv) file; - for stdin")
    up.add_argument("--put", action="store_true",
                    help="replace (PUT) instead of patch: every field missing from a line "
                         "is set to null; asks for confirmation (see --yes)")
    up.add_argument("--yes", action="store_true",
                    help="do not ask before --put (needed when not on a terminal)")
    up.add_argument("--batch", action="store_true",
                    help="send PUT /customers/batch, 10 customers a request (semantics of "
                         "left-out fields undocumented by HelpCrunch)")
    up.add_argument("--concurrency", type=positive_int, default=8, metavar="N",
                    help="requests in flight (default 8)")
    up.add_argument("--rate-limit", type=parse_rate_limit, default=(120, 60.0),
                    metavar="N/SECONDS|off",
                    help="client-side limit (default 120/60, HelpCrunch's; off: none)")
    up.add_argument("--report", metavar="FILE",
                    help="append one JSON line per input line (line, id, status, error); "
                         "needed for --resume")
    up.add_argument("--resume", metavar="FILE",
                    help="skip lines this report marks done; new results are appended to "
                         "it unless --report says otherwise")
    up.add_argument("--dry-run", action="store_true",
                    help="validate every line and send nothing")
    up.add_argument("--base-url", default=DEFAULT_BASE_URL, help="API root (default: %(default)s)")
    up.add_argument("--max-retries", type=non_negative_int, default=4, metavar="N",
                    help="retries per request for safe-to-retry failures (default 4)")
    up.add_argument("--no-progress", action="store_true", help="no progress display")
    up.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``update-customers``; returns the exit code."""
    if args.dry_run:
        return _dry_run(args.file)
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        say(f"helpcrunch: set {API_KEY_ENV} to your API key (or use --dry-run); "
            "`helpcrunch demo` runs without one")
        return EXIT_USAGE
    if args.put and not _confirm_put(args.file, args.yes):
        return EXIT_USAGE
    if not (args.report or args.resume):
        say("helpcrunch: warning: no --report FILE: if this run stops, it cannot be "
            "resumed")
    return asyncio.run(_run_job(args, api_key))


def _confirm_put(path: str, yes: bool) -> bool:
    """Ask before ``--put`` on a terminal; refuse without ``--yes`` elsewhere (a script
    or a pipe has nobody to ask, and a wrong guess nulls fields)."""
    warning = ("--put replaces customers: every field missing from a line is set to null "
               "on HelpCrunch")
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


def _dry_run(path: str) -> int:
    stream = open_input(path)
    valid = invalid = 0
    try:
        for line in read_lines(stream, path):
            if line.error is None:
                valid += 1
            else:
                invalid += 1
                say(f"line {line.number}{_id_text(line.raw_id)}: {line.error}")
    finally:
        close_input(stream, path)
    print(f"dry run: {valid} valid, {invalid} invalid lines; nothing sent")
    return EXIT_OK if invalid == 0 else EXIT_USAGE


def _id_text(raw_id: object) -> str:
    return f" (id {raw_id})" if isinstance(raw_id, int | str) and raw_id != "" else ""


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    try:
        with open(path, "rb") as f:
            count = sum(1 for raw in f if raw.strip())
    except OSError:
        return None
    return count - 1 if path.endswith(".csv") else count


class _Job:
    """Feeds input lines to the client, maps results back to lines, writes the report."""

    def __init__(self, lines: Iterator[JobLine], skip: dict[int, str | None],
                 report: ReportWriter, progress: Progress) -> None:
        self._lines = lines
        self._skip = skip
        self._report = report
        self._progress = progress
        self._by_index: dict[int, JobLine] = {}
        self.skipped = 0
        self.stopping = False
        self.unreachable: APIConnectionError | None = None
        self.failures: list[str] = []  # the first few, for the screen
        self.failed = 0

    def items(self) -> Iterator[tuple[int, CustomerUpdate]]:
        """The valid, not-yet-done lines; invalid ones are reported here and now."""
        index = 0
        for line in self._lines:
            if self.stopping:
                return
            if line.number in self._skip:
                check_resume(line, self._skip[line.number])
                self.skipped += 1
                continue
            if line.error is not None or line.customer_id is None or line.update is None:
                self._report.write(line.number, line.raw_id, "invalid", line.error)
                self._fail(line, line.error)
                continue
            self._by_index[index] = line
            index += 1
            yield line.customer_id, line.update

    def finished(self, index: int, ok: bool, error: HelpCrunchError | None,
                 attempts: int) -> None:
        line = self._by_index.pop(index)
        self._report.write(line.number, line.raw_id, "done" if ok else "failed", error,
                           attempts)
        if ok:
            self._progress.advance(ok=True)
            return
        self._fail(line, error)
        if (isinstance(error, APIConnectionError) and not error.maybe_sent
                and self.unreachable is None):
            self.unreachable = error  # the host cannot be reached: stop reading input
            self.stopping = True

    def _fail(self, line: JobLine, error: HelpCrunchError | None) -> None:
        self.failed += 1
        if len(self.failures) < SHOWN_FAILURES:
            self.failures.append(f"  line {line.number}{_id_text(line.raw_id)}: {error}")
        self._progress.advance(ok=False)


async def _run_job(args: argparse.Namespace, api_key: str) -> int:
    skip = done_lines(args.resume) if args.resume else {}
    report_path = args.report or args.resume
    stream = open_input(args.file)
    total = _count_lines(args.file)
    if total is not None:
        total = max(0, total - len(skip))
    report = ReportWriter(report_path)
    limit = RateLimit(*args.rate_limit) if args.rate_limit else None
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    interrupted = False
    refused: BulkAbortedError | None = None
    try:
        with Progress(total, enabled=not args.no_progress) as progress:
            job = _Job(read_lines(stream, args.file), skip, report, progress)

            def on_interrupt() -> None:
                nonlocal interrupted
                if job.stopping and main_task is not None:
                    main_task.cancel()  # second Ctrl-C: abort now
                    return
                interrupted = job.stopping = True
                say("\nhelpcrunch: stopping — finishing requests in flight "
                    "(Ctrl-C again to abort)")

            add_signal_handler(loop, on_interrupt)
            async with AsyncHelpCrunch(
                api_key, base_url=args.base_url, rate_limit=limit,
                max_concurrency=args.concurrency, max_retries=args.max_retries,
            ) as client:
                results = client.update_customers(
                    job.items(), max_concurrency=args.concurrency, replace=args.put,
                    batch=args.batch,
                )
                try:
                    async with contextlib.aclosing(results):
                        async for result in results:
                            job.finished(result.index, result.ok, result.error,
                                         result.attempts)
                except BulkAbortedError as exc:
                    refused = exc
                stats = client.stats
    except asyncio.CancelledError:
        say("helpcrunch: aborted; requests in flight were not reported and will be "
            "redone by --resume" if report_path else "helpcrunch: aborted")
        return EXIT_INTERRUPTED
    finally:
        remove_signal_handler(loop)
        report.close()
        close_input(stream, args.file)
    _show_failures(job, report_path)
    print(f"{progress.done} done, {job.failed} failed"
          + (f", {job.skipped} skipped (done before)" if job.skipped else "")
          + f" in {progress.elapsed:.1f} s; {stats.requests} requests, {stats.retries} "
            f"retries, {stats.rate_limited} rate-limited (429)"
          + (f"; report: {report_path}" if report_path else ""))
    stopped = interrupted or refused is not None or job.unreachable is not None
    if refused is not None:
        say(f"helpcrunch: {refused}. Check ${API_KEY_ENV}; the job stopped.")
    elif job.unreachable is not None:
        say(f"helpcrunch: cannot connect to HelpCrunch: {job.unreachable}; the job "
            "stopped. Check the network and --base-url.")
    if stopped or job.failed:
        what = ("the lines not done" if stopped else "the failed lines")
        say(f"helpcrunch: to send {what} again, run the same command with "
            f"--resume {report_path}" if report_path else
            "helpcrunch: no --report was given, so this run cannot be resumed")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if job.failed == 0 and not stopped else EXIT_FAILED


def _show_failures(job: _Job, report_path: str | None) -> None:
    if not job.failed:
        return
    say(f"helpcrunch: {job.failed} lines failed" + (
        f"; the first {len(job.failures)}:" if job.failed > len(job.failures) else ":"))
    for text in job.failures:
        say(text)
    if job.failed > len(job.failures):
        say(f"  ... and {job.failed - len(job.failures)} more"
            + (f" (see {report_path})" if report_path else ""))
