"""Build the documentation site strictly: ``python docs/_tools/build.py`` (``make docs``).

Runs Zensical (``zensical build --strict --clean`` on ``mkdocs.yml``) in this process and
fails when it finds a problem *or* when anything logs a warning during the build. Zensical's
``--strict`` counts its own findings (a link to a missing page or anchor, an unresolved
cross-reference) but not the warnings mkdocstrings and Griffe log while rendering the API
reference (a documented parameter missing from a signature, say): they are printed and the
build passes. This script counts those too. ``--clean`` because Zensical caches rendered
pages, and a cached page is not rendered again, so its warnings would not show either.

First checks that ``docs/reference/cli.md`` is the page ``cli_reference.py`` generates from
the command's parser, so the command's reference cannot drift from the command.

Exit status: 0 built with no warning, 1 otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_reference  # noqa: E402  (beside this script)


class _Warnings(logging.Handler):
    """Every record of level WARNING or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def build(config: Path = ROOT / "mkdocs.yml") -> int:
    """Build the site of ``config`` strictly; returns the exit status."""
    if cli_reference.check() != 0:
        return 1
    from zensical import build as zensical_build

    warnings = _Warnings()
    logging.getLogger().addHandler(warnings)
    start = time.perf_counter()
    try:
        zensical_build(str(config), {"config_file": str(config), "strict": True, "clean": True})
    except RuntimeError as exc:  # "Aborted because --strict flag is set"
        print(f"docs: {exc}", file=sys.stderr)
        return 1
    finally:
        logging.getLogger().removeHandler(warnings)
    if warnings.records:
        print(f"docs: {len(warnings.records)} warning(s) logged during the build:", file=sys.stderr)
        for record in warnings.records:
            print(f"  {record.name}: {record.getMessage()}", file=sys.stderr)
        return 1
    print(
        f"docs: built {config.parent / 'site'} in {time.perf_counter() - start:.1f} s, no warnings",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(build())
