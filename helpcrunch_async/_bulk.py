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
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Protocol, TypeAlias, TypeVar

import attrs

from ._call_scope import SCOPE, JobTask
from ._convert import ResponseShapeError, update_to_json
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BatchItemError,
    BulkAbortedError,
    HelpCrunchError,
    JobStoppedError,
    PermissionDeniedError,
    ValidationError,
)
from ._fastpaths import customer_from_json, fields_to_json, positional_builder
from ._models import Customer, CustomerUpdate
from ._responses import error_details_of
from ._validation import check_customer_id

__all__ = [
    "BATCH_SIZE", "BulkItem", "BulkJob", "BulkResult", "InputSource", "StopSignal",
    "batch_outcomes", "run_bulk", "schedule",
]

BATCH_SIZE = 10
"""Items per ``PUT /customers/batch`` request: HelpCrunch accepts 1 to 10."""

BulkItem: TypeAlias = tuple[int | str, CustomerUpdate | Mapping[str, Any]]
"""One input item: ``(customer_id, CustomerUpdate or a mapping of keyword fields)``."""

# The update of an item goes out as its JSON object (update_to_json / fields_to_json).
SendOne = Callable[[int, dict[str, Any]], Awaitable[tuple[Customer, int]]]
BatchOutcome: TypeAlias = "Customer | BatchItemError | None"
SendBatch = Callable[
    [list[tuple[int, dict[str, Any]]]], Awaitable[tuple[list[BatchOutcome], int]]
]


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


# BulkResult(index, customer_id, ok, customer, error, attempts), positionally: one per item.
_result = positional_builder(BulkResult)


class StopSignal:
    """Tells a running :func:`schedule` to stop sending (see :meth:`BulkJob.stop`)."""

    __slots__ = ("_stop", "stopped")

    def __init__(self) -> None:
        self.stopped = False
        self._stop: Callable[[], None] | None = None

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            if self._stop is not None:
                self._stop()

    def attach(self, stop: Callable[[], None]) -> None:
        """The running job's way to stop (called by :func:`schedule` when it starts)."""
        self._stop = stop
        if self.stopped:
            stop()


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

    __slots__ = ("_results", "_signal")

    def __init__(self, results: AsyncGenerator[BulkResult, None], signal: StopSignal) -> None:
        self._results = results
        self._signal = signal

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
        self._signal.stop()

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


