"""aiohttp.web app: an ``AsyncHelpCrunch`` made on startup and closed on cleanup
(``cleanup_ctx``). ``POST /customers/{id}`` awaits ``update_customer``.

Run: ``python aiohttp_app.py PORT`` (``web.run_app``: SIGINT/SIGTERM shut it down cleanly).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from aiohttp import web
from app_common import API_KEY, BASE_URL, DONE, areport_shutdown, failed

import helpcrunch_async as hc

CLIENT = web.AppKey("helpcrunch", hc.AsyncHelpCrunch)


async def helpcrunch_client(app: web.Application) -> AsyncIterator[None]:
    async with hc.AsyncHelpCrunch(API_KEY, base_url=BASE_URL, rate_limit=None) as client:
        app[CLIENT] = client
        yield
    await areport_shutdown(client)


async def update_customer(request: web.Request) -> web.Response:
    customer_id = int(request.match_info["customer_id"])
    try:
        await request.app[CLIENT].update_customer(customer_id, name=f"aiohttp {customer_id}")
    except Exception as exc:
        return web.json_response(failed(exc))
    return web.json_response(DONE)


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(helpcrunch_client)
    app.router.add_post("/customers/{customer_id}", update_customer)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, backlog=4096)
