"""Shared helpers of the hosting suite: real servers in subprocesses, leak and growth checks.

* :class:`ServerProcess` / :func:`serve` — a server (uvicorn, aiohttp.web, waitress, the
  fake) in its own process, its output captured to files, ready once its port accepts a
  connection, stopped with a real signal.
* :func:`problems_in_output` — what a process must never print: tracebacks, "Unclosed
  client session" / "Unclosed connector", ResourceWarnings, destroyed pending tasks.
* :class:`LeakWatch` — the same, in this process: every warning (any thread), every
  asyncio log record and every "Unclosed" record of any logger, every unraisable
  exception (``__del__``), collected after ``gc.collect()``.
* :class:`Tally` — outcomes of calls: done, a ``HelpCrunchError``, or anything else.
* :func:`resources` / :func:`assert_no_growth` — threads and file descriptors before
  and after.
* :func:`hammer_async` / :func:`hammer_threads` — many requests at once to a server.
* :func:`once_per_run` — an expensive run shared by the tests of every pytest-xdist worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import psutil
import pytest

import helpcrunch_async as hc

HERE = Path(__file__).parent
APPS = HERE / "apps"
PROJECT = HERE.parent.parent

# Python options for a child process: show every ResourceWarning (Python hides them by
# default), so an unclosed session, connector or socket shows in its output.
WARN = ("-W", "always::ResourceWarning")

# What a healthy process never prints, in any server's output.
BAD_OUTPUT = (
    "Traceback",
    "Unclosed",  # aiohttp: "Unclosed client session", "Unclosed connector"
    "unclosed",  # asyncio / socket: "unclosed transport", "unclosed <socket.socket ..."
    "ResourceWarning",
    "Exception ignored",
    "Task was destroyed",
    "Event loop stopped before Future completed",
    "DeprecationWarning: This process",
)


# --- outcomes ----------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes of calls, thread-safe: done, a ``HelpCrunchError`` (by type), or other."""

    done: int = 0
    hc_errors: Counter[str] = field(default_factory=Counter)
    other: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def call(self, fn: Callable[[], Any]) -> bool:
        """Run ``fn`` and count its outcome; True when it returned."""
        try:
            fn()
        except hc.HelpCrunchError as exc:
            self.add_hc_error(exc)
            return False
        except BaseException as exc:  # the point: anything else is counted
            self.add_other(exc)
            return False
        self.add_done()
        return True

    async def acall(self, coro: Any) -> bool:
        """Await ``coro`` and count its outcome; True when it returned."""
        try:
            await coro
        except hc.HelpCrunchError as exc:
            self.add_hc_error(exc)
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the point: anything else is counted
            self.add_other(exc)
            return False
        self.add_done()
        return True

    def add_done(self, n: int = 1) -> None:
        with self._lock:
            self.done += n

    def add_hc_error(self, exc: BaseException | str) -> None:
        with self._lock:
            self.hc_errors[exc if isinstance(exc, str) else type(exc).__name__] += 1

    def add_other(self, exc: BaseException | str) -> None:
        with self._lock:
            self.other.append(exc if isinstance(exc, str) else repr(exc))

    def add_answer(self, answer: Mapping[str, Any]) -> None:
        """Count what one of the apps in ``apps/`` answered (see ``apps/outcome.py``)."""
        outcome = answer.get("outcome")
        if outcome == "done":
            self.add_done()
        elif outcome == "hc_error":
            self.add_hc_error(str(answer.get("type")))
        else:
            self.add_other(f"{answer.get('type')}: {answer.get('message')}")

    @property
    def total(self) -> int:
        return self.done + sum(self.hc_errors.values()) + len(self.other)

    def summary(self) -> str:
        others = Counter(self.other).most_common(3)
        return (
            f"{self.done} done, {sum(self.hc_errors.values())} HelpCrunchError "
            f"{dict(self.hc_errors)}, {len(self.other)} other {others}"
        )

    def assert_all_done(self, expected: int) -> None:
        """Every call done: no HelpCrunchError, nothing else (a healthy fake, no faults)."""
        assert (self.done, sum(self.hc_errors.values()), len(self.other)) == (expected, 0, 0), (
            self.summary()
        )

    def assert_done_or_hc_error(self, expected: int) -> None:
        """Every call done or a HelpCrunchError; never anything else."""
        assert self.other == [], self.summary()
        assert self.total == expected, self.summary()


