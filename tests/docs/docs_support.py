"""What the tests of tests/docs share: the project's paths, a fake HelpCrunch for a
subprocess (its settings in the environment, as a user exports them), and a server
process started for real and waited for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from helpcrunch_async.testing import FakeHelpCrunch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


def fake_env(fake: FakeHelpCrunch) -> dict[str, str]:
    """This environment, pointed at ``fake`` as ``helpcrunch fake-server`` tells users to,
    with this interpreter's executables first on ``PATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env.update(
        HELPCRUNCH_API_KEY=fake.api_key,
        HELPCRUNCH_BASE_URL=fake.base_url,
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONWARNINGS="always::ResourceWarning",
    )
    return env


def run(
    args: Sequence[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until something listens on ``port`` (or ``process`` ended: then fail with its output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"exited {process.returncode} before listening:\n{out}{err}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@contextmanager
def serving(args: Sequence[str], port: int, env: dict[str, str]) -> Iterator[list[str]]:
    """Run a server process until the block ends, then stop it with SIGINT (Ctrl-C) and
    yield its output (stdout, stderr) into the list given, for the caller to check."""
    process = subprocess.Popen(
        list(args), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    output: list[str] = []
    try:
        wait_for_port(port, process)
        yield output
    finally:
        if process.poll() is None:
            process.send_signal(2)  # SIGINT
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        output += [out, err]


def problems(text: str) -> list[str]:
    """What a healthy process never prints."""
    return [
        line
        for line in text.splitlines()
        if any(bad in line for bad in ("Traceback", "Unclosed", "ResourceWarning"))
    ]
