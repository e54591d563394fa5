"""The fake's routes: which store call answers which documented endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._search import list_page, search_page
from ._store import CustomerStore
from ._wire import ApiError, parse_customer_id

__all__ = ["route"]


def route(
    store: CustomerStore,
    method: str,
    path: str,
    body: Any,
    query: Mapping[str, str],
    *,
    invalid_json: bool = False,
) -> tuple[int, Any]:
    """Dispatch one request to the store; returns (status, JSON payload).

    ``body`` is the parsed JSON body (``None`` when empty); ``invalid_json`` says the
    body was there but was not JSON.
    """
    try:
        parts = path.rstrip("/").split("/")
        if len(parts) < 3 or parts[1] != "v1" or parts[2] != "customers":
            raise ApiError(404, [{"code": "not_found", "message": "Not found"}])
        rest = parts[3:]
        if invalid_json and method in ("POST", "PUT", "PATCH", "DELETE"):
            raise ApiError(400, [{"code": "body", "message": "Invalid JSON."}])
        if not rest:
            if method == "POST":
                return 201, store.create(body)
            if method == "GET":
                return 200, list_page(store.customers.values(), query)
        elif len(rest) == 1:
            if rest[0] == "batch" and method == "PUT":
                return 200, store.batch(body)
            if rest[0] == "search" and method == "POST":
                return 200, search_page(store.customers.values(), body)
            if method in ("GET", "PUT", "PATCH", "DELETE"):
                cid = parse_customer_id(rest[0])
                if method == "GET":
                    return 200, store.get(cid)
                if method == "DELETE":
                    return 200, store.delete(cid)
                return 200, store.update(cid, body, replace=method == "PUT")
        elif len(rest) == 2 and rest[1] == "tags":
            if method in ("PUT", "DELETE"):
                cid = parse_customer_id(rest[0])
                return 200, store.tag(cid, body, remove=method == "DELETE")
        else:
            raise ApiError(404, [{"code": "not_found", "message": "Not found"}])
        raise ApiError(405, [{"code": "method_not_allowed", "message": "Method not allowed"}])
    except ApiError as exc:
        return exc.status, exc.body()
