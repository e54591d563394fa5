"""``helpcrunch get ID``: one customer by HelpCrunch's id, printed on stdout as one line
of JSON — the customer exactly as HelpCrunch answered (every key, read-only ones such
as ``location`` included), so it can go on to ``jq`` or a file as it is.

Exit codes: 0 found; 1 no such customer (or the request failed); 2 a usage error (an
id that is not one).
"""

from __future__ import annotations

import argparse

from ..._client import AsyncHelpCrunch
from ..._config import API_KEY_ENV
from ..._exceptions import NotFoundError
from ..._validation import check_customer_id
from .._common import EXIT_FAILED, EXIT_OK, say
from .._connect import add_client_options, emit_customer, run_with_client

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "run"]

EPILOG = f"""\
Examples:
  export {API_KEY_ENV}=...
  helpcrunch get 1568834
  helpcrunch get 1568834 | jq .customData

Output: the customer as one line of JSON on stdout, every key as HelpCrunch answered
(location, device and keys the SDK does not know included). No such customer: exit 1,
a message on stderr, nothing on stdout."""


HELP = "print one customer by HelpCrunch's id, as JSON"

DESCRIPTION = (
    "Print the customer with this HelpCrunch id as one line of JSON, as "
    f"HelpCrunch answered it. The API key is read from ${API_KEY_ENV}."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch get``."""
    parser.add_argument("id", help="HelpCrunch's numeric customer id, e.g. 1568834")
    add_client_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``get``; returns the exit code."""
    customer_id = check_customer_id(args.id)  # a bad id is a usage error: nothing sent

    async def work(client: AsyncHelpCrunch) -> int:
        try:
            customer = await client.get_customer(customer_id)
        except NotFoundError:
            say(f"helpcrunch: no customer with id {customer_id}")
            return EXIT_FAILED
        emit_customer(customer)
        return EXIT_OK

    return run_with_client(args, work)