def _failure(exc: BaseException) -> tuple[HelpCrunchError, int]:
    """The error to report for an item and the attempts it took."""
    if isinstance(exc, APIError | APIConnectionError):
        return exc, exc.attempts
    if isinstance(exc, HelpCrunchError):
        return exc, 0
    error = HelpCrunchError(f"unexpected {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error, 0


async def _one(send_one: SendOne, prepared: _Prepared) -> list[BulkResult]:
    index, given, cid, payload = prepared
    try:
        customer, attempts = await send_one(cid, payload)
    except Exception as exc:  # every failure becomes this item's result
        error, attempts = _failure(exc)
        return [_result(index, given, False, None, error, attempts)]
    return [_result(index, given, True, customer, None, attempts)]


async def _batch(
    send_one: SendOne, send_batch: SendBatch, chunk: list[_Prepared], fallback: bool
) -> list[BulkResult]:
    try:
        customers, attempts = await send_batch([(p[2], p[3]) for p in chunk])
    except Exception as exc:
        if fallback or _refused_whole(exc):
            singles = await asyncio.gather(*(_one(send_one, p) for p in chunk))
            return [r for results in singles for r in results]
        error, attempts = _failure(exc)
        return [BulkResult(index=p[0], customer_id=p[1], ok=False, error=error,
                           attempts=attempts) for p in chunk]
    return [
        BulkResult(index=p[0], customer_id=p[1], ok=False, error=c, attempts=attempts)
        if isinstance(c, BatchItemError) else
        BulkResult(index=p[0], customer_id=p[1], ok=True, customer=c, attempts=attempts)
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
    return (isinstance(exc, APIError) and 400 <= exc.status < 500
            and exc.status not in _KEY_OR_LIMIT)


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
            status=200, method="PUT", path=path, errors=details,
            body=_entry_text(entry),
            message=f"{problem}: the update of customer {cid} is not confirmed",
        )

    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        details = error_details_of(data)
        if details:
            return [failed(cid, "the batch response reports errors", data, details)
                    for cid in ids]
        return [None] * count
    if len(data) != count:
        return [failed(cid, f"the batch response has {len(data)} entries for {count} items",
                       None) for cid in ids]
    out: list[BatchOutcome] = []
    for position, (entry, cid) in enumerate(zip(data, ids, strict=True)):
        details = error_details_of(entry)
        if details:
            out.append(failed(cid, "HelpCrunch reported an error for this batch item",
                              entry, details))
            continue
        try:
            customer = customer_from_json(entry)
        except ResponseShapeError as exc:
            if isinstance(entry, dict) and entry.get("id") == cid:
                out.append(None)  # it is this customer, in a shape we cannot read
            else:
                out.append(failed(cid, f"entry {position} of the batch response is not a "
                                       f"customer ({exc})", entry))
            continue
        if customer.id == cid:
            out.append(customer)
        else:
            out.append(failed(cid, f"entry {position} of the batch response is customer "
                                   f"{customer.id}, not {cid}", entry))
    return out


def _entry_text(entry: Any) -> str:
    """A batch response entry as JSON text for an error's ``body`` (at most 2,000 chars)."""
    try:
        return json.dumps(entry, default=str)[:2000]
    except RecursionError:  # decoded a little below the stack limit, too deep to encode here
        return "(not shown: nested too deeply)"


class InputSource:
    """A sync or async iterable, read one item at a time (checked when made)."""

    def __init__(self, updates: Iterable[Any] | AsyncIterable[Any]) -> None:
        if isinstance(updates, AsyncIterable):
            self._aiter: AsyncIterator[Any] | None = aiter(updates)
            self._iter = None
        elif isinstance(updates, Iterable) and not isinstance(updates, str | bytes | Mapping):
            self._aiter = None
            self._iter = iter(updates)
        else:
            raise ValidationError(
                "updates must be an iterable or async iterable of (customer_id, update) "
                f"pairs, got {type(updates).__name__}",
                field="updates",
            )

    @property
    def is_async(self) -> bool:
        """True for an async iterable: read it with :meth:`next`, not :meth:`next_now`."""
        return self._aiter is not None

    async def next(self) -> tuple[bool, Any]:
        """``(True, item)``, or ``(False, None)`` at the end."""
        if self._aiter is not None:
            try:
                return True, await anext(self._aiter)
            except StopAsyncIteration:
                return False, None
        return self.next_now()

    def next_now(self) -> tuple[bool, Any]:
        """:meth:`next` of a sync iterable, without a coroutine per item."""
        assert self._iter is not None
        try:
            return True, next(self._iter)
        except StopIteration:
            return False, None


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

    signal = StopSignal()
    return BulkJob(schedule(
        updates, prepare=lambda index, item: _prepare(index, item, replace),
        result_type=BulkResult, start=start, unsent=unsent,
        chunk_size=BATCH_SIZE if send_batch is not None else 1,
        max_concurrency=max_concurrency, ordered=ordered, stop_signal=signal,
    ), signal)


class _Outcome(Protocol):
    """What :func:`schedule` needs of a result: its input position and its error."""

    @property
    def index(self) -> int: ...
    @property
    def error(self) -> HelpCrunchError | None: ...


R = TypeVar("R", bound=_Outcome)
P = TypeVar("P")


async def schedule(
    items: Iterable[Any] | AsyncIterable[Any] | InputSource,
    *,
    prepare: Callable[[int, Any], R | P],
    result_type: type[R],
    start: Callable[[list[P]], Awaitable[list[R]]],
    unsent: Callable[[P, HelpCrunchError], R] | None = None,
    chunk_size: int = 1,
    max_concurrency: int,
    ordered: bool = False,
    stop_signal: StopSignal | None = None,
) -> AsyncGenerator[R, None]:
    """The engine of every bulk job: one result per input item, bounded work in flight.

    ``prepare(index, item)`` turns each input item, as it is read, into either its
    result (an instance of ``result_type``: a bad item, or one that needs no request)
    or a job; ``start(jobs)`` runs ``chunk_size`` jobs (fewer at the end) and returns
    their results; ``unsent(job, error)`` is the result of a job read but never started
    because the key was refused, or stopped by ``stop_signal`` before it was sent
    (needed with ``chunk_size > 1`` or a ``stop_signal``). At most
    ``max_concurrency`` starts run at once; see :func:`run_bulk` for reading, ordering,
    input errors, a refused key and closing early.

    How: up to ``max_concurrency`` worker tasks each read the next input item (or
    chunk), start it and hand its results over; this generator yields them. A worker
    whose request finished reads and sends the next item at once, in the same step of
    the event loop, instead of waiting for this generator to run and start it (which
    costs a few loop iterations per item). Workers read only while fewer than
    ``max_concurrency`` results wait to be yielded (and, ordered, while the window
    allows); an async iterable is read by one worker at a time.
    """
    if (chunk_size > 1 or stop_signal is not None) and unsent is None:
        raise TypeError("schedule: jobs started in chunks, or that may be stopped, need unsent=")
    source = items if isinstance(items, InputSource) else InputSource(items)
    read_now = None if source.is_async else source.next_now  # no coroutine per item
    reading = asyncio.Lock()  # an async iterable: one anext() at a time
    loop = asyncio.get_running_loop()
    size = chunk_size
    window = 4 * max_concurrency * size
    ready: deque[R] = deque()  # results handed over, not yet yielded (or buffered)
    buffer: dict[int, R] = {}  # ordered mode: results waiting for an earlier one
    next_out = 0  # ordered mode: the next index to yield
    pulled = 0  # items read so far
    exhausted = False  # read nothing more: end of input, input error, or key refused
    input_error: BaseException | None = None
    aborted: BulkAbortedError | None = None
    crashed: BaseException | None = None  # a bug in prepare/start: raised, not reported
    workers: list[asyncio.Task[None]] = []
    marks: dict[asyncio.Task[None], JobTask] = {}  # each worker's requests' view of it
    starting: set[asyncio.Task[None]] = set()  # workers inside start(), not between jobs
    stopped_by_us: set[asyncio.Task[None]] = set()  # cancelled by stop(): report unsent
    running = 0  # workers not yet finished
    wake: asyncio.Future[None] | None = None  # this generator waits here for results
    room: asyncio.Future[None] | None = None  # workers wait here for room to read more

    def hand_over(results: list[R]) -> None:
        nonlocal aborted, exhausted
        ready.extend(results)
        if aborted is None:
            aborted = _key_refused(results)
            if aborted is not None:  # stop: read nothing more, send nothing more
                exhausted = True
        if wake is not None and not wake.done():
            wake.set_result(None)

    def full() -> bool:
        """No room to read: results wait to be yielded, or the ordered window is full."""
        return len(ready) >= max_concurrency or (ordered and pulled - next_out >= window)

    def input_broke(exc: Exception) -> bool:
        """The caller's iterator failed: read no more, drain, then raise it. False."""
        nonlocal input_error
        if input_error is None:
            input_error = exc
        return False

    def take(chunk: list[P], more: bool, item: Any) -> bool:
        """Put what was read into ``chunk`` (a bad item is handed over at once); True when
        the chunk should go out: full, end of input, or no room to read more."""
        nonlocal pulled, exhausted
        if not more:
            exhausted = True
            return True
        prepared = prepare(pulled, item)
        pulled += 1
        if isinstance(prepared, result_type):
            hand_over([prepared])
        else:
            chunk.append(prepared)  # type: ignore[arg-type]  # not an R: a job
        # A partial chunk goes out rather than wait: what it waits for may be in it.
        return len(chunk) >= size or exhausted or full()

    def read_chunk_now() -> list[P]:
        """Up to ``size`` prepared jobs from a sync iterable: no coroutine per item."""
        assert read_now is not None
        chunk: list[P] = []
        while True:
            try:
                more, item = read_now()
            except Exception as exc:
                more, item = input_broke(exc), None
            if take(chunk, more, item):
                return chunk

    async def read_chunk() -> list[P]:
        """Up to ``size`` prepared jobs from an async iterable, one reader at a time."""
        chunk: list[P] = []
        async with reading:
            while not exhausted:
                try:
                    more, item = await source.next()
                except Exception as exc:
                    more, item = input_broke(exc), None
                if take(chunk, more, item):
                    break
        return chunk

    async def worker() -> None:
        nonlocal running, room, crashed
        # This task's requests queue behind the rate limit by nature: each one's timeout
        # starts when it is sent, not when the item was read (see _call_scope).
        me = asyncio.current_task()
        assert me is not None
        mark = marks[me] = JobTask()
        mark.stopped = exhausted and stop_signal is not None and stop_signal.stopped
        SCOPE.set(mark)
        try:
            while True:
                while not exhausted and full():
                    if room is None:
                        room = loop.create_future()
                    await room
                if exhausted:
                    return
                chunk = read_chunk_now() if read_now is not None else await read_chunk()
                if not chunk:
                    continue
                if aborted is not None:  # refused while this chunk was being read
                    assert unsent is not None  # only async chunks are read across awaits
                    hand_over([unsent(p, aborted) for p in chunk])
                    continue
                if running < max_concurrency and not exhausted:
                    spawn()  # another worker reads the next item while this one waits
                starting.add(me)
                try:
                    results = await start(chunk)
                except asyncio.CancelledError:
                    if me not in stopped_by_us:
                        raise
                    me.uncancel()  # stopped, not cancelled: report what was not sent
                    assert unsent is not None
                    results = [unsent(p, JobStoppedError()) for p in chunk]
                finally:
                    starting.discard(me)
                hand_over(results)
        except Exception as exc:  # prepare or start failed (a bug): end the job with it
            if crashed is None:
                crashed = exc
        finally:
            running -= 1
            if wake is not None and not wake.done():
                wake.set_result(None)

    def stop_sending() -> None:
        """Read nothing more, send nothing more: cancel, at once, every start whose
        request is not on the wire (its jobs are reported unsent); the rest finish."""
        nonlocal exhausted
        exhausted = True
        for task, mark in marks.items():
            mark.stopped = True  # a request about to go out (or a retry) does not
            if task in starting and not mark.on_wire and not task.done():
                stopped_by_us.add(task)
                task.cancel()
        if room is not None and not room.done():
            room.set_result(None)
        if wake is not None and not wake.done():
            wake.set_result(None)

    def spawn() -> None:
        nonlocal running
        running += 1
        workers.append(loop.create_task(worker()))

    if stop_signal is not None:
        stop_signal.attach(stop_sending)
    try:
        spawn()
        while True:
            if not ordered:
                while ready:
                    yield ready.popleft()
            else:
                while True:
                    while ready:  # (more may be handed over while we are away at a yield)
                        result = ready.popleft()
                        buffer[result.index] = result
                    if next_out not in buffer:
                        break
                    yield buffer.pop(next_out)
                    next_out += 1
            if crashed is not None:
                raise crashed
            if room is not None:  # what was yielded made room: let the workers read
                room.set_result(None)
                room = None
            if ready:
                continue
            if not running:
                if buffer:  # pragma: no cover - would mean a result was lost
                    raise AssertionError(f"bulk: results {sorted(buffer)} stuck before {next_out}")
                break
            wake = loop.create_future()
            try:
                await wake
            finally:
                wake = None
    finally:
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
    if input_error is not None:
        raise input_error
    if aborted is not None:
        raise aborted


_KEY_REFUSED = (AuthenticationError, PermissionDeniedError)


def _key_refused(results: list[Any]) -> BulkAbortedError | None:
    """The error that stops a job, when one of ``results`` says the key was refused."""
    for result in results:
        error = result.error  # None for every item done: nothing more to check
        if error is not None and isinstance(error, _KEY_REFUSED):
            return BulkAbortedError(error)
    return None

