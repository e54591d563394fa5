"""The ``helpcrunch`` parser and entry point; the subcommands are in :mod:`.commands`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._exceptions import ValidationError
from .._version import __version__
from ._common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    InputError,
    OutputError,
    flush_stdout,
    say,
)
from .commands import add_commands

__all__ = ["main"]

_EPILOG = f"""\
Examples:
  helpcrunch demo                                   # try it: no key, no account needed
  export HELPCRUNCH_API_KEY=...                     # your key (Settings > Developers)
  helpcrunch update-customers customers.jsonl --report report.jsonl
  helpcrunch update-customers customers.jsonl --resume report.jsonl
  helpcrunch find --email ann@example.com           # one customer as JSON
  helpcrunch export -o backup.jsonl                 # a backup update-customers restores
  helpcrunch sync users.jsonl --match user_id --create-missing --report report.jsonl
  helpcrunch COMMAND --help                         # options, input format, exit codes

{EXIT_CODES_HELP}"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpcrunch",
        description="HelpCrunch customer API tools (helpcrunch-async).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"helpcrunch {__version__} (helpcrunch-async)",
        help="print the version and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it).

    Bare ``helpcrunch`` prints the help on stderr and returns 2. When stdout's reader
    goes away (``helpcrunch export | head -1``) it returns 141 quietly, as ``git`` does.
    An output that cannot be written (:class:`OutputError`: ``> /dev/full``, an export
    file over the file-size limit) is one line on stderr and exit 1.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.run(args)
        flush_stdout()  # a closed pipe or a full disk shows here, not in the interpreter's exit
        return code
    except (InputError, ValidationError) as exc:  # bad file, bad option value
        say(f"helpcrunch: {exc}")
        return EXIT_USAGE
    except OutputError as exc:  # disk full, file too large, no permission
        if exc.stdout:
            _silence_stdout()  # what is still buffered would fail again at exit
        say(f"helpcrunch: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again
    (the recipe in Python's ``signal`` documentation)."""
    if sys.stdout is None:  # started with stdout closed: nothing to flush
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (tests, embedding)
        pass
