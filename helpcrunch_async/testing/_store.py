"""The fake's customers on plain dicts: create, read, update, tag, delete, seed.

The wire format and the checks on request bodies, with every choice the fake makes
where HelpCrunch's docs are silent, are in :mod:`._wire`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from .._validation import is_int
from ._wire import (
    BATCH_MAX,
    DEFAULT_TAG_COLOR,
    NOT_EXPECTED,
    NUMERIC,
    ApiError,
    JsonDict,
    blank_customer,
    check_fields,
    check_tags,
    custom_value,
    err,
    not_found,
    type_name,
)

__all__ = ["CustomerStore"]


class CustomerStore:
    """The fake's customers, in the documented response format.

    Example:
        >>> store = CustomerStore()
        >>> c = store.create({"name": "Ann", "customData": [{"property": "plan",
        ...                                                   "value": "pro"}]})
        >>> c["id"], c["name"], c["customData"]
        (1, 'Ann', {'plan': 'pro'})
        >>> store.update(1, {"email": "a@example.com"}, replace=True)["name"] is None
        True
    """

    def __init__(self) -> None:
        self.customers: dict[int, JsonDict] = {}
        self.tag_colors: dict[str, str] = {}
        self._next_id = 1
        #: Called with (before, after) for every change made by a request: ``before`` is
        #: ``None`` for a new customer, ``after`` ``None`` for a deleted one (webhooks).
        self.on_change: Callable[[JsonDict | None, JsonDict | None], None] | None = None

    def _before(self, customer: JsonDict) -> JsonDict | None:
        return copy.deepcopy(customer) if self.on_change is not None else None

    def _changed(self, before: JsonDict | None, after: JsonDict | None) -> None:
        if self.on_change is not None:
            self.on_change(before, after)

    # --- reading ------------------------------------------------------------------

    def get(self, customer_id: int) -> JsonDict:
        """The stored customer or a 404."""
        customer = self.customers.get(customer_id)
        if customer is None:
            raise not_found(customer_id)
        return customer

    def delete(self, customer_id: int) -> JsonDict:
        """``DELETE /customers/{id}``: remove the customer (404 when there is none).

        The docs give only the status (200); the fake answers ``{}``.
        """
        self._changed(self.get(customer_id), None)
        del self.customers[customer_id]
        return {}

    # --- writing ------------------------------------------------------------------

    def validate(self, body: Any, prefix: str = "") -> None:
        """Raise a 400 listing every problem in an update/create body."""
        errors: list[JsonDict] = []
        check_fields(body, prefix, errors)
        if errors:
            raise ApiError(400, errors)

    def create(self, body: Any) -> JsonDict:
        """``POST /customers``: a new customer from ``body`` (201)."""
        self.validate(body)
        customer = blank_customer(self._next_id)
        self._next_id += 1
        self._apply(customer, body)
        self.customers[customer["id"]] = customer
        self._changed(None, customer)
        return customer

    def update(self, customer_id: int, body: Any, *, replace: bool) -> JsonDict:
        """``PUT`` (``replace=True``) or ``PATCH`` one customer."""
        customer = self.get(customer_id)
        self.validate(body)
        before = self._before(customer)
        if replace:
            fresh = blank_customer(customer_id)
            fresh["location"] = customer["location"]
            fresh["device"] = customer["device"]
            customer.clear()
            customer.update(fresh)
        self._apply(customer, body)
        if before is not None:
            self._changed(before, customer)
        return customer

    def batch(self, body: Any) -> list[JsonDict]:
        """``PUT /customers/batch``: validate all items, then ``PATCH`` each (atomic)."""
        if not isinstance(body, list):
            raise ApiError(400, [err("customers", type_name("list"))])
        if not 1 <= len(body) <= BATCH_MAX:
            message = (
                "This collection should contain 1 element or more."
                if not body
                else f"This collection should contain {BATCH_MAX} elements or less."
            )
            raise ApiError(400, [err("customers", message)])
        errors: list[JsonDict] = []
        ids: list[int] = []
        for i, item in enumerate(body):
            prefix = f"[{i}]."
            if not isinstance(item, dict):
                errors.append(err(f"[{i}]", type_name("object")))
                continue
            cid = item.get("customer")
            if cid is None:
                errors.append(err(prefix + "customer", "This value should not be blank."))
            elif not is_int(cid):
                errors.append(err(prefix + "customer", NUMERIC))
            else:
                ids.append(cid)
            fields = {k: v for k, v in item.items() if k != "customer"}
            check_fields(fields, prefix, errors)
        if errors:
            raise ApiError(400, errors)
        missing = [cid for cid in ids if cid not in self.customers]
        if missing:
            raise not_found(missing[0])
        out = []
        for item in body:
            customer = self.customers[item["customer"]]
            before = self._before(customer)
            self._apply(customer, {k: v for k, v in item.items() if k != "customer"})
            if before is not None:
                self._changed(before, customer)
            out.append(customer)
        return out

    def tag(self, customer_id: int, body: Any, *, remove: bool) -> JsonDict:
        """``PUT`` (add) or ``DELETE`` (remove) ``/customers/{id}/tags``."""
        customer = self.get(customer_id)
        errors: list[JsonDict] = []
        if not isinstance(body, dict):
            raise ApiError(400, [err("body", type_name("object"))])
        for k in body:
            if k != "tags":
                errors.append(err(k, NOT_EXPECTED))
        if "tags" not in body:
            errors.append(err("tags", "This field is missing."))
        else:
            check_tags(body["tags"], "tags", errors)
        if errors:
            raise ApiError(400, errors)
        before = self._before(customer)
        if remove:
            names = {t["name"] for t in body["tags"]}
            customer["tags"] = [t for t in customer["tags"] if t["name"] not in names]
        else:
            have = {t["name"]: t for t in customer["tags"]}
            for tag in self._resolve_tags(body["tags"]):
                if tag["name"] in have:
                    have[tag["name"]]["color"] = tag["color"]
                else:
                    customer["tags"].append(tag)
                    have[tag["name"]] = tag
        if before is not None:
            self._changed(before, customer)
        return customer

    def _resolve_tags(self, tags: Iterable[JsonDict]) -> list[JsonDict]:
        out: list[JsonDict] = []
        seen: set[str] = set()
        for tag in tags:
            name = tag["name"]
            color = tag.get("color")
            if color is None:
                color = self.tag_colors.get(name, DEFAULT_TAG_COLOR)
            elif self.tag_colors.get(name) != color:
                self._recolor(name, color)
            self.tag_colors[name] = color
            if name not in seen:
                seen.add(name)
                out.append({"name": name, "color": color})
        return out

    def _recolor(self, name: str, color: str) -> None:
        if name not in self.tag_colors:
            return
        for customer in self.customers.values():
            for tag in customer["tags"]:
                if tag["name"] == name:
                    tag["color"] = color

    def _apply(self, customer: JsonDict, body: JsonDict) -> None:
        for key, value in body.items():
            if key == "tags":
                customer["tags"] = [] if value is None else self._resolve_tags(value)
            elif key == "customData":
                if value is None:
                    customer["customData"] = {}
                else:
                    data = customer["customData"]
                    for item in value:
                        data[item["property"]] = custom_value(item["property"], item["value"])
            else:
                customer[key] = value

    # --- seeding ------------------------------------------------------------------

    def seed(
        self, count: int, start_id: int = 1, *, fields: dict[str, Any] | None = None
    ) -> list[int]:
        """Create ``count`` customers with ids ``start_id..``, shaped like the docs.

        Each gets its own ``userId`` (``user_<id>``) and email; ``fields`` (response
        keys, camelCase) overrides values in every one of them.
        """
        if not is_int(count) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        if not is_int(start_id) or start_id < 1:
            raise ValueError(f"start_id must be an int >= 1, got {start_id!r}")
        ids = list(range(start_id, start_id + count))
        for cid in ids:
            customer = blank_customer(cid)
            customer.update(
                {
                    "id": cid,
                    "name": f"Customer {cid}",
                    "email": f"customer{cid}@example.com",
                    "userId": f"user_{cid}",
                    "firstSeen": str(1603885746 + cid),
                    "lastSeen": str(1603885746 + cid),
                    "location": {"regionCode": None, "countryCode": "UA", "city": "Kyiv"},
                    "device": {
                        "id": cid,
                        "ip": "192.0.2.1",
                        "timezone": "Europe/Kiev",
                        "platform": "desktop",
                        "userAgent": "Mozilla/5.0",
                    },
                    "unsubscribed": False,
                    "blocked": False,
                    "locale": "en",
                }
            )
            if fields:
                customer.update(copy.deepcopy(fields))
            self.customers[cid] = customer
        if ids:
            self._next_id = max(self._next_id, ids[-1] + 1)
        return ids

    def reset(self) -> None:
        """Forget every customer and tag."""
        self.customers.clear()
        self.tag_colors.clear()
        self._next_id = 1
