"""The ``helpcrunch`` command: input formats, report, resume, dry run, exit codes, demo."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import command_against, interrupt_once_reported, keyed_fake, resume, run_update

from helpcrunch_async import _retry
from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch, Fault


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with keyed_fake(monkeypatch) as server:
        yield server


_run = run_update


def _report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_camel_and_snake_case(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "Ann", "userId": "u1", "customData": {"plan": "pro"}}\n'
        "\n"
        '{"id": "2", "user_id": "u2", "lastSeen": "1603885746", "email": null}\n'
        '{"id": 3, "tags": ["vip", {"name": "beta", "color": "#ff0000"}]}\n'
    )
    report = tmp_path / "report.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 0
    assert fake.customers[1]["name"] == "Ann"
    assert fake.customers[1]["userId"] == "u1"
    assert fake.customers[1]["customData"]["plan"] == "pro"
    assert fake.customers[2]["userId"] == "u2"
    assert fake.customers[2]["email"] is None
    assert {t["name"] for t in fake.customers[3]["tags"]} >= {"vip", "beta"}
    entries = _report(report)
    assert sorted(e["line"] for e in entries) == [1, 3, 4]
    assert {e["status"] for e in entries} == {"done"}


def test_csv_input(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,name,blocked,customData.plan,tags\n1,Ann,yes,pro,vip;beta\n2,,false,,\n")
    assert _run(fake, str(src)) == 0
    assert fake.customers[1]["name"] == "Ann"
    assert fake.customers[1]["blocked"] is True
    assert fake.customers[1]["customData"]["plan"] == "pro"
    assert fake.customers[2]["blocked"] is False
    assert fake.customers[2]["name"] != ""  # an empty cell leaves the field alone
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert patches[-1].body == {"blocked": False} or patches[0].body == {"blocked": False}


def test_bad_lines_are_reported_and_exit_1(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "ok"}\n'
        "not json\n"
        '{"id": -4, "name": "x"}\n'
        '{"id": 2, "locale": "english"}\n'
        '{"id": 999, "name": "no such customer"}\n'
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 1
    by_line = {e["line"]: e for e in _report(report)}
    assert by_line[1]["status"] == "done"
    assert [by_line[n]["status"] for n in (2, 3, 4)] == ["invalid"] * 3
    assert "locale" in by_line[4]["error"]
    assert by_line[5]["status"] == "failed"
    assert by_line[5]["http_status"] == 404
    assert len(fake.requests) == 2  # only the valid lines were sent


def test_dry_run_validates_and_sends_nothing(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "name": "a"}\n{"id": 2, "blocked": "maybe"}\n')
    assert main(["update-customers", str(good), "--dry-run"]) == 0
    assert main(["update-customers", str(bad), "--dry-run"]) == 2
    assert len(fake.requests) == 0


def test_usage_errors_exit_2(
    fake: FakeHelpCrunch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(fake, str(tmp_path / "missing.jsonl")) == 2
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("name\nAnn\n")
    assert _run(fake, str(no_id)) == 2
    with pytest.raises(SystemExit) as info:
        main(["update-customers"])
    assert info.value.code == 2
    monkeypatch.delenv("HELPCRUNCH_API_KEY")
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"id": 1, "name": "a"}\n')
    assert _run(fake, str(ok)) == 2
    assert len(fake.requests) == 0


def test_put_sends_put_and_warns(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "Only name"}\n')
    assert _run(fake, str(src), "--put", "--yes") == 0
    assert [r.method for r in fake.requests] == ["PUT"]
    assert "set to null" in capsys.readouterr().err
    assert fake.customers[1]["email"] is None


def test_failed_lines_are_redone_by_resume(
    fake: FakeHelpCrunch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.001)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {i}, "name": "v{i}"}}\n' for i in range(1, 11)))
    report = tmp_path / "r.jsonl"
    fake.add_faults(*[Fault.status(503)] * 3, method="PATCH")
    assert _run(fake, str(src), "--report", str(report), "--max-retries", "0") == 1
    assert Counter(e["status"] for e in _report(report)) == {"done": 7, "failed": 3}
    assert _run(fake, str(src), "--resume", str(report)) == 0
    assert len([r for r in fake.requests if r.method == "PATCH"]) == 13
    last = {e["line"]: e["status"] for e in _report(report)}
    assert set(last.values()) == {"done"}
    assert len(last) == 10


@pytest.mark.slow
def test_interrupted_job_resumes_every_line_done_exactly_once(tmp_path: Path) -> None:
    lines = 100  # at 40 a second: 2 s left when 15 are done
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {i}, "name": "v{i}"}}\n' for i in range(1, lines + 1)))
    report = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(lines)
        env = {**os.environ, "HELPCRUNCH_API_KEY": fake.api_key}
        command = command_against(fake, "update-customers", str(src), "--concurrency", "4")
        # Paced so that the signal lands mid-way; the resume is not about pacing: unpaced.
        code, _, err, _ = interrupt_once_reported(command, env, report, rate_limit="40/1", lines=15)
        assert code == 130, err
        assert f"--resume {report}" in err.decode()  # the summary says how to go on
        first = _report(report)
        assert 15 <= len(first) < lines
        resumed = resume(command, env, report)
        assert resumed.returncode == 0, resumed.stderr
        entries = _report(report)
        done = Counter(e["line"] for e in entries if e["status"] == "done")
        assert sorted(done) == list(range(1, lines + 1))
        assert set(done.values()) == {1}  # every line done exactly once
        patches = Counter(r.path for r in fake.requests if r.method == "PATCH")
        assert all(n == 1 for n in patches.values())
        assert len(patches) == lines
        assert all(fake.customers[i]["name"] == f"v{i}" for i in range(1, lines + 1))


def test_ctrl_c_sends_nothing_more_than_what_is_on_the_wire(tmp_path: Path) -> None:
    # Issue 20 item 2: after SIGINT, 8 more PATCHes went out over 4 s ("finishing
    # requests in flight"): they were queued behind the rate limiter, not yet sent.
    lines = 40
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {i}, "name": "v{i}"}}\n' for i in range(1, lines + 1)))
    report = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(lines)
        env = {**os.environ, "HELPCRUNCH_API_KEY": fake.api_key}
        command = command_against(fake, "update-customers", str(src), "--concurrency", "8")
        code, out, err, signalled = interrupt_once_reported(
            command, env, report, rate_limit="4/1", lines=3, poll=0.02
        )
        took = time.monotonic() - signalled
        assert code == 130, err
        late = [r.time - signalled for r in fake.requests if r.time > signalled + 0.05]
        assert late == []  # nothing went out after the signal
        assert took < 1.5  # at once (before: 4.1 s, one send time per queued request)
        assert b"not sent (stopped)" in out
        entries = _report(report)
        done = {e["line"] for e in entries if e["status"] == "done"}
        assert {int(r.path.rsplit("/", 1)[1]) for r in fake.requests} == done
        resumed = resume(command, env, report)
        assert resumed.returncode == 0, resumed.stderr
        patches = Counter(r.path for r in fake.requests if r.method == "PATCH")
        assert len(patches) == lines
        assert set(patches.values()) == {1}  # every line sent exactly once in all


def test_demo_runs_against_the_fake(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--customers", "150", "--rate-limit", "300/1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all 150 stored customers match the input" in out
    assert "of the rate limit's ceiling" in out


def test_excel_bom_and_non_utf8_input(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbfid,name\r\n1,Ann\r\n")
    assert _run(fake, str(bom)) == 0
    assert fake.customers[1]["name"] == "Ann"
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"id": 2, "name": "Jos\xe9"}\n')
    assert main(["update-customers", str(latin1), "--dry-run"]) == 2
    assert _run(fake, str(latin1)) == 2
    assert len(fake.requests) == 1


def test_resume_refuses_a_changed_input(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n')
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 0
    src.write_text('{"id": 3, "name": "c"}\n{"id": 2, "name": "b"}\n')  # line 1 changed
    assert _run(fake, str(src), "--resume", str(report)) == 2
    assert fake.customers[3]["name"] != "c"  # nothing was skipped or sent wrongly


def test_report_cut_short_by_a_crash_is_continued_safely(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n')
    report = tmp_path / "r.jsonl"
    report.write_text('{"line": 1, "id": 1, "status": "done"}\n{"line": 2, "id": 2, "sta')
    assert _run(fake, str(src), "--resume", str(report)) == 0
    assert [r.path for r in fake.requests] == ["/v1/customers/2"]  # line 1 skipped
    last = {e["line"]: e["status"] for e in map(json.loads, report.read_text().splitlines()[2:])}
    assert last == {2: "done"}


def test_stdin_input_leaves_stdin_usable(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    raw = io.BytesIO(b'{"id": 1, "name": "from stdin"}\n')
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(raw, encoding="utf-8"))
    assert _run(fake, "-") == 0
    assert fake.customers[1]["name"] == "from stdin"
    assert not raw.closed  # the process's stdin was not closed under it
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": 2, "name": "text stdin"}\n'))
    assert main(["update-customers", "-", "--dry-run"]) == 0


def test_batch_option_sends_ten_lines_a_request(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {i}, "name": "b{i}"}}\n' for i in range(1, 13)))
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--batch", "--report", str(report)) == 0
    assert sorted(len(r.body) for r in fake.requests) == [2, 10]
    assert {e["status"] for e in _report(report)} == {"done"}
    assert fake.customers[12]["name"] == "b12"


def test_plain_progress_lines_when_not_a_terminal() -> None:
    import io

    from helpcrunch_async.cli._progress import Progress

    out = io.StringIO()
    with Progress(4, stream=out, interval=0.0) as progress:
        for ok in (True, True, False, True):
            progress.advance(ok=ok)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 4
    assert lines[-1].startswith("4/4 customers: 3 done, 1 failed")
    assert "ETA" in lines[0]
