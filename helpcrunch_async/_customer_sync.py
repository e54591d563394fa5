"""The data sync: make HelpCrunch match your rows, sending only what differs.

:meth:`AsyncHelpCrunch.sync_customers` returns a :class:`CustomerSync`, an async
iterator of one :class:`CustomerSyncResult` per input row. It works in two phases:

1. **Reading the account** (``strategy="list"``): every customer once, 100 a request
   (``list_customers``), kept as one compact record each
   (:class:`~helpcrunch_async._customer_diff.CustomerRecord`) in a map from the match
   key to the record. Keys held by several customers are marked ambiguous. With
   ``strategy="search"`` nothing is read up front: each row's customer is looked up
   on its own (``find_customer``, or ``get_customer`` for ``match="id"``).
2. **Rows**: each row is validated (as ``update_customer`` would), compared with its
   customer field by field (:mod:`helpcrunch_async._customer_diff`) and then
   *unchanged* (no request), *updated* (a ``PATCH`` of only the differing fields, plus
   tag/untag calls), *created* (``POST``, with ``create_missing=True``) or *failed*.

Rows run through the same engine as ``update_customers``
(:class:`helpcrunch_async._job_engine.JobEngine`): bounded concurrency, the input read lazily,
every row reported exactly once; every request goes through the client's rate limiter,
retries and shared 429 pause.

Creates are never sent twice: a ``POST`` that may have reached the server is not
retried (the row fails with ``maybe_sent=True``), later rows with the same key in the
same run fail instead of creating again, and a re-run finds the customer by its key
before creating. When the account listing may have missed customers (its ``total``
changed while reading, or the number of customers that came differs from it), each
create is first confirmed with a search by key.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sized,
)
from typing import Any, Literal, TypeAlias

import aiohttp

from . import _tracing as tracing
from ._account_index import Ambiguous, key_of, list_pages, match_key
from ._customer_diff import (
    CustomerRecord,
)
from ._customer_sync_result import CustomerSyncResult, SyncAction, SyncMatch, failed
from ._customer_sync_rows import Client, RowJob, RowSync, new_index
from ._exceptions import (
    HelpCrunchError,
    ValidationError,
)
from ._job_engine import InputSource, JobEngine
from ._models import Customer
from ._paging import MAX_PAGE_SIZE, AsyncCustomerPager
from ._validation import check_flags

__all__ = ["CustomerSync", "CustomerSyncResult", "SyncAction", "SyncMatch", "SyncStrategy"]

SyncStrategy: TypeAlias = Literal["auto", "list", "search"]


class CustomerSync(AsyncIterator[CustomerSyncResult]):
    """A running data sync: an async iterator of :class:`CustomerSyncResult`, one per row.

    Made by :meth:`AsyncHelpCrunch.sync_customers`; see there. The attributes show
    progress while it runs (for a progress display):

    Attributes:
        phase: ``"starting"``, ``"reading"`` (the account), ``"rows"``, ``"done"``.
        strategy: ``"list"`` or ``"search"`` once decided (``None`` before).
        pages_read, pages_total: list requests done, and the total once known.
        counts: results so far by action.
        customers_read: customers read from the account listing.
        on_progress: a callable the sync calls with itself after each list page and
            when the phase changes (for a progress display); ``None`` by default.
        reads, writes: requests made (not counting retries): reads are list pages,
            searches and fetches; writes are ``PATCH``, ``POST``, tag and untag.

    Example:
        >>> job = client.sync_customers(rows, match="user_id")   # doctest: +SKIP
        >>> async for result in job:                             # doctest: +SKIP
        ...     print(result.index, result.action, job.phase, job.counts)
    """

    def __init__(
        self,
        client: Client,
        rows: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        match: SyncMatch,
        create_missing: bool,
        exact_tags: bool,
        dry_run: bool,
        strategy: SyncStrategy,
        max_concurrency: int,
        ordered: bool,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        if match not in ("user_id", "email", "id"):
            raise ValidationError(
                f"match must be 'user_id', 'email' or 'id', got {match!r}", field="match"
            )
        if strategy not in ("auto", "list", "search"):
            raise ValidationError(
                f"strategy must be 'auto', 'list' or 'search', got {strategy!r}", field="strategy"
            )
        check_flags(
            create_missing=create_missing, exact_tags=exact_tags, dry_run=dry_run, ordered=ordered
        )
        if create_missing and match == "id":
            raise ValidationError(
                "create_missing needs match='user_id' or 'email': HelpCrunch assigns ids "
                "itself, so a row whose id matches nobody cannot be created",
                field="match",
            )
        if not isinstance(rows, AsyncIterable | Iterable) or isinstance(
            rows, str | bytes | Mapping
        ):
            raise ValidationError(
                "rows must be an iterable or async iterable of mappings, got "
                f"{type(rows).__name__}",
                field="rows",
            )
        self._client = client
        self._rows = rows
        self._strategy = strategy
        self._max_concurrency = max_concurrency
        self._ordered = ordered
        self._call: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
        # key -> record (or a marker); in "search" mode only keys this run created
        self._index = new_index(match)
        self._row_sync = RowSync(
            client,
            self._index,
            match=match,
            create_missing=create_missing,
            exact_tags=exact_tags,
            dry_run=dry_run,
            call=self._call,
        )
        self._claims: dict[str | int, int] = {}  # key -> the caller's token (claim_key)
        self._pager: AsyncCustomerPager | None = None
        self.phase: Literal["starting", "reading", "rows", "done"] = "starting"
        self.strategy: Literal["list", "search"] | None = None
        self.pages_total: int | None = None
        self.counts: dict[SyncAction, int] = dict.fromkeys(
            ("unchanged", "updated", "created", "failed"), 0
        )
        self._list_reads = 0  # list pages read
        self.customers_read = 0
        self.on_progress: Callable[[CustomerSync], None] | None = None
        self._stopped = False  # stop() was called
        self._engine: JobEngine[RowJob, CustomerSyncResult] | None = None
        self._results = self._run()

    # --- the iterator --------------------------------------------------------------------

    def __aiter__(self) -> CustomerSync:
        return self

    async def __anext__(self) -> CustomerSyncResult:
        result = await anext(self._results)
        self.counts[result.action] += 1
        return result

    async def aclose(self) -> None:
        """Stop early: requests in flight are cancelled and their rows not reported."""
        await self._results.aclose()

    def stop(self) -> None:
        """End the sync cleanly: read no more rows and send nothing more.

        Requests on the wire finish and their rows are reported as usual; every row
        read but not finished is reported ``"failed"`` with :class:`JobStoppedError`
        (a re-run does what is left: the sync sends only what still differs); then the
        iterator ends. While the account is being read, reading stops after the page
        in flight and no row is read. Safe to call from a signal handler on the sync's
        event loop, and more than once.
        """
        self._stopped = True
        if self._engine is not None:
            self._engine.stop()

    @property
    def reads(self) -> int:
        """Read requests made (not counting retries): list pages, searches, fetches."""
        return self._list_reads + self._row_sync.reads

    @property
    def writes(self) -> int:
        """Write requests made (not counting retries): ``PATCH``, ``POST``, tag, untag."""
        return self._row_sync.writes

    @property
    def pages_read(self) -> int:
        """List requests answered so far."""
        return 0 if self._pager is None else self._pager.pages_fetched

    def claim_key(self, key: str | int, token: int) -> int | None:
        """Claim ``key`` for the caller's row ``token`` (say, its line number) before
        handing the row over; returns the token that claimed the key first, or ``None``
        when this one did. For a caller whose rule is "a second row with the same key
        is refused" (``helpcrunch sync``); the sync itself lets such a row wait for the
        first and compares it with the customer as that one left it.

        A claim is kept only for a key that holds a customer when the sync is done — an
        existing customer's, or one a row creates (with ``create_missing``) — so claims
        are bounded by the account, not the input: about 70 bytes a claimed customer.
        A key that matches nobody (without ``create_missing``) or several customers is
        never claimed: each row with it fails the same way (not found, ambiguous),
        nothing sent. Under ``strategy="search"`` (an input smaller than the account's
        page count), and for the rows read ahead to choose the strategy, every key is
        kept until the account says otherwise.

        Example:
            >>> import helpcrunch_async as hc
            >>> sync = hc.AsyncHelpCrunch("key").sync_customers(
            ...     [], match="email", create_missing=True)
            >>> sync.claim_key("Ann@Example.com", 3), sync.claim_key("ann@example.com", 7)
            (None, 3)
        """
        lookup = match_key(self._row_sync.match, key)
        entry = self._index.get(lookup) if self.strategy == "list" else None
        if self.strategy == "list" and (
            isinstance(entry, Ambiguous) or (entry is None and not self._row_sync.create_missing)
        ):
            self._claims.pop(lookup, None)  # claimed while read ahead: not kept after all
            return None
        first = self._claims.get(lookup)
        if first is not None:
            return first
        if isinstance(entry, CustomerRecord):
            # the record's key object, not the row's equal copy: one string less a key
            lookup = key_of(self._row_sync.match, entry) or lookup
        self._claims[lookup] = token
        return None

    # --- phases --------------------------------------------------------------------------

    async def _run(self) -> AsyncGenerator[CustomerSyncResult, None]:
        rows: Iterable[Any] | AsyncIterable[Any] = self._rows
        strategy = self._strategy
        if strategy != "search":
            pager = self._pager = self._client.list_customers(page_size=MAX_PAGE_SIZE, **self._call)
            self.phase = "reading"
            first = await anext(pager, None)
            self._list_reads += 1
            self.pages_total = list_pages(pager.total, self.pages_read)
            self._progress()
            if strategy == "auto":
                strategy, rows = await self._choose(rows, self.pages_total)
            if strategy == "list":
                if first is not None:
                    self._add(first)
                await self._read_account(pager)
            else:
                await pager.aclose()
                self._pager = None
        self.strategy = strategy
        self._row_sync.searched = strategy == "search"
        self.phase = "rows"
        self._progress()

        if self._stopped:  # stopped while the account was being read
            self.phase = "done"
            return

        async def start(jobs: list[RowJob]) -> list[CustomerSyncResult]:
            if not tracing.AVAILABLE:
                return [await jobs[0]()]
            with tracing.row_span("sync_customers", jobs[0].index) as span:
                result = await jobs[0]()
                if span is not None:
                    span.outcome(result.action, result.error)
            return [result]

        def unsent(job: RowJob, error: HelpCrunchError) -> CustomerSyncResult:
            return failed(job.index, job.key, error)

        self._engine = JobEngine(
            rows,
            prepare=self._row_sync.prepare,
            result_type=CustomerSyncResult,
            start=start,
            unsent=unsent,
            max_concurrency=self._max_concurrency,
            ordered=self._ordered,
        )
        results = self._engine.results()
        try:
            async for result in results:
                yield result
        finally:
            await results.aclose()
        self.phase = "done"

    async def _choose(self, rows: Any, pages: int) -> tuple[Literal["list", "search"], Any]:
        """``"search"`` when the input has fewer rows than the account has list pages.

        The input's size is ``len(rows)`` when it has one; otherwise up to ``pages``
        rows are read ahead (so never more than one row per 100 customers) and, if the
        input ends before that, it is small.
        """
        if isinstance(rows, Sized) and not isinstance(rows, AsyncIterable):
            return ("search" if len(rows) < pages else "list"), rows  # search_is_cheaper
        source = InputSource(rows)
        ahead: list[Any] = []
        while len(ahead) < pages:
            more, item = await source.next()
            if not more:
                return "search", ahead
            ahead.append(item)

        async def chained() -> AsyncGenerator[Any, None]:
            for item in ahead:
                yield item
            ahead.clear()
            while True:
                more, item = await source.next()
                if not more:
                    return
                yield item

        return "list", chained()

    async def _read_account(self, pager: AsyncCustomerPager) -> None:
        announced = pager.total
        shown = pager.pages_fetched
        async for customer in pager:
            self._add(customer)
            if self._stopped:
                return
            if pager.pages_fetched != shown:
                shown = pager.pages_fetched
                self.pages_total = list_pages(pager.total, shown)
                self._progress()
        self._list_reads = pager.pages_fetched
        # Offset paging can miss customers when others are added or deleted meanwhile:
        # then a create is confirmed by a search first (see the module docstring).
        # A total the pages contradict (more customers came than it counts) is a
        # listing not to trust either.
        self._row_sync.confirm_creates = pager.total != announced or (
            pager.total is not None and self.customers_read != pager.total
        )

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self)

    def _add(self, customer: Customer) -> None:
        self.customers_read += 1
        record = self._row_sync.record(customer)
        key = key_of(self._row_sync.match, record)
        if key is not None:
            self._index.add(key, customer.id, record)
