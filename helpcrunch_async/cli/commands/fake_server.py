"""``helpcrunch fake-server``: serve the fake HelpCrunch API on loopback until Ctrl-C."""

from __future__ import annotations

import argparse

from .._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_listen_options,
    add_rate_limit_option,
    fraction,
    non_negative_int,
    say,
)
from .webhooks import SIGNING_KEY_ENV, signing_key

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "run"]


HELP = "serve the fake HelpCrunch API"

DESCRIPTION = (
    "Serve the fake HelpCrunch API on loopback until Ctrl-C. It accepts "
    "only the key given by --api-key (default: test-key)."
)

EPILOG = """\
Examples:
  helpcrunch fake-server --port 8080
  # in another shell, paste the two export lines it prints, then:
  helpcrunch get 1
  helpcrunch fake-server --webhook-url http://127.0.0.1:8000/hooks --webhook-signing-key k

Input: none. Prints its base URL and key on stdout, then the export lines
(HELPCRUNCH_API_KEY, HELPCRUNCH_BASE_URL) that point the clients and this command at
it, then serves until Ctrl-C."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch fake-server``."""
    add_listen_options(parser, port=8080)
    parser.add_argument(
        "--api-key",
        default="test-key",
        help="the only API key the fake accepts (default: %(default)s)",
    )
    add_rate_limit_option(
        parser, default=(120, 60.0), help="sliding window (default 120/60, HelpCrunch's; off: none)"
    )
    parser.add_argument(
        "--retry-after",
        action="store_true",
        help="send Retry-After on 429 (the real API's headers are undocumented)",
    )
    parser.add_argument(
        "--fault-rate",
        type=fraction,
        default=0.0,
        help="share of requests failed on purpose (5xx, drops; default 0)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the injected faults (default: random)"
    )
    parser.add_argument(
        "--customers",
        type=non_negative_int,
        default=1000,
        help="customers to create (default %(default)s)",
    )
    parser.add_argument(
        "--webhook-url",
        metavar="URL",
        default=None,
        help="post a signed webhook here for every change made through the "
        "API (customer.new, customer.email_updated, ...)",
    )
    parser.add_argument(
        "--webhook-signing-key",
        metavar="KEY",
        default=None,
        help=f"the key webhooks are signed with (default: ${SIGNING_KEY_ENV})",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    from ...testing import run_fake_server

    key = signing_key(args.webhook_signing_key)
    if args.webhook_url is not None and key is None:
        say(f"helpcrunch: --webhook-url needs --webhook-signing-key or ${SIGNING_KEY_ENV}")
        return EXIT_USAGE
    try:
        run_fake_server(
            args.host,
            args.port,
            api_key=args.api_key,
            rate_limit=args.rate_limit,
            retry_after=args.retry_after,
            fault_rate=args.fault_rate,
            seed=args.seed,
            customers=args.customers,
            webhook_url=args.webhook_url,
            webhook_signing_key=key if args.webhook_url else None,
        )
    except OSError as exc:  # the port is taken, the host is not an address of this machine
        say(f"helpcrunch: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return EXIT_USAGE
    return EXIT_OK
