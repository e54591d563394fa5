"""The guides' examples, as printed (read from the pages in docs/guides/ themselves).

"Testing your code" is run by a new pytest process in an empty directory with an empty
config — without this project's ``asyncio_mode = "auto"`` — as a user who pastes it
into their own project would. "Bulk updates" runs against the fake server, with the
``client`` and ``rows`` it refers to.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

GUIDES = Path(__file__).parent.parent / "docs" / "guides"
PAGES = {  # the section: its page
    "Testing your code": GUIDES / "testing.md",  # docs/guides/testing.md
    "Bulk updates": GUIDES / "bulk-updates.md",  # docs/guides/bulk-updates.md
    "Finding customers": GUIDES / "finding-customers.md",  # docs/guides/finding-customers.md
    "Syncing your user table": GUIDES / "data-sync.md",  # docs/guides/data-sync.md
    "Many workers": GUIDES / "rate-limits.md",  # docs/guides/rate-limits.md
}


def _section(title: str) -> str:
    text = PAGES[title].read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, re.M | re.S)
    assert match, f"{PAGES[title]} has no '# {title}' section"
    return match.group(1)


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)


def _run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Without hypothesis's plugin (installed here for this project's own tests): a
    # user's fresh project has pytest-asyncio and this package, and it halves the start.
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            "-q",
            *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, str]]:
    """One pytest run in a new directory with an empty config (no auto mode): the example
    as printed in ``test_example.py``, without its mark in ``test_unmarked.py``.

    Each file's outcome, from the run's JUnit XML: ``{file: (outcome, message, the
    run's output)}``, the outcome ``passed``, ``failure``, ``error`` or ``skipped``.
    """
    [code] = _python_blocks(_section("Testing your code"))
    unmarked = code.replace("@pytest.mark.asyncio\n", "")
    assert unmarked != code
    directory = tmp_path_factory.mktemp("fresh-project")
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # no auto mode
    (directory / "test_example.py").write_text(code, encoding="utf-8")
    (directory / "test_unmarked.py").write_text(unmarked, encoding="utf-8")
    result = _run_pytest(directory, "--junitxml=report.xml")
    assert (directory / "report.xml").is_file(), result.stdout + result.stderr
    outcomes: dict[str, list[tuple[str, str]]] = {}
    for case in ElementTree.parse(directory / "report.xml").iter("testcase"):
        problems = [
            (p.tag, f"{p.get('message', '')}\n{p.text or ''}")
            for p in case
            if p.tag in ("failure", "error", "skipped")
        ]
        outcomes.setdefault(case.get("classname", ""), []).extend(problems or [("passed", "")])
    report = result.stdout + result.stderr
    assert set(outcomes) == {"test_example", "test_unmarked"}, report
    assert all(len(found) == 1 for found in outcomes.values()), report  # one test a file
    return {f"{name}.py": (*found[0], report) for name, found in outcomes.items()}


def test_testing_your_code_example_runs_as_printed_in_a_fresh_project(
    fresh_project: dict[str, tuple[str, str, str]],
) -> None:
    outcome, message, output = fresh_project["test_example.py"]
    assert outcome == "passed", message + output


def test_the_fresh_project_check_catches_an_unmarked_async_test(
    fresh_project: dict[str, tuple[str, str, str]],
) -> None:
    """The check above can fail: the example without its mark fails in a fresh project."""
    outcome, message, output = fresh_project["test_unmarked.py"]
    assert outcome == "failure", message + output
    assert "async def functions are not natively supported" in message


def test_the_config_line_next_to_the_example_works_without_the_mark(tmp_path: Path) -> None:
    """The README's alternative: the one config line, and the example without its mark."""
    section = _section("Testing your code")
    assert 'asyncio_mode = "auto"' in section
    assert "[tool.pytest.ini_options]" in section
    [code] = _python_blocks(section)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n', encoding="utf-8"
    )
    (tmp_path / "test_example.py").write_text(
        code.replace("@pytest.mark.asyncio\n", ""), encoding="utf-8"
    )
    result = _run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_bulk_updates_example_runs_as_printed(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [code] = _python_blocks(_section("Bulk updates"))
    ids = helpcrunch_fake.seed_customers(3)
    rows = [SimpleNamespace(id=cid, plan="pro") for cid in [*ids, 999_999]]
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await eval(compiled, {"client": helpcrunch_client, "rows": rows})
    assert all(helpcrunch_fake.customers[cid]["customData"]["plan"] == "pro" for cid in ids)
    assert out.getvalue().startswith("3 999999 404 Not Found")


async def test_finding_customers_example_runs_as_printed(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [code] = _python_blocks(_section("Finding customers"))
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.seed_customers(
        1,
        start_id=4,
        fields={
            "userId": "u-42",
            "email": "ann@gmail.com",
            "tags": [{"name": "paid", "color": "#000"}],
        },
    )
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await eval(compiled, {"client": helpcrunch_client, "hc": hc})
    printed = out.getvalue().splitlines()
    assert printed[:4] == [f"{i} customer{i}@example.com" for i in (1, 2, 3)] + ["4 ann@gmail.com"]
    assert printed[-1] == "1"  # .total of the search
    assert 4 not in helpcrunch_fake.customers  # tagged, untagged, deleted
    assert [r.method for r in helpcrunch_fake.requests][-3:] == ["PUT", "DELETE", "DELETE"]


async def test_syncing_your_user_table_example_runs_as_printed(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [code] = _python_blocks(_section("Syncing your user table"))
    helpcrunch_fake.seed_customers(1, fields={"userId": "u-42", "name": "Ann"})
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await eval(compiled, {"client": helpcrunch_client, "hc": hc})
    printed = out.getvalue().splitlines()
    assert printed[:6] == [
        "u-42 updated name: 'Ann' -> 'Ann Lee'",
        "u-42 updated custom_data.plan: None -> 'pro'",
        "u-42 updated tags: () -> ('paid',)",
        "u-43 created name: None -> 'Bo'",
        "u-43 created email: None -> 'bo@example.com'",
        "u-43 created user_id: None -> 'u-43'",
    ]
    assert sorted(printed[6:8]) == [
        "0 updated 1 ('name', 'custom_data.plan', 'tags') None",
        "1 created 2 ('name', 'email', 'user_id') None",
    ]
    assert printed[8:] == [
        "{'unchanged': 0, 'updated': 1, 'created': 1, 'failed': 0} 1 reads 3 writes"
    ]
    assert helpcrunch_fake.customers[1]["name"] == "Ann Lee"
    assert helpcrunch_fake.customers[2]["userId"] == "u-43"
