"""The `helpcrunch` command's guide (docs/guides/command.md), as printed: its commands run
against the fake server on its own sample input, its exit codes match the command's, and its links
work outside the repository (on a package index page)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpcrunch_async.cli import _main, main
from helpcrunch_async.cli._common import EXIT_CODES_HELP
from helpcrunch_async.testing import FakeHelpCrunch

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = (ROOT / "docs" / "guides" / "command.md").read_text(encoding="utf-8")
RATE_LIMITS = (ROOT / "docs" / "guides" / "rate-limits.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.DOTALL)


def test_command_examples_run_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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
            # Unpaced: the examples are about what each command does, not its pace.
            assert main([*args, *extra, "--base-url", fake.base_url, "--rate-limit", "off"]) == 0, (
                args
            )
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


def test_the_closed_pipe_example_exits_141_as_printed() -> None:
    """The exit-141 example, run as a reader would: the fake server started by its line
    (kept here only to stop it), then the rest in bash, exactly as printed."""
    start, *rest = _blocks("console")[2].strip().splitlines()
    words = shlex.split(start, comments=True)
    assert words[0] == "helpcrunch", start
    assert words[-1] == "&", start
    bin_dir = Path(sys.executable).parent
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("HELPCRUNCH_API_KEY", "HELPCRUNCH_REDIS_URL")
        },
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    server = subprocess.Popen(
        [str(bin_dir / "helpcrunch"), *words[1:-1]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        started = server.stdout.readline()  # printed once it listens ("" if it could not)
        assert started.startswith("HelpCrunch fake server:"), (started, server.poll())
        shell = subprocess.run(
            ["bash", "-c", "\n".join(rest)], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.terminate()  # `kill %1`
        server.communicate(timeout=30)
    first, code = shell.stdout.splitlines()
    assert json.loads(first)["id"] == 1  # the first customer, then head went away
    assert code == "141", shell.stderr
    assert "Traceback" not in shell.stderr


def test_the_commands_taking_redis_are_all_listed() -> None:
    """The rate limits guide's list of subcommands with ``--redis``, against the parser's."""
    item = RATE_LIMITS.split("- **The command**: `--redis URL`", 1)[1]
    listed = item.split("calls\n  HelpCrunch (", 1)[1].split(")", 1)[0]
    parser = _main._parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    taking = {
        name
        for name, sub in action.choices.items()
        if name != "demo" and any("--redis" in a.option_strings for a in sub._actions)
    }
    assert set(re.findall(r"`([a-z-]+)`", listed)) == taking
    assert "sync" in taking
