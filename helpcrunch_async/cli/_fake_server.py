"""``helpcrunch fake-server``: serve the fake HelpCrunch API on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, parse_rate_limit

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add ``fake-server`` to the subcommands of the ``helpcrunch`` parser."""
    fake = commands.add_parser("fake-server", help="serve the fake HelpCrunch API",
                               description="Serve the fake HelpCrunch API until Ctrl-C.")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8080)
    fake.add_argument("--api-key", default="test-key")
    fake.add_argument("--rate-limit", type=parse_rate_limit, default=(120, 60.0),
                      metavar="N/SECONDS", help="sliding window (default 120/60; off)")
    fake.add_argument("--retry-after", action="store_true",
                      help="send Retry-After on 429 (the real API's headers are undocumented)")
    fake.add_argument("--fault-rate", type=float, default=0.0)
    fake.add_argument("--seed", type=int, default=None)
    fake.add_argument("--customers", type=int, default=1000, help="customers to create")
    fake.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    from ..testing import run_fake_server

    run_fake_server(args.host, args.port, api_key=args.api_key, rate_limit=args.rate_limit,
                    retry_after=args.retry_after, fault_rate=args.fault_rate, seed=args.seed,
                    customers=args.customers)
    return EXIT_OK