# --- warnings, logs and unraisable exceptions in this process ----------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("asyncio") or "nclosed" in record.getMessage():
            self.records.append(record)


class LeakWatch:
    """Collect every warning, asyncio log record and unraisable exception while active.

    Warnings are recorded (``simplefilter("always")``), not raised, so pyproject's
    ``error::ResourceWarning`` cannot turn one into an exception inside the code under
    test; on exit ``gc.collect()`` runs so that whatever was left unclosed is finalized
    (and reported) before :attr:`problems` is read.
    """

    def __init__(self) -> None:
        self.warnings: list[warnings.WarningMessage] = []
        self.unraisable: list[str] = []
        self._records = _Records()
        self._catch = warnings.catch_warnings(record=True)
        self._old_hook: Callable[[Any], Any] | None = None

    def __enter__(self) -> LeakWatch:
        self.warnings = self._catch.__enter__()
        warnings.simplefilter("always")
        logging.getLogger().addHandler(self._records)
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def _unraisable(self, info: Any) -> None:
        self.unraisable.append(f"{info.exc_type.__name__}: {info.exc_value!r} in {info.object!r}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # up to 3 passes: a finalizer run by one pass can leave garbage for the next;
            # a pass that found nothing unreachable ran no finalizer, so nothing is left
            for _ in range(3):
                if gc.collect() == 0:
                    break
        finally:
            sys.unraisablehook = self._old_hook  # type: ignore[assignment]
            logging.getLogger().removeHandler(self._records)
            self._catch.__exit__(exc_type, exc, tb)

    @property
    def problems(self) -> list[str]:
        found = [f"{w.category.__name__}: {w.message}" for w in self.warnings]
        found += [f"log {r.name} {r.levelname}: {r.getMessage()}" for r in self._records.records]
        return found + self.unraisable


# --- bounded waits: a hang fails the test instead of stalling the suite --------------------


def run_threads(
    targets: Sequence[Callable[[], Any]], *, timeout: float = 60.0, barrier: bool = True
) -> int:
    """Run each target in its own (daemon) thread, all released at once; wait for them.

    Returns how many were still running after ``timeout`` seconds (0 when all ended);
    daemon threads, so that a stuck one cannot keep the test run from ending.
    """
    start = threading.Barrier(len(targets)) if barrier else None

    def body(target: Callable[[], Any]) -> None:
        if start is not None:
            start.wait()
        target()

    threads = [threading.Thread(target=body, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return sum(t.is_alive() for t in threads)


def run_bounded(coro: Any, timeout: float = 30.0) -> Any:
    """``asyncio.run(coro)``, cancelled (``TimeoutError``) after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --- threads and file descriptors --------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    threads: int
    fds: int
    thread_names: tuple[str, ...]


def resources() -> Resources:
    """Threads (Python's) and open file descriptors of this process now."""
    names = tuple(sorted(t.name for t in threading.enumerate()))
    return Resources(threading.active_count(), psutil.Process().num_fds(), names)


def growth(before: Resources, *, fd_slack: int = 0, settle: float = 5.0) -> str | None:
    """What grew since ``before`` (threads, file descriptors), or None when nothing did.

    Waits up to ``settle`` seconds for it: the fake server (in a thread of this process)
    closes its side of a connection only once it has read the client's close, so a
    server-side socket outlives the client's by a moment. ``fd_slack`` allows that many
    more descriptors; each caller that passes one says why.
    """
    deadline = time.monotonic() + settle
    while True:
        gc.collect()
        now = resources()
        if now.threads <= before.threads and now.fds <= before.fds + fd_slack:
            return None
        if time.monotonic() > deadline:
            conns = [(c.laddr, c.raddr, c.status) for c in psutil.Process().net_connections()]
            return (
                f"grew: threads {before.threads} -> {now.threads} ({now.thread_names}), "
                f"fds {before.fds} -> {now.fds} (slack {fd_slack}); sockets: {conns}"
            )
        time.sleep(0.05)


def assert_no_growth(before: Resources, *, fd_slack: int = 0, settle: float = 5.0) -> None:
    """No more threads or file descriptors than ``before`` (see :func:`growth`)."""
    grew = growth(before, fd_slack=fd_slack, settle=settle)
    assert grew is None, grew


# --- servers in subprocesses -------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """This environment for a child Python: the apps directory importable, output unbuffered."""
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("HELPCRUNCH_API_KEY", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(APPS), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


class ServerProcess:
    """A server in its own process (and session), its stdout/stderr captured to files.

    ``port=None`` for a process that listens on no port (a Celery worker): it counts as
    started at once.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int | None,
        log_dir: Path,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: Path = PROJECT,
    ) -> None:
        self.argv = list(argv)
        self.port = port
        self._out_path = log_dir / f"{name}.out"
        self._err_path = log_dir / f"{name}.err"
        self._env = dict(env) if env is not None else child_env()
        self._cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    def start(self, ready_timeout: float = 30.0) -> None:
        with open(self._out_path, "wb") as out, open(self._err_path, "wb") as err:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        if self.port is None:  # no port to wait for (a worker): running is all there is
            return
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.argv} exited with {self.process.returncode} before listening:\n"
                    f"{self.stdout}\n{self.stderr}"
                )
            if self._accepts() and self._listening():  # (connect first: psutil's look costs more)
                return
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(
                    f"{self.argv} did not listen on port {self.port} in {ready_timeout} s:"
                    f"\n{self.stdout}\n{self.stderr}"
                )
            time.sleep(0.05)

    def _accepts(self) -> bool:
        """Something accepts connections on the server's port."""
        assert self.port is not None
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def _listening(self) -> bool:
        """This server (or a process it started: gunicorn's, uvicorn's workers) listens
        on its port, not some other process that took the port first."""
        assert self.process is not None
        assert self.port is not None
        with contextlib.suppress(psutil.Error):
            top = psutil.Process(self.process.pid)
            for proc in [top, *top.children(recursive=True)]:
                for conn in proc.net_connections("tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return True
        return False

    @property
    def stdout(self) -> str:
        return self._out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self._err_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 20.0) -> int:
        """Send ``sig`` (a clean shutdown) and wait; the exit code. Killed if it hangs."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"{self.argv} did not stop within {timeout} s of {sig.name}:\n{self.stderr}"
                ) from None
        self.returncode = self.process.returncode
        return self.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@contextlib.contextmanager
def serve(
    argv: Sequence[str],
    *,
    port: int | None,
    log_dir: Path,
    name: str,
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT,
) -> Iterator[ServerProcess]:
    """Start a :class:`ServerProcess`; it is killed on the way out if still running."""
    server = ServerProcess(argv, port=port, log_dir=log_dir, name=name, env=env, cwd=cwd)
    server.start()
    try:
        yield server
    finally:
        server.kill()


CLEAN_SHUTDOWN = {"closed": True, "sockets_to_fake": 0}
"""What ``apps/app_common.report_shutdown`` prints for a clean shutdown."""


def shutdown_report(stdout: str) -> dict[str, Any] | None:
    """The report an app printed at shutdown (``None``: its shutdown never got there)."""
    for line in stdout.splitlines():
        if line.startswith("helpcrunch shutdown: "):
            report: dict[str, Any] = json.loads(line.split(": ", 1)[1])
            return report
    return None


def problems_in_output(text: str) -> list[str]:
    """The lines of a process's output that a healthy run never prints."""
    return [line for line in text.splitlines() if any(bad in line for bad in BAD_OUTPUT)]


def run_python(
    args: Sequence[str],
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT,
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (this interpreter), output captured; fails the test on a hang."""
    try:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else child_env(),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"python {' '.join(args)} hung for {timeout} s:\n{exc.stdout!r}\n{exc.stderr!r}"
        ) from None


# --- runs shared by the workers ------------------------------------------------------------


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this test run that every pytest-xdist worker sees (the base
    temporary directory, or with workers the directory above theirs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(shared: Path, name: str, produce: Callable[[Path], None], timeout: float) -> Path:
    """``produce(directory)`` once in this test run, in whichever worker asks first; a
    worker that asks later waits until it has ended. Returns the directory; fails the
    asking test, with ``produce``'s own traceback, if that failed (in any worker)."""
    directory = shared / name
    outcome = shared / f"{name}.outcome"
    try:
        directory.mkdir()
    except FileExistsError:  # claimed: by another worker, or earlier in this one
        deadline = time.monotonic() + timeout
        while not outcome.exists():
            assert time.monotonic() < deadline, f"{name}: not done within {timeout} s"
            time.sleep(0.05)
    else:
        try:
            produce(directory)
            text = "ok"
        except BaseException:  # reported to every test that asks, below
            text = traceback.format_exc()
        partial = shared / f".{name}.outcome"
        partial.write_text(text, encoding="utf-8")
        partial.rename(outcome)  # whole or not at all, for a reader in another worker
    text = outcome.read_text(encoding="utf-8")
    if text != "ok":
        pytest.fail(f"{name} failed:\n{text}", pytrace=False)
    return directory


# --- load --------------------------------------------------------------------------------


def hammer_async(
    port: int, paths: Sequence[str], *, method: str = "POST", timeout: float = 120.0
) -> list[tuple[int, Any]]:
    """Send every request at once (one connection each) from one event loop here.

    Returns ``(status, parsed JSON or text)`` per request, in order; a request that got
    no answer is ``(0, repr(exc))``.
    """

    async def one(session: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
        try:
            async with session.request(method, f"http://127.0.0.1:{port}{path}") as resp:
                text = await resp.text()
                try:
                    return resp.status, json.loads(text)
                except ValueError:
                    return resp.status, text
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, repr(exc)

    async def main() -> list[tuple[int, Any]]:
        connector = aiohttp.TCPConnector(limit=0)  # all at once: no client-side queue
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as session:
            return list(await asyncio.gather(*(one(session, p) for p in paths)))

    return asyncio.run(main())


def hammer_threads(
    port: int,
    paths: Sequence[str],
    *,
    threads: int,
    method: str = "POST",
    gap: float = 0.0,
    timeout: float = 60.0,
) -> list[tuple[int, Any]]:
    """Send the requests from ``threads`` client threads (keep-alive, one connection each).

    ``gap``: each thread sleeps a random 0..gap seconds before each request (real
    traffic has gaps; a server with idle moments is where the blocking client's loop
    changes hands).
    """
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []

    def one(path: str) -> tuple[int, Any]:
        if gap:
            time.sleep(random.random() * gap)
        for attempt in (1, 2):  # a kept-alive connection the server has just closed: once more
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                opened.append(conn)
            try:
                conn.request(method, path, body=b"", headers={"Content-Length": "0"})
                resp = conn.getresponse()
                text = resp.read().decode()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                local.conn = None
                if attempt == 2 or not isinstance(
                    exc, http.client.RemoteDisconnected | ConnectionResetError
                ):
                    return 0, repr(exc)
                continue
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text
        raise AssertionError("unreachable")

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, paths))
    finally:
        for conn in opened:
            conn.close()


def tally_answers(results: Sequence[tuple[int, Any]]) -> Tally:
    """A :class:`Tally` of the apps' answers; any non-200 answer counts as "other"."""
    tally = Tally()
    for status, answer in results:
        if status == 200 and isinstance(answer, dict):
            tally.add_answer(answer)
        else:
            tally.add_other(f"HTTP {status}: {str(answer)[:200]}")
    return tally
