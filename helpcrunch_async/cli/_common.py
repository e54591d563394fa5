"""What the ``helpcrunch`` subcommands share: exit codes, option parsers, Ctrl-C hooks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_signal_handler",
    "parse_rate_limit",
    "remove_signal_handler",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``"120/60"`` → ``(120, 60.0)``; ``"off"`` → ``None``.

    Example:
        >>> parse_rate_limit("120/60")
        (120, 60.0)
    """
    if text.strip().lower() in ("off", "none", "0"):
        return None
    requests, slash, period = text.partition("/")
    try:
        value = (int(requests), float(period) if slash else 60.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS such as 120/60, or off; got {text!r}") from None
    if value[0] < 1 or value[1] <= 0:
        raise argparse.ArgumentTypeError(f"rate limit must be positive, got {text!r}")
    return value


def add_signal_handler(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not main thread
        loop.add_signal_handler(signal.SIGINT, callback)


def remove_signal_handler(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.remove_signal_handler(signal.SIGINT)
