"""Each row of the data sync: what it needs, and the requests that make it so.

:class:`RowSync` takes one row at a time (:meth:`RowSync.prepare`): a row that needs
no request (unchanged, ambiguous, not found, invalid) gets its result at once; any
other gets the job that sends its requests — a ``PATCH`` of only the differing fields
plus tag/untag calls, a ``POST`` for a missing customer (``create_missing``), or a
lookup first (``strategy="search"``, or when the listing cannot tell). Rows with the
same key wait for each other, so each is compared with the customer as the one before
left it. Creates are never sent twice (see :mod:`~helpcrunch_async._customer_sync`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

import attrs

from ._account_index import AccountIndex, Ambiguous, match_key
from ._customer_diff import (
    CustomerRecord,
    RecordBuilder,
    RowPlan,
    needs_full_customer,
    plan_create,
    plan_update,
    record_of_update,
)
from ._customer_sync_result import CustomerSyncResult, SyncMatch, failed, row_result
from ._exceptions import (
    AmbiguousCustomerError,
    APIConnectionError,
    APIError,
    CustomerNotFoundError,
    HelpCrunchError,
    NotFoundError,
    ValidationError,
)
from ._job_engine import item_failure
from ._models import Customer, CustomerUpdate, Tag, coerce_update
from ._paging import AsyncCustomerPager
from ._validation import check_customer_id

__all__ = ["Client", "RowJob", "RowSync", "new_index"]


class Client(Protocol):
    """What the sync uses of :class:`AsyncHelpCrunch` (no import: the client imports us)."""

    def list_customers(
        self, *, page_size: int = ..., timeout: Any = ..., max_retries: int | None = ...
    ) -> AsyncCustomerPager: ...
    async def find_customer(
        self,
        *,
        user_id: str | None = ...,
        email: str | None = ...,
        timeout: Any = ...,
        max_retries: int | None = ...,
    ) -> Customer | None: ...
    async def get_customer(
        self, customer_id: int | str, /, *, timeout: Any = ..., max_retries: int | None = ...
    ) -> Customer: ...
    async def update_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate | None = ...,
        /,
        *,
        timeout: Any = ...,
        max_retries: int | None = ...,
    ) -> Customer: ...
    async def create_customer(
        self,
        update: CustomerUpdate | None = ...,
        /,
        *,
        timeout: Any = ...,
        max_retries: int | None = ...,
    ) -> Customer: ...
    @property
    def tag_customer(self) -> _TagCall: ...
    @property
    def untag_customer(self) -> _TagCall: ...


class _TagCall(Protocol):
    """``tag_customer`` and ``untag_customer``: one shape of call, the tags added or removed."""

    def __call__(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: Any = ...,
        max_retries: int | None = ...,
    ) -> Awaitable[Customer]: ...


def _id_of(known: Known) -> int | None:
    return known.id if isinstance(known, CustomerRecord) else None


class _Uncertain:
    """A key whose create may have reached the server (its answer was lost)."""

    __slots__ = ("error",)

    def __init__(self, error: HelpCrunchError) -> None:
        self.error = error


Known: TypeAlias = "CustomerRecord | _Uncertain"  # what the index holds for a key
_Entry: TypeAlias = "CustomerRecord | _Uncertain | Ambiguous"
_Job: TypeAlias = "Callable[[], Awaitable[CustomerSyncResult]]"


def new_index(match: SyncMatch) -> AccountIndex[Known]:
    """An empty index of the account's customers (records) by ``match`` key."""
    return AccountIndex(match, id_of=_id_of)


