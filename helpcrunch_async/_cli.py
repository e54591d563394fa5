"""The ``helpcrunch`` command (also ``python -m helpcrunch_async``).

Commands:

* ``helpcrunch update-customers FILE`` — run a bulk update from JSON Lines or CSV
  (see :mod:`helpcrunch_async._jobfile` for the format), with progress, a report and
  ``--resume``.
* ``helpcrunch demo`` — a bulk update against the built-in fake server: no key needed.
* ``helpcrunch fake-server`` — serve the fake HelpCrunch API for manual tests and
  benchmarks.

Exit codes: 0 all done; 1 some items failed; 2 usage or input errors (also: invalid
lines under ``--dry-run``); 130 interrupted by Ctrl-C (the report holds everything
finished; ``--resume`` goes on from there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ._client import AsyncHelpCrunch
from ._config import API_KEY_ENV, DEFAULT_BASE_URL
from ._exceptions import HelpCrunchError, ValidationError
from ._jobfile import (
    InputError,
    JobLine,
    ReportWriter,
    check_resume,
    close_input,
    done_lines,
    open_input,
    read_lines,
)
from ._models import CustomerUpdate
from ._progress import Progress
from ._ratelimit import RateLimit

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``"120/60"`` → ``(120, 60.0)``; ``"off"`` → ``None``.

    Example:
        >>> parse_rate_limit("120/60")
        (120, 60.0)
    """
    if text.strip().lower() in ("off", "none", "0"):
        return None
    requests, slash, period = text.partition("/")
    try:
        value = (int(requests), float(period) if slash else 60.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS such as 120/60, or off; got {text!r}") from None
    if value[0] < 1 or value[1] <= 0:
        raise argparse.ArgumentTypeError(f"rate limit must be positive, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpcrunch", description="HelpCrunch customer API tools (helpcrunch-async).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    demo = commands.add_parser(
        "demo", help="bulk-update customers of a built-in fake server (no key needed)",
        description="Start the fake HelpCrunch server in-process, bulk-update its customers "
                    "through the SDK with a progress bar, check the result. Never touches a "
                    "real account.")
    demo.add_argument("--customers", type=int, default=2000, metavar="N")
    demo.add_argument("--rate-limit", type=parse_rate_limit, default=(240, 2.0),
                      metavar="N/SECONDS",
                      help="the fake's and the client's limit (default 240/2: HelpCrunch's "
                           "rate of 120 a minute, 60 times faster)")
    demo.add_argument("--fault-rate", type=float, default=0.01,
                      help="share of requests the fake fails (5xx, drops; default 0.01)")
    demo.add_argument("--concurrency", type=int, default=16, metavar="N")
    demo.add_argument("--batch", action="store_true", help="use the batch endpoint")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-progress", action="store_true")

    fake = commands.add_parser("fake-server", help="serve the fake HelpCrunch API",
                               description="Serve the fake HelpCrunch API until Ctrl-C.")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8080)
    fake.add_argument("--api-key", default="test-key")
    fake.add_argument("--rate-limit", type=parse_rate_limit, default=(120, 60.0),
                      metavar="N/SECONDS", help="sliding window (default 120/60; off)")
    fake.add_argument("--retry-after", action="store_true",
                      help="send Retry-After on 429 (the real API's headers are undocumented)")
    fake.add_argument("--fault-rate", type=float, default=0.0)
    fake.add_argument("--seed", type=int, default=None)
    fake.add_argument("--customers", type=int, default=1000, help="customers to create")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "update-customers":
            return _update_customers_command(args)
        if args.command == "demo":
            from ._demo import run_demo

            return asyncio.run(run_demo(
                customers=args.customers, rate_limit=args.rate_limit,
                fault_rate=args.fault_rate, concurrency=args.concurrency, batch=args.batch,
                seed=args.seed, progress=not args.no_progress))
        from .testing import run_fake_server

        run_fake_server(args.host, args.port, api_key=args.api_key,
                        rate_limit=args.rate_limit, retry_after=args.retry_after,
                        fault_rate=args.fault_rate, seed=args.seed, customers=args.customers)
        return EXIT_OK
    except (InputError, ValidationError) as exc:  # bad file, bad option value
        print(f"helpcrunch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _update_customers_command(args: argparse.Namespace) -> int:
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

            _add_signal_handler(loop, on_interrupt)
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
        _remove_signal_handler(loop)
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


def _add_signal_handler(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
        loop.add_signal_handler(signal.SIGINT, callback)


def _remove_signal_handler(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.remove_signal_handler(signal.SIGINT)
