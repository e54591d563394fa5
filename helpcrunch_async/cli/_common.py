"""What the ``helpcrunch`` subcommands share: exit codes and the errors that end in them,
option parsers, help layout, results on stdout, messages on stderr, and Ctrl-C hooks.

Streams: results go to stdout (:func:`emit`); progress, warnings and errors go to stderr
(:func:`say`), so ``helpcrunch demo > result.txt`` or ``... | head`` gets only results.

Output that cannot be written — stdout on a full disk, an export file over the
file-size limit — is an :class:`OutputError`: one line naming the file and the
operating system's reason, exit 1 (see :func:`helpcrunch_async.cli.main`). A report that
cannot be written stops its job instead (:mod:`helpcrunch_async.cli._line_job`); a message
that cannot be written to stderr is dropped: the job goes on.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .._exceptions import HelpCrunchError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES_HELP",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "InputError",
    "OutputError",
    "STDOUT_NAME",
    "add_command",
    "add_listen_options",
    "add_rate_limit_option",
    "emit",
    "flush_stdout",
    "fraction",
    "non_negative_int",
    "port_number",
    "parse_rate_limit",
    "plural",
    "positive_int",
    "say",
    "stdout_closed",
    "write_error",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away while the command still wrote (``helpcrunch export |
head -1``): 128 + SIGPIPE, what a shell reports for ``git log | head -1``'s ``git``.
Nothing is printed."""

EXIT_CODES_HELP = """\
Exit codes:
  0    everything done
  1    some items failed, or the job was stopped (wrong API key, host unreachable,
       the report could not be written), or an output could not be written (disk full)
  2    usage or input error (also: invalid lines under --dry-run)
  130  interrupted by Ctrl-C
  141  stdout was closed early (for example piped into `head`)"""


STDOUT_NAME = "standard output"


class InputError(HelpCrunchError):
    """An input of the command cannot be read as a whole (a file missing, not UTF-8, a CSV
    header without its key's column, an unreadable ``--resume`` report), or a file it
    is to write cannot be made: one line, exit 2, nothing sent."""


class OutputError(HelpCrunchError):
    """An output of the command cannot be written: stdout, an export file (disk full,
    file too large, closed). The message names the file and says why; ``stdout`` tells
    whether it was standard output."""

    def __init__(self, message: str, *, stdout: bool = False) -> None:
        super().__init__(message)
        self.stdout = stdout


def write_error(name: str, exc: OSError) -> str:
    """``cannot write to NAME: <the OS's reason>``.

    Example:
        >>> import errno, os
        >>> write_error("standard output", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        'cannot write to standard output: No space left on device'
    """
    return f"cannot write to {name}: {exc.strerror or exc}"


def emit(text: str = "") -> None:
    """Print a result line on stdout.

    Raises:
        OutputError: stdout cannot be written (a full disk: ``> /dev/full``; closed:
            ``>&-``).
        BrokenPipeError: stdout's reader went away (``| head``): exit 141, quietly.
    """
    if sys.stdout is None:
        raise stdout_closed()
    try:
        print(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(write_error(STDOUT_NAME, exc), stdout=True) from None


def stdout_closed() -> OutputError:
    """The error for a command started with stdout closed (``>&-``)."""
    return OutputError(f"cannot write to {STDOUT_NAME}: it is closed", stdout=True)


def flush_stdout() -> None:
    """Flush stdout, where buffered results meet a full disk or a closed pipe; raises as
    :func:`emit` does. Nothing to do when stdout is closed (``>&-``)."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(write_error(STDOUT_NAME, exc), stdout=True) from None


def say(message: str) -> None:
    """Print a message for the user (not a result) on stderr.

    A stderr that cannot be written (a full disk) loses the message, not the job; a
    closed pipe still raises :class:`BrokenPipeError` (exit 141, as for stdout).
    """
    try:
        print(message, file=sys.stderr, flush=True)
    except BrokenPipeError:
        raise
    except OSError:
        pass


def plural(count: int, word: str, words: str | None = None) -> str:
    """``count`` and the noun that goes with it.

    Example:
        >>> plural(1, "request"), plural(2, "request"), plural(0, "entry", "entries")
        ('1 request', '2 requests', '0 entries')
    """
    return f"{count} {word if count == 1 else words or word + 's'}"


def add_command(
    commands: Any, name: str, *, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` ends with ``epilog`` (examples, input, exit codes)
    laid out as written."""
    return commands.add_parser(  # type: ignore[no-any-return]
        name,
        help=help,
        description=description,
        epilog=f"{epilog.rstrip()}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_listen_options(parser: argparse.ArgumentParser, *, port: int) -> None:
    """``--host`` (default loopback) and ``--port`` (default ``port``; 0: any free one)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=port,
        help="port to listen on (default %(default)s; 0: any free port)",
    )


def add_rate_limit_option(
    parser: argparse.ArgumentParser, *, default: tuple[int, float], help: str
) -> None:
    """``--rate-limit N/SECONDS|off`` with this default."""
    parser.add_argument(
        "--rate-limit",
        type=parse_rate_limit,
        default=default,
        metavar="N/SECONDS|off",
        help=help,
    )


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``"120/60"`` → ``(120, 60.0)``; ``"120"`` → per minute; ``"off"`` → ``None`` (no limit).

    ``0`` and negative values are refused: "no limit" is spelled ``off``.

    Example:
        >>> parse_rate_limit("120/60")
        (120, 60.0)
        >>> parse_rate_limit("off") is None
        True
        >>> parse_rate_limit("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: rate limit must be positive, got '0' (use 'off' for no limit)
    """
    if text.strip().lower() == "off":
        return None
    requests, slash, period = text.partition("/")
    try:
        value = (int(requests), float(period) if slash else 60.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS such as 120/60, or off; got {text!r}"
        ) from None
    if value[0] < 1 or not value[1] > 0 or value[1] == float("inf"):
        raise argparse.ArgumentTypeError(
            f"rate limit must be positive, got {text!r} (use 'off' for no limit)"
        )
    return value


def positive_int(text: str) -> int:
    """An option value that must be an integer of at least 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An option value that must be an integer of at least 0."""
    return _int_at_least(text, 0)


def fraction(text: str) -> float:
    """An option value that must be a share from 0 to 1 (``--fault-rate``).

    Example:
        >>> fraction("0.05"), fraction("1")
        (0.05, 1.0)
        >>> fraction("nan")  # nor "2", "-0.1" or "5%"
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a share from 0 to 1, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN too
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    """An option value that must be a TCP port, 0 to 65535 (0: any free port)."""
    value = _int_at_least(text, 0)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value
