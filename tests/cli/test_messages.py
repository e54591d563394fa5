"""What the command says, in what order (issue 20, items 6 and 7): fatal input errors
come before — and instead of — the no-report warning, and before any request; counts
agree with their nouns; a dry run's progress says what it would do. (``--redis`` values
that are not URLs: tests/cli/test_redis.py; the README's list of commands taking
``--redis``: tests/cli/test_readme.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import keyed_fake

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch

WARNING = "helpcrunch: warning: no --report FILE: if this run stops, it cannot be resumed"


def _cli(fake: FakeHelpCrunch, *args: str, progress: bool = False) -> int:
    return main(
        [
            *args,
            "--base-url",
            fake.base_url,
            "--rate-limit",
            "off",
            *([] if progress else ["--no-progress"]),
        ]
    )


@pytest.mark.parametrize(
    "command",
    [
        ["update-customers"],
        ["sync", "--match", "id"],
        ["update-customers", "--match", "user_id"],
        ["sync", "--match", "user_id"],
    ],
)
@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("nope.jsonl", None, "cannot read {path}: No such file or directory"),
        ("a-dir", None, "cannot read {path}: Is a directory"),
        ("bad.csv", "name,email\nAnn,ann@example.com\n", "the CSV header must have"),
        ("latin1.jsonl", b'{"id": 1, "name": "Jos\xe9"}\n', "is not UTF-8 text"),
    ],
)
def test_a_fatal_input_error_comes_alone_before_any_request(
    command: list[str],
    name: str,
    text: str | bytes | None,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    if name == "a-dir":
        path.mkdir()
    elif isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with keyed_fake(monkeypatch) as fake:
        code = _cli(fake, command[0], str(path), *command[1:])  # no --report: a warning due
        assert fake.requests == []  # the header is read before the account
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err  # the error, and no warning before (or after) it
    assert err[0].startswith("helpcrunch: ")
    assert said.format(path=path) in err[0]


def test_the_warning_still_comes_for_a_readable_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("userId,name\nuser_1,Ann\n")
    with keyed_fake(monkeypatch) as fake:
        assert _cli(fake, "sync", str(path), "--match", "user_id") == 0
        assert _cli(fake, "update-customers", str(path), "--match", "user_id") == 0
    err = capsys.readouterr().err.splitlines()
    assert err.count(WARNING) == 2


def test_an_unreadable_resume_report_comes_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "name": "Ann"}\n')
    with keyed_fake(monkeypatch) as fake:
        assert _cli(fake, "update-customers", str(path), "--resume", str(tmp_path)) == 2
        assert _cli(fake, "sync", str(path), "--match", "id", "--resume", str(tmp_path)) == 2
        assert fake.requests == []
    assert (
        capsys.readouterr().err.splitlines()
        == [f"helpcrunch: cannot read {tmp_path}: Is a directory"] * 2
    )


# --- one and many --------------------------------------------------------------------


def test_an_export_of_one_customer_says_so_in_the_singular(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=1) as fake:
        assert _cli(fake, "export") == 0
        assert _cli(fake, "export", "--search", "user_id", "=", "user_1") == 0
    err = capsys.readouterr().err
    assert re.search(
        r"^exported 1 customer to stdout in \d+\.\d s; 1 request \(1 page\)$",
        err,
        flags=re.MULTILINE,
    ), err
    assert re.search(
        r"^exported 1 customer matching the search to stdout in \d+\.\d s; "
        r"1 request \(1 page\)$",
        err,
        flags=re.MULTILINE,
    ), err


def test_an_export_of_several_customers_says_so_in_the_plural(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with keyed_fake(monkeypatch, customers=150) as fake:
        assert _cli(fake, "export") == 0
    assert re.search(
        r"^exported 150 customers to stdout in \d+\.\d s; 2 requests \(2 pages\)$",
        capsys.readouterr().err,
        flags=re.MULTILINE,
    )


def test_one_update_and_one_invalid_line_in_the_singular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "name": "Ann"}\n')
    with keyed_fake(monkeypatch) as fake:
        assert _cli(fake, "update-customers", str(path)) == 0
        path.write_text('{"id": 1, "name": "Ann"}\n{"name": "no id"}\n')
        assert main(["update-customers", str(path), "--dry-run"]) == 2
        assert _cli(fake, "sync", str(path), "--match", "id") == 1
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"1 done, 0 failed in \d+\.\d s; 1 request, 0 retries, 0 rate-limited "
        r"\(429\)",
        out[0],
    ), out[0]
    assert out[1] == "dry run: 1 valid, 1 invalid line; nothing sent"
    assert re.fullmatch(
        r"1 unchanged, 0 updated, 0 created, 1 failed \(1 invalid line\) in "
        r"\d+\.\d s",
        out[2],
    ), out[2]


# --- a dry run's progress --------------------------------------------------------------


def test_a_dry_run_progress_says_what_it_would_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"userId": "user_1", "name": "Customer 1"}\n'  # unchanged
        '{"userId": "user_2", "name": "Renamed"}\n'
        '{"userId": "new-1", "name": "New"}\n'
    )
    with keyed_fake(monkeypatch, customers=150) as fake:
        code = _cli(
            fake,
            "sync",
            str(path),
            "--match",
            "user_id",
            "--create-missing",
            "--dry-run",
            progress=True,
        )
        assert [r.method for r in fake.requests] == ["GET", "GET"]  # the account only
    assert code == 0
    captured = capsys.readouterr()
    [progress] = [t for t in captured.err.splitlines() if " lines: " in t]
    assert progress.startswith(
        "3/3 lines: 3 done, 0 failed (1 unchanged, 1 would be updated, 1 would be created)"
    )
    assert captured.out.splitlines()[-2].startswith(
        "dry run: 1 unchanged, 1 would be updated, 1 would be created, 0 failed"
    )


def test_a_real_run_progress_says_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"userId": "user_2", "name": "Renamed"}\n')
    with keyed_fake(monkeypatch, customers=3) as fake:
        assert (
            _cli(
                fake,
                "sync",
                str(path),
                "--match",
                "user_id",
                "--report",
                str(tmp_path / "r.jsonl"),
                progress=True,
            )
            == 0
        )
    [progress] = [t for t in capsys.readouterr().err.splitlines() if " lines: " in t]
    assert progress.startswith("1/1 lines: 1 done, 0 failed (0 unchanged, 1 updated, 0 created)")
