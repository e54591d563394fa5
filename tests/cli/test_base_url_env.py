"""``$HELPCRUNCH_BASE_URL`` is read by the command too: argument > environment > default."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(2)
        monkeypatch.setenv("HELPCRUNCH_API_KEY", server.api_key)
        yield server


def test_the_environment_names_the_api_root(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", fake.base_url)
    assert main(["get", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == 2
    assert [r.path for r in fake.requests] == ["/v1/customers/2"]


def test_the_argument_wins_over_the_environment(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens
    assert main(["get", "1", "--base-url", fake.base_url]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == 1


def test_a_bad_environment_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "k")
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://api.helpcrunch.com/v1")
    assert main(["get", "1"]) == 2
    err = capsys.readouterr().err
    assert "$HELPCRUNCH_BASE_URL" in err
    assert "Traceback" not in err
