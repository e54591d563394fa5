"""FastAPI app: an ``AsyncHelpCrunch`` opened in the lifespan, closed at shutdown.

``POST /customers/{id}`` awaits ``update_customer`` on the lifespan's client (the
recipe). ``POST /blocking/customers/{id}`` is a plain ``def`` endpoint — FastAPI runs it
in its thread pool — calling one module-level blocking ``HelpCrunch`` shared by every
thread of that pool. Run: ``uvicorn fastapi_app:app --app-dir tests/hosting/apps``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app_common import API_KEY, BASE_URL, DONE, areport_shutdown, failed
from fastapi import FastAPI, Request

import helpcrunch_async as hc

blocking_client = hc.HelpCrunch(API_KEY, base_url=BASE_URL, rate_limit=None)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with hc.AsyncHelpCrunch(API_KEY, base_url=BASE_URL, rate_limit=None) as client:
        app.state.helpcrunch = client
        yield
    blocking_client.close()
    await areport_shutdown(client, blocking_client)


app = FastAPI(lifespan=lifespan)


@app.post("/customers/{customer_id}")
async def update_customer(customer_id: int, request: Request) -> dict[str, Any]:
    client: hc.AsyncHelpCrunch = request.app.state.helpcrunch
    try:
        await client.update_customer(customer_id, name=f"fastapi {customer_id}")
    except Exception as exc:
        return failed(exc)
    return DONE


@app.post("/blocking/customers/{customer_id}")
def update_customer_sync(customer_id: int) -> dict[str, Any]:
    try:
        blocking_client.update_customer(customer_id, name=f"fastapi blocking {customer_id}")
    except Exception as exc:
        return failed(exc)
    return DONE
