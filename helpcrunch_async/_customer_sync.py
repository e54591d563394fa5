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

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
    Sized,
)
from typing import Any, Literal, Protocol, TypeAlias

import aiohttp
import attrs

from ._account_index import AccountIndex, Ambiguous, key_of, list_pages, match_key
from ._customer_diff import (
    CustomerRecord,
    RecordBuilder,
    RowPlan,
    needs_full_customer,
    plan_create,
    plan_update,
    record_of_update,
)
from ._exceptions import (
    AmbiguousCustomerError,
    APIConnectionError,
    APIError,
    CustomerNotFoundError,
    HelpCrunchError,
    NotFoundError,
    ValidationError,
)
from ._job_engine import InputSource, JobEngine, item_failure
from ._models import Customer, CustomerUpdate, Tag, coerce_update
from ._paging import MAX_PAGE_SIZE, AsyncCustomerPager
from ._validation import check_customer_id


class _Client(Protocol):
    """What the sync uses of :class:`AsyncHelpCrunch` (no import: the client imports us)."""

    def list_customers(self, *, page_size: int = ..., timeout: Any = ...,
                       max_retries: int | None = ...) -> AsyncCustomerPager: ...
    async def find_customer(self, *, user_id: str | None = ..., email: str | None = ...,
                            timeout: Any = ..., max_retries: int | None = ...
                            ) -> Customer | None: ...
    async def get_customer(self, customer_id: int | str, /, *, timeout: Any = ...,
                           max_retries: int | None = ...) -> Customer: ...
    async def update_customer(self, customer_id: int | str,
                              update: CustomerUpdate | None = ..., /, *, timeout: Any = ...,
                              max_retries: int | None = ...) -> Customer: ...
    async def create_customer(self, update: CustomerUpdate | None = ..., /, *,
                              timeout: Any = ..., max_retries: int | None = ...
                              ) -> Customer: ...
    async def tag_customer(self, customer_id: int | str, tags: Sequence[Tag | str], /, *,
                           timeout: Any = ..., max_retries: int | None = ...) -> Customer: ...
    async def untag_customer(self, customer_id: int | str, tags: Sequence[Tag | str], /, *,
                             timeout: Any = ..., max_retries: int | None = ...
                             ) -> Customer: ...

__all__ = ["CustomerSync", "CustomerSyncResult", "SyncAction", "SyncMatch", "SyncStrategy"]

SyncAction: TypeAlias = Literal["unchanged", "updated", "created", "failed"]
SyncMatch: TypeAlias = Literal["user_id", "email", "id"]
SyncStrategy: TypeAlias = Literal["auto", "list", "search"]


@attrs.frozen(kw_only=True)
class CustomerSyncResult:
    """What the sync did with one input row.

    Attributes:
        index: the row's position in the input, from 0.
        key: the row's match key (its ``user_id``, ``email`` or ``id``; ``None`` when
            the row has none).
        action: ``"unchanged"`` (no request sent), ``"updated"``, ``"created"`` or
            ``"failed"``. Under ``dry_run=True``: what would be done.
        customer_id: HelpCrunch's id of the customer (``None`` when unknown, e.g. a
            create under ``dry_run``).
        changed: the changed field names (``"custom_data.<property>"`` per property,
            ``"tags"``), also for a failed row whose changes were attempted.
        diff: field → ``(old, new)``, normalised (timestamps as epoch seconds, tags as
            names); ``old`` is ``UNKNOWN`` where HelpCrunch's answer did not show it.
        error: why the row failed: :class:`ValidationError` (bad row),
            :class:`AmbiguousCustomerError` (several customers have the key),
            :class:`CustomerNotFoundError` (no customer has it and ``create_missing``
            is off), or the API/connection error of a request.

    Example:
        >>> r = CustomerSyncResult(index=0, key="u1", action="unchanged", customer_id=7)
        >>> r.ok, r.changed
        (True, ())
    """

    index: int
    key: str | int | None
    action: SyncAction
    customer_id: int | None = None
    changed: tuple[str, ...] = ()
    diff: Mapping[str, tuple[Any, Any]] = attrs.field(factory=dict, repr=False)
    error: HelpCrunchError | None = None

    @property
    def ok(self) -> bool:
        """True unless the row failed."""
        return self.action != "failed"


