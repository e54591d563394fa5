"""A job over input lines, as ``update-customers`` and ``sync`` run it: the line options,
the client, the report of each line, failures on screen, Ctrl-C, and how the job ends.

:class:`LineJob` feeds the valid lines of the input on, reports the invalid ones at once,
skips those ``--resume`` says are done, and stops reading when HelpCrunch refuses the API
key, the host cannot be reached (see
:mod:`helpcrunch_async.cli.commands.update_customers`) or the report cannot be written
(disk full, file too large): then the requests in flight finish, and :func:`ending`
lists the lines done but not in the report (``--resume`` sends them again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import stat
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import attrs

from .._account_index import MatchField
from .._bulk import BulkJob
from .._client import AsyncHelpCrunch
from .._config import API_KEY_ENV
from .._customer_sync import CustomerSync
from .._exceptions import (
    APIConnectionError,
    AuthenticationError,
    BulkAbortedError,
    HelpCrunchError,
    JobStoppedError,
    PermissionDeniedError,
)
from .._models import CustomerUpdate
from .._ratelimit import RateLimiter
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    positive_int,
    say,
)
from ._connect import client_rate_limit, require_api_key
from ._input import InputLines
from ._input_line import MATCH_NAMES, JobLine
from ._progress import Progress
from ._report import ReportWriter, check_resume, done_lines
from ._resolve import Resolver, resolve_lines

__all__ = [
    "SHOWN_FAILURES",
    "JobRun",
    "JobStart",
    "LineJob",
    "aborted",
    "add_line_options",
    "ctrl_c_handler",
    "ending",
    "id_text",
    "job_client",
    "line_ranges",
    "lines_to_do",
    "show_failures",
    "start_job",
    "warn_unresumable",
]

SHOWN_FAILURES = 5
"""Failed lines printed on screen, with line, id and message; the rest are counted."""


def add_line_options(parser: argparse.ArgumentParser, *, in_flight: str, report: str) -> None:
    """The input file, ``--concurrency``, ``--report`` and ``--resume``: what a job over
    input lines has."""
    parser.add_argument("file", help="JSON Lines (.jsonl) or CSV (.csv) file; - for stdin")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help=f"{in_flight} in flight (default 8)",
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help=f"append one JSON line per input line ({report}); needed for --resume",
    )
    parser.add_argument(
        "--resume",
        metavar="FILE",
        help="skip lines this report marks done; new results are appended "
        "to it unless --report says otherwise",
    )


def id_text(raw_id: object, match: str = "id") -> str:
    name = "id" if match == "id" else MATCH_NAMES[match]
    return f" ({name} {raw_id})" if isinstance(raw_id, int | str) and raw_id != "" else ""


def _count_lines(path: str) -> int | None:
    """The input's non-blank lines (less a CSV header); ``None`` for stdin or anything
    but a regular file (a pipe, a FIFO: what is read to count is gone for the job)."""
    try:
        if path == "-" or not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as f:
            count = sum(1 for raw in f if raw.strip())
    except OSError:
        return None
    return count - 1 if path.endswith(".csv") else count


def lines_to_do(path: str, skip: dict[int, str | None]) -> int | None:
    """The input's lines not done before, for the progress bar (``None``: stdin)."""
    total = _count_lines(path)
    return None if total is None else max(0, total - len(skip))


@attrs.frozen
class JobStart:
    """What a job over lines checks before anything is sent: the API key, the rate limit
    (``--rate-limit``, ``--redis``) and the lines done before (``--resume``)."""

    api_key: str
    limit: RateLimiter | None
    skip: dict[int, str | None]


