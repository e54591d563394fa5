"""``--redis URL`` / ``$HELPCRUNCH_REDIS_URL`` of ``helpcrunch update-customers`` and ``demo``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _redis_support import (
    RedisServer,
    python_without_redis,
    redis_server_fixture,  # noqa: F401 - the redis_server fixture
    require_redis_package,
)
from cli_helpers import keyed_fake, run_update

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch

require_redis_package()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    monkeypatch.delenv("HELPCRUNCH_REDIS_URL", raising=False)
    with keyed_fake(monkeypatch) as server:
        yield server


def _input(tmp_path: Path, count: int) -> str:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {i}, "name": "N{i}"}}\n' for i in range(1, count + 1)))
    return str(src)


def _update(fake: FakeHelpCrunch, *args: str) -> int:
    return run_update(fake, *args, rate_limit="600/1")


def test_update_customers_paces_through_redis(
    fake: FakeHelpCrunch, redis_server: RedisServer, tmp_path: Path
) -> None:
    assert _update(fake, _input(tmp_path, 5), "--redis", redis_server.url) == 0
    assert fake.customers[5]["name"] == "N5"
    assert redis_server.calls("evalsha") >= 5


def test_the_redis_url_may_come_from_the_environment(
    fake: FakeHelpCrunch, redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_REDIS_URL", redis_server.url)
    assert _update(fake, _input(tmp_path, 3)) == 0
    assert redis_server.calls("evalsha") >= 3


def test_without_redis_the_local_limit_is_used(
    fake: FakeHelpCrunch, redis_server: RedisServer, tmp_path: Path
) -> None:
    assert _update(fake, _input(tmp_path, 3)) == 0
    assert redis_server.calls("evalsha") == 0


def test_every_command_that_calls_helpcrunch_takes_redis(
    fake: FakeHelpCrunch, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", "1", "--base-url", fake.base_url, "--redis", redis_server.url]) == 0
    assert '"id": 1' in capsys.readouterr().out
    assert redis_server.calls("evalsha") >= 1
    assert main(["get", "1", "--base-url", fake.base_url, "--redis", "nope"]) == 2


def test_demo_shares_its_rate_limit_through_redis(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "demo",
            "--customers",
            "40",
            "--rate-limit",
            "400/1",
            "--no-progress",
            "--redis",
            redis_server.url,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert "shared through Redis" in captured.err
    assert "all 40 stored customers match the input" in captured.out
    assert redis_server.calls("evalsha") >= 40


def test_a_bad_redis_url_is_a_usage_error(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _update(fake, _input(tmp_path, 1), "--redis", "http://nope") == 2
    assert capsys.readouterr().err == (
        "helpcrunch: --redis http://nope: not a Redis URL; a Redis URL starts with "
        "redis://, rediss:// or unix://\n"
    )
    assert fake.stats.requests == 0
    assert main(["demo", "--no-progress", "--redis", "nope"]) == 2


@pytest.mark.parametrize("command", ["update-customers", "sync", "get", "demo"])
def test_a_redis_url_without_its_scheme_says_how_to_write_it(
    command: str,
    fake: FakeHelpCrunch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = {
        "update-customers": [_input(tmp_path, 1)],
        "sync": [_input(tmp_path, 1), "--match", "id"],
        "get": ["1"],
        "demo": [],
    }[command]
    base = [] if command == "demo" else ["--base-url", fake.base_url]
    assert main([command, *args, *base, "--redis", "localhost:6390"]) == 2
    assert capsys.readouterr().err == (
        "helpcrunch: --redis localhost:6390: not a Redis URL; try redis://localhost:6390\n"
    )
    monkeypatch.setenv("HELPCRUNCH_REDIS_URL", ":s3cret@localhost:6390")  # a password
    assert main([command, *args, *base]) == 2
    assert capsys.readouterr().err == (
        "helpcrunch: $HELPCRUNCH_REDIS_URL=***@localhost:6390: not a Redis URL; try "
        "redis://***@localhost:6390\n"
    )
    assert fake.stats.requests == 0


def test_without_the_redis_package_the_message_names_the_extra() -> None:
    done = python_without_redis(
        "from helpcrunch_async.cli import main\n"
        "sys.exit(main(['demo', '--no-progress', '--redis', 'redis://127.0.0.1:1/0']))\n"
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'helpcrunch-async[redis]'" in done.stderr