def _id_of(known: _Known) -> int | None:
    return known.id if isinstance(known, CustomerRecord) else None


class _Uncertain:
    """A key whose create may have reached the server (its answer was lost)."""

    __slots__ = ("error",)

    def __init__(self, error: HelpCrunchError) -> None:
        self.error = error


_Known: TypeAlias = "CustomerRecord | _Uncertain"  # what the index holds for a key
_Entry: TypeAlias = "CustomerRecord | _Uncertain | Ambiguous"
_Job: TypeAlias = "Callable[[], Awaitable[CustomerSyncResult]]"


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
    """

    def __init__(self, client: _Client, rows: Iterable[Mapping[str, Any]]
                 | AsyncIterable[Mapping[str, Any]], *, match: SyncMatch,
                 create_missing: bool, exact_tags: bool, dry_run: bool,
                 strategy: SyncStrategy, max_concurrency: int, ordered: bool,
                 timeout: float | aiohttp.ClientTimeout | None = None,
                 max_retries: int | None = None) -> None:
        if match not in ("user_id", "email", "id"):
            raise ValidationError(f"match must be 'user_id', 'email' or 'id', got {match!r}",
                                  field="match")
        if strategy not in ("auto", "list", "search"):
            raise ValidationError(
                f"strategy must be 'auto', 'list' or 'search', got {strategy!r}",
                field="strategy")
        for name, flag in (("create_missing", create_missing), ("exact_tags", exact_tags),
                           ("dry_run", dry_run), ("ordered", ordered)):
            if not isinstance(flag, bool):
                raise ValidationError(f"{name} must be True or False, got {flag!r}",
                                      field=name)
        if create_missing and match == "id":
            raise ValidationError(
                "create_missing needs match='user_id' or 'email': HelpCrunch assigns ids "
                "itself, so a row whose id matches nobody cannot be created", field="match")
        if not isinstance(rows, AsyncIterable | Iterable) or isinstance(rows, str | bytes
                                                                          | Mapping):
            raise ValidationError(
                "rows must be an iterable or async iterable of mappings, got "
                f"{type(rows).__name__}", field="rows")
        self._client = client
        self._rows = rows
        self._match = match
        self._create_missing = create_missing
        self._exact_tags = exact_tags
        self._dry_run = dry_run
        self._strategy = strategy
        self._max_concurrency = max_concurrency
        self._ordered = ordered
        self._call: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
        self._builder = RecordBuilder()
        # key -> record (or a marker); in "search" mode only keys this run created
        self._index: AccountIndex[_Known] = AccountIndex(match, id_of=_id_of)
        self._busy: dict[str | int, asyncio.Event] = {}
        self._claims: dict[str | int, int] = {}  # key -> the caller's token (claim_key)
        self._confirm_creates = False
        self._pager: AsyncCustomerPager | None = None
        self.phase: Literal["starting", "reading", "rows", "done"] = "starting"
        self.strategy: Literal["list", "search"] | None = None
        self.pages_total: int | None = None
        self.counts: dict[SyncAction, int] = dict.fromkeys(
            ("unchanged", "updated", "created", "failed"), 0)
        self.reads = 0
        self.writes = 0
        self.customers_read = 0
        self.on_progress: Callable[[CustomerSync], None] | None = None
        self._stopped = False  # stop() was called
        self._engine: JobEngine[_RowJob, CustomerSyncResult] | None = None
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
        lookup = match_key(self._match, key)
        entry = self._index.get(lookup) if self.strategy == "list" else None
        if self.strategy == "list" and (isinstance(entry, Ambiguous)
                                        or (entry is None and not self._create_missing)):
            self._claims.pop(lookup, None)  # claimed while read ahead: not kept after all
            return None
        first = self._claims.get(lookup)
        if first is not None:
            return first
        if isinstance(entry, CustomerRecord):
            # the record's key object, not the row's equal copy: one string less a key
            lookup = key_of(self._match, entry) or lookup
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
            self.reads += 1
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
        self.phase = "rows"
        self._progress()

        if self._stopped:  # stopped while the account was being read
            self.phase = "done"
            return

        async def start(jobs: list[_RowJob]) -> list[CustomerSyncResult]:
            return [await jobs[0]()]

        def unsent(job: _RowJob, error: HelpCrunchError) -> CustomerSyncResult:
            return _failed(job.index, job.key, error)

        self._engine = JobEngine(rows, prepare=self._prepare, result_type=CustomerSyncResult,
                                 start=start, unsent=unsent,
                                 max_concurrency=self._max_concurrency, ordered=self._ordered)
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
        self.reads = pager.pages_fetched
        # Offset paging can miss customers when others are added or deleted meanwhile:
        # then a create is confirmed by a search first (see the module docstring).
        # A total the pages contradict (more customers came than it counts) is a
        # listing not to trust either.
        self._confirm_creates = (pager.total != announced
                                 or (pager.total is not None
                                     and self.customers_read != pager.total))

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self)

    def _add(self, customer: Customer) -> None:
        self.customers_read += 1
        record = self._builder.record(customer)
        key = key_of(self._match, record)
        if key is not None:
            self._index.add(key, customer.id, record)

    # --- rows ----------------------------------------------------------------------------

    def _parse(self, row: Any) -> tuple[str | int, CustomerUpdate]:
        if not isinstance(row, Mapping):
            raise ValidationError(f"a row must be a mapping of fields, got {type(row).__name__}",
                                  field="row")
        if self._match == "id":
            if row.get("id") is None:
                raise ValidationError("the row has no id to match on", field="id")
            key: str | int = check_customer_id(row["id"])
            update = coerce_update(None, {k: v for k, v in row.items() if k != "id"})
            return key, update
        update = coerce_update(None, row)
        value = getattr(update, self._match)
        if not isinstance(value, str) or not value:
            raise ValidationError(f"the row has no {self._match} to match on",
                                  field=self._match)
        return value, update

    def _given_key(self, row: Any) -> str | int | None:
        if isinstance(row, Mapping):
            value = row.get(self._match)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return value
        return None

    def _prepare(self, index: int, row: Any) -> CustomerSyncResult | _RowJob:
        try:
            key, update = self._parse(row)
        except ValidationError as exc:
            return _failed(index, self._given_key(row), exc)
        try:
            outcome = self._decide(index, key, update, searched=self.strategy == "search")
        except Exception as exc:  # a bug or a surprise: this row fails, the sync goes on
            return _failed(index, key, item_failure(exc)[0])
        if isinstance(outcome, CustomerSyncResult):
            return outcome
        return _RowJob(index, key, outcome)

    def _decide(self, index: int, key: str | int, update: CustomerUpdate, *,
                searched: bool) -> CustomerSyncResult | _Job:
        """The row's result when it needs no request; otherwise the job that sends them."""
        lookup = match_key(self._match, key)
        if lookup in self._busy:  # an earlier row with this key is in flight: wait for it
            return lambda: self._after(index, key, update, searched)
        entry = self._index.get(lookup)
        if entry is None and searched:
            return self._claim(lookup, lambda: self._search(index, key, update))
        return self._with_entry(index, key, update, entry)

    def _with_entry(self, index: int, key: str | int, update: CustomerUpdate,
                    entry: _Entry | None, *, claim: bool = True) -> CustomerSyncResult | _Job:
        """The row against what is known of its key; a job is claimed unless ``claim``
        is False (the caller holds the key already)."""
        lookup = match_key(self._match, key)
        job: _Job
        if isinstance(entry, Ambiguous):
            ids = tuple(sorted(entry.ids))
            return _failed(index, key, AmbiguousCustomerError(
                f"{len(ids)} customers have {self._match} {key!r} (ids "
                f"{', '.join(map(str, ids))}); nothing sent", customer_ids=ids))
        if isinstance(entry, _Uncertain):
            return _failed(index, key, HelpCrunchError(
                f"an earlier row's create of {self._match} {key!r} may have reached "
                f"HelpCrunch ({entry.error}); not created again: run the sync again to "
                "find it"))
        if entry is None:
            if not self._create_missing:
                return _failed(index, key, CustomerNotFoundError(
                    f"no customer has {self._match} {key!r} (create_missing is off)",
                    match=self._match, key=key))
            plan = plan_create(update)
            if self._dry_run and not self._confirm_creates:
                self._index.put(lookup, record_of_update(update))
                return _result(index, key, None, plan)

            def job() -> Awaitable[CustomerSyncResult]:
                return self._create(index, key, update, plan)
        elif needs_full_customer(update, entry, exact_tags=self._exact_tags):
            record = entry

            def job() -> Awaitable[CustomerSyncResult]:
                return self._fetch_and_update(index, key, update, record)
        else:
            outcome = self._against(index, key, update, entry)
            if isinstance(outcome, CustomerSyncResult):
                return outcome
            cid, plan = outcome

            def job() -> Awaitable[CustomerSyncResult]:
                return self._update(index, key, cid, plan)
        return self._claim(lookup, job) if claim else job

    def _claim(self, lookup: str | int, job: _Job) -> _Job:
        """Mark the key busy until ``job`` is done, so later rows with it wait."""
        event = self._busy[lookup] = asyncio.Event()

        async def run() -> CustomerSyncResult:
            try:
                return await job()
            finally:
                del self._busy[lookup]
                event.set()

        return run

    async def _after(self, index: int, key: str | int, update: CustomerUpdate,
                     searched: bool) -> CustomerSyncResult:
        lookup = match_key(self._match, key)
        while lookup in self._busy:
            await self._busy[lookup].wait()
        outcome = self._decide(index, key, update, searched=searched)
        return await _settle(outcome)

    # --- requests ------------------------------------------------------------------------

    async def _search(self, index: int, key: str | int, update: CustomerUpdate
                      ) -> CustomerSyncResult:
        try:
            customer = await self._find(key)
        except HelpCrunchError as exc:  # AmbiguousCustomerError included
            return _failed(index, key, exc)
        entry = None if customer is None else self._builder.record(customer)
        outcome = self._with_entry(index, key, update, entry, claim=False)
        return await _settle(outcome)

    async def _find(self, key: str | int) -> Customer | None:
        self.reads += 1
        if self._match == "id":
            try:
                return await self._client.get_customer(key, **self._call)
            except NotFoundError:
                return None
        if self._match == "user_id":
            return await self._client.find_customer(user_id=str(key), **self._call)
        return await self._client.find_customer(email=str(key), **self._call)

    async def _fetch_and_update(self, index: int, key: str | int, update: CustomerUpdate,
                                entry: CustomerRecord) -> CustomerSyncResult:
        assert entry.id is not None
        try:
            self.reads += 1
            customer = await self._client.get_customer(entry.id, **self._call)
        except HelpCrunchError as exc:
            return _failed(index, key, exc, entry.id)
        self._refresh(key, customer)
        outcome = self._against(index, key, update, self._builder.record(customer))
        if isinstance(outcome, CustomerSyncResult):
            return outcome
        return await self._update(index, key, *outcome)

    def _against(self, index: int, key: str | int, update: CustomerUpdate,
                 record: CustomerRecord) -> CustomerSyncResult | tuple[int, RowPlan]:
        """The row's result when it needs no write, else the customer id and the plan."""
        try:
            plan = plan_update(update, record, exact_tags=self._exact_tags)
        except HelpCrunchError as exc:
            return _failed(index, key, exc, record.id)
        if plan.unchanged or self._dry_run:
            return _result(index, key, record.id, plan)
        assert record.id is not None  # only dry runs hold records without an id
        return record.id, plan

    async def _update(self, index: int, key: str | int, cid: int, plan: RowPlan
                      ) -> CustomerSyncResult:
        client = self._client
        customer: Customer | None = None
        try:
            if plan.patch is not None:
                self.writes += 1
                customer = await client.update_customer(cid, plan.patch, **self._call)
            if plan.add_tags:
                self.writes += 1
                customer = await client.tag_customer(cid, plan.add_tags, **self._call)
            if plan.remove_tags:
                self.writes += 1
                customer = await client.untag_customer(cid, plan.remove_tags, **self._call)
        except HelpCrunchError as exc:
            return _failed(index, key, exc, cid, plan)
        finally:
            if customer is not None:  # a later row with this key compares with the new state
                self._refresh(key, customer)
        return _result(index, key, cid, plan)

    async def _create(self, index: int, key: str | int, update: CustomerUpdate,
                      plan: RowPlan) -> CustomerSyncResult:
        lookup = match_key(self._match, key)
        if self._confirm_creates:  # the listing may have missed this customer
            try:
                found = await self._find(key)
            except HelpCrunchError as exc:
                return _failed(index, key, exc)
            if found is not None:
                record = self._builder.record(found)
                self._index.put(lookup, record)
                outcome = self._with_entry(index, key, update, record, claim=False)
                return await _settle(outcome)
        if self._dry_run:
            self._index.put(lookup, record_of_update(update))
            return _result(index, key, None, plan)
        try:
            self.writes += 1
            customer = await self._client.create_customer(update, **self._call)
        except APIConnectionError as exc:
            if exc.maybe_sent:
                self._index.put(lookup, _Uncertain(exc))
            return _failed(index, key, exc, None, plan)
        except APIError as exc:
            # Only a 4xx refused the create for sure: after a 5xx it may have happened,
            # and after a 2xx whose answer could not be read it did.
            if exc.status is None or not 400 <= exc.status < 500:
                self._index.put(lookup, _Uncertain(exc))
            return _failed(index, key, exc, None, plan)
        except HelpCrunchError as exc:
            return _failed(index, key, exc, None, plan)
        self._index.put(lookup, self._builder.record(customer))
        return _result(index, key, customer.id, plan)

    def _refresh(self, key: str | int, customer: Customer) -> None:
        """Replace the key's record (the search strategy holds only created keys)."""
        lookup = match_key(self._match, key)
        if lookup in self._index:
            self._index.put(lookup, self._builder.record(customer))


