"""Finding customers: the list and search pagers, and the one customer with a key.

:func:`list_pager` (``GET /customers?limit=&offset=``) and :func:`search_pager`
(``POST /customers/search``) check their arguments (the paging ones in one
:class:`PageOptions`) at once and return an
:class:`~helpcrunch_async.AsyncCustomerPager` that sends one request per page when
iterated. :func:`find_one` reads every page of a search by ``user_id`` or ``email`` and
keeps only the exact matches (``user_id`` exactly, ``email`` ignoring case): HelpCrunch
documents neither how ``=`` compares text nor that emails are unique, so several
matches raise :class:`~helpcrunch_async.AmbiguousCustomerError` and none is picked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlencode

import aiohttp
import attrs

from ._call_scope import deadline_scope
from ._config import call_timeout
from ._exceptions import AmbiguousCustomerError, ValidationError
from ._filters import Filter
from ._json import encode_body
from ._models import Customer
from ._paging import (
    MAX_PAGE_SIZE,
    AsyncCustomerPager,
    CustomerPage,
    check_paging,
    customer_page_from_json,
    sort_params,
)
from ._requestor import Requestor
from ._retry import check_max_retries

__all__ = ["PageOptions", "find_one", "list_pager", "search_pager"]


@attrs.frozen
class PageOptions:
    """The arguments every pager takes, as the caller gave them (the pager checks them):
    see ``AsyncHelpCrunch.list_customers``."""

    sort: str | None = None
    order: Literal["asc", "desc"] | None = None
    page_size: int = MAX_PAGE_SIZE
    limit: int | None = None
    timeout: float | aiohttp.ClientTimeout | None = None
    max_retries: int | None = None


def list_pager(requestor: Requestor, paging: PageOptions) -> AsyncCustomerPager:
    """Every customer, one ``GET`` per page; see ``AsyncHelpCrunch.list_customers``."""
    params, size, cap, per_call = _pager_args(paging)
    max_retries = paging.max_retries

    def fetch(offset: int, count: int) -> Awaitable[CustomerPage]:
        query = urlencode({"limit": count, "offset": offset, **params})
        return requestor.request(
            "GET",
            f"/customers?{query}",
            customer_page_from_json,
            timeout=per_call,
            max_retries=max_retries,
            call="list_customers",
        )

    return AsyncCustomerPager(fetch, page_size=size, limit=cap)


def search_pager(
    requestor: Requestor,
    filters: tuple[Filter, ...],
    match: Literal["all", "any"],
    paging: PageOptions,
    *,
    call: str = "search_customers",
) -> AsyncCustomerPager:
    """Customers matching ``filters``, one ``POST`` per page (retried like a ``GET``: it
    changes nothing); see ``AsyncHelpCrunch.search_customers``. ``call`` names the
    pages' spans and hook records."""
    if not filters:
        raise ValidationError(
            "give at least one Filter (list_customers lists everyone)", field="filters"
        )
    for i, item in enumerate(filters):
        if not isinstance(item, Filter):
            raise ValidationError(
                f"filters[{i}] must be a Filter, got {type(item).__name__}", field="filters"
            )
    if match not in ("all", "any"):
        raise ValidationError(f"match must be 'all' or 'any', got {match!r}", field="match")
    params, size, cap, per_call = _pager_args(paging)
    max_retries = paging.max_retries
    conditions = [f.to_json() for f in filters]
    comparison = "AND" if match == "all" else "OR"

    def fetch(offset: int, count: int) -> Awaitable[CustomerPage]:
        body = encode_body(
            {
                "filter": conditions,
                "comparison": comparison,
                "limit": count,
                "offset": offset,
                **params,
            }
        )
        return requestor.request(
            "POST",
            "/customers/search",
            customer_page_from_json,
            body=body,
            timeout=per_call,
            max_retries=max_retries,
            idempotent=True,
            call=call,
        )

    return AsyncCustomerPager(fetch, page_size=size, limit=cap)


async def find_one(
    search: Callable[[Filter], AsyncCustomerPager],
    *,
    user_id: str | None,
    email: str | None,
    seconds: float | None,
) -> Customer | None:
    """The one customer with this ``user_id`` or ``email`` (``None``: nobody), read
    from every page of ``search(Filter(field, "=", value))`` within one deadline of
    ``seconds``; see ``AsyncHelpCrunch.find_customer``."""
    if (user_id is None) == (email is None):
        raise ValidationError("give exactly one of user_id= and email=", field="user_id")
    field, value = ("user_id", user_id) if user_id is not None else ("email", email)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty str, got {value!r}", field=field)
    if field == "user_id":

        def same(c: Customer) -> bool:
            return c.user_id == value
    else:
        wanted = value.casefold()

        def same(c: Customer) -> bool:
            return c.email is not None and c.email.casefold() == wanted

    pager = search(Filter(field, "=", value))
    with deadline_scope(seconds):  # one deadline for every page
        matches = [c async for c in pager if same(c)]
    if not matches:
        return None
    if len(matches) > 1:
        ids = tuple(sorted(c.id for c in matches))
        raise AmbiguousCustomerError(
            f"{len(ids)} customers have {field} {value!r} (ids {', '.join(map(str, ids))})"
            "; refusing to pick one",
            customer_ids=ids,
        )
    return matches[0]


def _pager_args(
    paging: PageOptions,
) -> tuple[dict[str, str], int, int | None, aiohttp.ClientTimeout | None]:
    """The checked arguments of a pager: (sort/order params, page_size, limit, timeout)."""
    params = sort_params(paging.sort, paging.order)
    size, cap = check_paging(paging.page_size, paging.limit)
    per_call = call_timeout(paging.timeout)
    if paging.max_retries is not None:
        check_max_retries(paging.max_retries)
    return params, size, cap, per_call
