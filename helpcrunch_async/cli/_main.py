"""The ``helpcrunch`` parser and entry point: one module per subcommand family beside it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._exceptions import ValidationError
from . import _demo, _fake_server, _update
from ._common import EXIT_INTERRUPTED, EXIT_USAGE
from ._jobfile import InputError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpcrunch", description="HelpCrunch customer API tools (helpcrunch-async).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (_update, _demo, _fake_server):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except (InputError, ValidationError) as exc:  # bad file, bad option value
        print(f"helpcrunch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
