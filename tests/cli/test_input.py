"""Input files of ``helpcrunch update-customers``: one bad line never stops the job,
every problem of a line is named by the column as written, CSV headers, ISO 8601
timestamps, duplicate ids, unreadable files."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import keyed_fake, run_update

from helpcrunch_async.cli import main
from helpcrunch_async.cli._common import InputError
from helpcrunch_async.cli._input import read_lines
from helpcrunch_async.testing import FakeHelpCrunch


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with keyed_fake(monkeypatch) as server:
        yield server


_run = run_update


def _report(path: Path) -> dict[int, dict[str, Any]]:
    return {e["line"]: e for e in map(json.loads, path.read_text().splitlines())}


DEEP = "[" * 100_000 + "]" * 100_000

BAD_JSON_LINES = {
    2: ('{"id": 2, "customData": [{"property": ["plan"], "value": "pro"}]}', "customData"),
    3: ('{"id": 3, "lastSeen": "²"}', "lastSeen"),
    4: (DEEP, "nested too deeply"),
    5: ('{"id": 4, "firstSeen": "yesterday"}', "firstSeen"),
    6: ('{"id": 5, "tags": [{"name": ["x"]}]}', "tags[0]"),
}


def test_bad_json_lines_are_invalid_and_the_job_goes_on(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "first"}\n'
        + "".join(text + "\n" for text, _ in BAD_JSON_LINES.values())
        + '{"id": 6, "name": "last"}\n'
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 1
    entries = _report(report)
    assert entries[1]["status"] == entries[7]["status"] == "done"
    assert fake.customers[6]["name"] == "last"  # the line after the bad ones was sent
    for number, (_, named) in BAD_JSON_LINES.items():
        assert entries[number]["status"] == "invalid"
        assert named in entries[number]["error"], entries[number]
    assert "Traceback" not in capsys.readouterr().err


def test_dry_run_with_bad_lines_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "first"}\n' + "".join(text + "\n" for text, _ in BAD_JSON_LINES.values())
    )
    assert main(["update-customers", str(src), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "1 valid, 5 invalid" in captured.out
    assert "line 3 (id 3): lastSeen must be" in captured.err  # names the line and field


def test_bad_csv_rows_are_invalid_and_the_job_goes_on(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,name\n"
        "1,Ann\n"
        "2," + "x" * 140_000 + "\n"  # over the csv module's field limit
        '3,"a"b\n'  # a stray quote
        "4,Dee\n"
        '5,"never closed\n'  # swallows the lines after it
        "6,Fay\n"
        "7,Gus\n"
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 1
    entries = _report(report)
    assert {n: e["status"] for n, e in entries.items()} == {
        2: "done",
        3: "invalid",
        4: "invalid",
        5: "done",
        6: "invalid",
        7: "done",
        8: "done",
    }
    assert "field limit" in entries[3]["error"]
    assert "never closed" in entries[6]["error"]
    assert [fake.customers[i]["name"] for i in (1, 4, 6, 7)] == ["Ann", "Dee", "Fay", "Gus"]


def test_unreadable_file_is_one_line_exit_2(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "in.jsonl"
    binary.write_bytes(b'{"id": 1, "name": "a"}\n\xff\xfe\x00garbage\n')
    assert _run(fake, str(binary)) == 2
    assert _run(fake, str(tmp_path)) == 2  # a directory
    assert main(["update-customers", str(tmp_path / "nope.csv"), "--dry-run"]) == 2
    err = [
        t
        for t in capsys.readouterr().err.splitlines()
        if t.startswith("helpcrunch: ") and "warning" not in t
    ]
    assert len(err) == 3
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    ("header", "found", "hint"),
    [
        ("ID,name", "'ID', 'name'", "case-sensitive"),
        ("id;name", "'id;name'", "';'"),
        ("Name,Email", "'Name', 'Email'", ""),
    ],
)
def test_csv_header_errors_say_what_was_found(
    tmp_path: Path, header: str, found: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(f"{header}\n1,Ann\n")
    assert main(["update-customers", str(src), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"found: {found}" in err
    assert hint in err


def _one(text: str, path: str = "in.jsonl") -> Any:
    (line,) = read_lines(io.StringIO(text), path)
    return line


def test_errors_name_the_column_as_written_and_list_every_problem() -> None:
    line = _one(
        '{"id": "abc", "userId": 5, "lastSeen": "soon", "blocked": "x", '
        '"firstSeen": "2020-10-28T12:00:00"}\n'
    )
    message = str(line.error)
    assert message.startswith("id must be a positive integer")  # not customer_id
    assert "customer_id" not in message
    assert "user_id" not in message
    for part in (
        "userId must be a str",
        "lastSeen must be epoch seconds",
        "blocked must be a bool",
        "firstSeen has no timezone",
    ):
        assert part in message
    assert line.error.field == "id"
    csv_line = _one("id,userId,lastSeen,blocked\n1,u,,maybe\n", "in.csv")
    assert str(csv_line.error) == "blocked must be true or false, got 'maybe'"
    custom = _one('{"id": 1, "customData": {"plan": [1]}}\n')
    assert str(custom.error).startswith("customData['plan'] must be")


@pytest.mark.parametrize(
    ("given", "epoch"),
    [
        ("2020-10-28T11:49:06Z", 1603885746),
        ("2020-10-28T13:49:06+02:00", 1603885746),
        ("1603885746", 1603885746),
    ],
)
def test_iso_8601_timestamps_accepted(
    fake: FakeHelpCrunch, tmp_path: Path, given: str, epoch: int
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(f"id,lastSeen\n1,{given}\n")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(json.dumps({"id": 2, "firstSeen": given}) + "\n")
    assert _run(fake, str(src)) == 0
    assert _run(fake, str(jsonl)) == 0
    bodies = [r.body for r in fake.requests]
    assert bodies == [{"lastSeen": str(epoch)}, {"firstSeen": str(epoch)}]


def test_duplicate_id_fails_the_later_line(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n{"id": "1", "email": "a@example.com"}\n'
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 1
    entries = _report(report)
    assert entries[3]["status"] == "invalid"
    assert "already updated by line 1" in entries[3]["error"]
    assert [r.path for r in fake.requests].count("/v1/customers/1") == 1
    # --resume keeps saying so: line 1 is skipped as done, line 3 is still a duplicate
    assert _run(fake, str(src), "--resume", str(report)) == 1
    assert _report(report)[3]["status"] == "invalid"
    assert [r.path for r in fake.requests].count("/v1/customers/1") == 1


def test_invalid_header_in_read_lines_raises_input_error() -> None:
    with pytest.raises(InputError, match="found: 'name'"):
        list(read_lines(io.StringIO("name\nAnn\n"), "in.csv"))


@pytest.mark.parametrize(
    "line",
    [
        '{"id": 1, "userId": "u-a", "user_id": "u-b"}',  # was: u-b sent, u-a dropped
        '{"id": 1, "customData": {"a": "1"}, "custom_data": {"b": "2"}}',
    ],
)
def test_a_field_given_twice_under_two_names_is_invalid(line: str) -> None:
    (parsed,) = read_lines(io.StringIO(line + "\n"), "in.jsonl")
    assert parsed.update is None
    assert parsed.error is not None
    assert "are the same field, given twice: keep one" in str(parsed.error)


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        ("id,name,name", "('name')"),
        ("id,userId,user_id", "('userId' and 'user_id')"),
        ("id,customData.plan,custom_data.plan", "('customData.plan' and 'custom_data.plan')"),
    ],
)
def test_a_csv_header_with_a_column_twice_is_an_input_error(
    header: str,
    shown: str,
    fake: FakeHelpCrunch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"{header}\n1,a,b\n", encoding="utf-8")
    assert run_update(fake, str(path)) == 2  # was: the last cell silently won
    assert fake.requests == []
    assert f"the CSV header has the same column twice {shown}" in capsys.readouterr().err


def test_unnamed_trailing_csv_columns_are_no_duplicates() -> None:
    (parsed,) = read_lines(io.StringIO("id,name,,\n1,Ann,,\n"), "in.csv")
    assert parsed.error is None
    assert parsed.update is not None
    assert parsed.update.name == "Ann"
