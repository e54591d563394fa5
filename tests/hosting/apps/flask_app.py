"""Flask app behind waitress (32 threads) sharing ONE blocking ``HelpCrunch``.

``POST /customers/{id}`` calls ``update_customer`` on the module-level client, from
whichever of waitress's threads serves it. Run: ``python flask_app.py PORT``; SIGINT
stops waitress (whose own sockets are closed here: its ``run()`` leaves them open), then
the client is closed.
"""

from __future__ import annotations

import sys
from typing import Any

import waitress
from app_common import API_KEY, BASE_URL, DONE, failed, report_shutdown
from flask import Flask
from waitress import wasyncore

import helpcrunch_async as hc

client = hc.HelpCrunch(API_KEY, base_url=BASE_URL, rate_limit=None)
app = Flask(__name__)


@app.post("/customers/<int:customer_id>")
def update_customer(customer_id: int) -> dict[str, Any]:
    try:
        client.update_customer(customer_id, name=f"flask {customer_id}")
    except Exception as exc:
        return failed(exc)
    return DONE


if __name__ == "__main__":
    sockets: dict[int, Any] = {}  # waitress's socket map, to close it on the way out
    server = waitress.create_server(
        app,
        map=sockets,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        threads=32,
        connection_limit=1000,
        backlog=4096,
    )
    try:
        server.run()  # until SIGINT: then it stops its threads, but closes no socket
    finally:
        wasyncore.close_all(sockets)  # so that its sockets do not show as unclosed
        client.close()
        report_shutdown(client)
