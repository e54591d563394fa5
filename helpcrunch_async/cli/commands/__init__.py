"""The ``helpcrunch`` subcommands, one module each, in the order ``helpcrunch --help``
lists them.

Each module is a :class:`Command`: its one-line ``HELP``, its ``DESCRIPTION`` and
``EPILOG`` (examples, input format; the exit codes are added here), its
``add_arguments(parser)``, and its ``run(args)``, which returns the exit code. The
subcommand's name is the module's, with ``-`` for ``_``."""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from .._common import add_command
from . import demo, export, fake_server, find, get, sync, update_customers, webhooks

__all__ = ["COMMANDS", "Command", "add_commands"]


class Command(Protocol):
    """What a subcommand's module provides."""

    __name__: str
    HELP: str
    DESCRIPTION: str
    EPILOG: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: tuple[Command, ...] = (
    update_customers,
    sync,
    get,
    find,
    export,
    webhooks,
    demo,
    fake_server,
)


def add_commands(subparsers: Any) -> None:
    """Add every subcommand to the ``helpcrunch`` parser's ``subparsers``."""
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1].replace("_", "-")
        parser = add_command(
            subparsers,
            name,
            help=command.HELP,
            description=command.DESCRIPTION,
            epilog=command.EPILOG,
        )
        command.add_arguments(parser)
        parser.set_defaults(run=command.run)