def start_job(args: argparse.Namespace, key_note: str) -> JobStart | None:
    """The API key, the rate limit and the ``--resume`` report, checked in that order;
    ``None`` when ``$HELPCRUNCH_API_KEY`` is not set (said on stderr, with ``key_note``:
    a usage error, exit 2, nothing sent).

    Raises:
        InputError: the ``--redis`` URL or the ``--resume`` report is bad.
    """
    api_key = require_api_key(key_note)
    if api_key is None:
        return None
    limit = client_rate_limit(args.rate_limit, args.redis)  # a bad --redis: exit 2 now
    skip = done_lines(args.resume) if args.resume else {}
    return JobStart(api_key, limit, skip)


def job_client(args: argparse.Namespace, start: JobStart) -> AsyncHelpCrunch:
    """The client for a job over lines: the connection options and ``--concurrency``."""
    return AsyncHelpCrunch(
        start.api_key,
        base_url=args.base_url,
        rate_limit=start.limit,
        max_concurrency=args.concurrency,
        max_retries=args.max_retries,
    )


@attrs.define(eq=False, slots=False)
class LineJob:
    """Feeds input lines to the client, maps results back to lines, writes the report.

    With ``--match user_id|email`` each line's customer is found first
    (:meth:`resolved_items`); a line whose key matches nobody or several customers is
    reported failed and nothing is sent for it.

    Made with ``(lines, skip, report, progress, match="id", send_key=False)``.
    """

    _lines: InputLines
    _skip: dict[int, str | None]
    _report: ReportWriter
    _progress: Progress
    _match: MatchField = "id"
    _send_key: bool = False
    _by_index: dict[int, tuple[JobLine, int]] = attrs.field(init=False, factory=dict)
    _next_index: int = attrs.field(init=False, default=0)
    skipped: int = attrs.field(init=False, default=0)
    stopping: bool = attrs.field(init=False, default=False)
    interrupted: bool = attrs.field(init=False, default=False)  # by Ctrl-C (ctrl_c_handler)
    # the job to stop on Ctrl-C
    sending: BulkJob | CustomerSync | None = attrs.field(init=False, default=None)
    unsent: int = attrs.field(init=False, default=0)  # lines read, not sent: the job stopped
    refused: BulkAbortedError | None = attrs.field(init=False, default=None)
    unreachable: APIConnectionError | None = attrs.field(init=False, default=None)
    failures: list[str] = attrs.field(init=False, factory=list)  # the first few, for the screen
    failed: int = attrs.field(init=False, default=0)

    def stop(self) -> None:
        """Read no more input (a wait for the next line ends at once); what is in flight
        finishes."""
        self.stopping = True
        self._lines.close()

    async def lines(self) -> AsyncIterator[JobLine]:
        """The valid, not-yet-done lines; invalid ones are reported here and now."""
        async for line in self._lines:
            if self.stopping:
                return
            if line.error is None:
                line = self._unique(line)
            if line.number in self._skip:
                check_resume(line, self._skip[line.number])
                self.skipped += 1
                continue
            if (
                line.error is not None
                or line.update is None
                or (self._match == "id" and line.customer_id is None)
            ):
                self._write(line, None, "invalid", line.error)
                self._fail(line, line.error)
                continue
            yield line

    def _unique(self, line: JobLine) -> JobLine:
        """The line, or an invalid one in its place when an earlier line has its key.
        Here the reader has checked that (:func:`read_lines`); ``sync`` checks it
        against the account instead."""
        return line

    async def items(self) -> AsyncIterator[tuple[int, CustomerUpdate]]:
        """``(customer id, update)`` of each line to send (``--match id``)."""
        async for line in self.lines():
            assert line.customer_id is not None
            yield self._admit(line, line.customer_id)

    async def resolved_items(
        self, resolver: Resolver, window: int
    ) -> AsyncIterator[tuple[int, CustomerUpdate]]:
        """``(customer id, update)`` of each line whose customer was found."""
        async for line, found in resolve_lines(self.lines(), resolver, window):
            if isinstance(found, int):
                yield self._admit(line, found)
            else:
                self._write(line, None, "failed", found)
                self._fail(line, found)

    def _admit(self, line: JobLine, customer_id: int) -> tuple[int, CustomerUpdate]:
        assert line.update is not None
        self._by_index[self._next_index] = (line, customer_id)
        self._next_index += 1
        if self._send_key and isinstance(line.raw_id, str):
            # a PUT (or a batch item that acts like one) must not clear the key
            update = (
                attrs.evolve(line.update, user_id=line.raw_id)
                if self._match == "user_id"
                else attrs.evolve(line.update, email=line.raw_id)
            )
            return customer_id, update
        return customer_id, line.update

    def finished(self, index: int, ok: bool, error: HelpCrunchError | None, attempts: int) -> None:
        line, customer_id = self._by_index.pop(index)
        self._write(line, customer_id, "done" if ok else "failed", error, attempts)
        if ok:
            self._progress.advance(ok=True)
            return
        self._fail(line, error)

    def _write(
        self,
        line: JobLine,
        customer_id: int | None,
        status: str,
        error: HelpCrunchError | None,
        attempts: int = 0,
        **extra: Any,
    ) -> None:
        """Record the line in the report; a report that cannot be written stops the job
        reading input (what is in flight finishes, see :func:`ending`)."""
        if self._match == "id":
            self._report.write(line.number, line.raw_id, status, error, attempts, **extra)
        else:
            self._report.write(
                line.number, customer_id, status, error, attempts, key=line.raw_id, **extra
            )
        if self._report.error is not None:
            self.stop()

    def not_done(self) -> str:
        """For the summary: the lines not sent (stopped) and skipped (done before)."""
        return (f", {self.unsent} not sent (stopped)" if self.unsent else "") + (
            f", {self.skipped} skipped (done before)" if self.skipped else ""
        )

    @property
    def report_failed(self) -> bool:
        """The report could not be written: the job stopped reading input."""
        return self._report.error is not None

    def report_failure(self, verb: str = "send") -> list[str]:
        """What to say when the report could not be written: the OS error, and the
        lines done that the report does not hold (``--resume`` does them again)."""
        done = [number for number, status in self._report.unrecorded if status == "done"]
        said = [self._report.failure()]
        if done:
            said.append(
                f"done but not in the report: {line_ranges(done)} (--resume {verb}s "
                f"{'it' if len(done) == 1 else 'them'} again)"
            )
        return said

    def _fail(self, line: JobLine, error: HelpCrunchError | None) -> None:
        if isinstance(error, JobStoppedError):  # stopped before it was sent: not a failure
            self.unsent += 1
            return
        self.failed += 1
        if len(self.failures) < SHOWN_FAILURES:
            self.failures.append(
                f"  line {line.number}{id_text(line.raw_id, self._match)}: {error}"
            )
        self._progress.advance(ok=False)
        if isinstance(error, AuthenticationError | PermissionDeniedError) and self.refused is None:
            self.refused = BulkAbortedError(error)  # a search was refused: stop reading
            self.stop()
        if (
            isinstance(error, APIConnectionError)
            and not error.maybe_sent
            and self.unreachable is None
        ):
            self.unreachable = error  # the host cannot be reached: stop reading input
            self.stop()


