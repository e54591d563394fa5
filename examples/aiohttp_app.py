"""An aiohttp.web app that looks customers up and upgrades their plan, with one client for
the whole app (made on startup, closed on cleanup).

    export HELPCRUNCH_API_KEY=...                  # and HELPCRUNCH_BASE_URL for the fake
    python examples/aiohttp_app.py --port 8000
    curl localhost:8000/customers/by-email/customer1@example.com
    curl -X POST localhost:8000/customers/1/plan -d '{"plan": "pro"}'
"""

import argparse
from collections.abc import AsyncIterator

from aiohttp import web

import helpcrunch_async as hc

HELPCRUNCH = web.AppKey("helpcrunch", hc.AsyncHelpCrunch)


async def helpcrunch_client(app: web.Application) -> AsyncIterator[None]:
    async with hc.AsyncHelpCrunch() as client:  # $HELPCRUNCH_API_KEY, $HELPCRUNCH_BASE_URL
        app[HELPCRUNCH] = client
        yield  # the app serves here; the client is closed on cleanup


async def customer_by_email(request: web.Request) -> web.Response:
    email = request.match_info["email"]
    customer = await request.app[HELPCRUNCH].find_customer(email=email, timeout=5)
    if customer is None:
        raise web.HTTPNotFound(text=f"no customer with email {email}")
    return web.json_response(
        {"id": customer.id, "name": customer.name, "plan": customer.custom_data.get("plan")}
    )


async def set_plan(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        customer = await request.app[HELPCRUNCH].update_customer(
            int(request.match_info["customer_id"]),
            custom_data={"plan": str(body["plan"])},
            timeout=5,
        )  # 5 s at most, retries included
    except hc.NotFoundError:
        raise web.HTTPNotFound(text="no such customer") from None
    except hc.HelpCrunchError as exc:
        return web.json_response({"error": type(exc).__name__}, status=502)
    return web.json_response({"id": customer.id, "plan": customer.custom_data.get("plan")})


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(helpcrunch_client)
    app.router.add_get("/customers/by-email/{email}", customer_by_email)
    app.router.add_post("/customers/{customer_id}/plan", set_plan)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the example app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port)
