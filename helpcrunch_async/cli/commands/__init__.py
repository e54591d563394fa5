"""The ``helpcrunch`` subcommands, one module each, in the order ``helpcrunch --help``
lists them. Each module has its parser (``add_parser(commands)``: help, examples, exit
codes) and its ``run(args)``, which returns the exit code."""

from . import demo, export, fake_server, find, get, sync, update_customers

__all__ = ["COMMANDS"]

COMMANDS = (update_customers, sync, get, find, export, demo, fake_server)
