"""A FastAPI receiver for the fake's deliveries (run with ``receiver_apps.uvicorn_in_thread``).

Its own module, imported inside the tests that use it: importing FastAPI costs about a
third of a second, and every pytest-xdist worker imports every module it collects.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from receiver_apps import KEY

from helpcrunch_async.webhooks import Event, verify_request


def fastapi_app(received: list[Event], fail_first: int) -> FastAPI:
    """Answers 500 to the first ``fail_first`` correctly signed deliveries."""
    app = FastAPI()
    calls: list[int] = []

    @app.post("/helpcrunch/webhooks")
    async def webhook(request: Request) -> Response:
        status, event = verify_request(await request.body(), request.headers, KEY)
        if event is not None:
            calls.append(1)
            if len(calls) <= fail_first:
                return Response(status_code=500)
            received.append(event)
        return Response(status_code=status)

    return app
