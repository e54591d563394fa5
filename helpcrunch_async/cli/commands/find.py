"""``helpcrunch find --user-id U | --email E``: the one customer with this key, printed
on stdout as one line of JSON, as HelpCrunch answered (as ``helpcrunch get`` prints it).

Exit codes: 0 found; 1 no such customer (or the request failed); 2 several customers
match (emails are not unique in HelpCrunch; their ids are listed on stderr, none is
picked), or a usage error.
"""

from __future__ import annotations

import argparse

from ..._client import AsyncHelpCrunch
from ..._config import API_KEY_ENV
from ..._exceptions import AmbiguousCustomerError
from .._common import EXIT_FAILED, EXIT_OK, say
from .._connect import add_client_options, emit_customer, run_with_client

__all__ = ["DESCRIPTION", "EPILOG", "EXIT_AMBIGUOUS", "HELP", "add_arguments", "run"]

EXIT_AMBIGUOUS = 2
"""Several customers match; the same code as a usage error, as the lookup needs a
narrower key."""

EPILOG = """\
Examples:
  helpcrunch find --user-id u-42
  helpcrunch find --email ann@example.com > ann.json

Output: the customer as one line of JSON on stdout, as HelpCrunch answered. userId is
matched exactly, email ignoring case. Nobody matches: exit 1. Several customers match
(HelpCrunch does not enforce unique emails): exit 2, their ids on stderr, none picked."""


HELP = "print the one customer with this user id or email, as JSON"

DESCRIPTION = (
    "Search for the customer with this userId (your own id for them) or "
    "email and print it as one line of JSON, as HelpCrunch answered it. "
    f"The API key is read from ${API_KEY_ENV}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch find``."""
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--user-id", metavar="U", help="your own id for the customer (userId)")
    key.add_argument("--email", metavar="E", help="the customer's email")
    add_client_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``find``; returns the exit code."""
    field, value = ("user_id", args.user_id) if args.user_id is not None else ("email", args.email)

    async def work(client: AsyncHelpCrunch) -> int:
        try:
            customer = await client.find_customer(**{field: value})
        except AmbiguousCustomerError as exc:
            say(f"helpcrunch: {exc}; see each with `helpcrunch get ID`")
            return EXIT_AMBIGUOUS
        if customer is None:
            say(f"helpcrunch: no customer has {field} {value!r}")
            return EXIT_FAILED
        emit_customer(customer)
        return EXIT_OK

    return run_with_client(args, work)
