"""``helpcrunch get``, ``find`` and ``export``, against the fake server."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpcrunch_async._paging import AsyncCustomerPager
from helpcrunch_async.cli import main
from helpcrunch_async.cli.commands.export import WRITABLE_KEYS, parse_search
from helpcrunch_async.testing import FakeHelpCrunch, Fault

READ_ONLY = ("location", "device", "createdFrom", "integrationId")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(5)
        monkeypatch.setenv("HELPCRUNCH_API_KEY", server.api_key)
        yield server


def _cli(fake: FakeHelpCrunch, *args: str) -> int:
    return main([*args, "--base-url", fake.base_url, "--rate-limit", "off", "--max-retries", "0"])


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


# --- get -------------------------------------------------------------------------------


def test_get_prints_the_customer_as_answered(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.customers[3]["name"] = "Олена"
    fake.customers[3]["futureField"] = {"kept": True}  # unknown keys stay in the output
    assert _cli(fake, "get", "3") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one line: JSON Lines-friendly
    assert json.loads(out) == fake.customers[3]
    assert "Олена" in out


def test_get_missing_exits_1_and_bad_id_exits_2(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(fake, "get", "99") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no customer with id 99" in captured.err
    assert _cli(fake, "get", "chloe@example.com") == 2
    assert "customer_id" in capsys.readouterr().err
    assert [r.method for r in fake.requests] == ["GET"]  # the bad id sent nothing


def test_without_a_key_nothing_is_sent(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY")
    for command in (["get", "1"], ["find", "--email", "a@example.com"], ["export"]):
        assert _cli(fake, *command) == 2
        assert "HELPCRUNCH_API_KEY" in capsys.readouterr().err
    assert len(fake.requests) == 0


def test_a_refused_key_exits_1_naming_the_variable(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "wrong-key")
    assert _cli(fake, "find", "--user-id", "user_1") == 1
    err = capsys.readouterr().err
    assert "refused the API key" in err
    assert "HELPCRUNCH_API_KEY" in err
    assert "wrong-key" not in err


# --- find ------------------------------------------------------------------------------


def test_find_by_user_id_and_by_email(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(fake, "find", "--user-id", "user_4") == 0
    assert json.loads(capsys.readouterr().out) == fake.customers[4]
    assert _cli(fake, "find", "--email", "CUSTOMER2@example.com") == 0  # case ignored
    assert json.loads(capsys.readouterr().out)["id"] == 2


def test_find_none_exits_1_and_several_exit_2_with_their_ids(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(fake, "find", "--user-id", "user_404") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "user_404" in captured.err
    fake.seed_customers(3, start_id=20, email="shared@example.com")
    assert _cli(fake, "find", "--email", "shared@example.com") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "20, 21, 22" in captured.err


def test_find_needs_exactly_one_key(fake: FakeHelpCrunch) -> None:
    for args in ([], ["--user-id", "u", "--email", "e@example.com"]):
        with pytest.raises(SystemExit) as info:
            _cli(fake, "find", *args)
        assert info.value.code == 2
    assert len(fake.requests) == 0


# --- export ----------------------------------------------------------------------------


def test_export_writes_every_customer_across_pages(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.seed_customers(245, start_id=6)
    out = tmp_path / "backup.jsonl"
    assert _cli(fake, "export", "-o", str(out), "--no-progress") == 0
    lines = _lines(out.read_text(encoding="utf-8"))
    assert sorted(line["id"] for line in lines) == list(range(1, 251))
    assert all(set(line) == {"id", *WRITABLE_KEYS} for line in lines)  # seeded: all keys
    assert not any(key in line for line in lines for key in READ_ONLY)
    assert not (tmp_path / "backup.jsonl.partial").exists()
    assert len(fake.requests) == 3  # 100 + 100 + 50
    assert all("limit=100" in r.path for r in fake.requests)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "exported 250 customers" in captured.err
    assert "3 requests" in captured.err
    assert main(["update-customers", str(out), "--dry-run"]) == 0  # the reader takes it


def test_export_to_stdout_with_searches(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.customers[2]["tags"] = [
        {"name": "vip", "color": "#ff0000"},
        {"name": "paid", "color": "#00ff00"},
    ]
    fake.customers[4]["tags"] = [{"name": "vip", "color": "#ff0000"}]
    assert (
        _cli(
            fake,
            "export",
            "--search",
            "tags",
            "=",
            "vip,paid",
            "--search",
            "user_id",
            "=",
            "user_5",
            "--any",
            "--no-progress",
        )
        == 0
    )
    captured = capsys.readouterr()
    assert [line["id"] for line in _lines(captured.out)] == [2, 5]
    assert "matching" in captured.err
    body = fake.requests[0].body
    assert body["comparison"] == "OR"
    assert body["filter"][0] == {
        "field": "customers.tagsData",
        "operator": "=",
        "value": [{"name": "vip"}, {"name": "paid"}],
    }


def test_search_values_are_typed_by_field() -> None:
    assert parse_search("id", ">=", "3").value == 3
    assert parse_search("last_seen", ">", "1603885750").to_json()["value"] == 1603885750
    assert parse_search("last_seen", ">", "2020-10-28T11:49:10Z").to_json()["value"] == 1603885750
    assert parse_search("email", "~", "42").value == "42"  # a str field keeps digits


@pytest.mark.parametrize(
    "search",
    [
        ("nope", "=", "x"),
        ("email", ">", "x"),
        ("id", "=", "seven"),
        ("last_seen", ">=", "2020-10-28"),  # no timezone: refused, not guessed
        ("tags", "=", " , "),
    ],
)
def test_a_bad_search_is_a_usage_error_before_any_request(
    fake: FakeHelpCrunch, search: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(fake, "export", "--search", *search) == 2
    assert "helpcrunch:" in capsys.readouterr().err
    assert len(fake.requests) == 0


def test_a_failed_export_keeps_the_partial_file_and_not_the_target(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.seed_customers(150, start_id=6)
    fake.add_faults(Fault.delay(0), Fault.status(500), method="GET")  # page 2 fails
    out = tmp_path / "backup.jsonl"
    assert _cli(fake, "export", "-o", str(out), "--no-progress") == 1
    assert not out.exists()
    partial = tmp_path / "backup.jsonl.partial"
    assert len(_lines(partial.read_text(encoding="utf-8"))) == 100
    err = capsys.readouterr().err
    assert "incomplete: 100 customers" in err
    assert "500" in err


def test_export_warns_when_the_count_differs_from_the_total(
    fake: FakeHelpCrunch, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.seed_customers(150, start_id=6)  # 155 customers, two pages
    fetch_page = AsyncCustomerPager._next_page

    async def deleting_after_page_1(self: AsyncCustomerPager) -> None:
        await fetch_page(self)
        if self.pages_fetched == 1:  # someone deletes a customer of page 1 meanwhile
            del fake.customers[3]

    monkeypatch.setattr(AsyncCustomerPager, "_next_page", deleting_after_page_1)
    assert _cli(fake, "export", "--no-progress") == 0
    captured = capsys.readouterr()
    ids = {line["id"] for line in _lines(captured.out)}
    assert len(ids) == 154
    assert 101 not in ids
    assert "counted 155 at the start and 154 at the end, and 154 came" in captured.err


def test_export_warns_about_values_update_customers_refuses(
    fake: FakeHelpCrunch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.customers[2]["locale"] = "en-US"  # HelpCrunch holds it; an update refuses it
    assert _cli(fake, "export", "--no-progress") == 0
    captured = capsys.readouterr()
    assert len(_lines(captured.out)) == 5  # written all the same: it is a backup
    assert "would refuse 1 of these lines" in captured.err
    assert "id 2: " in captured.err
    assert "locale" in captured.err


def test_export_then_update_customers_restores_every_field(
    fake: FakeHelpCrunch, tmp_path: Path
) -> None:
    fake.customers[1].update(
        {
            "company": "Acme",
            "phone": "+380441234567",
            "notes": "call after 5",
            "source": "ads",
            "referer": "https://example.com/",
            "lastPage": "/pricing",
            "unsubscribed": True,
            "locale": "uk",
            "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "beta", "color": "#c377e0"}],
            "customData": {"plan": "pro", "seats": 5, "trial": False},
        }
    )
    fake.customers[2].update({"email": None, "blocked": True, "lastSeen": 1603885800})
    before = copy.deepcopy(fake.customers)
    backup = tmp_path / "backup.jsonl"
    assert _cli(fake, "export", "-o", str(backup), "--no-progress") == 0

    for customer in fake.customers.values():  # a risky job gone wrong
        customer.update({key: None for key in WRITABLE_KEYS})
        customer.update({"tags": [], "customData": {}, "name": "oops"})

    assert _cli(fake, "update-customers", str(backup), "--no-progress") == 0
    for cid, customer in fake.customers.items():
        restored = {k: v for k, v in customer.items() if k != "lastSeen"}
        expected = {k: v for k, v in before[cid].items() if k != "lastSeen"}
        assert restored == expected, cid
        assert int(customer["lastSeen"]) == int(before[cid]["lastSeen"])  # sent as a string


def test_an_unreachable_host_exits_1_with_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        base_url, key = server.base_url, server.api_key
    monkeypatch.setenv("HELPCRUNCH_API_KEY", key)  # the server is gone: nothing listens
    assert main(["get", "1", "--base-url", base_url, "--max-retries", "0"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to HelpCrunch" in err
    assert "--base-url" in err


def test_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("get", "find", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert f"helpcrunch {command} " in out
        assert "Exit codes:" in out


def test_export_into_a_closed_pipe_ends_quietly(fake: FakeHelpCrunch) -> None:
    fake.seed_customers(995, start_id=6)  # more than a pipe's buffer of JSON
    env = {**os.environ, "HELPCRUNCH_API_KEY": fake.api_key}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpcrunch_async",
            "export",
            "--base-url",
            fake.base_url,
            "--rate-limit",
            "off",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert json.loads(proc.stdout.readline())["id"] == 1
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert "incomplete" not in err
    assert "Traceback" not in err
