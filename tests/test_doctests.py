"""Every docstring example in the package runs (those marked ``+SKIP`` need a server)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import helpcrunch_async

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(helpcrunch_async.__path__, "helpcrunch_async.")
    if not info.name.endswith("__main__")
)


def test_every_module_is_checked() -> None:
    assert "helpcrunch_async._client" in MODULES
    assert "helpcrunch_async.testing._server" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