class _RowJob:
    """A row's requests to make, and the row's index and key (for its result should it
    be stopped before they are sent)."""

    __slots__ = ("index", "job", "key")

    def __init__(self, index: int, key: str | int, job: _Job) -> None:
        self.index = index
        self.key = key
        self.job = job

    async def __call__(self) -> CustomerSyncResult:
        try:
            return await self.job()
        except Exception as exc:  # a bug or a surprise: this row fails, the sync goes on
            return _failed(self.index, self.key, item_failure(exc)[0])


async def _settle(outcome: CustomerSyncResult | _Job) -> CustomerSyncResult:
    """The row's result: ``outcome`` itself, or what its job returns."""
    return outcome if isinstance(outcome, CustomerSyncResult) else await outcome()


def _result(index: int, key: str | int, cid: int | None, plan: RowPlan) -> CustomerSyncResult:
    return CustomerSyncResult(index=index, key=key, action=plan.action, customer_id=cid,
                              changed=plan.changed, diff=plan.diff)


def _failed(index: int, key: str | int | None, error: HelpCrunchError,
            cid: int | None = None, plan: RowPlan | None = None) -> CustomerSyncResult:
    return CustomerSyncResult(
        index=index, key=key, action="failed", customer_id=cid, error=error,
        changed=() if plan is None else plan.changed,
        diff={} if plan is None else plan.diff)
