"""Loaded by every Python process of a recipe's run (this folder is on ``PYTHONPATH``).

When the process ends, it prints on stderr how many TCP connections it still holds to
the fake HelpCrunch (the port of ``$HELPCRUNCH_BASE_URL``), after a ``gc.collect()``:
``helpcrunch exit: pid=N via=atexit sockets_to_fake=N``. A client closed by then
leaves none.

* ``via=atexit``: a normal exit. Registered first, this runs after every other
  ``atexit`` function (the SDK's finalizers have run by then).
* ``via=os._exit``: a process that skips every cleanup (a Celery pool process ends
  so): reported just before it ends.

A process that a signal ends prints nothing.
"""

from __future__ import annotations

import atexit
import os
import sys
from urllib.parse import urlsplit


def _report(port: int, via: str) -> None:
    import gc

    import psutil

    gc.collect()
    held = sum(
        1 for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port
    )
    print(
        f"helpcrunch exit: pid={os.getpid()} via={via} sockets_to_fake={held}",
        file=sys.stderr,
        flush=True,
    )


def _install(port: int) -> None:
    atexit.register(_report, port, "atexit")
    real_exit = os._exit

    def _exit(code: int) -> None:  # os._exit, reporting first
        try:
            _report(port, "os._exit")
        finally:
            real_exit(code)

    os._exit = _exit  # type: ignore[assignment]


_port = urlsplit(os.environ.get("HELPCRUNCH_BASE_URL", "")).port
if _port is not None:
    _install(_port)
