"""The ``helpcrunch`` command as a command: help, version, streams, pipes, options,
what it says on screen, --put confirmation, the progress display."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import keyed_fake, run_update

import helpcrunch_async as hc
from helpcrunch_async.cli import _main, _progress, main
from helpcrunch_async.cli._common import parse_rate_limit
from helpcrunch_async.testing import FakeHelpCrunch

SUBCOMMANDS = ("update-customers", "demo", "fake-server")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = _main._parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"helpcrunch": parser, **action.choices}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"helpcrunch {hc.__version__} (helpcrunch-async)"


def test_bare_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: helpcrunch")
    assert "update-customers" in err
    assert "Exit codes:" in err


def test_every_option_has_help() -> None:
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help_shows_example_input_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert f"helpcrunch {command}" in out.split("Examples:", 1)[1]
    assert "Input" in out
    assert "Exit codes:\n  0 " in out  # laid out as written, not re-wrapped
    assert "130" in out
    assert "141" in out


def test_fake_server_help_shows_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["fake-server", "--help"])
    assert "test-key" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "0/60", "-5", "-1/60", "5/0", "none", "lots"])
def test_rate_limit_zero_and_negative_are_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--rate-limit", value])
    assert info.value.code == 2
    assert "off" in capsys.readouterr().err  # the message says how to turn it off


def test_rate_limit_off_and_values() -> None:
    assert parse_rate_limit("off") is None
    assert parse_rate_limit("OFF") is None
    assert parse_rate_limit("120") == (120, 60.0)
    assert parse_rate_limit("10/1.5") == (10, 1.5)


@pytest.mark.parametrize("option", ["--concurrency", "--customers"])
def test_counts_below_one_are_usage_errors(option: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", option, "0"])
    assert info.value.code == 2


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpcrunch_async", *args]


def test_closed_stdout_pipe_exits_quietly() -> None:
    """`helpcrunch demo | head -1` with the reader gone before the result is written."""
    proc = subprocess.Popen(
        _command("demo", "--customers", "30", "--rate-limit", "off", "--no-progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader went away (as `head` does after its line)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "Exception ignored" not in err


def test_head_of_demo_in_a_shell_pipe() -> None:
    shell = subprocess.run(
        [
            "sh",
            "-c",
            " ".join(_command("demo", "--customers", "30", "--rate-limit", "off")) + " | head -1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0
    assert "Traceback" not in shell.stderr
    assert shell.stdout.startswith("30 customers updated")  # the result, not progress


def test_demo_results_on_stdout_messages_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # In this process (the demo runs as a process in the pipe and entry-point tests).
    code = main(["demo", "--customers", "40", "--rate-limit", "off"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Fake HelpCrunch at" in err
    assert "Fake HelpCrunch at" not in out
    progress_lines = [t for t in err.splitlines() if " customers: " in t]
    assert progress_lines, err  # the final progress line, on stderr...
    assert len(progress_lines) == len(set(progress_lines))  # ...once
    assert " customers: " not in out
    assert "all 40 stored customers match the input" in out


def test_final_progress_line_printed_once() -> None:
    out = io.StringIO()
    with _progress.Progress(3, stream=out, interval=0.0) as progress:
        for _ in range(3):
            progress.advance(ok=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert sum(line.startswith("3/3 customers") for line in lines) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_hint_without_rich_on_a_terminal_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.progress", None)  # the extra is not installed
    monkeypatch.setattr(_progress, "_hinted", False)
    out = _Terminal()
    for _ in range(2):
        with _progress.Progress(1, stream=out) as progress:
            progress.advance(ok=True)
    text = out.getvalue()
    assert text.count('pip install "helpcrunch-async[progress]"') == 1
    piped = io.StringIO()
    monkeypatch.setattr(_progress, "_hinted", False)
    with _progress.Progress(1, stream=piped):
        pass
    assert "pip install" not in piped.getvalue()  # not on a pipe or file


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHelpCrunch]:
    with keyed_fake(monkeypatch) as server:
        yield server


_run = run_update


def test_failed_lines_shown_on_screen_then_counted(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "name": "ok"}\n{"id": 2, "blocked": "maybe"}\n'
        + "".join(f'{{"id": {900 + i}, "name": "x"}}\n' for i in range(7))
    )
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "8 lines failed; the first 5:" in err
    assert "line 2 (id 2): blocked must be a bool" in err  # read (and failed) first
    assert "(id 900): 404 Not Found" in err
    assert "... and 3 more" in err
    assert f"--resume {report}" in err
    assert "1 done, 8 failed" in captured.out


def test_run_without_report_warns_it_cannot_be_resumed(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "a"}\n')
    assert _run(fake, str(src)) == 0
    assert "no --report FILE: if this run stops, it cannot be resumed" in capsys.readouterr().err
    report = tmp_path / "r.jsonl"
    assert _run(fake, str(src), "--report", str(report)) == 0
    assert "cannot be resumed" not in capsys.readouterr().err


def test_put_refused_without_yes_when_not_on_a_terminal(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "a"}\n')
    assert _run(fake, str(src), "--put") == 2
    assert "add --yes" in capsys.readouterr().err
    assert fake.requests == []


@pytest.mark.parametrize(("answer", "code", "sent"), [("y\n", 0, 1), ("\n", 2, 0), ("", 2, 0)])
def test_put_asks_on_a_terminal(
    fake: FakeHelpCrunch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    sent: int,
) -> None:
    class _TTYIn(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", _TTYIn(answer))
    monkeypatch.setattr(sys, "stderr", _Terminal())
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "a"}\n')
    assert _run(fake, str(src), "--put") == code
    assert len(fake.requests) == sent
    assert [r.method for r in fake.requests] == ["PUT"] * sent


def test_console_script_entry_point_runs() -> None:
    env = {**os.environ}
    result = subprocess.run(
        _command("--version"), capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0
    assert hc.__version__ in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--fault-rate", "2"],
        ["demo", "--fault-rate", "nan"],
        ["demo", "--fault-rate", "-0.5"],
        ["fake-server", "--fault-rate", "5"],
        ["fake-server", "--port", "99999"],
    ],
)
def test_out_of_range_fault_rate_and_port_are_usage_errors(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:  # was a ValueError/OverflowError traceback
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"helpcrunch {args[0]}: error: argument {args[1]}")


def test_fake_server_on_a_taken_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["fake-server", "--port", str(port), "--customers", "0"])
    assert code == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"helpcrunch: cannot listen on 127.0.0.1:{port}: ")
    assert err.endswith("address already in use\n")
    assert err.count("\n") == 1  # one line, no traceback
    assert out == ""


@pytest.mark.parametrize(
    "command",
    [
        ["update-customers", "{input}", "--report", "{target}"],
        ["sync", "{input}", "--match", "user_id", "--report", "{target}"],
        ["export", "-o", "{target}"],
    ],
)
@pytest.mark.parametrize("target", ["a-directory", "a-file/report.jsonl"])
def test_an_unwritable_report_or_output_is_one_line_exit_2_nothing_sent(
    command: list[str],
    target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("")
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "name": "A"}\n'
        if command[0] == "update-customers"
        else '{"userId": "user_1", "name": "A"}\n'
    )
    args = [a.format(input=source, target=tmp_path / target) for a in command]
    with keyed_fake(monkeypatch, customers=3) as fake:
        code = main(
            [*args, "--base-url", fake.base_url, "--rate-limit", "off", "--no-progress"]
        )  # was an IsADirectoryError/FileExistsError traceback
        assert [r.method for r in fake.requests if r.method != "GET"] == []
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"cannot write {'the report ' if command[0] != 'export' else ''}" in err
    assert err.count("\n") <= 2  # the line (and the no-report warning, never here)


def test_one_failed_line_is_counted_in_the_singular(
    fake: FakeHelpCrunch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "name": "ok"}\n{"id": 900, "name": "x"}\n')
    assert _run(fake, str(src), "--report", str(tmp_path / "r.jsonl")) == 1
    err = capsys.readouterr().err
    assert "helpcrunch: 1 line failed:" in err
    assert "1 lines" not in err
