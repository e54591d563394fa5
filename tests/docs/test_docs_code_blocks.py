"""Every fenced ``python`` and ``console`` block of README.md and docs/ is run as printed,
or says on the line before it who runs it, or that it is a fragment:

- ``<!-- fragment: why -->``: part of a larger program (an async function's body, lines
  needing a Redis server), not run;
- ``<!-- tested: PATH -->``: run by that test (or ``.ci/run``), which must exist and read
  this page (name its path). On a page's first line (not right before a block) it
  covers every block of the page;
- a python block that is only ``--8<-- "examples/NAME.py"`` includes a program of
  ``examples/``, which ``test_examples.py`` runs;
- anything else is run here: a python block as a whole program (``__main__``, in this
  process) whose environment points at a fake HelpCrunch (``HELPCRUNCH_API_KEY``,
  ``HELPCRUNCH_BASE_URL``; customers 1 to 3); a console block as one bash script in an
  empty directory (with ``examples/``), where port 8080 is a free port and a line ending
  in ``&`` (the fake server started in the background) is followed by a wait until the
  port listens, as a reader waits for its first line.

Other languages (``text``, ``jsonl``, ``csv``) are never run here. A block in a language
that looks runnable (``py``, ``sh``, ``bash``, ``shell``, ``pycon``) or none at all is
refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from _ports import free_port
from docs_support import BIN, EXAMPLES, ROOT, fake_env, problems

from helpcrunch_async.testing import FakeHelpCrunch

RUN_LANGS = {"python", "console"}
REFUSED_LANGS = {"", "py", "python3", "sh", "bash", "shell", "pycon", "shell-session"}
MARKER = re.compile(r"<!-- (fragment|tested)(?::\s*(.*?))? -->\s*$")
SNIPPET = re.compile(r'--8<-- "(examples/[\w.-]+\.py)"\s*')


@dataclass(frozen=True)
class Block:
    page: str  # relative to the project: README.md, docs/guides/testing.md
    line: int
    lang: str
    code: str
    marker: str | None  # fragment, tested or None
    detail: str  # what follows the marker's colon

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def parse(page: str, text: str) -> list[Block]:
    """The fenced blocks of ``text`` (``page`` names it), with their markers."""
    lines = text.splitlines()
    page_marker = (
        MARKER.match(lines[0]) if len(lines) > 1 and not lines[1].startswith("```") else None
    )
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        if marker is None and page_marker is not None and page_marker.group(1) == "tested":
            marker = page_marker
        blocks.append(
            Block(
                page,
                i + 1,
                fence.group(1),
                "\n".join(lines[i + 1 : end]) + "\n",
                marker.group(1) if marker else None,
                (marker.group(2) or "").strip() if marker else "",
            )
        )
        i = end + 1
    return blocks


def problem(block: Block) -> str | None:
    """Why ``block`` breaks the rules above (None: it keeps them)."""
    if block.lang in REFUSED_LANGS:
        return f"{block.where}: a block in {block.lang or 'no language'}: use python or console"
    if block.lang not in RUN_LANGS:
        return None
    if block.marker == "tested":
        path = block.detail.split()[0] if block.detail else ""
        if not path or not (ROOT / path).is_file():
            return f"{block.where}: tested by {path or 'nothing'}, which does not exist"
        if block.page not in (ROOT / path).read_text(encoding="utf-8"):
            return f"{block.where}: {path} does not read {block.page}"
    snippet = SNIPPET.fullmatch(block.code)
    if snippet and not (ROOT / snippet.group(1)).is_file():
        return f"{block.where}: includes {snippet.group(1)}, which does not exist"
    return None


def _pages() -> dict[str, str]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in paths
        if "_tools" not in p.parts
    }


BLOCKS = [block for page, text in _pages().items() for block in parse(page, text)]


def _to_run(lang: str) -> list[Block]:
    return [
        b for b in BLOCKS if b.lang == lang and b.marker is None and not SNIPPET.fullmatch(b.code)
    ]


def test_every_block_is_run_or_marked() -> None:
    assert len(BLOCKS) > 50  # the pages were read
    found = [p for b in BLOCKS if (p := problem(b))]
    assert found == []


def test_the_rules_refuse_what_they_should() -> None:
    """The checks above can fail: a missing test, a test that does not read the page, an
    include of no file, a shell block."""
    page = (
        "<!-- tested: tests/nowhere.py -->\n```python\nx = 1\n```\n"
        "<!-- tested: tests/test_layout.py -->\n```console\nls\n```\n"
        '```python\n--8<-- "examples/nothing.py"\n```\n'
        "```sh\nls\n```\n"
        "<!-- fragment: a body -->\n```python\nawait f()\n```\n"
    )
    found = [problem(b) for b in parse("docs/x.md", page)]
    assert [p.split(": ", 1)[1] if p else None for p in found] == [
        "tested by tests/nowhere.py, which does not exist",
        "tests/test_layout.py does not read docs/x.md",
        "includes examples/nothing.py, which does not exist",
        "a block in sh: use python or console",
        None,
    ]


def test_a_page_marker_covers_every_block_of_its_page() -> None:
    page = (
        "<!-- tested: .ci/run -->\n# T\n```python\nx\n```\n<!-- fragment -->\n```python\ny\n```\n"
    )
    assert [(b.marker, b.detail) for b in parse("README.md", page)] == [
        ("tested", ".ci/run"),
        ("fragment", ""),
    ]


@pytest.mark.parametrize("block", _to_run("python"), ids=lambda b: b.where)
def test_python_block_runs_as_a_program(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run as ``python example.py`` would (its own ``__main__`` namespace, no event loop
    running), in this process: a new interpreter would spend most of the time importing."""
    code = compile(block.code, block.where, "exec")
    with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
        fake.seed_customers(3)
        for name, value in fake_env(fake).items():
            if name.startswith("HELPCRUNCH_"):
                monkeypatch.setenv(name, value)
        exec(code, {"__name__": "__main__"})
    assert capsys.readouterr().out.strip(), f"{block.where} printed nothing"


_WAIT = """import socket, sys, time
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
        break
    except OSError:
        time.sleep(0.05)"""


def _bash_script(code: str, port: int) -> str:
    lines = ["set -euo pipefail"]
    for line in code.replace("8080", str(port)).splitlines():
        lines.append(line)
        if line.split("#", 1)[0].rstrip().endswith("&"):
            lines.append(f"{sys.executable} -c '{_WAIT}' {port}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("block", _to_run("console"), ids=lambda b: b.where)
def test_console_block_runs_in_bash(block: Block, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(EXAMPLES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the block sets its own
    result = subprocess.run(
        ["bash", "-c", _bash_script(block.code, free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}\n{result.stdout}{result.stderr}"
    assert not problems(result.stdout + result.stderr), result.stdout + result.stderr
