"""A refused API key stops a bulk job: in the library (``BulkAbortedError``) and in the
``helpcrunch`` command (exit 1, one message, the rest left for ``--resume``); a host
that cannot be reached stops the command too."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import helpcrunch_async as hc
from helpcrunch_async import _retry
from helpcrunch_async.cli import main
from helpcrunch_async.testing import FakeHelpCrunch, Fault


class _Counting:
    """An input iterator that counts how many items were read from it."""

    def __init__(self, count: int) -> None:
        self.read = 0
        self._items = iter(range(1, count + 1))

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> tuple[int, dict[str, str]]:
        cid = next(self._items)
        self.read += 1
        return cid, {"name": f"n{cid}"}


@pytest.mark.parametrize("batch", [False, True])
async def test_wrong_key_stops_update_customers(batch: bool) -> None:
    source = _Counting(10_000)
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(50)
        async with hc.AsyncHelpCrunch(
            "wrong-key", base_url=fake.base_url, rate_limit=None
        ) as client:  # not about pacing
            results: list[hc.BulkResult] = []
            gen = client.update_customers(source, max_concurrency=4, batch=batch)

            async def consume() -> None:
                async with contextlib.aclosing(gen):
                    async for result in gen:
                        results.append(result)

            with pytest.raises(hc.BulkAbortedError) as info:
                await consume()
        sent = len(fake.requests)
    assert isinstance(info.value.cause, hc.AuthenticationError)
    assert info.value.__cause__ is info.value.cause
    assert str(info.value).startswith("HelpCrunch refused the API key: 401")
    assert sent <= 4 * 2  # stopped at once: not one request per item
    assert source.read < 200  # and the input was not read to its end
    indexes = [r.index for r in results]
    assert sorted(indexes) == list(range(source.read))  # every item read: reported once
    assert not any(r.ok for r in results)
    for r in results:
        assert isinstance(r.error, hc.AuthenticationError | hc.BulkAbortedError)
        if isinstance(r.error, hc.BulkAbortedError):
            assert r.attempts == 0


async def test_403_stops_too() -> None:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(30)
        fake.add_faults(Fault.status(403), method="PATCH")
        async with hc.AsyncHelpCrunch(
            fake.api_key, base_url=fake.base_url, max_concurrency=1
        ) as client:
            gen = client.update_customers(
                ((i, {"name": "x"}) for i in range(1, 31)), max_concurrency=1
            )
            with pytest.raises(hc.BulkAbortedError) as info:
                async for _ in gen:
                    pass
        assert isinstance(info.value.cause, hc.PermissionDeniedError)
        assert len(fake.requests) == 1


def test_blocking_client_raises_too() -> None:
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(5)
        with hc.HelpCrunch("wrong-key", base_url=fake.base_url) as client:
            seen: list[int] = []
            results = client.update_customers(
                [(i, {"name": "x"}) for i in (1, 2)], max_concurrency=1
            )
            with pytest.raises(hc.BulkAbortedError):
                seen.extend(result.index for result in results)
        assert seen == [0]


def test_bulk_aborted_error_is_exported() -> None:
    assert issubclass(hc.BulkAbortedError, hc.HelpCrunchError)
    assert "BulkAbortedError" in hc.__all__


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with FakeHelpCrunch(rate_limit=None).in_thread() as server:
        server.seed_customers(300)
        yield server


def _lines(path: Path, count: int) -> Path:
    path.write_text("".join(f'{{"id": {i}, "name": "v{i}"}}\n' for i in range(1, count + 1)))
    return path


def test_cli_wrong_key_stops_and_resume_redoes_the_rest(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = _lines(tmp_path / "in.jsonl", 300)
    report = tmp_path / "r.jsonl"
    args = [
        "update-customers",
        str(src),
        "--base-url",
        fake.base_url,
        "--no-progress",
        "--rate-limit",
        "off",
        "--concurrency",
        "4",
    ]
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "wrong-key")
    assert main([*args, "--report", str(report)]) == 1
    err = capsys.readouterr().err
    assert "HelpCrunch refused the API key: 401" in err
    assert f"--resume {report}" in err
    assert len(fake.requests) <= 8
    entries = [json.loads(t) for t in report.read_text().splitlines()]
    assert len(entries) < 50
    assert {e["status"] for e in entries} == {"failed"}  # redone by --resume
    monkeypatch.setenv("HELPCRUNCH_API_KEY", fake.api_key)
    assert main([*args, "--resume", str(report)]) == 0
    last = {e["line"]: e["status"] for e in map(json.loads, report.read_text().splitlines())}
    assert len(last) == 300
    assert set(last.values()) == {"done"}


def test_cli_unreachable_host_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.001)
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = _lines(tmp_path / "in.jsonl", 200)
    report = tmp_path / "r.jsonl"
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "k")
    code = main(
        [
            "update-customers",
            str(src),
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--no-progress",
            "--rate-limit",
            "off",
            "--concurrency",
            "2",
            "--max-retries",
            "1",
            "--report",
            str(report),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err
    assert f"--resume {report}" in err
    assert len(report.read_text().splitlines()) < 20  # stopped, not 200 failures


def test_bulk_aborted_error_pickles_with_its_cause() -> None:
    import pickle

    refused = hc.AuthenticationError(status=401, method="PATCH", path="/v1/customers/1")
    copy = pickle.loads(pickle.dumps(hc.BulkAbortedError(refused)))
    assert isinstance(copy.cause, hc.AuthenticationError)
    assert str(copy) == "HelpCrunch refused the API key: 401 Unauthorized for PATCH /v1/customers/1"
