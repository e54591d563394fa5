"""``helpcrunch update-customers``: a bulk update from a JSON Lines or CSV file.

Progress and a report (``--report``) as it goes, ``--resume`` after a crash or Ctrl-C,
``--dry-run`` to validate only. The input format: :mod:`helpcrunch_async.cli._jobfile`.
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
from .._exceptions import HelpCrunchError
from .._models import CustomerUpdate
from .._ratelimit import RateLimit
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_signal_handler,
    parse_rate_limit,
    remove_signal_handler,
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


def add_parser(commands: Any) -> None:
    """Add ``update-customers`` to the subcommands of the ``helpcrunch`` parser."""
    up = commands.add_parser(
        "update-customers", help="update customers from a JSON Lines or CSV file",
        description="Update one customer per input line (PATCH: only the given fields). "
                    f"The API key is read from ${API_KEY_ENV}.")
    up.add_argument("file", help="JSON Lines (.jsonl) or CSV (.csv) file; - for stdin")
    up.add_argument("--put", action="store_true",
                    help="replace (PUT) instead of patch: every field missing from a line "
                         "is set to null")
    up.add_argument("--batch", action="store_true",
                    help="send PUT /customers/batch, 10 customers a request (semantics of "
                         "left-out fields undocumented by HelpCrunch)")
    up.add_argument("--concurrency", type=int, default=8, metavar="N",
                    help="requests in flight (default 8)")
    up.add_argument("--rate-limit", type=parse_rate_limit, default=(120, 60.0),
                    metavar="N/SECONDS", help="client-side limit (default 120/60; off)")
    up.add_argument("--report", metavar="FILE",
                    help="append one JSON line per input line (line, id, status, error)")
    up.add_argument("--resume", metavar="FILE",
                    help="skip lines this report marks done; new results are appended to "
                         "it unless --report says otherwise")
    up.add_argument("--dry-run", action="store_true",
                    help="validate every line and send nothing")
    up.add_argument("--base-url", default=DEFAULT_BASE_URL, help="API root (default: %(default)s)")
    up.add_argument("--max-retries", type=int, default=4, metavar="N",
                    help="retries per request for safe-to-retry failures (default 4)")
    up.add_argument("--no-progress", action="store_true", help="no progress display")
    up.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``update-customers``; returns the exit code."""
    if args.concurrency < 1:
        print("helpcrunch: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        return _dry_run(args.file)
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        print(f"helpcrunch: set {API_KEY_ENV} to your API key (or use --dry-run); "
              "`helpcrunch demo` runs without one", file=sys.stderr)
        return EXIT_USAGE
    if args.put:
        print("helpcrunch: warning: --put replaces customers: every field missing from a "
              "line is set to null on HelpCrunch", file=sys.stderr)
    return asyncio.run(_run_job(args, api_key))


def _dry_run(path: str) -> int:
    stream = open_input(path)
    valid = invalid = 0
    try:
        for line in read_lines(stream, path):
            if line.error is None:
                valid += 1
            else:
                invalid += 1
                print(f"line {line.number}: {line.error}", file=sys.stderr)
    finally:
        close_input(stream, path)
    print(f"dry run: {valid} valid, {invalid} invalid lines; nothing sent")
    return EXIT_OK if invalid == 0 else EXIT_USAGE


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
                self._progress.advance(ok=False)
                continue
            self._by_index[index] = line
            index += 1
            yield line.customer_id, line.update

    def finished(self, index: int, ok: bool, error: HelpCrunchError | None,
                 attempts: int) -> None:
        line = self._by_index.pop(index)
        self._report.write(line.number, line.raw_id, "done" if ok else "failed", error,
                           attempts)
        self._progress.advance(ok=ok)


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
    try:
        with Progress(total, enabled=not args.no_progress) as progress:
            job = _Job(read_lines(stream, args.file), skip, report, progress)

            def on_interrupt() -> None:
                nonlocal interrupted
                if job.stopping and main_task is not None:
                    main_task.cancel()  # second Ctrl-C: abort now
                    return
                interrupted = job.stopping = True
                print("\nhelpcrunch: stopping — finishing requests in flight "
                      "(Ctrl-C again to abort)", file=sys.stderr)

            add_signal_handler(loop, on_interrupt)
            async with AsyncHelpCrunch(
                api_key, base_url=args.base_url, rate_limit=limit,
                max_concurrency=args.concurrency, max_retries=args.max_retries,
            ) as client:
                results = client.update_customers(
                    job.items(), max_concurrency=args.concurrency, replace=args.put,
                    batch=args.batch,
                )
                async with contextlib.aclosing(results):
                    async for result in results:
                        job.finished(result.index, result.ok, result.error, result.attempts)
                stats = client.stats
    except asyncio.CancelledError:
        print("helpcrunch: aborted; requests in flight were not reported and will be "
              "redone by --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        remove_signal_handler(loop)
        report.close()
        close_input(stream, args.file)
    print(f"{progress.done} done, {progress.failed} failed"
          + (f", {job.skipped} skipped (done before)" if job.skipped else "")
          + f" in {progress.elapsed:.1f} s; {stats.requests} requests, {stats.retries} "
            f"retries, {stats.rate_limited} rate-limited (429)"
          + (f"; report: {report_path}" if report_path else ""))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if progress.failed == 0 else EXIT_FAILED
