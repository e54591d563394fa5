"""The command's own files and streams failing at the OS level (issue 20, item 1): a full
disk (``/dev/full``), the file-size limit (``RLIMIT_FSIZE`` in the child, with SIGXFSZ
ignored so that ``write()`` returns EFBIG), an input that breaks mid-way (a pty whose
other end goes away: EIO), a directory or a file with no permission where a file should
be. Each is one line naming the file (or "standard output") and the OS's reason, a
documented exit code and no traceback; a report that cannot be written stops the job
cleanly and says which lines are done but not in it, so ``--resume`` still works.

Where the process itself is under test — its stdout, stderr or stdin, a file-size limit,
a terminal, what Python prints as it exits — the command runs as users run it: a real
process, writing to real files and devices, against the fake server in this process.
Where only a file the command opens fails (a report on ``/dev/full``, a directory as
input, a file it may not write, or the resume that follows a failed run), it runs in this
process (``main``), through the same code and to the same messages and exit codes.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import pty
import resource
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch

FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full")
ENOSPC = "No space left on device"
EFBIG = "File too large"


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(300)
        yield server


def _file_size_limit(limit: int) -> Callable[[], None]:
    """For ``preexec_fn``: files of at most ``limit`` bytes; a write past it fails with
    EFBIG instead of killing the process (SIGXFSZ ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _helpcrunch(
    fake: FakeHelpCrunch,
    *args: str,
    stdout: Any = subprocess.PIPE,
    stdin: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.PIPE,
    limit: int | None = None,
    closing: str = "",
) -> subprocess.CompletedProcess[str]:
    """``helpcrunch ARGS`` in a new process against ``fake`` (unthrottled, quiet);
    ``closing``: a redirection such as ``>&-`` the shell starts it with."""
    extra = [] if args[0] == "demo" else ["--base-url", fake.base_url]
    command = [
        sys.executable,
        "-m",
        "helpcrunch_async",
        *args,
        *extra,
        "--rate-limit",
        "off",
        *(["--no-progress"] if args[0] not in ("get", "find") else []),
    ]
    if closing:
        command = ["sh", "-c", f'exec "$@" {closing}', "sh", *command]
    return subprocess.run(
        command,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        text=True,
        timeout=120,
        env={**os.environ, "HELPCRUNCH_API_KEY": fake.api_key},
        preexec_fn=None if limit is None else _file_size_limit(limit),
        check=False,
    )


def _in_process(
    fake: FakeHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, str, str]:
    """``helpcrunch ARGS`` as ``_helpcrunch`` runs it, in this process: (exit code,
    stdout, stderr)."""
    monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
    capsys.readouterr()
    code = main([*args, "--base-url", fake.base_url, "--rate-limit", "off", "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _report(path: Path) -> tuple[dict[int, str], int]:
    """The report's last status per line, and the number of entries cut short."""
    last: dict[int, str] = {}
    cut = 0
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(text)
        except ValueError:
            cut += 1
            continue
        last[entry["line"]] = entry["status"]
    return last, cut


def _listed_lines(err: str) -> set[int]:
    """The line numbers of the ``done but not in the report: lines 3-5, 9`` message."""
    [said] = [t for t in err.splitlines() if "done but not in the report" in t]
    numbers: set[int] = set()
    for part in (
        said.split(": ", 2)[2]
        .split(" (")[0]
        .removeprefix("lines ")
        .removeprefix("line ")
        .split(", ")
    ):
        low, _, high = part.partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def _patched(fake: FakeHelpCrunch) -> list[int]:
    return [int(r.path.rsplit("/", 1)[1]) for r in fake.requests if r.method == "PATCH"]


# --- a full disk under stdout ----------------------------------------------------------


@needs_dev_full
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["export"], f"cannot write to standard output: {ENOSPC}; the export is incomplete"),
        (["get", "42"], f"cannot write to standard output: {ENOSPC}"),
        (["find", "--user-id", "user_7"], f"cannot write to standard output: {ENOSPC}"),
        (["demo", "--customers", "20"], f"cannot write to standard output: {ENOSPC}"),
    ],
)
def test_results_into_a_full_disk_are_one_line_exit_1(
    fake: FakeHelpCrunch, args: list[str], said: str
) -> None:
    with open(FULL, "w") as full:
        done = _helpcrunch(fake, *args, stdout=full)
    _no_traceback(done.stderr)
    assert done.returncode == 1, done.stderr
    assert f"helpcrunch: {said}\n" in done.stderr
    helpcrunch_lines = [t for t in done.stderr.splitlines() if t.startswith("helpcrunch:")]
    assert helpcrunch_lines == [f"helpcrunch: {said}"]  # one line: no "incomplete" twice


