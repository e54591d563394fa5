"""Paging through customers: ``limit``/``offset`` pages behind one iterator.

``GET /customers`` and ``POST /customers/search`` both answer ``{"data": [...],
"total": N}`` (``total`` at the top level, key order varies). An
:class:`AsyncCustomerPager` asks for one page at a time, only when the previous one has
been consumed, and stops on a short (or empty) page, once ``offset`` reaches ``total``,
or after ``limit`` customers.

Offset paging and concurrent changes: the API pages by position, so when customers are
added or deleted while you iterate, later pages shift.

The listing ends on a short (or empty) page, or when ``offset`` reaches ``total``
exactly. A ``total`` smaller than what the pages bring is wrong and is not trusted:
paging goes on to a short page.

* A customer never comes twice in one iteration: ids already yielded are skipped
  (an insertion before the current position shifts the rest right).
* A customer **can be missed**: a deletion before the current position shifts the rest
  left, so the customer that moved across the page boundary is never seen; a customer
  added behind the current position (or sorted there) is not seen either. For a
  complete snapshot, iterate while nothing else writes, or compare ``total``.
* A server that ignores ``offset`` (the same page again and again) would make paging
  endless: after 3 full pages in a row holding only customers already yielded, the
  iterator raises :class:`~helpcrunch_async.HelpCrunchError` rather than ask forever
  (or stop quietly with customers missing).

Example:
    >>> async for c in client.list_customers(sort="first_seen", order="asc"):  # doctest: +SKIP
    ...     print(c.id, c.email)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal

from ._convert import ResponseShapeError
from ._exceptions import HelpCrunchError, ValidationError
from ._fastpaths import customer_from_json
from ._models import Customer
from ._validation import check_int, is_int

__all__ = [
    "MAX_PAGE_SIZE",
    "SORT_FIELDS",
    "AsyncCustomerPager",
    "CustomerPage",
    "CustomerPager",
    "check_paging",
    "customer_page_from_json",
    "sort_params",
]

MAX_PAGE_SIZE = 100  # the docs show no larger page: never ask for more
_MAX_STALE_PAGES = 3  # full pages in a row with nothing new: the server ignores offset
#: Python name -> API name of the documented sort fields.
SORT_FIELDS = {"first_seen": "customers.firstSeen", "last_seen": "customers.lastSeen"}
_SORT_API_NAMES = frozenset(SORT_FIELDS.values())

CustomerPage = tuple[list[Customer], int | None]
#: fetch(offset, count) -> one page of customers and the API's ``total``.
PageFetcher = Callable[[int, int], Awaitable[CustomerPage]]


def sort_params(sort: str | None, order: Literal["asc", "desc"] | None) -> dict[str, str]:
    """The ``sort``/``order`` parameters, checked; ``{}`` when neither is given.

    Example:
        >>> sort_params("first_seen", "desc")
        {'sort': 'customers.firstSeen', 'order': 'desc'}
    """
    out: dict[str, str] = {}
    if sort is not None:
        if sort in SORT_FIELDS:
            out["sort"] = SORT_FIELDS[sort]
        elif isinstance(sort, str) and sort in _SORT_API_NAMES:
            out["sort"] = sort
        else:
            raise ValidationError(
                f"sort must be one of the documented sort fields ({', '.join(SORT_FIELDS)}, "
                f"or {', '.join(sorted(_SORT_API_NAMES))}), got {sort!r}",
                field="sort",
            )
    if order is not None:
        if order not in ("asc", "desc"):
            raise ValidationError(f"order must be 'asc' or 'desc', got {order!r}", field="order")
        if sort is None:
            raise ValidationError(
                "order needs sort= (the default sort is not documented)", field="order"
            )
        out["order"] = order
    return out


def check_paging(page_size: object, limit: object) -> tuple[int, int | None]:
    """``(page_size, limit)`` checked: 1..100, and ``None`` or an int >= 0."""
    size = check_int("page_size", page_size, minimum=1, maximum=MAX_PAGE_SIZE)
    return size, None if limit is None else check_int("limit", limit)


def customer_page_from_json(data: Any) -> CustomerPage:
    """One page of a customer list or search answer: ``(customers, total)``.

    ``total`` is ``None`` when the answer has none. Anything else that is not the
    documented shape raises :class:`ResponseShapeError` naming the JSON path.

    Example:
        >>> customers, total = customer_page_from_json({"total": 1, "data": [{"id": 7}]})
        >>> customers[0].id, total
        (7, 1)
    """
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ResponseShapeError('expected {"data": [...], "total": N}', "$")
    total = data.get("total")
    if total is not None and (not is_int(total) or total < 0):
        raise ResponseShapeError(f"expected a count, got {type(total).__name__}", "$.total")
    customers = []
    for i, item in enumerate(data["data"]):
        try:
            customers.append(customer_from_json(item))
        except ResponseShapeError as exc:
            raise ResponseShapeError(str(exc), f"$.data[{i}]{exc.json_path[1:]}") from None
    return customers, total


class AsyncCustomerPager(AsyncIterator[Customer]):
    """An async iterator of customers, fetching one page at a time.

    Made by :meth:`AsyncHelpCrunch.list_customers` and
    :meth:`~AsyncHelpCrunch.search_customers`. Each page is one request through the
    client's rate limiter and retries; the next page is asked for only when this one is
    used up. Several tasks may read one pager (each customer goes to one of them).
    See the module docstring for what concurrent changes can do.

    Attributes:
        total: the API's ``total`` from the latest page (``None`` before the first).
        pages_fetched: pages received so far.

    Example:
        >>> customers = client.list_customers(page_size=50, limit=120)  # doctest: +SKIP
        >>> async for c in customers:  # doctest: +SKIP
        ...     pass
        >>> customers.total, customers.pages_fetched  # doctest: +SKIP
        (5000, 3)
    """

    def __init__(self, fetch: PageFetcher, *, page_size: int, limit: int | None) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._limit = limit
        self._offset = 0
        self._buffer: list[Customer] = []
        self._seen: set[int] = set()
        self._yielded = 0
        self._done = limit == 0
        self._last_page = False
        self._stale_pages = 0
        self._fetching = asyncio.Lock()
        self.total: int | None = None
        self.pages_fetched = 0

    def __aiter__(self) -> AsyncCustomerPager:
        return self

    async def __anext__(self) -> Customer:
        while True:
            if self._limit is not None and self._yielded >= self._limit:
                self._done = True
            while self._buffer and not self._done:
                customer = self._buffer.pop()
                if customer.id in self._seen:  # shifted in from an earlier page
                    continue
                self._seen.add(customer.id)
                self._yielded += 1
                return customer
            if self._done or self._last_page:
                self._done = True
                self._buffer.clear()
                raise StopAsyncIteration
            async with self._fetching:  # tasks sharing this pager fetch one page at a time
                if not (self._buffer or self._done or self._last_page):
                    await self._next_page()

    async def _next_page(self) -> None:
        customers, total = await self._fetch(self._offset, self._page_size)
        self.pages_fetched += 1
        self.total = total
        self._offset += len(customers)
        # ``total`` ends the listing only where it agrees with the pages: a full page
        # that goes past it proves it wrong (more customers came than it counts), and
        # trusting it would silently drop the rest.
        self._last_page = len(customers) < self._page_size or (
            total is not None and self._offset == total
        )
        if self._last_page or any(c.id not in self._seen for c in customers):
            self._stale_pages = 0
        else:
            self._stale_pages += 1
            if self._stale_pages >= _MAX_STALE_PAGES:
                self._done = True
                raise HelpCrunchError(
                    f"{self._stale_pages} pages in a row held only customers already "
                    f"yielded (offset {self._offset - len(customers)}): the server seems "
                    f"to ignore offset; stopped after {self._yielded} customers rather "
                    "than page forever"
                )
        self._buffer = customers[::-1]  # pop() from the end, in page order

    async def aclose(self) -> None:
        """Stop: no further page is fetched."""
        self._done = True
        self._buffer.clear()


class CustomerPager(Iterator[Customer]):
    """The blocking counterpart of :class:`AsyncCustomerPager` (from :class:`HelpCrunch`).

    Thread-safe: threads reading one pager share its customers (each comes once), and
    :meth:`close` from another thread waits for the page being read, then stops.

    Example:
        >>> customers = client.list_customers()  # doctest: +SKIP
        >>> for c in customers:  # doctest: +SKIP
        ...     print(c.id)
        >>> customers.total  # doctest: +SKIP
        5000
    """

    def __init__(self, pager: AsyncCustomerPager, steps: Iterator[Customer]) -> None:
        self._pager = pager
        self._steps = steps
        self._lock = threading.Lock()  # a generator runs in one thread at a time

    @property
    def total(self) -> int | None:
        """The API's ``total`` from the latest page (``None`` before the first)."""
        return self._pager.total

    @property
    def pages_fetched(self) -> int:
        """Pages received so far."""
        return self._pager.pages_fetched

    def __iter__(self) -> CustomerPager:
        return self

    def __next__(self) -> Customer:
        with self._lock:
            return next(self._steps)

    def close(self) -> None:
        """Stop: no further page is fetched."""
        close = getattr(self._steps, "close", None)
        if close is not None:
            with self._lock:
                close()
