"""Packaging: typed marker, public names, version, docstrings."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

import helpcrunch_async as hc
from helpcrunch_async import _version

ROOT = Path(__file__).resolve().parent.parent


def test_py_typed_is_shipped() -> None:
    marker = files("helpcrunch_async").joinpath("py.typed")
    assert marker.is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "helpcrunch_async" in wheel["packages"]
    assert "py.typed" not in str(wheel.get("exclude", ""))
    assert "Typing :: Typed" in pyproject["project"]["classifiers"]


@pytest.mark.parametrize("name", hc.__all__)
def test_every_public_name_is_importable(name: str) -> None:
    module = importlib.import_module("helpcrunch_async")
    assert hasattr(module, name)
    namespace: dict[str, object] = {}
    exec(f"from helpcrunch_async import {name}", namespace)
    assert namespace[name] is getattr(hc, name)


def test_all_has_no_duplicates_and_covers_the_contract() -> None:
    assert len(hc.__all__) == len(set(hc.__all__))
    contract = {
        "AsyncHelpCrunch",
        "HelpCrunch",
        "Customer",
        "CustomerUpdate",
        "Location",
        "Device",
        "Tag",
        "UNSET",
        "HelpCrunchError",
        "ValidationError",
        "APIConnectionError",
        "APITimeoutError",
        "APIError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "UnprocessableEntityError",
        "RateLimitError",
        "ServerError",
        "__version__",
    }
    assert contract <= set(hc.__all__)


def test_version_matches() -> None:
    assert hc.__version__ == _version.__version__
    assert importlib.metadata.version("helpcrunch-async") == hc.__version__


def _public_objects() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for name in hc.__all__:
        obj = getattr(hc, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            found.append((name, obj))
            if inspect.isclass(obj) and obj.__module__.startswith("helpcrunch_async"):
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    func = member.fget if isinstance(member, property) else member
                    if inspect.isfunction(func):
                        found.append((f"{name}.{attr}", func))
    return found


@pytest.mark.parametrize(
    ("name", "obj"), _public_objects(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_functions_and_classes_have_docstrings(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    assert doc.strip()


def test_module_docstring() -> None:
    assert hc.__doc__
    assert "UNSET" in hc.__doc__


def test_replace_customer_docstring_warns_about_clearing() -> None:
    for cls in (hc.AsyncHelpCrunch, hc.HelpCrunch):
        doc = inspect.getdoc(cls.replace_customer) or ""
        assert "null" in doc.lower()
        assert "PUT" in doc


def test_runtime_dependencies_are_only_the_three() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = sorted(
        d.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for d in pyproject["project"]["dependencies"]
    )
    # aiolimiter went with RateLimit's move to one schedule for every event loop: its
    # limiter belongs to one loop (shared by two, it raises RuntimeError).
    assert names == ["aiohttp", "attrs", "cattrs"]
    assert pyproject["project"]["requires-python"] == ">=3.11"


def test_the_library_never_imports_the_command() -> None:
    """The command (``helpcrunch_async.cli``) uses the library, never the other way round."""
    code = (
        "import sys, helpcrunch_async, helpcrunch_async.testing; "
        "print(sorted(m for m in sys.modules if m.startswith('helpcrunch_async.cli')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in hc.__all__
        if inspect.isclass(getattr(hc, n)) or inspect.isfunction(getattr(hc, n))
    ],
)
def test_every_public_class_and_function_has_an_example(name: str) -> None:
    # The reference on the docs site is rendered from these docstrings (issue 22).
    assert ">>>" in (inspect.getdoc(getattr(hc, name)) or ""), f"hc.{name} has no example"
