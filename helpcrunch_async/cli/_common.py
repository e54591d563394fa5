"""What the ``helpcrunch`` subcommands share: exit codes, option parsers, help layout,
messages on stderr, and Ctrl-C hooks.

Streams: results go to stdout; progress, warnings and errors go to stderr (so
``helpcrunch demo > result.txt`` or ``... | head`` gets only results).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
from typing import Any

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES_HELP",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_command",
    "add_signal_handler",
    "fraction",
    "non_negative_int",
    "port_number",
    "parse_rate_limit",
    "positive_int",
    "remove_signal_handler",
    "say",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``helpcrunch demo | head -1``): 128 + SIGPIPE, what
a shell reports for ``git log | head -1``'s ``git``. Nothing is printed."""

EXIT_CODES_HELP = """\
Exit codes:
  0    everything done
  1    some items failed, or the job was stopped (wrong API key, host unreachable)
  2    usage or input error (also: invalid lines under --dry-run)
  130  interrupted by Ctrl-C
  141  stdout was closed early (for example piped into `head`)"""


def say(message: str) -> None:
    """Print a message for the user (not a result) on stderr."""
    print(message, file=sys.stderr, flush=True)


def add_command(commands: Any, name: str, *, help: str, description: str,
                epilog: str) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` ends with ``epilog`` (examples, input, exit codes)
    laid out as written."""
    return commands.add_parser(  # type: ignore[no-any-return]
        name, help=help, description=description,
        epilog=f"{epilog.rstrip()}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter)


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
            f"expected REQUESTS/SECONDS such as 120/60, or off; got {text!r}") from None
    if value[0] < 1 or not value[1] > 0 or value[1] == float("inf"):
        raise argparse.ArgumentTypeError(
            f"rate limit must be positive, got {text!r} (use 'off' for no limit)")
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
        >>> fraction("0.05")
        0.05
        >>> fraction("2")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a share from 0 to 1, got '2'
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


def add_signal_handler(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
        loop.add_signal_handler(signal.SIGINT, callback)


def remove_signal_handler(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.remove_signal_handler(signal.SIGINT)
