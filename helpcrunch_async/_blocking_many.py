"""The blocking client's calls on many customers: list, search, find, bulk update, sync.

A mixin of :class:`~helpcrunch_async.HelpCrunch`, as :mod:`._many_customers` is of the
async client: the pagers and the jobs are stepped on the client's loop, one result per
``next()``, the loop kept running between results.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import aiohttp

from ._bulk import BulkItem, BulkResult
from ._client import AsyncHelpCrunch
from ._customer_sync import CustomerSyncResult, SyncMatch, SyncStrategy
from ._filters import Filter
from ._loop_runner import AsyncSteps, LoopRunner
from ._models import Customer
from ._paging import CustomerPager

__all__ = ["BlockingManyCustomers"]

T = TypeVar("T")


class BlockingManyCustomers:
    """The calls of :class:`~helpcrunch_async.HelpCrunch` that read or write many customers."""

    _async: AsyncHelpCrunch
    _runner: LoopRunner

    def _client(self) -> AsyncHelpCrunch:
        raise NotImplementedError  # HelpCrunch's: the async client of this process

    def _run(self, factory: Callable[[], Awaitable[T]]) -> T:
        raise NotImplementedError  # HelpCrunch's: run one call to completion

    def list_customers(
        self,
        *,
        sort: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> CustomerPager:
        """Every customer, page by page (``GET /customers?limit=&offset=``).

        A plain iterator with ``.total``; see :meth:`AsyncHelpCrunch.list_customers`.

        Example:
            >>> for c in client.list_customers(limit=10):  # doctest: +SKIP
            ...     print(c.id)
        """
        pager = self._client().list_customers(
            sort=sort,
            order=order,
            page_size=page_size,
            limit=limit,
            timeout=timeout,
            max_retries=max_retries,
        )
        return CustomerPager(pager, self._iterate(pager))

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
    ) -> CustomerPager:
        """Customers matching filters, page by page (``POST /customers/search``).

        A plain iterator with ``.total``; see :meth:`AsyncHelpCrunch.search_customers`.

        Example:
            >>> for c in client.search_customers(hc.Filter("city", "=", "Kyiv")):  # doctest: +SKIP
            ...     print(c.id)
        """
        pager = self._client().search_customers(
            *filters,
            match=match,
            sort=sort,
            order=order,
            page_size=page_size,
            limit=limit,
            timeout=timeout,
            max_retries=max_retries,
        )
        return CustomerPager(pager, self._iterate(pager))

    def find_customer(
        self,
        *,
        user_id: str | None = None,
        email: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer | None:
        """The one customer with this ``user_id`` (your own id) or ``email``; ``None``
        when there is none.

        See :meth:`AsyncHelpCrunch.find_customer`.

        Example:
            >>> c = client.find_customer(email="ann@example.com")  # doctest: +SKIP
        """
        return self._run(
            lambda: self._async.find_customer(
                user_id=user_id, email=email, timeout=timeout, max_retries=max_retries
            )
        )

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
    ) -> Iterator[BulkResult]:
        """Update many customers; an iterator of one :class:`BulkResult` per item.

        Same arguments and guarantees as :meth:`AsyncHelpCrunch.update_customers`. The
        input is read lazily on the client's loop thread. Leaving the loop early (or
        closing the iterator) cancels the requests still in flight.

        Example:
            >>> for r in client.update_customers([(1, {"name": "Ann"})]):  # doctest: +SKIP
            ...     print(r.index, r.ok)
            0 True
        """
        agen = self._client().update_customers(
            updates,
            max_concurrency=max_concurrency,
            ordered=ordered,
            replace=replace,
            batch=batch,
            batch_fallback=batch_fallback,
            timeout=timeout,
            max_retries=max_retries,
        )

        return self._iterate(agen)  # arguments were checked above, before any iteration

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
    ) -> Iterator[CustomerSyncResult]:
        """Make HelpCrunch match your rows, sending only what differs (the data sync).

        An iterator of one :class:`CustomerSyncResult` per row. Same arguments and
        guarantees as :meth:`AsyncHelpCrunch.sync_customers`; the rows are read lazily
        on the client's loop thread. Leaving the loop early (or closing the iterator)
        cancels the requests still in flight.

        Example:
            >>> rows = [{"user_id": "u-1", "name": "Ann"}]
            >>> for r in client.sync_customers(rows, dry_run=True):  # doctest: +SKIP
            ...     print(r.action, r.diff)
            updated {'name': ('Anne', 'Ann')}
        """
        job = self._client().sync_customers(
            rows,
            match=match,
            create_missing=create_missing,
            exact_tags=exact_tags,
            dry_run=dry_run,
            strategy=strategy,
            max_concurrency=max_concurrency,
            ordered=ordered,
            timeout=timeout,
            max_retries=max_retries,
        )
        return self._iterate(job)  # arguments were checked above, before any iteration

    def _iterate(self, agen: AsyncSteps[T]) -> Iterator[T]:
        """Step an async generator of the client, one result per ``next()``.

        While the iterator is open the loop keeps running in the background, so the
        job's requests go on between results. Closing it early closes the job.
        """

        async def step() -> T | _Exhausted:
            try:
                return await anext(agen)
            except StopAsyncIteration:
                return _EXHAUSTED

        self._client()  # a forked child steps its own client's job
        runner = self._runner
        runner.hold()
        # Close the job if the caller leaves early — but not when a step itself was
        # interrupted: cancelling that step already closed (or is closing) the job.
        open_job = True
        try:
            while True:
                open_job = False
                result = self._run(step)
                if isinstance(result, _Exhausted):
                    break
                open_job = True
                yield result
        finally:
            try:
                if open_job and not runner.forked():
                    runner.close_generator(agen)
            finally:
                runner.release()


class _Exhausted:
    """The end of an async generator stepped by :meth:`HelpCrunch._iterate`."""


_EXHAUSTED = _Exhausted()