@attrs.define(eq=False)
class RowSync:
    """The rows of one data sync: each one's result, or the job that sends its requests.

    Made with ``(client, index, *, match, create_missing, exact_tags, dry_run, call)``;
    ``call`` holds the keywords of every request (``timeout``, ``max_retries``).

    Attributes:
        match, create_missing: as given (the sync's own, read by it too).
        searched: look each key up on its own (``strategy="search"``) instead of
            taking the index for the whole account.
        confirm_creates: confirm each create with a search first (the listing may have
            missed customers).
        reads, writes: requests made for rows (not counting retries).
    """

    _client: Client
    _index: AccountIndex[Known]
    match: SyncMatch = attrs.field(kw_only=True)
    create_missing: bool = attrs.field(kw_only=True)
    _exact_tags: bool = attrs.field(kw_only=True)
    _dry_run: bool = attrs.field(kw_only=True)
    _call: dict[str, Any] = attrs.field(kw_only=True)
    _builder: RecordBuilder = attrs.field(init=False, factory=RecordBuilder)
    # keys with a row in flight
    _busy: dict[str | int, asyncio.Event] = attrs.field(init=False, factory=dict)
    searched: bool = attrs.field(init=False, default=False)
    confirm_creates: bool = attrs.field(init=False, default=False)
    reads: int = attrs.field(init=False, default=0)
    writes: int = attrs.field(init=False, default=0)

    def record(self, customer: Customer) -> CustomerRecord:
        """The compact record the index keeps of ``customer``."""
        return self._builder.record(customer)

    def _parse(self, row: Any) -> tuple[str | int, CustomerUpdate]:
        if not isinstance(row, Mapping):
            raise ValidationError(
                f"a row must be a mapping of fields, got {type(row).__name__}", field="row"
            )
        if self.match == "id":
            if row.get("id") is None:
                raise ValidationError("the row has no id to match on", field="id")
            key: str | int = check_customer_id(row["id"])
            update = coerce_update(None, {k: v for k, v in row.items() if k != "id"})
            return key, update
        update = coerce_update(None, row)
        value = getattr(update, self.match)
        if not isinstance(value, str) or not value:
            raise ValidationError(f"the row has no {self.match} to match on", field=self.match)
        return value, update

    def _given_key(self, row: Any) -> str | int | None:
        if isinstance(row, Mapping):
            value = row.get(self.match)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return value
        return None

    def prepare(self, index: int, row: Any) -> CustomerSyncResult | RowJob:
        try:
            key, update = self._parse(row)
        except ValidationError as exc:
            return failed(index, self._given_key(row), exc)
        try:
            outcome = self._decide(index, key, update, searched=self.searched)
        except Exception as exc:  # a bug or a surprise: this row fails, the sync goes on
            return failed(index, key, item_failure(exc)[0])
        if isinstance(outcome, CustomerSyncResult):
            return outcome
        return RowJob(index, key, outcome)

    def _decide(
        self, index: int, key: str | int, update: CustomerUpdate, *, searched: bool
    ) -> CustomerSyncResult | _Job:
        """The row's result when it needs no request; otherwise the job that sends them."""
        lookup = match_key(self.match, key)
        if lookup in self._busy:  # an earlier row with this key is in flight: wait for it
            return lambda: self._after(index, key, update, searched)
        entry = self._index.get(lookup)
        if entry is None and searched:
            return self._claim(lookup, lambda: self._search(index, key, update))
        return self._with_entry(index, key, update, entry)

    def _with_entry(
        self,
        index: int,
        key: str | int,
        update: CustomerUpdate,
        entry: _Entry | None,
        *,
        claim: bool = True,
    ) -> CustomerSyncResult | _Job:
        """The row against what is known of its key; a job is claimed unless ``claim``
        is False (the caller holds the key already)."""
        lookup = match_key(self.match, key)
        job: _Job
        if isinstance(entry, Ambiguous):
            ids = tuple(sorted(entry.ids))
            return failed(
                index,
                key,
                AmbiguousCustomerError(
                    f"{len(ids)} customers have {self.match} {key!r} (ids "
                    f"{', '.join(map(str, ids))}); nothing sent",
                    customer_ids=ids,
                ),
            )
        if isinstance(entry, _Uncertain):
            return failed(
                index,
                key,
                HelpCrunchError(
                    f"an earlier row's create of {self.match} {key!r} may have reached "
                    f"HelpCrunch ({entry.error}); not created again: run the sync again to "
                    "find it"
                ),
            )
        if entry is None:
            if not self.create_missing:
                return failed(
                    index,
                    key,
                    CustomerNotFoundError(
                        f"no customer has {self.match} {key!r} (create_missing is off)",
                        match=self.match,
                        key=key,
                    ),
                )
            plan = plan_create(update)
            if self._dry_run and not self.confirm_creates:
                self._index.put(lookup, record_of_update(update))
                return row_result(index, key, None, plan)

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

    async def _after(
        self, index: int, key: str | int, update: CustomerUpdate, searched: bool
    ) -> CustomerSyncResult:
        lookup = match_key(self.match, key)
        while lookup in self._busy:
            await self._busy[lookup].wait()
        outcome = self._decide(index, key, update, searched=searched)
        return await _settle(outcome)

    # --- requests ------------------------------------------------------------------------

    async def _search(
        self, index: int, key: str | int, update: CustomerUpdate
    ) -> CustomerSyncResult:
        try:
            customer = await self._find(key)
        except HelpCrunchError as exc:  # AmbiguousCustomerError included
            return failed(index, key, exc)
        entry = None if customer is None else self._builder.record(customer)
        outcome = self._with_entry(index, key, update, entry, claim=False)
        return await _settle(outcome)

    async def _find(self, key: str | int) -> Customer | None:
        self.reads += 1
        if self.match == "id":
            try:
                return await self._client.get_customer(key, **self._call)
            except NotFoundError:
                return None
        if self.match == "user_id":
            return await self._client.find_customer(user_id=str(key), **self._call)
        return await self._client.find_customer(email=str(key), **self._call)

    async def _fetch_and_update(
        self, index: int, key: str | int, update: CustomerUpdate, entry: CustomerRecord
    ) -> CustomerSyncResult:
        assert entry.id is not None
        try:
            self.reads += 1
            customer = await self._client.get_customer(entry.id, **self._call)
        except HelpCrunchError as exc:
            return failed(index, key, exc, entry.id)
        self._refresh(key, customer)
        outcome = self._against(index, key, update, self._builder.record(customer))
        if isinstance(outcome, CustomerSyncResult):
            return outcome
        return await self._update(index, key, *outcome)

    def _against(
        self, index: int, key: str | int, update: CustomerUpdate, record: CustomerRecord
    ) -> CustomerSyncResult | tuple[int, RowPlan]:
        """The row's result when it needs no write, else the customer id and the plan."""
        try:
            plan = plan_update(update, record, exact_tags=self._exact_tags)
        except HelpCrunchError as exc:
            return failed(index, key, exc, record.id)
        if plan.unchanged or self._dry_run:
            return row_result(index, key, record.id, plan)
        assert record.id is not None  # only dry runs hold records without an id
        return record.id, plan

    async def _update(
        self, index: int, key: str | int, cid: int, plan: RowPlan
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
            return failed(index, key, exc, cid, plan)
        finally:
            if customer is not None:  # a later row with this key compares with the new state
                self._refresh(key, customer)
        return row_result(index, key, cid, plan)

    async def _create(
        self, index: int, key: str | int, update: CustomerUpdate, plan: RowPlan
    ) -> CustomerSyncResult:
        lookup = match_key(self.match, key)
        if self.confirm_creates:  # the listing may have missed this customer
            try:
                found = await self._find(key)
            except HelpCrunchError as exc:
                return failed(index, key, exc)
            if found is not None:
                record = self._builder.record(found)
                self._index.put(lookup, record)
                outcome = self._with_entry(index, key, update, record, claim=False)
                return await _settle(outcome)
        if self._dry_run:
            self._index.put(lookup, record_of_update(update))
            return row_result(index, key, None, plan)
        try:
            self.writes += 1
            customer = await self._client.create_customer(update, **self._call)
        except APIConnectionError as exc:
            if exc.maybe_sent:
                self._index.put(lookup, _Uncertain(exc))
            return failed(index, key, exc, None, plan)
        except APIError as exc:
            # Only a 4xx refused the create for sure: after a 5xx it may have happened,
            # and after a 2xx whose answer could not be read it did.
            if exc.status is None or not 400 <= exc.status < 500:
                self._index.put(lookup, _Uncertain(exc))
            return failed(index, key, exc, None, plan)
        except HelpCrunchError as exc:
            return failed(index, key, exc, None, plan)
        self._index.put(lookup, self._builder.record(customer))
        return row_result(index, key, customer.id, plan)

    def _refresh(self, key: str | int, customer: Customer) -> None:
        """Replace the key's record (the search strategy holds only created keys)."""
        lookup = match_key(self.match, key)
        if lookup in self._index:
            self._index.put(lookup, self._builder.record(customer))


class RowJob:
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
            return failed(self.index, self.key, item_failure(exc)[0])


async def _settle(outcome: CustomerSyncResult | _Job) -> CustomerSyncResult:
    """The row's result: ``outcome`` itself, or what its job returns."""
    return outcome if isinstance(outcome, CustomerSyncResult) else await outcome()