def ctrl_c_handler(
    job: LineJob, main_task: asyncio.Task[Any] | None, abort_now: Callable[[], bool] = lambda: False
) -> Callable[[], None]:
    """The SIGINT handler of a job: the first Ctrl-C stops the job at once — no more
    input is read and nothing more is sent (lines waiting for the rate limit are
    reported not sent); only requests already on the wire finish and are reported. The
    second — or the first while ``abort_now()`` — cancels ``main_task`` at once."""

    def on_interrupt() -> None:
        if (job.interrupted or abort_now()) and main_task is not None:
            main_task.cancel()
            return
        job.interrupted = True
        job.stop()
        if job.sending is not None:
            job.sending.stop()
        say(
            "\nhelpcrunch: stopping — sending nothing more; finishing the requests already "
            "sent (Ctrl-C again to abort)"
        )

    return on_interrupt


class JobRun:
    """A job over lines running in the current task (a context manager): Ctrl-C is
    watched from :meth:`watch` on (see :func:`ctrl_c_handler`); at the end the handler
    goes and the report is closed."""

    def __init__(self, report: ReportWriter) -> None:
        self._report = report
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def watch(self, job: LineJob, abort_now: Callable[[], bool] = lambda: False) -> None:
        """From now on Ctrl-C stops ``job``; a second one (or the first while
        ``abort_now()``) cancels this task."""
        handler = ctrl_c_handler(job, self._task, abort_now)
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; a thread
            self._loop.add_signal_handler(signal.SIGINT, handler)

    def __enter__(self) -> JobRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self._loop.remove_signal_handler(signal.SIGINT)
        self._report.close()


