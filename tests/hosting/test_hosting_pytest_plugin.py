"""The pytest plugin's fixtures under every loop scope, in strict and auto mode, and anyio.

A user's test file using ``helpcrunch_fake`` + ``helpcrunch_client`` is run by a real
pytest in a process of its own, with the ``loop_scope`` of the test's marker or of
``asyncio_default_fixture_loop_scope`` set to module or session. On main the fake then
serves on a loop that is not running while the test runs on another: the call stalls
(~94 s, then ``APITimeoutError``). Each inner run is given 15 s (a healthy one takes
well under a second here), so a stall fails fast.

Every configuration is a project directory of its own (``pytest.ini``, the user's
``conftest.py`` and test file); one child (``apps/pytest_projects.py``) imports pytest,
its plugins' libraries and the SDK once and forks a real pytest run per project, so the
eleven runs cost about what two fresh ones would, and that child runs once per test run
however pytest-xdist spreads the cases. Each configuration's outcome is its own test,
asserted exactly as a single run's.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hosting_support import APPS, once_per_run, run_python, shared_tmp

INNER_TIMEOUT = 15.0

USER_TESTS = """
import pytest

{mark}
async def test_update(helpcrunch_fake, helpcrunch_client):
    helpcrunch_fake.seed_customers(2)
    customer = await helpcrunch_client.update_customer(1, name="Ann")
    assert customer.name == "Ann"
    assert helpcrunch_fake.customers[1]["name"] == "Ann"


{mark}
async def test_another_update_in_the_same_module(helpcrunch_fake, helpcrunch_client):
    helpcrunch_fake.seed_customers(2)
    await helpcrunch_client.update_customer(2, name="Bob")
    assert helpcrunch_fake.customers[2]["name"] == "Bob"
    assert helpcrunch_fake.stats.requests == 1
"""

ANYIO_TESTS = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_update(helpcrunch_fake, helpcrunch_client):
    helpcrunch_fake.seed_customers(1)
    customer = await helpcrunch_client.update_customer(1, name="Ann")
    assert customer.name == "Ann"
    assert helpcrunch_fake.customers[1]["name"] == "Ann"


@pytest.mark.anyio
async def test_another_update(helpcrunch_fake, helpcrunch_client):
    helpcrunch_fake.seed_customers(1)
    await helpcrunch_client.update_customer(1, name="Bob")
    assert helpcrunch_fake.customers[1]["name"] == "Bob"
"""

# The user's conftest: a garbage collection after each test, as one comes sooner or later
# anyway. What a test leaves unclosed (a client's pool on a loop that outlives the test)
# then warns every run, in that test, instead of by chance in some later one.
USER_CONFTEST = """
import gc

import pytest


@pytest.fixture(autouse=True)
def _collect_after_each_test():
    yield
    gc.collect()
"""

MODULE = '@pytest.mark.asyncio(loop_scope="module")'
SESSION = '@pytest.mark.asyncio(loop_scope="session")'
PLAIN = "@pytest.mark.asyncio"

# id: (asyncio_mode, asyncio_default_fixture_loop_scope, extra ini lines, test file)
CASES = {
    "strict-marker-module": ("strict", "function", "", USER_TESTS.format(mark=MODULE)),
    "auto-marker-module": ("auto", "function", "", USER_TESTS.format(mark=MODULE)),
    "strict-marker-session": ("strict", "function", "", USER_TESTS.format(mark=SESSION)),
    "auto-marker-session": ("auto", "function", "", USER_TESTS.format(mark=SESSION)),
    "strict-fixtures-module": ("strict", "module", "", USER_TESTS.format(mark=PLAIN)),
    "auto-fixtures-module": ("auto", "module", "", USER_TESTS.format(mark="")),
    "strict-fixtures-session": ("strict", "session", "", USER_TESTS.format(mark=PLAIN)),
    "auto-fixtures-session": ("auto", "session", "", USER_TESTS.format(mark="")),
    "auto-fixtures-and-tests-module": (
        "auto",
        "module",
        "asyncio_default_test_loop_scope = module",
        USER_TESTS.format(mark=""),
    ),
    "strict-anyio": ("strict", "function", "", ANYIO_TESTS),
    "auto-anyio": ("auto", "function", "", ANYIO_TESTS),
}


PYTEST_ARGS = (
    "-p",
    "no:cacheprovider",
    "-W",
    "error::ResourceWarning",
    "-W",
    "error::pytest.PytestUnraisableExceptionWarning",
    # the child imported the plugins' packages before pytest could mark them
    # for assertion rewriting (a fresh process would not warn of that)
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)


def _write_project(directory: Path, case: str) -> None:
    mode, fixture_scope, extra, source = CASES[case]
    directory.mkdir()
    (directory / "pytest.ini").write_text(
        textwrap.dedent(f"""\
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = {fixture_scope}
        {extra}
        """)
    )
    (directory / "conftest.py").write_text(USER_CONFTEST)
    (directory / "test_user.py").write_text(source)


def _run_every_project(root: Path) -> None:
    """Write every configuration's project under ``root`` and run them all in one child
    (``apps/pytest_projects.py``); each run's exit code goes to ``root/codes.json``."""
    for case in CASES:
        _write_project(root / case, case)
    child = run_python(
        [
            str(APPS / "pytest_projects.py"),
            str(INNER_TIMEOUT),
            *(str(root / case) for case in CASES),
            "--",
            *PYTEST_ARGS,
        ],
        timeout=INNER_TIMEOUT * len(CASES) + 30,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    (root / "codes.json").write_text(child.stdout.strip().splitlines()[-1], encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pytest.RunResult]:
    """Every configuration's pytest run: one child for the whole test run, however the
    cases are spread over the workers (:func:`hosting_support.once_per_run`)."""
    root = once_per_run(
        shared_tmp(tmp_path_factory),
        "plugin_projects",
        _run_every_project,
        timeout=INNER_TIMEOUT * len(CASES) + 60,
    )
    codes = json.loads((root / "codes.json").read_text(encoding="utf-8"))
    results = {}
    for case in CASES:
        directory = root / case
        output = (directory / "output.txt").read_text(encoding="utf-8", errors="replace")
        code = codes[str(directory.resolve())]
        if code == "timeout":
            output += f"\n(killed: still running after {INNER_TIMEOUT} s)"
            code = -1
        results[case] = pytest.RunResult(code, output.splitlines(), [], 0.0)
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_plugin_fixtures_work_under_this_loop_setup(
    runs: dict[str, pytest.RunResult], case: str
) -> None:
    result = runs[case]
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.OK, output
    result.assert_outcomes(passed=2)
    assert "nclosed" not in output, output
    assert "Task was destroyed" not in output, output
