"""The documentation site builds strictly (``docs/_tools/build.py``, what ``make docs`` and
CI run), once for the session, with every page of the nav; the build fails on a warning
Zensical's own ``--strict`` lets through; the command's reference page is the generated
one.

The builds need the ``docs`` extra (``.ci/run`` installs it after ``dev``); without it
they are skipped, saying so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from docs_support import ROOT

sys.path.insert(0, str(ROOT / "docs" / "_tools"))
import cli_reference

BUILD = ROOT / "docs" / "_tools" / "build.py"


def _build(config: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("zensical", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra")
    script = (
        f"import sys; sys.path.insert(0, {str(BUILD.parent)!r}); import build; "
        f"sys.exit(build.build(__import__('pathlib').Path({str(config)!r})))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def site() -> Path:
    result = _build(ROOT / "mkdocs.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no warnings" in result.stderr
    return ROOT / "site"


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    assert isinstance(nav, list)
    return [p for item in nav for p in _nav_pages(item)]


def test_every_page_is_in_the_nav_and_built(site: Path) -> None:
    import yaml

    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = sorted(
        p.relative_to(ROOT / "docs").as_posix()
        for p in (ROOT / "docs").rglob("*.md")
        if "_tools" not in p.parts
    )
    assert sorted(nav) == pages
    for page in pages:
        stem = Path(page).with_suffix("")
        path = site / ("index.html" if stem.name == "index" else stem / "index.html")
        assert path.is_file(), page


def test_the_reference_is_rendered_from_the_docstrings(site: Path) -> None:
    clients = (site / "reference" / "clients" / "index.html").read_text()
    assert 'id="helpcrunch_async.AsyncHelpCrunch.update_customer"' in clients
    assert 'id="helpcrunch_async.HelpCrunch.sync_customers"' in clients
    errors = (site / "reference" / "errors" / "index.html").read_text()
    assert 'id="helpcrunch_async.RateLimitError"' in errors
    testing = (site / "reference" / "testing" / "index.html").read_text()
    assert 'id="helpcrunch_async.testing.FakeHelpCrunch.seed_customers"' in testing
    assert "helpcrunch_fake" in testing  # the pytest plugin's fixtures
    changelog = (site / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog  # CHANGELOG.md, included


def test_a_docstring_warning_fails_the_build(tmp_path: Path) -> None:
    """Zensical's --strict passes a build in which mkdocstrings warned; ours fails it."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "mod.py").write_text(
        'def f(a: int) -> int:\n    """F.\n\n    Args:\n        b: no such parameter.\n'
        '    """\n    return a\n'
    )
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n::: mod.f\n")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nplugins:\n  - mkdocstrings:\n      handlers:\n        python:\n"
        "          paths: [.]\n"
    )
    result = _build(tmp_path / "mkdocs.yml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Parameter 'b' does not appear in the function signature" in result.stderr
    assert (tmp_path / "site" / "index.html").is_file()  # Zensical itself passed it


def test_the_command_reference_is_the_generated_page() -> None:
    assert cli_reference.check() == 0


def test_the_command_reference_check_sees_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(cli_reference.render().replace("--dry-run", "--dryrun"))
    monkeypatch.setattr(cli_reference, "PAGE", stale)
    assert cli_reference.check() == 1
    cli_reference.main([])  # regenerates it
    assert cli_reference.check() == 0


def test_docstrings_become_markdown() -> None:
    pytest.importorskip("griffe", reason="the docs extra: pip install -e '.[docs]'")
    from griffe_docstrings import markdown_docstring

    text = (
        "Do it.\n\nArgs:\n    timeout, max_retries: per call;\n        see :class:`Foo`.\n"
        "\nExample:\n    >>> f()\n"
    )
    assert markdown_docstring(text) == (
        "Do it.\n\nArgs:\n    timeout: per call;\n        see ``Foo``.\n"
        "    max_retries: per call;\n        see ``Foo``.\n\nExamples:\n    >>> f()"
    )