def line_ranges(numbers: list[int], shown: int = 20) -> str:
    """Line numbers as ranges, the first ``shown`` ranges and a count of the rest.

    Example:
        >>> line_ranges([7, 1, 2, 3, 5])
        'lines 1-3, 5, 7'
        >>> line_ranges([4]), line_ranges([1, 3, 5], shown=2)
        ('line 4', 'lines 1, 3 and 1 more')
    """
    ranges: list[str] = []
    ordered = sorted(numbers)
    start = previous = ordered[0]
    for number in [*ordered[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    rest = len(ranges) - shown
    text = ", ".join(ranges[:shown]) + (f" and {rest} more" if rest > 0 else "")
    return f"{'line' if len(numbers) == 1 else 'lines'} {text}"


def warn_unresumable() -> None:
    """Say that a job run without ``--report`` cannot be resumed."""
    say("helpcrunch: warning: no --report FILE: if this run stops, it cannot be resumed")


def aborted(report_path: str | None, what: Literal["requests", "lines"]) -> int:
    """Say the job was aborted (a second Ctrl-C) and that ``--resume`` redoes ``what``
    was in flight; the exit code."""
    say(
        f"helpcrunch: aborted; {what} in flight were not reported and will be redone by --resume"
        if report_path
        else "helpcrunch: aborted"
    )
    return EXIT_INTERRUPTED


def ending(
    job: LineJob,
    refused: BulkAbortedError | None,
    report_path: str | None,
    *,
    noun: str = "job",
    verb: str = "send",
    resumable: bool = True,
) -> int:
    """The end of a job's summary — why it stopped early, how to go on — and its exit
    code."""
    refused = refused or job.refused
    stopped = (
        job.interrupted or refused is not None or job.unreachable is not None or job.report_failed
    )
    if job.report_failed:
        first, *more = job.report_failure(verb)
        say(f"helpcrunch: {first}; the {noun} stopped")
        for text in more:
            say(f"helpcrunch: {text}")
    if refused is not None:
        say(f"helpcrunch: {refused}. Check ${API_KEY_ENV}; the {noun} stopped.")
    elif job.unreachable is not None:
        say(
            f"helpcrunch: cannot connect to HelpCrunch: {job.unreachable}; the {noun} "
            "stopped. Check the network and --base-url."
        )
    if resumable and (stopped or job.failed):
        what = "the lines not done" if stopped else "the failed lines"
        say(
            f"helpcrunch: to {verb} {what} again, run the same command with --resume {report_path}"
            if report_path
            else "helpcrunch: no --report was given, so this run cannot be resumed"
        )
    if job.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if job.failed == 0 and not stopped else EXIT_FAILED


def show_failures(job: LineJob, report_path: str | None) -> None:
    if not job.failed:
        return
    lines = "line" if job.failed == 1 else "lines"
    say(
        f"helpcrunch: {job.failed} {lines} failed"
        + (f"; the first {len(job.failures)}:" if job.failed > len(job.failures) else ":")
    )
    for text in job.failures:
        say(text)
    if job.failed > len(job.failures):
        say(
            f"  ... and {job.failed - len(job.failures)} more"
            + (f" (see {report_path})" if report_path else "")
        )
