"""The data sync guide's commands (docs/guides/data-sync.md, "From the command line"), as
printed, on the page's own input file, against the fake HelpCrunch: each line's words are
the command's arguments, plus ``--base-url`` of the fake, ``--no-progress`` and
``--rate-limit off`` (the page's lines are for a real account, whose base URL is the
default)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from docs_support import ROOT
from test_docs_code_blocks import parse

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch

PAGE = "docs/guides/data-sync.md"


def _blocks() -> list:
    return parse(PAGE, (ROOT / PAGE).read_text(encoding="utf-8"))


def test_sync_commands_run_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _blocks()
    [console] = [b for b in blocks if b.lang == "console"]
    for block in blocks:
        if block.marker == "file":
            (tmp_path / block.detail).write_text(block.code, encoding="utf-8")
    runs = [shlex.split(line, comments=True)[1:] for line in console.code.splitlines()]
    assert [args[:2] for args in runs] == [["sync", "users.jsonl"]] * 3
    monkeypatch.chdir(tmp_path)
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(1, fields={"userId": "u-42", "name": "Ann"})
        monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
        codes = []
        for args in runs:
            codes.append(
                main([*args, "--base-url", fake.base_url, "--no-progress", "--rate-limit", "off"])
            )
            if args == runs[0]:  # the dry run: a diff on screen, nothing sent
                shown = capsys.readouterr()
                assert "  name: 'Ann' → 'Ann Lee'" in shown.out + shown.err
                assert [r.method for r in fake.requests] == ["GET"]
        assert codes == [0, 0, 0]
        assert fake.customers[1]["name"] == "Ann Lee"
        by_user = {c["userId"]: c for c in fake.customers.values()}
        assert by_user["u-43"]["email"] == "bo@example.com"
        assert len(fake.customers) == 2  # the resume created nobody twice
    report = [
        json.loads(line) for line in (tmp_path / "sync-report.jsonl").read_text().splitlines()
    ]
    assert {(line["key"], line["action"]) for line in report} == {
        ("u-42", "updated"),
        ("u-43", "created"),
    }
