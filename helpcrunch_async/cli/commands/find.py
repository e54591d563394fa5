"""``helpcrunch get ID`` and ``helpcrunch find --user-id U | --email E``: one customer,
printed on stdout as one line of JSON — the customer exactly as HelpCrunch answered
(every key, read-only ones such as ``location`` included), so it can go on to ``jq``
or a file as it is.

Exit codes: 0 found; 1 no such customer (or the request failed); 2 several customers
match (``find``: emails are not unique in HelpCrunch; their ids are listed on stderr,
none is picked), or a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..._client import AsyncHelpCrunch
from ..._config import API_KEY_ENV
from ..._exceptions import AmbiguousCustomerError, NotFoundError
from ..._models import Customer
from ..._validation import check_customer_id
from .._common import EXIT_FAILED, EXIT_OK, add_command, emit, say
from .._connect import add_client_options, json_line, run_with_client

__all__ = ["EXIT_AMBIGUOUS", "add_parser", "run_find", "run_get"]

EXIT_AMBIGUOUS = 2
"""``find``: several customers match; the same code as a usage error, as the lookup
needs a narrower key."""


_GET_EPILOG = f"""\
Examples:
  export {API_KEY_ENV}=...
  helpcrunch get 1568834
  helpcrunch get 1568834 | jq .customData

Output: the customer as one line of JSON on stdout, every key as HelpCrunch answered
(location, device and keys the SDK does not know included). No such customer: exit 1,
a message on stderr, nothing on stdout."""

_FIND_EPILOG = """\
Examples:
  helpcrunch find --user-id u-42
  helpcrunch find --email ann@example.com > ann.json

Output: the customer as one line of JSON on stdout, as HelpCrunch answered. userId is
matched exactly, email ignoring case. Nobody matches: exit 1. Several customers match
(HelpCrunch does not enforce unique emails): exit 2, their ids on stderr, none picked."""


def add_parser(commands: Any) -> None:
    """Add ``get`` and ``find`` to the subcommands of the ``helpcrunch`` parser."""
    get = add_command(
        commands, "get", help="print one customer by HelpCrunch's id, as JSON",
        description="Print the customer with this HelpCrunch id as one line of JSON, as "
                    f"HelpCrunch answered it. The API key is read from ${API_KEY_ENV}.",
        epilog=_GET_EPILOG)
    get.add_argument("id", help="HelpCrunch's numeric customer id, e.g. 1568834")
    add_client_options(get)
    get.set_defaults(run=run_get)

    find = add_command(
        commands, "find", help="print the one customer with this user id or email, as JSON",
        description="Search for the customer with this userId (your own id for them) or "
                    "email and print it as one line of JSON, as HelpCrunch answered it. "
                    f"The API key is read from ${API_KEY_ENV}.",
        epilog=_FIND_EPILOG)
    key = find.add_mutually_exclusive_group(required=True)
    key.add_argument("--user-id", metavar="U", help="your own id for the customer (userId)")
    key.add_argument("--email", metavar="E", help="the customer's email")
    add_client_options(find)
    find.set_defaults(run=run_find)


def _print(customer: Customer) -> None:
    emit(json_line(dict(customer.raw), sys.stdout))


def run_get(args: argparse.Namespace) -> int:
    """Run ``get``; returns the exit code."""
    customer_id = check_customer_id(args.id)  # a bad id is a usage error: nothing sent

    async def work(client: AsyncHelpCrunch) -> int:
        try:
            customer = await client.get_customer(customer_id)
        except NotFoundError:
            say(f"helpcrunch: no customer with id {customer_id}")
            return EXIT_FAILED
        _print(customer)
        return EXIT_OK

    return run_with_client(args, work)


def run_find(args: argparse.Namespace) -> int:
    """Run ``find``; returns the exit code."""
    field, value = (("user_id", args.user_id) if args.user_id is not None
                    else ("email", args.email))

    async def work(client: AsyncHelpCrunch) -> int:
        try:
            customer = await client.find_customer(**{field: value})
        except AmbiguousCustomerError as exc:
            say(f"helpcrunch: {exc}; see each with `helpcrunch get ID`")
            return EXIT_AMBIGUOUS
        if customer is None:
            say(f"helpcrunch: no customer has {field} {value!r}")
            return EXIT_FAILED
        _print(customer)
        return EXIT_OK

    return run_with_client(args, work)
