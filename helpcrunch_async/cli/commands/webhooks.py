"""``helpcrunch webhooks listen|trigger``: receive signed webhooks, or send a sample one.

``listen`` serves on loopback, verifies each delivery's ``X-HelpCrunch-Signature``
with the signing key, prints each verified event as one JSON line on stdout (the body
as received) and each refused delivery as one line on stderr, like ``stripe listen``.
``trigger`` sends a sample event of a type to your receiver, signed with the same key.

Exit codes: ``listen`` 0 when stopped by Ctrl-C, 2 when it cannot listen or has no key;
``trigger`` 0 when the receiver answered 2xx, 1 otherwise (one line says what came
back), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from aiohttp import web

from ...webhooks import (
    CUSTOMER_EVENT_TYPES,
    DeliveryError,
    InvalidEventError,
    SignatureError,
    construct_event,
    read_signature,
    sample_event,
    send_event,
)
from .._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_listen_options,
    emit,
    flush_stdout,
    say,
)
from .._connect import json_line

__all__ = [
    "DESCRIPTION",
    "EPILOG",
    "HELP",
    "SIGNING_KEY_ENV",
    "add_arguments",
    "run",
    "signing_key",
]

SIGNING_KEY_ENV = "HELPCRUNCH_WEBHOOK_SIGNING_KEY"

HELP = "receive signed webhooks (listen), or send a sample one (trigger)"

DESCRIPTION = (
    "listen: serve on loopback and print each verified webhook as one JSON line. "
    "trigger: send a sample event, signed, to your receiver. The signing key is "
    f"--signing-key or ${SIGNING_KEY_ENV}."
)

EPILOG = f"""\
Examples:
  export {SIGNING_KEY_ENV}=...        # Settings -> Developers -> Webhooks
  helpcrunch webhooks listen --port 8000 | jq .event
  helpcrunch webhooks trigger http://127.0.0.1:8000/hooks customer.new

listen: every POST, on any path, is verified against the raw body; a verified event is
printed on stdout as received and answered 200; a missing, malformed or wrong
signature, or a signed body that is not an event, is one line on stderr and answered
400. Pair it with `helpcrunch fake-server --webhook-url` to see the fake's deliveries.

trigger: EVENT is any event type; customer types ({", ".join(sorted(CUSTOMER_EVENT_TYPES))})
carry a sample customer. The event sent is printed on stdout."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch webhooks``."""
    actions = parser.add_subparsers(dest="webhooks_action", metavar="ACTION", required=True)
    listen = actions.add_parser("listen", help="print each verified webhook as a JSON line")
    add_listen_options(listen, port=8000)
    trigger = actions.add_parser("trigger", help="send a sample event, signed, to a URL")
    trigger.add_argument("url", help="your receiver, e.g. http://127.0.0.1:8000/hooks")
    trigger.add_argument("event", help="the event type, e.g. customer.new")
    for sub in (listen, trigger):
        sub.add_argument(
            "--signing-key",
            metavar="KEY",
            default=None,
            help=f"the HTTP Webhook Signing Key (default: ${SIGNING_KEY_ENV})",
        )


def signing_key(given: str | None) -> str | None:
    """The webhook signing key: the option given, else ``$HELPCRUNCH_WEBHOOK_SIGNING_KEY``
    (an empty value counts as none)."""
    return given or os.environ.get(SIGNING_KEY_ENV) or None


def run(args: argparse.Namespace) -> int:
    """Run ``webhooks listen`` or ``webhooks trigger``; returns the exit code."""
    key = signing_key(args.signing_key)
    if key is None:
        say(f"helpcrunch: no signing key: give --signing-key or set ${SIGNING_KEY_ENV}")
        return EXIT_USAGE
    if args.webhooks_action == "listen":
        return _listen(args.host, args.port, key)
    return _trigger(args.url, args.event, key)


def _listen(host: str, port: int, key: str) -> int:
    async def serve() -> None:
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                construct_event(body, read_signature(request.headers), key)
            except SignatureError as exc:
                say(f"helpcrunch: refused a delivery to {request.path}: {exc.reason} signature")
                return web.Response(status=400, text="invalid signature")
            except InvalidEventError as exc:
                say(f"helpcrunch: refused a delivery to {request.path}: {exc}")
                return web.Response(status=400, text="invalid event")
            try:
                emit(body.decode("utf-8").strip())
                flush_stdout()
            except (BrokenPipeError, OutputError) as exc:  # stdout gone: stop listening
                if not failed.done():
                    failed.set_exception(exc)
                return web.Response(status=503, text="not delivered")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/{tail:.*}", receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0][1]
            say(f"helpcrunch: listening on http://{host}:{bound}/ (Ctrl-C to stop)")
            await failed
        finally:
            await runner.cleanup()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
    except OSError as exc:  # the port is taken, the host is not an address of this machine
        if isinstance(exc, BrokenPipeError):
            raise
        say(f"helpcrunch: cannot listen on {host}:{port}: {exc.strerror or exc}")
        return EXIT_USAGE
    return EXIT_OK


def _trigger(url: str, event_type: str, key: str) -> int:
    event = sample_event(event_type)
    try:
        status = asyncio.run(send_event(url, event, key))
    except DeliveryError as exc:
        say(f"helpcrunch: {exc}")
        return EXIT_FAILED
    delivered = 200 <= status < 300
    if delivered:
        emit(json_line(event, sys.stdout))
    say(f"helpcrunch: {url} answered {status} to {event_type} (id {event['id']})")
    return EXIT_OK if delivered else EXIT_FAILED