@needs_dev_full
def test_a_dry_run_sync_into_a_full_disk_stops_with_one_line(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    rows = [{"userId": f"user_{i}", "name": f"Renamed {i}"} for i in range(1, 301)]
    with open(FULL, "w") as full:
        done = _helpcrunch(
            fake,
            "sync",
            _jsonl(tmp_path / "u.jsonl", rows),
            "--match",
            "user_id",
            "--dry-run",
            stdout=full,
        )
    _no_traceback(done.stderr)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"helpcrunch: cannot write to standard output: {ENOSPC}"
    )
    assert [r.method for r in fake.requests if r.method != "GET"] == []  # a dry run


@needs_dev_full
def test_a_job_whose_summary_meets_a_full_disk_is_done_and_says_so(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    rows = [{"id": i, "name": f"Renamed {i}"} for i in range(1, 21)]
    report = tmp_path / "r.jsonl"
    with open(FULL, "w") as full:
        done = _helpcrunch(
            fake,
            "update-customers",
            _jsonl(tmp_path / "in.jsonl", rows),
            "--report",
            str(report),
            stdout=full,
        )
    _no_traceback(done.stderr)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"helpcrunch: cannot write to standard output: {ENOSPC}"
    )
    assert _report(report) == ({i: "done" for i in range(1, 21)}, 0)  # the job finished
    assert fake.customers[20]["name"] == "Renamed 20"


@needs_dev_full
def test_messages_into_a_full_disk_are_lost_not_the_job(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    rows = [{"id": i, "name": f"Renamed {i}"} for i in range(1, 6)]
    with open(FULL, "w") as full:
        done = _helpcrunch(
            fake, "update-customers", _jsonl(tmp_path / "in.jsonl", rows), stderr=full
        )  # the no-report warning and progress: lost
    assert done.returncode == 0
    assert done.stdout.startswith("5 done, 0 failed")
    assert fake.customers[5]["name"] == "Renamed 5"


# --- the file-size limit: export and reports -------------------------------------------


def test_an_export_over_the_file_size_limit_leaves_no_file(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    target = tmp_path / "backup.jsonl"
    done = _helpcrunch(fake, "export", "-o", str(target), limit=20_000)
    _no_traceback(done.stderr)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"helpcrunch: cannot write to {target}.partial: {EFBIG}; the export is incomplete "
        f"and {target} was not written"
    ]
    assert not target.exists()  # a FILE is always a complete export


@pytest.mark.parametrize("command", ["update-customers", "sync"])
def test_a_report_over_the_file_size_limit_stops_the_job_and_resume_goes_on(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if command == "sync":
        source = _jsonl(
            tmp_path / "in.jsonl",
            [{"userId": f"user_{i}", "name": f"Renamed {i}"} for i in range(1, 301)],
        )
        args = ["sync", source, "--match", "user_id"]
        noun = "sync"
    else:
        source = _jsonl(
            tmp_path / "in.jsonl", [{"id": i, "name": f"Renamed {i}"} for i in range(1, 301)]
        )
        args = ["update-customers", source]
        noun = "job"
    report = tmp_path / "report.jsonl"
    done = _helpcrunch(fake, *args, "--report", str(report), limit=4_000)
    _no_traceback(done.stderr)
    assert done.returncode == 1
    said = [t for t in done.stderr.splitlines() if t.startswith("helpcrunch:")]
    assert said[0] == f"helpcrunch: cannot write the report {report}: {EFBIG}; the {noun} stopped"
    assert said[-1].endswith(f"run the same command with --resume {report}")
    recorded, cut = _report(report)
    assert cut <= 1  # the entry the limit cut short, which --resume skips over
    assert set(recorded.values()) == {"done"}
    listed = _listed_lines(done.stderr)
    patched = _patched(fake)
    # Every request sent is accounted for: its line is in the report or in the message...
    assert sorted(patched) == sorted(recorded.keys() | listed)
    assert not recorded.keys() & listed
    # ...and the job stopped reading: far from every line went out.
    assert len(patched) < 100

    code, out, err = _in_process(
        fake, monkeypatch, capsys, *args, "--resume", str(report)
    )  # room again: no limit, nor a new process
    _no_traceback(err)
    assert code == 0, err
    assert f"{len(recorded)} skipped (done before)" in out
    assert all(fake.customers[i]["name"] == f"Renamed {i}" for i in range(1, 301))
    resent = _patched(fake)[len(patched) :]
    if command == "sync":  # the lines listed are synced again, and found unchanged
        assert sorted(resent) == sorted(set(range(1, 301)) - recorded.keys() - listed)
    else:  # the lines listed are sent again (the same PATCH)
        assert sorted(resent) == sorted(set(range(1, 301)) - recorded.keys())
    assert set(_report(report)[0].values()) == {"done"}
    assert len(_report(report)[0]) == 300


@needs_dev_full
def test_a_report_on_a_full_disk_stops_at_the_first_line(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [{"id": i, "name": "X"} for i in range(1, 301)])
    code, _, err = _in_process(
        fake,
        monkeypatch,
        capsys,
        "update-customers",
        source,
        "--report",
        FULL,
        "--concurrency",
        "2",
    )
    _no_traceback(err)
    assert code == 1
    assert f"helpcrunch: cannot write the report {FULL}: {ENOSPC}; the job stopped" in err
    assert sorted(_listed_lines(err)) == sorted(_patched(fake))
    assert len(_patched(fake)) <= 10


# --- the input breaking mid-way, directories and permissions ---------------------------


_READ = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())  # read()'s number


def _waits_for_input(pid: int, tty: int) -> bool:
    """A thread of the process waits in read() on its stdin (the command reads its input
    on a thread of its own), and the process has read all the terminal holds."""
    unread = struct.unpack("i", fcntl.ioctl(tty, termios.TIOCINQ, b"\0\0\0\0"))[0]
    calls = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            calls.append(task.joinpath("syscall").read_text().split()[:2])
        except OSError:  # a thread that ended meanwhile
            continue
    return unread == 0 and [_READ, "0x0"] in calls


@pytest.mark.skipif(
    _READ is None or not Path("/proc/self/syscall").exists(),
    reason="tells when the child waits for input from Linux's /proc",
)
def test_an_input_that_breaks_mid_way_is_one_line_exit_2(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    """stdin is a terminal whose other end goes away after three lines: read() gets EIO."""
    report = tmp_path / "r.jsonl"
    main_end, child_end = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpcrunch_async",
            "update-customers",
            "-",
            "--report",
            str(report),
            "--base-url",
            fake.base_url,
            "--rate-limit",
            "off",
            "--no-progress",
        ],
        stdin=child_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HELPCRUNCH_API_KEY": fake.api_key},
    )
    for i in (1, 2, 3):
        os.write(main_end, json.dumps({"id": i, "name": f"Piped {i}"}).encode() + b"\n")
    deadline = time.monotonic() + 30
    waiting = 0
    while waiting < 3 and time.monotonic() < deadline:  # it starts, reads the three lines
        time.sleep(0.05)
        waiting = waiting + 1 if _waits_for_input(proc.pid, child_end) else 0
    assert waiting == 3, "the command never waited for more input"  # not the deadline
    os.close(child_end)
    os.close(main_end)  # the terminal goes away: that read() fails with EIO
    _, err = proc.communicate(timeout=60)
    _no_traceback(err)
    assert proc.returncode == 2
    assert "helpcrunch: cannot read standard input: Input/output error" in err.splitlines()
    assert sorted(_patched(fake)) == [1, 2, 3]
    assert _report(report) == ({1: "done", 2: "done", 3: "done"}, 0)  # all accounted for


