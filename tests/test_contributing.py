"""CONTRIBUTING.md's map of the tree matches the tree, both ways; its `make` tasks exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = GUIDE.index(f"### {title}\n")
    end = GUIDE.find("\n### ", start + 1)
    return GUIDE[start : end if end != -1 else None]


def _listed(title: str, pattern: str) -> list[str]:
    return re.findall(rf"^- `({pattern})` — \S", _section(title), flags=re.MULTILINE)


def test_every_module_of_the_package_has_one_line_and_every_line_a_module() -> None:
    listed = _listed("The package", r"helpcrunch_async/[\w/]+\.py")
    on_disk = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "helpcrunch_async").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert len(listed) == len(set(listed)), "a module listed twice"
    assert sorted(listed) == on_disk


def test_every_test_folder_has_one_line_and_every_line_a_folder() -> None:
    listed = _listed("The tests", r"tests/[\w]+/")
    on_disk = sorted(
        f"tests/{p.name}/"
        for p in (ROOT / "tests").iterdir()
        if p.is_dir() and not p.name.startswith((".", "_"))
    )
    assert sorted(listed) == on_disk


def test_every_make_task_named_exists() -> None:
    named = set(re.findall(r"^make (\w[\w-]*)", GUIDE, flags=re.MULTILINE))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    assert named, "the guide names its tasks"
    assert named <= defined
