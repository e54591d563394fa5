"""The ``helpcrunch`` command (also ``python -m helpcrunch_async``).

It uses the library and the library never imports it. One module per subcommand in
:mod:`.commands` (``update-customers``, ``sync``, ``get``, ``find``, ``export``,
``demo``, ``fake-server``); beside them the pieces they share: the input
(:mod:`._input`, each line's fields in :mod:`._input_line`), the report and
``--resume`` (:mod:`._report`), a job over input lines (:mod:`._line_job`), progress
(:mod:`._progress`), connection options and API failures (:mod:`._connect`), finding
each line's customer for ``--match`` (:mod:`._resolve`), exit codes, option types and
output (:mod:`._common`). Each subcommand module is a
:class:`.commands.Command` (its help texts,
``add_arguments(parser)`` and ``run(args)``). Results go to stdout; progress, warnings
and errors to stderr.

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