@pytest.mark.parametrize("command", ["update-customers", "sync"])
def test_a_directory_as_input_is_one_line_exit_2(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = ["--match", "user_id"] if command == "sync" else []
    code, _, err = _in_process(fake, monkeypatch, capsys, command, str(tmp_path), *extra)
    _no_traceback(err)
    assert code == 2
    assert err.splitlines() == [f"helpcrunch: cannot read {tmp_path}: Is a directory"]
    assert fake.requests == []


def _forbidden(tmp_path: Path) -> Path:
    """A file this process may not create or write, even as root (sysfs)."""
    if os.geteuid() != 0:
        closed = tmp_path / "closed"
        closed.mkdir(mode=0o500)
        return closed / "out.jsonl"
    notes = Path("/sys/kernel/notes")
    if not notes.exists():
        pytest.skip("running as root without /sys/kernel/notes: nothing is forbidden")
    return notes


@pytest.mark.parametrize("command", ["update-customers", "sync", "export"])
def test_permission_denied_is_one_line_exit_2_nothing_sent(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = _forbidden(tmp_path)
    source = _jsonl(tmp_path / "in.jsonl", [{"userId": "user_1", "name": "A"}])
    by_id = _jsonl(tmp_path / "by-id.jsonl", [{"id": 1, "name": "A"}])
    args = {
        "update-customers": ["update-customers", by_id, "--report", str(target)],
        "sync": ["sync", source, "--match", "user_id", "--report", str(target)],
        "export": ["export", "-o", str(target)],
    }[command]
    code, _, err = _in_process(fake, monkeypatch, capsys, *args)
    _no_traceback(err)
    assert code == 2
    what = f"{target}.partial" if command == "export" else f"the report {target}"
    assert err.splitlines() == [f"helpcrunch: cannot write {what}: Permission denied"]
    assert [r.method for r in fake.requests if r.method != "GET"] == []


# --- streams closed at the start (`>&-`, `<&-`) ------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["export"], "cannot write to standard output: it is closed"),
        (["get", "1"], "cannot write to standard output: it is closed"),
        (["update-customers", "-"], "cannot read standard input: it is closed"),
    ],
)
def test_a_closed_stream_is_one_line(fake: FakeHelpCrunch, args: list[str], said: str) -> None:
    closed = "<&-" if "-" in args else ">&-"
    done = _helpcrunch(fake, *args, closing=closed)
    _no_traceback(done.stderr)
    assert done.returncode == (2 if closed == "<&-" else 1)
    assert done.stderr.splitlines() == [f"helpcrunch: {said}"]
    assert [r.method for r in fake.requests if r.method != "GET"] == []
