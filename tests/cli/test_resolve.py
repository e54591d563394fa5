"""``update-customers --match user_id|email``: each line's customer found first, by one
search per line or one pass over the customer list, whichever costs fewer requests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import keyed_fake, run_update

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch, Fault


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with keyed_fake(monkeypatch, customers=250) as server:  # 3 pages of 100
        yield server


def _run(fake: FakeHelpCrunch, *args: str) -> int:
    return run_update(fake, *args, "--max-retries", "0")


def _write(path: Path, lines: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def _by_user_id(tmp_path: Path, ids: range) -> str:
    return _write(
        tmp_path / "in.jsonl", [{"userId": f"user_{i}", "name": f"renamed {i}"} for i in ids]
    )


def _report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _methods(fake: FakeHelpCrunch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in fake.requests:
        kind = "list" if r.method == "GET" else "search" if r.path.endswith("/search") else r.method
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@pytest.mark.parametrize("resolve", ["search", "list"])
def test_lines_keyed_by_user_id_update_their_customers(
    fake: FakeHelpCrunch, tmp_path: Path, resolve: str
) -> None:
    src = _by_user_id(tmp_path, range(1, 6))
    report = tmp_path / "r.jsonl"
    assert _run(fake, src, "--match", "user_id", "--resolve", resolve, "--report", str(report)) == 0
    assert [fake.customers[i]["name"] for i in range(1, 7)] == [
        "renamed 1",
        "renamed 2",
        "renamed 3",
        "renamed 4",
        "renamed 5",
        "Customer 6",
    ]
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert all(r.body == {"name": r.body["name"]} for r in patches)  # the key is not sent
    assert fake.customers[3]["userId"] == "user_3"
    entries = {e["line"]: e for e in _report(report)}
    assert entries[2]["id"] == 2
    assert entries[2]["key"] == "user_2"
    assert {e["status"] for e in entries.values()} == {"done"}


def test_request_counts_of_each_way(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = _by_user_id(tmp_path, range(1, 11))
    assert _run(fake, src, "--match", "user_id", "--resolve", "search") == 0
    assert _methods(fake) == {"search": 10, "PATCH": 10}
    before = len(fake.requests)
    assert _run(fake, src, "--match", "user_id", "--resolve", "list") == 0
    after = fake.requests[before:]
    assert sum(r.method == "GET" for r in after) == math.ceil(250 / 100)
    assert sum(r.method == "PATCH" for r in after) == 10
    assert len(after) == 13


def test_auto_lists_when_lines_outnumber_pages_and_searches_otherwise(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(fake, _by_user_id(tmp_path, range(1, 4)), "--match", "user_id") == 0
    assert _methods(fake) == {"list": 3, "PATCH": 3}  # 3 keys >= 3 pages: the list
    err = capsys.readouterr().err
    assert (
        "reading the customer list once (2 more requests) costs less than one search "
        "per line (3 requests)" in err
    )
    before = len(fake.requests)
    assert _run(fake, _by_user_id(tmp_path, range(1, 3)), "--match", "user_id") == 0
    after = [r.method for r in fake.requests[before:]]
    assert after.count("GET") == 1  # the first page, for the total
    assert after.count("POST") == 2
    assert (
        "one search per line (2 requests) costs less than reading the customer list "
        "(2 more requests)" in capsys.readouterr().err
    )


def test_auto_with_one_line_searches_without_listing(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(fake, _by_user_id(tmp_path, range(7, 8)), "--match", "user_id") == 0
    assert _methods(fake) == {"search": 1, "PATCH": 1}
    assert "one search per line" in capsys.readouterr().err


@pytest.mark.parametrize("resolve", ["search", "list"])
def test_email_lines_unmatched_and_ambiguous_fail_and_send_nothing(
    fake: FakeHelpCrunch, tmp_path: Path, resolve: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.seed_customers(2, start_id=300, email="shared@example.com")
    src = _write(
        tmp_path / "in.jsonl",
        [
            {"email": "CUSTOMER4@example.com", "company": "Acme"},  # case ignored
            {"email": "shared@example.com", "company": "Acme"},  # two customers
            {"email": "nobody@example.com", "company": "Acme"},  # none
        ],
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, src, "--match", "email", "--resolve", resolve, "--report", str(report)) == 1
    assert fake.customers[4]["company"] == "Acme"
    assert fake.customers[300]["company"] is None
    assert fake.customers[301]["company"] is None
    assert [r.path for r in fake.requests if r.method == "PATCH"] == ["/v1/customers/4"]
    entries = {e["line"]: e for e in _report(report)}
    assert entries[2]["status"] == "failed"
    assert entries[2]["id"] is None
    assert "300, 301" in entries[2]["error"]
    assert entries[3]["status"] == "failed"
    assert "no customer has email 'nobody@example.com'" in entries[3]["error"]
    err = capsys.readouterr().err
    assert "line 2 (email shared@example.com): 2 customers have email" in err


def test_bad_keyed_lines_are_invalid_before_any_lookup(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    src = _write(
        tmp_path / "in.jsonl",
        [
            {"id": 5, "userId": "user_5", "name": "both keys"},
            {"name": "no key"},
            {"userId": "", "name": "empty key"},
            {"userId": "user_6"},  # nothing to update
            {"userId": "user_7", "name": "ok"},
            {"user_id": "user_7", "name": "the same key again"},
        ],
    )
    report = tmp_path / "r.jsonl"
    assert (
        _run(fake, src, "--match", "user_id", "--resolve", "search", "--report", str(report)) == 1
    )
    entries = {e["line"]: e for e in _report(report)}
    assert [entries[n]["status"] for n in range(1, 7)] == [
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "done",
        "invalid",
    ]
    assert "drop the id, or use --match id" in entries[1]["error"]
    assert "no userId" in entries[2]["error"]
    assert "nothing to update" in entries[4]["error"]
    assert "already updated by line 5" in entries[6]["error"]
    assert _methods(fake) == {"search": 1, "PATCH": 1}


def test_csv_keyed_by_user_id_and_dry_run(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "user_id,name,customData.plan\nuser_8,Eight,pro\n,No key,free\n", encoding="utf-8-sig"
    )  # read twice for the list: the mark skipped twice
    assert main(["update-customers", str(src), "--match", "user_id", "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "1 valid, 1 invalid" in captured.out
    assert "not looked up" in captured.out
    assert _run(fake, str(src), "--match", "user_id", "--resolve", "list") == 1
    assert fake.customers[8]["name"] == "Eight"
    assert fake.customers[8]["customData"] == {"plan": "pro"}
    no_key = tmp_path / "no_key.csv"
    no_key.write_text("id,name\n1,A\n")
    assert _run(fake, str(no_key), "--match", "email") == 2
    assert "'email' column" in capsys.readouterr().err


def test_resume_skips_done_lines_by_key_and_notices_a_changed_file(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    _write(
        src,
        [{"userId": f"user_{i}", "name": f"v{i}"} for i in (1, 2, 3)]
        + [{"userId": "user_404", "name": "not yet"}],
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--match", "user_id", "--report", str(report)) == 1
    fake.seed_customers(1, start_id=404)
    before = len(fake.requests)
    assert _run(fake, str(src), "--match", "user_id", "--resume", str(report)) == 0
    patched = [r.path for r in fake.requests[before:] if r.method == "PATCH"]
    assert patched == ["/v1/customers/404"]
    _write(src, [{"userId": "user_9", "name": "another file"}])
    assert _run(fake, str(src), "--match", "user_id", "--resume", str(report)) == 2


def test_a_refused_key_during_searches_stops_the_job(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = _by_user_id(tmp_path, range(1, 40))
    fake.add_faults(Fault.status(401), method="POST")
    assert (
        _run(
            fake,
            src,
            "--match",
            "user_id",
            "--resolve",
            "search",
            "--concurrency",
            "1",
            "--report",
            str(tmp_path / "r.jsonl"),
        )
        == 1
    )
    assert len(fake.requests) < 10  # it stopped reading lines
    err = capsys.readouterr().err
    assert "HelpCrunch refused the API key" in err
    assert "--resume" in err


def test_a_failed_list_pass_sends_nothing(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_faults(Fault.status(500), method="GET")
    assert (
        _run(fake, _by_user_id(tmp_path, range(1, 20)), "--match", "user_id", "--resolve", "list")
        == 1
    )
    assert [r.method for r in fake.requests] == ["GET"]
    assert "nothing sent" in capsys.readouterr().err


def test_resolve_needs_match(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", [{"id": 1, "name": "a"}])
    assert _run(fake, src, "--resolve", "list") == 2
    assert len(fake.requests) == 0


def test_piped_input_is_read_twice_for_the_list(fake: FakeHelpCrunch) -> None:
    lines = "".join(
        json.dumps({"userId": f"user_{i}", "name": f"piped {i}"}) + "\n" for i in range(1, 6)
    )
    env = {**os.environ, "HELPCRUNCH_API_KEY": fake.api_key}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpcrunch_async",
            "update-customers",
            "-",
            "--match",
            "user_id",
            "--resolve",
            "list",
            "--base-url",
            fake.base_url,
            "--rate-limit",
            "off",
            "--no-progress",
        ],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert fake.customers[5]["name"] == "piped 5"
    assert "5 done" in proc.stdout


GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "guides" / "command.md").read_text(
    encoding="utf-8"
)


def _requests(lines: int, customers: int) -> dict[str, int]:
    """The requests each way costs for ``lines`` lines, each with its own customer, against
    ``customers`` customers: a search and an update per line, or a pass over the list
    (pages of 100) and an update per line; auto lists once lines >= pages (the test of
    the choice is above)."""
    pages = math.ceil(customers / 100)
    search, listing = 2 * lines, pages + lines
    return {"search": search, "list": listing, "auto": listing if lines >= pages else search}


def test_request_counts_for_1000_lines_against_5000_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The figures in docs/guides/command.md: one search per line vs one pass over the list.

    Counted at a tenth of the guide's size (100 lines spread over 500 customers: the
    same 20 lines a list page), where the counts must be exactly ``_requests``'; the
    guide's figures must be ``_requests`` at its size. (At full size the fake's 1,000
    searches, each a scan of 5,000 customers, took 15-30 s.)"""
    src = _by_user_id(tmp_path, range(1, 501, 5))  # 100 lines spread over the account
    counts = {}
    for resolve in ("search", "list", "auto"):
        with FakeHelpCrunch(rate_limit=None).in_thread() as server:
            server.seed_customers(500)
            monkeypatch.setenv("HELPCRUNCH_API_KEY", server.api_key)
            assert (
                _run(server, src, "--match", "user_id", "--resolve", resolve, "--concurrency", "16")
                == 0
            )
            counts[resolve] = len(server.requests)
            assert server.customers[496]["name"] == "renamed 496"
            assert server.customers[497]["name"] == "Customer 497"
    assert counts == _requests(100, 500) == {"search": 200, "list": 105, "auto": 105}
    out = capsys.readouterr().out
    assert "200 requests" in out
    assert "105 requests" in out
    said = " ".join(
        GUIDE.split("For\n1,000 lines against 5,000 customers", 1)[1].split("\n\n", 1)[0].split()
    )
    full = _requests(1000, 5000)
    assert f"search {full['search']:,} requests" in said, said
    assert f"list {full['list']:,} (50 pages" in said, said
    assert full["auto"] == full["list"]
    assert "auto takes the list" in said, said


@pytest.mark.parametrize("mode", [("--put", "--yes"), ("--batch",)])
def test_put_and_batch_send_the_key_so_a_replace_keeps_it(
    fake: FakeHelpCrunch, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    src = _by_user_id(tmp_path, range(1, 4))
    assert _run(fake, src, "--match", "user_id", *mode) == 0
    sent = [r.body for r in fake.requests if r.method == "PUT"]
    items = sent if mode[0] == "--put" else sent[0]
    assert [item["userId"] for item in items] == ["user_1", "user_2", "user_3"]
    assert fake.customers[2]["userId"] == "user_2"
    assert fake.customers[2]["name"] == "renamed 2"
    if mode[0] == "--put":
        assert fake.customers[2]["email"] is None  # PUT cleared what the line left out
