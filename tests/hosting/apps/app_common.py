"""What every app of the hosting suite shares: the fake's address, and the answer format.

Each app answers every request with HTTP 200 and ``{"outcome": ...}``: ``"done"`` when
the SDK call returned, ``"hc_error"`` when it raised a ``HelpCrunchError``, ``"other"``
for anything else (a bare ``RuntimeError`` of the SDK, say) — so the test counts every
outcome exactly, with no framework's error page in between.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import psutil

import helpcrunch_async as hc

API_KEY = os.environ["HC_API_KEY"]
BASE_URL = os.environ["HC_BASE_URL"]

DONE: dict[str, Any] = {"outcome": "done"}


def failed(exc: BaseException) -> dict[str, Any]:
    """The answer for a call that raised ``exc``."""
    outcome = "hc_error" if isinstance(exc, hc.HelpCrunchError) else "other"
    return {"outcome": outcome, "type": type(exc).__name__, "message": str(exc)}


def sockets_to_fake() -> int:
    """This process's TCP connections to the fake HelpCrunch still open."""
    port = urlsplit(BASE_URL).port
    return sum(
        1 for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port
    )


def report_shutdown(*clients: hc.AsyncHelpCrunch | hc.HelpCrunch) -> None:
    """Print, once the app's clients are closed, what the test checks of that.

    ``gc.collect()`` first, so that a session or connector left unclosed warns now
    (the test runs the app with ``-W always::ResourceWarning``) rather than never: a
    server killed by the signal it re-raises (uvicorn) ends without finalizing anything.
    A socket gets a moment (up to 2 s) to go.
    """
    gc.collect()
    deadline = time.monotonic() + 2.0
    while sockets_to_fake() and time.monotonic() < deadline:
        time.sleep(0.01)
    _print_report(clients)


async def areport_shutdown(*clients: hc.AsyncHelpCrunch | hc.HelpCrunch) -> None:
    """:func:`report_shutdown` on a running event loop (a transport closes on the loop's
    next pass, so the loop must keep running while the sockets are counted)."""
    gc.collect()
    deadline = time.monotonic() + 2.0
    while sockets_to_fake() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling the OS
        await asyncio.sleep(0.01)
    _print_report(clients)


def _print_report(clients: tuple[hc.AsyncHelpCrunch | hc.HelpCrunch, ...]) -> None:
    report = {"closed": all(c.closed for c in clients), "sockets_to_fake": sockets_to_fake()}
    print(f"helpcrunch shutdown: {json.dumps(report)}", flush=True)
