"""Run pytest in each of several project directories, each run in a process of its own.

Usage: ``python pytest_projects.py TIMEOUT DIR... -- PYTEST_ARGS...``

A real ``pytest`` run per directory (its own ``pytest.ini``, ``conftest.py`` and rootdir,
its working directory), in a process of its own: this process imports what every run
imports (pytest, the plugins' heavy libraries, aiohttp, helpcrunch_async) once, then
forks one child per directory, which runs ``pytest.main`` there. So every run starts
from the same clean state a fresh ``python -m pytest`` has, less ~1.5 s of imports.

Each child's stdout and stderr go to ``DIR/output.txt``; a child still running after
TIMEOUT seconds is killed (a stalled run fails fast). Up to two run at once. At the end
one JSON line maps each DIR to its exit code (``"timeout"`` when killed).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import aiohttp  # imported here once, for every child
import aiohttp.web  # noqa: F401
import pytest

import helpcrunch_async
import helpcrunch_async.testing  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import anyio  # noqa: F401
    import hypothesis  # noqa: F401 - its pytest plugin imports it: 0.7 s of every run
    import pytest_asyncio  # noqa: F401

AT_ONCE = 2


def _child(directory: Path, args: list[str]) -> None:
    """In the forked child: pytest in ``directory``, output to its file; never returns."""
    code = 3
    try:
        os.chdir(directory)
        out = os.open(directory / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        basetemp = directory.parent / f"{directory.name}-tmp"  # its own: runs go two at once
        code = int(
            pytest.main(
                [*args, "--rootdir", str(directory), "--basetemp", str(basetemp), str(directory)]
            )
        )
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(argv: list[str]) -> None:
    timeout = float(argv[0])
    split = argv.index("--")
    directories = [Path(d).resolve() for d in argv[1:split]]
    args = argv[split + 1 :]
    results: dict[str, int | str] = {}
    waiting = list(directories)
    running: dict[int, tuple[Path, float]] = {}
    while waiting or running:
        while waiting and len(running) < AT_ONCE:
            directory = waiting.pop(0)
            pid = os.fork()
            if pid == 0:
                _child(directory, args)
            running[pid] = (directory, time.monotonic())
        for pid, (directory, started) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                results[str(directory)] = os.waitstatus_to_exitcode(status)
                del running[pid]
            elif time.monotonic() - started > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                results[str(directory)] = "timeout"
                del running[pid]
        time.sleep(0.01)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
