"""Real receivers for the fake's deliveries: an aiohttp.web app, and uvicorn in a thread
(the FastAPI app is in ``fastapi_receiver.py``, imported by the tests that run it: FastAPI
takes a third of a second to import, in every worker that collects this module)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from _ports import free_port
from aiohttp import web

from helpcrunch_async.webhooks import Event, aiohttp_handler

KEY = "whsec-fake-SIGNING-key"


class Recorder:
    """Records events; fails the first ``fail_first`` deliveries of each event id."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.events: list[Event] = []
        self.fail_first = fail_first
        self.delay = delay
        self._seen: dict[str, int] = {}

    async def __call__(self, event: Event) -> None:
        import asyncio

        self._seen[event.id] = self._seen.get(event.id, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._seen[event.id] <= self.fail_first:
            raise RuntimeError("receiver failing on purpose")
        self.events.append(event)


@contextlib.asynccontextmanager
async def aiohttp_receiver(recorder: Recorder) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hooks", aiohttp_handler(KEY, recorder))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def uvicorn_in_thread(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
