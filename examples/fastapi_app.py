"""A FastAPI app that looks customers up and upgrades their plan, with one client for the
whole app (opened in the lifespan, closed at shutdown).

    export HELPCRUNCH_API_KEY=...                  # and HELPCRUNCH_BASE_URL for the fake
    uvicorn --app-dir examples fastapi_app:app --port 8000
    curl localhost:8000/customers/by-email/customer1@example.com
    curl -X POST localhost:8000/customers/1/plan -H 'content-type: application/json' \\
        -d '{"plan": "pro"}'
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import helpcrunch_async as hc


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with hc.AsyncHelpCrunch() as client:  # $HELPCRUNCH_API_KEY, $HELPCRUNCH_BASE_URL
        app.state.helpcrunch = client
        yield  # the app serves here; the client is closed after it


app = FastAPI(lifespan=lifespan)


class Plan(BaseModel):
    plan: str


def helpcrunch(request: Request) -> hc.AsyncHelpCrunch:
    client: hc.AsyncHelpCrunch = request.app.state.helpcrunch
    return client


@app.get("/customers/by-email/{email}")
async def customer_by_email(email: str, request: Request) -> dict[str, object]:
    customer = await helpcrunch(request).find_customer(email=email, timeout=5)
    if customer is None:
        raise HTTPException(404, f"no customer with email {email}")
    return {"id": customer.id, "name": customer.name, "plan": customer.custom_data.get("plan")}


@app.post("/customers/{customer_id}/plan")
async def set_plan(customer_id: int, body: Plan, request: Request) -> dict[str, object]:
    customer = await helpcrunch(request).update_customer(
        customer_id, custom_data={"plan": body.plan}, timeout=5
    )  # 5 s at most, retries too
    return {"id": customer.id, "plan": customer.custom_data.get("plan")}


@app.exception_handler(hc.NotFoundError)
async def not_found(request: Request, exc: hc.NotFoundError) -> JSONResponse:
    return JSONResponse({"error": "no such customer"}, status_code=404)


@app.exception_handler(hc.HelpCrunchError)
async def helpcrunch_failed(request: Request, exc: hc.HelpCrunchError) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__}, status_code=502)
