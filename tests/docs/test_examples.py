"""Every program in examples/ runs as is against the fake HelpCrunch, its settings from the
environment alone (``HELPCRUNCH_API_KEY``, ``HELPCRUNCH_BASE_URL``), in a real process:
the scripts as a user runs them, the web apps in a real server called over HTTP, the
pytest file in a fresh project."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from _ports import free_port
from docs_support import EXAMPLES, fake_env, problems, run, serving

from helpcrunch_async.testing import FakeHelpCrunch

TESTED = {
    "blocking_script.py",
    "bulk_update_job.py",
    "nightly_sync.py",
    "fastapi_app.py",
    "aiohttp_app.py",
    "test_with_fixtures.py",
}


@pytest.fixture
def fake() -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(5)
        yield server


def test_every_example_is_run_by_a_test_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == TESTED


def test_blocking_script(fake: FakeHelpCrunch) -> None:
    result = run(
        [sys.executable, "examples/blocking_script.py", "CUSTOMER2@example.com"], fake_env(fake)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1 Customer 1 customer1@example.com"
    assert lines[5:] == ["5 customers in the account", "CUSTOMER2@example.com: customer 2"]
    assert not problems(result.stderr)


def test_bulk_update_job_writes_its_report(fake: FakeHelpCrunch, tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    result = run(
        [sys.executable, "examples/bulk_update_job.py", "examples/plan-upgrades.csv", str(report)],
        fake_env(fake),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 updated, 0 failed, 3 requests"), result.stdout
    assert [fake.customers[i]["customData"]["plan"] for i in (1, 2, 3)] == [
        "pro",
        "pro",
        "enterprise",
    ]
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(line["row"], line["id"], line["ok"]) for line in lines] == [
        (1, 1, True),
        (2, 2, True),
        (3, 3, True),
    ]


def test_bulk_update_job_reports_a_failed_row_and_exits_1(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("id,plan\n1,pro\n999,pro\n")
    report = tmp_path / "report.jsonl"
    result = run(
        [sys.executable, "examples/bulk_update_job.py", str(rows), str(report)], fake_env(fake)
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("1 updated, 1 failed"), result.stdout
    failed = json.loads(report.read_text().splitlines()[1])
    assert (failed["id"], failed["ok"]) == (999, False)
    assert "404" in failed["error"]


def test_nightly_sync_dry_run_then_apply(fake: FakeHelpCrunch) -> None:
    env = fake_env(fake)
    dry = run([sys.executable, "examples/nightly_sync.py", "examples/users.csv"], env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == (
        "dry run: 0 unchanged, 0 updated, 3 created, 0 failed; 1 reads, 0 writes"
    )
    assert {r.method for r in fake.requests} == {"GET"}  # a dry run writes nothing
    applied = run(
        [sys.executable, "examples/nightly_sync.py", "examples/users.csv", "--apply"], env
    )
    assert applied.returncode == 0, applied.stderr
    assert "u-2: created: name None -> 'Bo Chen'" in applied.stdout
    by_user = {c["userId"]: c for c in fake.customers.values() if c["userId"]}
    assert by_user["u-2"]["customData"] == {"plan": "free"}
    again = run([sys.executable, "examples/nightly_sync.py", "examples/users.csv"], env)
    assert again.stdout.splitlines()[-1].startswith("dry run: 3 unchanged, 0 updated")


async def _call_the_app(port: int, fake: FakeHelpCrunch) -> None:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/customers/by-email/customer2@example.com") as r:
            assert r.status == 200, await r.text()
            assert await r.json() == {"id": 2, "name": "Customer 2", "plan": None}
        async with http.post(f"{base}/customers/3/plan", json={"plan": "pro"}) as r:
            assert r.status == 200, await r.text()
            assert await r.json() == {"id": 3, "plan": "pro"}
        async with http.post(f"{base}/customers/999/plan", json={"plan": "pro"}) as r:
            assert r.status == 404, await r.text()
    assert fake.customers[3]["customData"] == {"plan": "pro"}


async def test_fastapi_app_in_uvicorn(fake: FakeHelpCrunch) -> None:
    port = free_port()
    uvicorn = shutil.which("uvicorn", path=str(Path(sys.executable).parent))
    assert uvicorn
    with serving(
        [uvicorn, "--app-dir", "examples", "fastapi_app:app", "--port", str(port)],
        port,
        fake_env(fake),
    ) as output:
        await _call_the_app(port, fake)
    assert "Application shutdown complete" in output[1], output
    assert not problems("".join(output)), output


async def test_aiohttp_app(fake: FakeHelpCrunch) -> None:
    port = free_port()
    with serving(
        [sys.executable, "examples/aiohttp_app.py", "--port", str(port)], port, fake_env(fake)
    ) as output:
        await _call_the_app(port, fake)
    assert not problems("".join(output)), output


def test_pytest_file_passes_in_a_fresh_project(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "test_with_fixtures.py", tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # no asyncio_mode, no addopts
    # Only the plugins such a project has: pytest-asyncio and this package's.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_asyncio.plugin",
            "-p",
            "helpcrunch_async.testing.pytest_plugin",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout
