"""Bulk updates: stream many customer updates through one client, each reported once.

:func:`run_bulk` is the engine behind :meth:`AsyncHelpCrunch.update_customers`. It
pulls the input lazily — never more than ``max_concurrency`` requests in flight and
never more input read than those requests need — so a generator of a million
updates runs in the memory of a few dozen. Every input item gives exactly one
:class:`BulkResult`: done, or failed with the :class:`HelpCrunchError` that stopped
it (a bad item fails with its :class:`ValidationError` and the job goes on).

One failure stops the job: HelpCrunch refusing the API key (401 or 403), since every
later request would fail the same way. Then no more input is read, the requests in
flight finish and are yielded, items read but not yet sent fail with
:class:`BulkAbortedError` (``attempts`` 0), and the generator raises that error at the
end. So every item read is reported exactly once, and an input of millions is not
read to the end just to be reported unsent: what was never read stays in the caller's
iterator, and the raised error says the job did not run out of input.

Nothing here sends a request itself: it calls the client's own send functions, so
every request goes through the client's rate limiter, retries and shared 429 pause.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, TypeAlias

import aiohttp
import attrs

from ._convert import ResponseShapeError, update_to_json
from ._exceptions import (
    APIError,
    BatchItemError,
    HelpCrunchError,
    ValidationError,
)
from ._fastpaths import customer_from_json, fields_to_json
from ._job_engine import InputSource, JobEngine, item_failure
from ._json import encode_body
from ._models import Customer, CustomerUpdate
from ._requestor import Requestor
from ._responses import error_details_of
from ._retry import check_max_retries
from ._validation import check_customer_id, check_flags

__all__ = [
    "BATCH_SIZE",
    "BulkItem",
    "BulkJob",
    "BulkResult",
    "batch_outcomes",
    "bulk_update",
    "run_bulk",
]

BATCH_SIZE = 10
"""Items per ``PUT /customers/batch`` request: HelpCrunch accepts 1 to 10."""

BulkItem: TypeAlias = tuple[int | str, CustomerUpdate | Mapping[str, Any]]
"""One input item: ``(customer_id, CustomerUpdate or a mapping of keyword fields)``."""

# The update of an item goes out as its JSON object (update_to_json / fields_to_json).
SendOne = Callable[[int, dict[str, Any]], Awaitable[tuple[Customer, int]]]
BatchOutcome: TypeAlias = "Customer | BatchItemError | None"
SendBatch = Callable[[list[tuple[int, dict[str, Any]]]], Awaitable[tuple[list[BatchOutcome], int]]]


@attrs.frozen(kw_only=True)
class BulkResult:
    """The outcome of one input item of a bulk job.

    Attributes:
        index: the item's position in the input, from 0.
        customer_id: the id as given (``None`` when the item had none).
        ok: True when HelpCrunch accepted the update.
        customer: the customer as returned (``None`` on failure, and for batch items
            when the batch response could not be matched to its items).
        error: why the item failed (``None`` when ``ok``).
        attempts: requests made for this item (0 when it failed validation).

    Example:
        >>> r = BulkResult(index=0, customer_id=7, ok=False,
        ...                error=ValidationError("bad", field="name"))
        >>> r.ok, r.error.field
        (False, 'name')
    """

    index: int
    customer_id: int | str | None
    ok: bool
    customer: Customer | None = None
    error: HelpCrunchError | None = None
    attempts: int = 0


class BulkJob:
    """A running ``update_customers`` job: an async iterator of one :class:`BulkResult`
    per input item, which can be stopped without losing track of any item.

    ``async for r in job`` yields the results; ``await job.aclose()`` (or
    ``contextlib.aclosing``) cancels what is in flight, unreported; :meth:`stop` ends the
    job cleanly.

    Example:
        >>> import asyncio, helpcrunch_async as hc
        >>> async def first_ten(client: hc.AsyncHelpCrunch, updates) -> None:
        ...     job = client.update_customers(updates)
        ...     async for r in job:
        ...         if r.index == 9:
        ...             job.stop()   # the rest: done if on the wire, else not sent
    """

    __slots__ = ("_engine", "_results")

    def __init__(self, engine: JobEngine[Any, BulkResult]) -> None:
        self._engine = engine
        self._results = engine.results()

    def __aiter__(self) -> BulkJob:
        return self

    def __anext__(self) -> Awaitable[BulkResult]:
        return self._results.__anext__()

    def aclose(self) -> Awaitable[None]:
        """Cancel the requests in flight (their items are not reported) and end the job."""
        return self._results.aclose()

    def stop(self) -> None:
        """Stop the job: read no more input and send nothing more.

        Requests already on the wire finish and their items are reported as usual;
        every item read but not yet sent is reported failed with
        :class:`JobStoppedError` (nothing was sent for it) at once, without waiting for
        the rate limiter; then the iterator ends. Items never read stay in your
        iterable. Safe to call from a signal handler on the job's event loop (e.g.
        ``loop.add_signal_handler(signal.SIGTERM, job.stop)``), and more than once.
        """
        self._engine.stop()


_Prepared: TypeAlias = "tuple[int, int | str, int, dict[str, Any]]"  # index, given id, id, JSON


def _prepare(index: int, item: object, replace: bool) -> _Prepared | BulkResult:
    """Validate one input item: a prepared update, or the failed result saying why."""
    given: int | str | None = None
    try:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValidationError(
                f"item {index} must be a (customer_id, update) pair, got {type(item).__name__}",
                field="updates",
            )
        raw_id, update = item
        if isinstance(raw_id, int | str):
            given = raw_id
        cid = check_customer_id(raw_id)
        if isinstance(update, CustomerUpdate):
            payload = update_to_json(update)
        elif type(update) is dict or isinstance(update, Mapping):  # as CustomerUpdate checks
            payload = fields_to_json(update)
        else:
            raise ValidationError(
                f"item {index}: the update must be a CustomerUpdate or a mapping of fields, "
                f"got {type(update).__name__}",
                field="update",
            )
        if not payload:
            raise ValidationError(
                f"item {index}: nothing to update"
                + (" (an empty replace would clear the customer)" if replace else ""),
                field="update",
            )
    except ValidationError as exc:
        return BulkResult(index=index, customer_id=given, ok=False, error=exc)
    return index, given if given is not None else cid, cid, payload


async def _one(send_one: SendOne, prepared: _Prepared) -> list[BulkResult]:
    index, given, cid, payload = prepared
    try:
        customer, attempts = await send_one(cid, payload)
    except Exception as exc:  # every failure becomes this item's result
        error, attempts = item_failure(exc)
        return [
            BulkResult(index=index, customer_id=given, ok=False, error=error, attempts=attempts)
        ]
    return [
        BulkResult(index=index, customer_id=given, ok=True, customer=customer, attempts=attempts)
    ]


async def _batch(
    send_one: SendOne, send_batch: SendBatch, chunk: list[_Prepared], fallback: bool
) -> list[BulkResult]:
    try:
        customers, attempts = await send_batch([(p[2], p[3]) for p in chunk])
    except Exception as exc:
        if fallback or _refused_whole(exc):
            singles = await asyncio.gather(*(_one(send_one, p) for p in chunk))
            return [r for results in singles for r in results]
        error, attempts = item_failure(exc)
        return [
            BulkResult(index=p[0], customer_id=p[1], ok=False, error=error, attempts=attempts)
            for p in chunk
        ]
    return [
        BulkResult(index=p[0], customer_id=p[1], ok=False, error=c, attempts=attempts)
        if isinstance(c, BatchItemError)
        else BulkResult(index=p[0], customer_id=p[1], ok=True, customer=c, attempts=attempts)
        for p, c in zip(chunk, customers, strict=True)
    ]


_KEY_OR_LIMIT = frozenset({401, 403, 429})


def _refused_whole(exc: BaseException) -> bool:
    """True for a 4xx answer to a batch (other than 401/403/429): retry its items singly.

    A 4xx refuses the request: the batch did nothing, and its cause may be one item (an
    unknown id answers 404 for the whole batch). Each item sent on its own then fails
    alone, or is done. (HelpCrunch does not document batch atomicity; re-sending an item
    is harmless anyway: ``PATCH``/``PUT`` of the same fields again.) Not for 401/403
    (the key is bad: every single request would fail the same way) nor 429 (the
    requestor already waited and retried it).
    """
    return isinstance(exc, APIError) and 400 <= exc.status < 500 and exc.status not in _KEY_OR_LIMIT


def batch_outcomes(data: Any, ids: Sequence[int], path: str) -> list[BatchOutcome]:
    """Match a ``PUT /customers/batch`` response to its items, one outcome per item.

    HelpCrunch does not document this response, so only what it says plainly counts:

    * a list of entries (or ``{"data": [...]}``) with one entry per item: entry *i*
      decides item *i* — done when it is the item's customer (by ``id``), a
      :class:`BatchItemError` when it carries ``errors`` or is anything else;
    * a list of another length, or a top-level ``errors`` list: every item fails with a
      :class:`BatchItemError` (the response does not confirm them);
    * any other 2xx body: ``None`` for every item — the request succeeded, with nothing
      per item to read.
    """
    count = len(ids)

    def failed(cid: int, problem: str, entry: Any, details: tuple[Any, ...] = ()) -> Any:
        return BatchItemError(
            status=200,
            method="PUT",
            path=path,
            errors=details,
            body=_entry_text(entry),
            message=f"{problem}: the update of customer {cid} is not confirmed",
        )

    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        details = error_details_of(data)
        if details:
            return [failed(cid, "the batch response reports errors", data, details) for cid in ids]
        return [None] * count
    if len(data) != count:
        return [
            failed(cid, f"the batch response has {len(data)} entries for {count} items", None)
            for cid in ids
        ]
    out: list[BatchOutcome] = []
    for position, (entry, cid) in enumerate(zip(data, ids, strict=True)):
        details = error_details_of(entry)
        if details:
            out.append(
                failed(cid, "HelpCrunch reported an error for this batch item", entry, details)
            )
            continue
        try:
            customer = customer_from_json(entry)
        except ResponseShapeError as exc:
            if isinstance(entry, dict) and entry.get("id") == cid:
                out.append(None)  # it is this customer, in a shape we cannot read
            else:
                out.append(
                    failed(
                        cid,
                        f"entry {position} of the batch response is not a customer ({exc})",
                        entry,
                    )
                )
            continue
        if customer.id == cid:
            out.append(customer)
        else:
            out.append(
                failed(
                    cid,
                    f"entry {position} of the batch response is customer {customer.id}, not {cid}",
                    entry,
                )
            )
    return out


def _entry_text(entry: Any) -> str:
    """A batch response entry as JSON text for an error's ``body`` (at most 2,000 chars)."""
    try:
        return json.dumps(entry, default=str)[:2000]
    except RecursionError:  # decoded a little below the stack limit, too deep to encode here
        return "(not shown: nested too deeply)"


def bulk_update(
    requestor: Requestor,
    updates: Iterable[Any] | AsyncIterable[Any],
    *,
    max_concurrency: int,
    ordered: bool,
    replace: bool,
    batch: bool,
    batch_fallback: bool,
    timeout: aiohttp.ClientTimeout | None,
    max_retries: int | None,
) -> BulkJob:
    """The job of ``AsyncHelpCrunch.update_customers``: its flags checked (a string such
    as ``"false"`` is truthy: never guess at ``PUT``), one ``PATCH``/``PUT`` per item or
    one ``PUT /customers/batch`` per 10, through ``requestor``."""
    check_flags(ordered=ordered, replace=replace, batch=batch, batch_fallback=batch_fallback)
    if max_retries is not None:
        check_max_retries(max_retries)
    method = "PUT" if replace else "PATCH"
    batch_path = f"{requestor.base_path}/customers/batch"

    def send_one(cid: int, payload: dict[str, Any]) -> Awaitable[tuple[Customer, int]]:
        return requestor.request(
            method,
            f"/customers/{cid}",
            customer_from_json,
            body=encode_body(payload),
            timeout=timeout,
            max_retries=max_retries,
            counted=True,
            call="update_customers",
        )

    def send_batch(
        items: list[tuple[int, dict[str, Any]]],
    ) -> Awaitable[tuple[list[BatchOutcome], int]]:
        body = encode_body([{"customer": cid, **payload} for cid, payload in items])
        ids = [cid for cid, _ in items]
        return requestor.request(
            "PUT",
            "/customers/batch",
            lambda data: batch_outcomes(data, ids, batch_path),
            body=body,
            timeout=timeout,
            max_retries=max_retries,
            counted=True,
            call="update_customers",
        )

    return run_bulk(
        InputSource(updates),
        send_one=send_one,
        send_batch=send_batch if batch else None,
        max_concurrency=max_concurrency,
        ordered=ordered,
        batch_fallback=batch_fallback,
        replace=replace,
    )


def run_bulk(
    updates: Iterable[Any] | AsyncIterable[Any] | InputSource,
    *,
    send_one: SendOne,
    send_batch: SendBatch | None,
    max_concurrency: int,
    ordered: bool = False,
    batch_fallback: bool = False,
    replace: bool = False,
) -> BulkJob:
    """Yield one :class:`BulkResult` per input item; see ``update_customers``.

    At most ``max_concurrency`` requests are in flight; the input is read only when a
    slot is free and fewer than ``max_concurrency`` results wait to be yielded (with
    ``ordered=True``, also only while fewer than ``4 * max_concurrency`` items — times
    10 with batches — wait for an earlier one). If the input iterator
    raises, the requests in flight finish and are yielded, then the error propagates.
    A refused API key (401/403) stops the job the same way and raises
    :class:`BulkAbortedError` (see the module docstring).
    Closing the generator early cancels the requests in flight (their items are not
    reported: stop feeding input instead to end a job cleanly).
    """

    def start(chunk: list[_Prepared]) -> Awaitable[list[BulkResult]]:
        if send_batch is None:
            return _one(send_one, chunk[0])
        return _batch(send_one, send_batch, chunk, batch_fallback)

    def unsent(p: _Prepared, error: HelpCrunchError) -> BulkResult:
        return BulkResult(index=p[0], customer_id=p[1], ok=False, error=error)

    return BulkJob(
        JobEngine(
            updates,
            prepare=lambda index, item: _prepare(index, item, replace),
            result_type=BulkResult,
            start=start,
            unsent=unsent,
            chunk_size=BATCH_SIZE if send_batch is not None else 1,
            max_concurrency=max_concurrency,
            ordered=ordered,
        )
    )
