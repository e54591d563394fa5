"""The ``helpcrunch`` command (also ``python -m helpcrunch_async``).

It uses the library and the library never imports it. Commands:

* ``helpcrunch update-customers FILE`` (:mod:`._update`) — a bulk update from JSON Lines or
  CSV (format: :mod:`._jobfile`), with progress (:mod:`._progress`), a report and
  ``--resume``.
* ``helpcrunch get ID``, ``helpcrunch find --user-id U | --email E`` (:mod:`._find`) —
  one customer as JSON; ``helpcrunch export`` (:mod:`._export`) — every (matching)
  customer as JSON Lines that ``update-customers`` reads back. Connection options and
  API failures: :mod:`._connect`. ``update-customers --match user_id|email`` finds each
  line's customer first (:mod:`._resolve`).
* ``helpcrunch demo`` (:mod:`._demo`) — a bulk update against the built-in fake server:
  no key needed.
* ``helpcrunch fake-server`` (:mod:`._fake_server`) — serve the fake HelpCrunch API for
  manual tests and benchmarks.

Results go to stdout; progress, warnings and errors to stderr. Shared pieces (exit
codes, option types, help layout) live in :mod:`._common`; what ``update-customers``
and ``sync`` share as jobs over input lines (line options, report, failures on screen,
Ctrl-C, the ending) in :mod:`._job`; each subcommand module has
``add_parser(commands)`` and ``run(args)``.

Exit codes: 0 all done; 1 some items failed, or the job stopped early (HelpCrunch
refused the API key, the host cannot be reached, the report could not be written), or
an output could not be written (stdout on a full disk: one line naming it, no
traceback); 2 usage or input errors (also: invalid lines under ``--dry-run``); 130
interrupted by Ctrl-C (the report holds everything finished; ``--resume`` goes on from
there); 141 stdout was closed while the command still wrote (``helpcrunch export |
head -1``): nothing more is printed, as with ``git``.
"""

from ._main import main

__all__ = ["main"]
