"""The client's calls on many customers at once: list, search, find, bulk update, sync.

:class:`ManyCustomers` holds the methods of :class:`~helpcrunch_async.AsyncHelpCrunch`
that page through the account or run a job over your input; the client inherits them.
Each checks its arguments and hands the work to the module that does it:
:mod:`~helpcrunch_async._finding` (pagers and ``find_customer``),
:mod:`~helpcrunch_async._bulk` (``update_customers``) and
:mod:`~helpcrunch_async._customer_sync` (the data sync).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, Literal, cast

import aiohttp

from ._bulk import BulkItem, BulkJob, bulk_update
from ._config import call_timeout
from ._customer_sync import CustomerSync, SyncMatch, SyncStrategy
from ._customer_sync_rows import Client
from ._filters import Filter
from ._finding import PageOptions, find_one, list_pager, search_pager
from ._models import Customer
from ._paging import AsyncCustomerPager
from ._requestor import Requestor
from ._retry import check_max_retries
from ._validation import check_int

__all__ = ["ManyCustomers"]


class ManyCustomers:
    """The calls on many customers (see the module docs); mixed into the client."""

    _requestor: Requestor
    _max_concurrency: int

    def list_customers(
        self,
        *,
        sort: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncCustomerPager:
        """Every customer, page by page (``GET /customers?limit=&offset=``).

        An async iterator with ``.total`` once the first page is in; one request per
        page. See the guide "Finding customers" (``docs/guides/finding-customers.md``).

        Args:
            sort: ``"first_seen"`` or ``"last_seen"``; without it, the server's order.
            order: ``"asc"`` or ``"desc"``; needs ``sort``.
            page_size: customers per request, 1..100 (default 100).
            limit: the most to yield (``None``: all).
            timeout, max_retries: per-request overrides.

        Raises:
            ValidationError: bad arguments, here, before anything is sent.

        Example:
            >>> async for c in client.list_customers(sort="first_seen"):  # doctest: +SKIP
            ...     print(c.id, c.email)
        """
        paging = PageOptions(sort, order, page_size, limit, timeout, max_retries)
        return list_pager(self._requestor, paging)

    def search_customers(
        self,
        *filters: Filter,
        match: Literal["all", "any"] = "all",
        sort: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncCustomerPager:
        """Customers matching filters, page by page (``POST /customers/search``).

        The same iterator and arguments as :meth:`list_customers`; ``match="all"``
        (default) sends ``AND``, ``"any"`` sends ``OR``. Retried like a ``GET``.

        Raises:
            ValidationError: no filter, or not a :class:`Filter`; nothing is sent.

        Example:
            >>> async for c in client.search_customers(  # doctest: +SKIP
            ...         hc.Filter("email", "~", "gmail"), match="any"):
            ...     print(c.id)
        """
        paging = PageOptions(sort, order, page_size, limit, timeout, max_retries)
        return search_pager(self._requestor, filters, match, paging)

    async def find_customer(
        self,
        *,
        user_id: str | None = None,
        email: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer | None:
        """The one customer with this ``user_id`` (your own id) or ``email``; ``None``
        when there is none.

        Searches with ``=`` and keeps exact matches only (``email`` ignoring case);
        ``timeout`` bounds every page together.

        Raises:
            AmbiguousCustomerError: several customers match; ``.customer_ids`` lists
                them (HelpCrunch does not enforce unique emails). None is picked.
            ValidationError: not exactly one of ``user_id``/``email``, or empty.

        Example:
            >>> c = await client.find_customer(email="ann@example.com")  # doctest: +SKIP
        """

        paging = PageOptions(timeout=timeout, max_retries=max_retries)  # all pages, 100 each

        def search(condition: Filter) -> AsyncCustomerPager:
            return search_pager(self._requestor, (condition,), "all", paging, call="find_customer")

        seconds = (call_timeout(timeout) or self._requestor.timeout).total
        return await find_one(search, user_id=user_id, email=email, seconds=seconds)

    def update_customers(
        self,
        updates: Iterable[BulkItem] | AsyncIterable[BulkItem],
        /,
        *,
        max_concurrency: int | None = None,
        ordered: bool = False,
        replace: bool = False,
        batch: bool = False,
        batch_fallback: bool = False,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> BulkJob:
        """Update many customers; an async iterator of one :class:`BulkResult` per item.

        ``updates`` yields ``(customer_id, update)`` pairs (a :class:`CustomerUpdate`
        or a mapping of fields), read lazily; every item gives exactly one result.
        See the guide "Bulk updates" (``docs/guides/bulk-updates.md``).

        Args:
            updates: an iterable or async iterable of ``(customer_id, update)`` pairs.
            max_concurrency: requests in flight for this job (default: the client's).
            ordered: yield results in input order.
            replace: send ``PUT`` (every field left out is set to null!), not ``PATCH``.
            batch: ``PUT /customers/batch``, 10 items a request (its semantics are not
                documented by HelpCrunch: see the guide); ``batch_fallback``: retry the
                items of a failed batch one by one.
            timeout, max_retries: per-request overrides (a request's timeout starts
                when it is sent).

        Raises:
            ValidationError: bad arguments, here, before anything runs.
            BulkAbortedError: from the iterator, after HelpCrunch refused the API key.

        Example:
            >>> updates = ((cid, {"custom_data": {"plan": "pro"}}) for cid in ids)  # doctest: +SKIP
            >>> async for r in client.update_customers(updates):  # doctest: +SKIP
            ...     if not r.ok:
            ...         print(r.index, r.customer_id, r.error)
        """
        return bulk_update(
            self._requestor,
            updates,
            max_concurrency=self._job_concurrency(max_concurrency),
            ordered=ordered,
            replace=replace,
            batch=batch,
            batch_fallback=batch_fallback,
            timeout=call_timeout(timeout),
            max_retries=max_retries,
        )

    def sync_customers(
        self,
        rows: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        /,
        *,
        match: SyncMatch = "user_id",
        create_missing: bool = False,
        exact_tags: bool = False,
        dry_run: bool = False,
        strategy: SyncStrategy = "auto",
        max_concurrency: int | None = None,
        ordered: bool = False,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> CustomerSync:
        """Make HelpCrunch match your rows, sending only what differs (the data sync).

        An async iterator (:class:`CustomerSync`) of one :class:`CustomerSyncResult`
        per row. Each row has the fields of :meth:`update_customer` plus its match key.
        See the guide "The data sync" (``docs/guides/data-sync.md``).

        Args:
            rows: an iterable or async iterable of mappings, read lazily.
            match: ``"user_id"`` (default), ``"email"`` or ``"id"``.
            create_missing: create a customer no row key matches (never twice).
            exact_tags: also remove tags the row does not list.
            dry_run: read and compare, send no write.
            strategy: ``"list"`` the account, ``"search"`` each row, or ``"auto"``.
            max_concurrency: rows in flight (default: the client's).
            ordered: yield results in input order.
            timeout, max_retries: per-request overrides.

        Raises:
            ValidationError: bad arguments, here, before anything is sent.
            HelpCrunchError: from the iterator, when reading the account failed.
            BulkAbortedError: from the iterator, after HelpCrunch refused the API key.

        Example:
            >>> rows = [{"user_id": "u-1", "name": "Ann", "tags": ["paid"]}]
            >>> async for r in client.sync_customers(rows, create_missing=True):  # doctest: +SKIP
            ...     print(r.index, r.action, r.changed)
            0 updated ('name', 'tags')
        """
        if max_retries is not None:
            check_max_retries(max_retries)
        client = cast(Client, self)  # the AsyncHelpCrunch this is mixed into
        return CustomerSync(
            client,
            rows,
            match=match,
            create_missing=create_missing,
            exact_tags=exact_tags,
            dry_run=dry_run,
            strategy=strategy,
            max_concurrency=self._job_concurrency(max_concurrency),
            ordered=ordered,
            timeout=timeout,
            max_retries=max_retries,
        )

    def _job_concurrency(self, max_concurrency: int | None) -> int:
        """A bulk job's concurrency: the client's by default, checked."""
        if max_concurrency is None:
            return self._max_concurrency
        return check_int("max_concurrency", max_concurrency, minimum=1)
