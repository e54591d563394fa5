"""The README's `helpcrunch` command section, as printed: its commands run against the
fake server on its own sample input, its exit codes match the command's, and its links
work outside the repository (on a package index page)."""

from __future__ import annotations

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
    (jsonl,) = _blocks("jsonl")
    (csv,) = _blocks("csv")
    (tmp_path / "customers.jsonl").write_text(jsonl)
    (tmp_path / "customers.csv").write_text(csv)
    monkeypatch.chdir(tmp_path)
    (console,) = _blocks("console")
    commands = [shlex.split(line, comments=True) for line in console.splitlines()]
    runs = [words[1:] for words in commands if words and words[0] == "helpcrunch"]
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


def test_exit_codes_match_the_command() -> None:
    for code in re.findall(r"^  (\d+) ", EXIT_CODES_HELP, flags=re.MULTILINE):
        assert re.search(rf"\b{code}\s", SECTION.split("Exit codes:", 1)[1]), code


def test_rate_limit_off_is_documented() -> None:
    assert "`off`" in SECTION
    assert "`0` is refused" in SECTION


def test_readme_links_work_outside_the_repository() -> None:
    for target in re.findall(r"\]\(([^)]+)\)", README):
        assert target.startswith(("https://", "#")), target
