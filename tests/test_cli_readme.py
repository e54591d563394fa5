"""The README's `helpcrunch` command section, as printed: its commands run against the
fake server on its own sample input, its exit codes match the command's, and its links
work outside the repository (on a package index page)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from helpcrunch_async.cli import main
from helpcrunch_async.cli._common import EXIT_CODES_HELP
from helpcrunch_async.testing import FakeHelpCrunch

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### The `helpcrunch` command", 1)[1].split("\n## ", 1)[0]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.DOTALL)


def test_command_examples_run_as_printed(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    jsonl = _blocks("jsonl")[0]
    (csv,) = _blocks("csv")
    (tmp_path / "customers.jsonl").write_text(jsonl)
    (tmp_path / "customers.csv").write_text(csv)
    monkeypatch.chdir(tmp_path)
    runs = _runs(_blocks("console")[0])
    assert len(runs) == 4
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(2, start_id=1568834)
        monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
        for args in runs:
            extra = [] if "--dry-run" in args else ["--base-url", fake.base_url]
            assert main([*args, *extra, "--no-progress"]) == 0, args
        assert fake.customers[1568834]["name"] == "John Doe"
        assert fake.customers[1568834]["blocked"] is False
        patched = fake.customers[1568835]
        assert patched["email"] == "customer1568835@example.com"  # PATCH kept it
        assert str(patched["lastSeen"]) == "1603886400"  # 2020-10-28T12:00:00Z
        assert fake.customers[1568834]["userId"] is None  # the --put line nulled it
        assert {t["name"] for t in fake.customers[1568834]["tags"]} == {"vip", "beta"}


def _runs(console: str) -> list[list[str]]:
    commands = [shlex.split(line, comments=True) for line in console.splitlines()]
    return [words[1:] for words in commands if words and words[0] == "helpcrunch"]


def test_find_export_and_match_examples_run_as_printed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "by-user-id.jsonl").write_text(_blocks("jsonl")[1])
    monkeypatch.chdir(tmp_path)
    runs = _runs(_blocks("console")[1])
    assert len(runs) == 6
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(3, start_id=1568834)
        fake.customers[1568834]["userId"] = "u-42"
        fake.customers[1568835]["userId"] = "u-43"
        fake.customers[1568836]["tags"] = [{"name": "vip", "color": "#c377e0"}]
        monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
        outputs = []
        for args in runs:
            extra = ["--no-progress"] if args[0] in ("export", "update-customers") else []
            assert main([*args, *extra, "--base-url", fake.base_url]) == 0, args
            outputs.append(capsys.readouterr().out)
        assert json.loads(outputs[0])["id"] == 1568834
        assert json.loads(outputs[1])["userId"] == "u-42"
        backup = (tmp_path / "backup.jsonl").read_text().splitlines()
        assert len(backup) == 3
        some = [json.loads(line) for line in (tmp_path / "some.jsonl").read_text().splitlines()]
        assert [line["id"] for line in some] == [1568836]
        assert fake.customers[1568834]["name"] == "John Doe"
        assert fake.customers[1568834]["customData"] == {"plan": "pro"}
        assert fake.customers[1568834]["userId"] == "u-42"  # the key, not sent
        assert [t["name"] for t in fake.customers[1568835]["tags"]] == ["vip"]


def test_exit_codes_match_the_command() -> None:
    for code in re.findall(r"^  (\d+) ", EXIT_CODES_HELP, flags=re.MULTILINE):
        assert re.search(rf"\b{code}\s", SECTION.split("Exit codes:", 1)[1]), code


def test_rate_limit_off_is_documented() -> None:
    assert "`off`" in SECTION
    assert "`0` is refused" in SECTION


def test_readme_links_work_outside_the_repository() -> None:
    for target in re.findall(r"\]\(([^)]+)\)", README):
        assert target.startswith(("https://", "#")), target
