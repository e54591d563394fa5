"""``helpcrunch sync``: the data sync as a command (input, report, resume, dry run, summary)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import command_against, interrupt_once_reported, keyed_fake, resume

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch, Fault

TS = 1603885746


def run_sync(fake: FakeHelpCrunch, *args: str) -> int:
    return main(
        ["sync", *args, "--base-url", fake.base_url, "--no-progress", "--rate-limit", "off"]
    )


def jsonl(tmp_path: Path, rows: list[Any]) -> str:
    path = tmp_path / "users.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def writes(fake: FakeHelpCrunch) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in fake.requests
        if r.method != "GET" and not r.path.endswith("/search")
    ]


ROWS = [
    {"userId": "user_1", "name": "Customer 1", "firstSeen": str(TS + 1)},  # unchanged
    {"userId": "user_2", "name": "Renamed", "tags": ["vip"]},  # updated
    {"userId": "new-1", "name": "New", "customData": {"plan": "pro"}},  # created
    {"name": "no key"},  # invalid
]


def test_sync_jsonl_with_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=150) as fake:
        code = run_sync(
            fake,
            jsonl(tmp_path, ROWS),
            "--match",
            "user_id",
            "--create-missing",
            "--report",
            str(tmp_path / "r.jsonl"),
        )
        assert fake.customers[2]["name"] == "Renamed"
        assert [t["name"] for t in fake.customers[2]["tags"]] == ["vip"]
        assert fake.customers[151]["userId"] == "new-1"
        assert sorted(writes(fake)) == [
            ("PATCH", "/v1/customers/2"),
            ("POST", "/v1/customers"),
            ("PUT", "/v1/customers/2/tags"),
        ]
    assert code == 1  # the invalid line
    out, err = capsys.readouterr()
    assert "1 unchanged, 1 updated, 1 created, 1 failed (1 invalid line)" in out
    assert "5 sent (2 reading, 3 writing" in out
    assert "update-customers would have sent 3 (one per line)" in out
    assert "line 4: the line has no userId" in err
    entries = {e["line"]: e for e in report(tmp_path / "r.jsonl")}
    assert entries[1]["status"] == "done"
    assert entries[1]["action"] == "unchanged"
    assert entries[2]["action"] == "updated"
    assert entries[2]["changed"] == ["name", "tags"]
    assert entries[3]["action"] == "created"
    assert entries[3]["key"] == "new-1"
    assert entries[3]["id"] == 151  # the customer created
    assert entries[4]["status"] == "invalid"


def test_sync_csv_matched_by_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "email,name,customData.plan\n"
        "CUSTOMER1@example.com,Customer 1,\n"
        "customer2@example.com,Two,pro\n",
        encoding="utf-8",
    )
    with keyed_fake(monkeypatch, customers=3) as fake:
        code = run_sync(fake, str(path), "--match", "email")
        assert fake.customers[2]["customData"] == {"plan": "pro"}
        assert fake.customers[1]["email"] == "CUSTOMER1@example.com"  # case: an update
    assert code == 0
    assert "0 unchanged, 2 updated, 0 created, 0 failed" in capsys.readouterr().out


def test_csv_without_the_key_column_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("id,name\n1,A\n", encoding="utf-8")
    with keyed_fake(monkeypatch) as fake:
        assert run_sync(fake, str(path), "--match", "user_id") == 2
    assert "must have a 'userId' or 'user_id' column" in capsys.readouterr().err


def test_dry_run_prints_a_diff_per_changed_row_and_sends_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=3) as fake:
        code = run_sync(
            fake,
            jsonl(tmp_path, ROWS[:3]),
            "--match",
            "user_id",
            "--create-missing",
            "--dry-run",
            "--report",
            str(tmp_path / "r"),
        )
        assert writes(fake) == []
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "line 2 (user_id user_2): updated\n"
        "  name: 'Customer 2' → 'Renamed'\n"
        "  tags: () → ('vip',)\n"
    ) in out
    assert "line 3 (user_id new-1): created\n  name: None → 'New'\n" in out
    assert "line 1" not in out  # unchanged: no diff
    assert "dry run: 1 unchanged, 1 would be updated, 1 would be created, 0 failed" in out
    assert not (tmp_path / "r").exists()


def test_dry_run_with_invalid_lines_exits_2_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=3) as fake:
        code = run_sync(
            fake, jsonl(tmp_path, ROWS), "--match", "user_id", "--create-missing", "--dry-run"
        )
        assert writes(fake) == []
    assert code == 2  # `helpcrunch sync --help`: "2 ... (also: invalid lines under --dry-run)"
    assert "line 4: the line has no userId" in capsys.readouterr().err


def test_resume_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"userId": f"user_{i}", "name": f"N{i}"} for i in range(1, 6)]
    path, rep = jsonl(tmp_path, rows), tmp_path / "r.jsonl"
    with keyed_fake(monkeypatch, customers=5) as fake:
        fake.add_faults(Fault.status(400), method="PATCH", path="/v1/customers/3")
        assert run_sync(fake, path, "--match", "user_id", "--report", str(rep)) == 1
        assert "--resume" in capsys.readouterr().err
        assert fake.customers[3]["name"] == "Customer 3"
        first = len(writes(fake))
        assert run_sync(fake, path, "--match", "user_id", "--resume", str(rep)) == 0
        assert writes(fake)[first:] == [("PATCH", "/v1/customers/3")]  # only the failed one
        assert fake.customers[3]["name"] == "N3"
    out = capsys.readouterr().out
    assert "0 unchanged, 1 updated, 0 created, 0 failed, 4 skipped (done before)" in out


def test_create_missing_needs_a_key_that_can_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch) as fake:
        assert (
            run_sync(
                fake, jsonl(tmp_path, [{"id": 1, "name": "A"}]), "--match", "id", "--create-missing"
            )
            == 2
        )
        assert "--create-missing needs" in capsys.readouterr().err
        assert run_sync(fake, jsonl(tmp_path, [{"id": 1, "name": "A"}]), "--match", "id") == 0
        assert fake.customers[1]["name"] == "A"


def test_reading_the_account_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch) as fake:
        monkeypatch.setenv("HELPCRUNCH_API_KEY", "wrong")
        assert run_sync(fake, jsonl(tmp_path, ROWS[:1]), "--match", "user_id") == 1
    err = capsys.readouterr().err
    assert "HelpCrunch refused the API key" in err
    assert "could not read the account; nothing sent" in err


def test_progress_shows_both_phases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=250) as fake:
        rows = [
            {"userId": f"user_{i}", "name": f"Customer {i}" if i % 2 else "X"} for i in range(1, 7)
        ]
        code = main(
            [
                "sync",
                jsonl(tmp_path, rows),
                "--match",
                "user_id",
                "--base-url",
                fake.base_url,
                "--rate-limit",
                "off",
            ]
        )
    assert code == 0
    err = capsys.readouterr().err
    assert "3/3 account pages read: 3 done, 0 failed" in err
    assert "6/6 lines: 6 done, 0 failed (3 unchanged, 3 updated, 0 created)" in err


def test_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    assert main(["sync", jsonl(tmp_path, ROWS), "--match", "user_id"]) == 2
    assert "HELPCRUNCH_API_KEY" in capsys.readouterr().err


def test_readme_sync_commands_run_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import shlex

    page = Path(__file__).resolve().parents[2] / "docs/guides/data-sync.md"
    section = page.read_text(encoding="utf-8").split("## From the command line", 1)[1]
    section = section.split("\n## ", 1)[0]
    (jsonl_text,) = re.findall(r"```jsonl\n(.*?)```", section, flags=re.DOTALL)
    (console,) = re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL)
    (tmp_path / "users.jsonl").write_text(jsonl_text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runs = [
        words[1:]
        for line in console.splitlines()
        if (words := shlex.split(line, comments=True)) and words[0] == "helpcrunch"
    ]
    assert len(runs) == 3
    with keyed_fake(monkeypatch, customers=2) as fake:
        fake.customers[2]["userId"] = "u-42"
        codes = [
            main(
                [*args, "--base-url", fake.base_url, "--no-progress", "--rate-limit", "off"]
            )  # what each does, not its pace
            for args in runs
        ]
        assert codes == [0, 0, 0]
        assert fake.customers[2]["name"] == "Ann Lee"
        assert fake.customers[2]["customData"] == {"plan": "pro"}
        assert [c["userId"] for c in fake.customers.values()].count("u-43") == 1
        entries = report(tmp_path / "sync-report.jsonl")
        assert sorted(e["action"] for e in entries) == ["created", "updated"]  # the --resume
        # run found both lines done and sent nothing more


@pytest.mark.slow
def test_interrupted_sync_resumes_without_doing_a_line_twice(tmp_path: Path) -> None:
    import os
    from collections import Counter

    from helpcrunch_async.testing import FakeHelpCrunch

    lines = 100  # at 40 a second: 2 s left when 15 are done
    rows = [{"userId": f"user_{i}", "name": f"v{i}"} for i in range(1, 71)]
    rows += [{"userId": f"new_{i}", "name": f"n{i}"} for i in range(30)]
    src = jsonl(tmp_path, rows)
    rep = tmp_path / "r.jsonl"
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(70)
        env = {**os.environ, "HELPCRUNCH_API_KEY": fake.api_key}
        command = command_against(
            fake, "sync", src, "--match", "user_id", "--create-missing", "--concurrency", "4"
        )
        # Paced so that the signal lands mid-way; the resume is not about pacing: unpaced.
        code, _, err, _ = interrupt_once_reported(command, env, rep, rate_limit="40/1", lines=15)
        assert code == 130, err
        assert f"--resume {rep}" in err.decode()
        first = report(rep)
        assert 15 <= len(first) < lines
        resumed = resume(command, env, rep)
        assert resumed.returncode == 0, resumed.stderr
        entries = report(rep)
        done = Counter(e["line"] for e in entries if e["status"] == "done")
        assert sorted(done) == list(range(1, lines + 1))
        assert set(done.values()) == {1}  # every line done exactly once
        assert sum(r.method == "POST" for r in fake.requests) == 30  # no create twice
        assert sum(r.method == "PATCH" for r in fake.requests) == 70
        assert all(fake.customers[i]["name"] == f"v{i}" for i in range(1, 71))


def test_help_shows_examples_input_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    out = capsys.readouterr().out
    assert "helpcrunch sync users.jsonl --match user_id" in out.split("Examples:", 1)[1]
    assert "Input:" in out
    assert "Exit codes:" in out
    for option in (
        "--match",
        "--create-missing",
        "--exact-tags",
        "--dry-run",
        "--report",
        "--resume",
        "--concurrency",
        "--rate-limit",
        "--redis",
    ):
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "sync" in capsys.readouterr().out


def test_a_key_with_spaces_at_either_end_is_invalid_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"email": "customer1@example.com ", "name": "Ann"}, {"userId": " user_2", "name": "Bo"}]
    with keyed_fake(monkeypatch, customers=3) as fake:
        code = run_sync(fake, jsonl(tmp_path, rows[:1]), "--match", "email", "--create-missing")
        code2 = run_sync(fake, jsonl(tmp_path, rows[1:]), "--match", "user_id", "--create-missing")
        assert writes(fake) == []  # was: a POST of a second customer for each typo
        assert len(fake.customers) == 3
    assert code == code2 == 1
    err = capsys.readouterr().err
    assert "email 'customer1@example.com ' starts or ends with spaces" in err
    assert "userId ' user_2' starts or ends with spaces" in err


# --- a second line with the same key: invalid, and memory bounded by the account -------


def test_a_second_line_with_the_same_key_is_invalid_nothing_sent_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"userId": "user_2", "name": "A"},
        {"userId": "new-1", "name": "N"},
        {"userId": "user_2", "name": "B"},
        {"userId": "new-1", "name": "M"},
        {"userId": "user_3", "name": "C"},
    ]
    rep = tmp_path / "r.jsonl"
    with keyed_fake(monkeypatch, customers=5) as fake:
        code = run_sync(
            fake,
            jsonl(tmp_path, rows),
            "--match",
            "user_id",
            "--create-missing",
            "--report",
            str(rep),
        )
        assert sorted(writes(fake)) == [
            ("PATCH", "/v1/customers/2"),
            ("PATCH", "/v1/customers/3"),
            ("POST", "/v1/customers"),
        ]
        assert fake.customers[2]["name"] == "A"
        assert fake.customers[6]["name"] == "N"
    assert code == 1
    entries = {e["line"]: e for e in report(rep)}
    assert [entries[n]["status"] for n in range(1, 6)] == [
        "done",
        "done",
        "invalid",
        "invalid",
        "done",
    ]
    assert "userId 'user_2' is already updated by line 1" in entries[3]["error"]
    assert "userId 'new-1' is already updated by line 2" in entries[4]["error"]
    assert "(2 invalid lines)" in capsys.readouterr().out


def test_a_second_line_with_the_same_email_in_other_case_is_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"email": "customer1@example.com", "name": "A"},
        {"email": "CUSTOMER1@example.com", "name": "B"},
    ]
    with keyed_fake(monkeypatch, customers=3) as fake:
        assert run_sync(fake, jsonl(tmp_path, rows), "--match", "email") == 1
        assert writes(fake) == [("PATCH", "/v1/customers/1")]
        assert fake.customers[1]["name"] == "A"
    assert (
        "line 2 (email CUSTOMER1@example.com): email 'CUSTOMER1@example.com' is "
        "already updated by line 1"
    ) in capsys.readouterr().err


def test_a_key_that_matches_nobody_fails_on_each_of_its_lines_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not remembered (that would cost memory per line read): without --create-missing
    # every line with it fails as not found, nothing sent.
    rows = [{"userId": "ghost", "name": "A"}, {"userId": "ghost", "name": "B"}]
    rep = tmp_path / "r.jsonl"
    with keyed_fake(monkeypatch, customers=3) as fake:
        assert (
            run_sync(fake, jsonl(tmp_path, rows), "--match", "user_id", "--report", str(rep)) == 1
        )
        assert writes(fake) == []
    entries = report(rep)
    assert [e["status"] for e in entries] == ["failed", "failed"]
    assert all("no customer has user_id 'ghost'" in e["error"] for e in entries)


def test_resume_still_refuses_the_second_line_of_a_key_done_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"userId": "user_1", "name": "A"}, {"userId": "user_1", "name": "B"}]
    rep = tmp_path / "r.jsonl"
    rep.write_text(
        json.dumps({"line": 1, "id": 1, "status": "done", "key": "user_1"}) + "\n", encoding="utf-8"
    )
    with keyed_fake(monkeypatch, customers=3) as fake:
        assert (
            run_sync(fake, jsonl(tmp_path, rows), "--match", "user_id", "--resume", str(rep)) == 1
        )
        assert writes(fake) == []
    last = report(rep)[-1]
    assert (last["line"], last["status"]) == (2, "invalid")
    assert "already updated by line 1" in last["error"]


def _traced_peak(fake: FakeHelpCrunch, path: str) -> int:
    tracemalloc.start()
    try:
        run_sync(fake, path, "--match", "user_id", "--dry-run")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_account_not_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Keys that match nobody in a 10-customer account: once every key read was kept
    # (about 110 bytes a line: 550 KB more for the larger input, measured by reading
    # with unique=True again); now nothing is (the two peaks within +-100 KB).
    paths = []
    for n in (1_000, 6_000):
        path = tmp_path / f"in{n}.jsonl"
        path.write_text(
            "".join(f'{{"userId": "user-{i:08d}", "name": "x"}}\n' for i in range(n)),
            encoding="utf-8",
        )
        paths.append(str(path))
    with keyed_fake(monkeypatch, customers=10) as fake:
        small, large = (_traced_peak(fake, p) for p in paths)
    assert "6000 failed" in capsys.readouterr().out
    assert large - small < 250_000, (small, large)
