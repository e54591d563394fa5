"""The engine of every bulk job: one result per input item, bounded work in flight.

:class:`JobEngine` runs ``update_customers`` (:mod:`~helpcrunch_async._bulk`) and the
data sync (:mod:`~helpcrunch_async._customer_sync`). It reads the input lazily, turns
each item into either a result at once (a bad item) or a job, starts jobs with at most
``max_concurrency`` running, and yields every result exactly once — in the order they
complete, or in input order. It knows nothing of customers or requests: what a job
does is the caller's ``start``.

How: up to ``max_concurrency`` worker tasks each read the next input item (or chunk),
start it and hand its results over; :meth:`JobEngine.results` yields them. A worker
whose job finished reads and starts the next item at once, in the same step of the
event loop, instead of waiting for the generator to run and start it (which costs a few
loop iterations per item). Workers read only while fewer than ``max_concurrency``
results wait to be yielded (and, ordered, while the window allows); an async iterable is
read by one worker at a time.

Stopping: a refused API key (a result whose error is a 401/403) stops reading and
starting; :meth:`JobEngine.stop` stops too and, at once, cancels every start whose
request is not on the wire (its jobs are reported with ``unsent``). Closing the
generator cancels everything in flight, unreported.

Example:
    >>> import asyncio
    >>> class Doubled:
    ...     def __init__(self, index: int) -> None:
    ...         self.index, self.error, self.value = index, None, index * 2
    >>> async def start(jobs: list[int]) -> list[Doubled]:
    ...     return [Doubled(i) for i in jobs]
    >>> async def main() -> list[int]:
    ...     engine = JobEngine(range(3), prepare=lambda index, item: index,
    ...                        result_type=Doubled, start=start, max_concurrency=2,
    ...                        ordered=True)
    ...     return [r.value async for r in engine.results()]
    >>> asyncio.run(main())
    [0, 2, 4]
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any, Generic, Protocol, TypeVar

from ._call_scope import SCOPE, JobTask
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BulkAbortedError,
    HelpCrunchError,
    JobStoppedError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = ["InputSource", "JobEngine", "item_failure"]


class InputSource:
    """A sync or async iterable, read one item at a time (checked when made)."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        if isinstance(items, AsyncIterable):
            self._aiter: AsyncIterator[Any] | None = aiter(items)
            self._iter = None
        elif isinstance(items, Iterable) and not isinstance(items, str | bytes | Mapping):
            self._aiter = None
            self._iter = iter(items)
        else:
            raise ValidationError(
                "updates must be an iterable or async iterable of (customer_id, update) "
                f"pairs, got {type(items).__name__}",
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


class Outcome(Protocol):
    """What the engine needs of a result: its input position and its error."""

    @property
    def index(self) -> int: ...
    @property
    def error(self) -> HelpCrunchError | None: ...


R = TypeVar("R", bound=Outcome)
P = TypeVar("P")

_KEY_REFUSED = (AuthenticationError, PermissionDeniedError)


class JobEngine(Generic[P, R]):
    """One result per input item; see the module docs.

    Args:
        items: the input (an iterable, async iterable or :class:`InputSource`).
        prepare: ``prepare(index, item)`` turns each item, as it is read, into its result
            (an instance of ``result_type``: a bad item, or one that needs no request)
            or a job.
        result_type: the class of results (to tell a result from a job).
        start: runs ``chunk_size`` jobs (fewer at the end) and returns their results.
        unsent: the result of a job read but never started: its key was refused, or the
            job was stopped first (needed with ``chunk_size > 1`` or :meth:`stop`).
        chunk_size: jobs per ``start``.
        max_concurrency: starts running at once.
        ordered: yield in input order (holding at most ``4 * max_concurrency`` chunks).
    """

    def __init__(
        self,
        items: Iterable[Any] | AsyncIterable[Any] | InputSource,
        *,
        prepare: Callable[[int, Any], R | P],
        result_type: type[R],
        start: Callable[[list[P]], Awaitable[list[R]]],
        unsent: Callable[[P, HelpCrunchError], R] | None = None,
        chunk_size: int = 1,
        max_concurrency: int,
        ordered: bool = False,
    ) -> None:
        if chunk_size > 1 and unsent is None:
            raise TypeError("JobEngine: jobs started in chunks need unsent=")
        self._source = items if isinstance(items, InputSource) else InputSource(items)
        self._read_now = None if self._source.is_async else self._source.next_now
        self._prepare, self._result_type, self._start = prepare, result_type, start
        self._unsent = unsent
        self._size = chunk_size
        self._max = max_concurrency
        self._ordered = ordered
        self._window = 4 * max_concurrency * chunk_size
        self._reading = asyncio.Lock()  # an async iterable: one anext() at a time
        self._ready: deque[R] = deque()  # results handed over, not yet yielded
        self._pulled = 0  # items read so far
        self._next_out = 0  # ordered: the next index to yield
        self._exhausted = False  # read nothing more: end of input, an error, a stop
        self._stopped = False  # stop() was called
        self._input_error: BaseException | None = None
        self._aborted: BulkAbortedError | None = None
        self._crashed: BaseException | None = None  # a bug in prepare/start: raised
        self._workers: dict[asyncio.Task[None], JobTask] = {}  # each one's requests' mark
        self._starting: set[asyncio.Task[None]] = set()  # workers inside start()
        self._stopped_by_us: set[asyncio.Task[None]] = set()  # cancelled by stop()
        self._running = 0  # workers not yet finished
        self._wake: asyncio.Future[None] | None = None  # results() waits here
        self._room: asyncio.Future[None] | None = None  # workers wait here to read more

    # --- the generator ---------------------------------------------------------------

    async def results(self) -> AsyncGenerator[R, None]:
        """One result per item read; raises the input's error, or the key's refusal
        (:class:`BulkAbortedError`), at the end."""
        loop = asyncio.get_running_loop()
        buffer: dict[int, R] = {}  # ordered: results waiting for an earlier one
        ready = self._ready
        try:
            self._spawn()
            while True:
                if not self._ordered:
                    while ready:
                        yield ready.popleft()
                else:
                    while True:
                        while ready:  # (more may be handed over while we are away)
                            result = ready.popleft()
                            buffer[result.index] = result
                        if self._next_out not in buffer:
                            break
                        yield buffer.pop(self._next_out)
                        self._next_out += 1
                if self._crashed is not None:
                    raise self._crashed
                if self._room is not None:  # what was yielded made room: read on
                    if not self._room.done():
                        self._room.set_result(None)
                    self._room = None
                if ready:
                    continue
                if not self._running:
                    if buffer:  # pragma: no cover - would mean a result was lost
                        raise AssertionError(
                            f"job engine: results {sorted(buffer)} stuck before {self._next_out}"
                        )
                    break
                self._wake = loop.create_future()
                try:
                    await self._wake
                finally:
                    self._wake = None
        finally:
            for task in self._workers:
                task.cancel()
            if self._workers:
                await asyncio.gather(*self._workers, return_exceptions=True)
        if self._input_error is not None:
            raise self._input_error
        if self._aborted is not None:
            raise self._aborted

    def stop(self) -> None:
        """Read nothing more, send nothing more: cancel, at once, every start whose
        request is not on the wire (its jobs are reported with ``unsent``); the rest
        finish and are reported as usual."""
        if self._unsent is None:
            raise TypeError("JobEngine.stop needs unsent=")
        self._stopped = self._exhausted = True
        for task, mark in self._workers.items():
            mark.stopped = True  # a request about to go out (or a retry) does not
            if task in self._starting and not mark.on_wire and not task.done():
                self._stopped_by_us.add(task)
                task.cancel()
        self._wake_up()

    # --- workers -----------------------------------------------------------------------

    def _spawn(self) -> None:
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._worker())
        self._workers[task] = JobTask()

    async def _worker(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        mark = self._workers[me]
        mark.stopped = self._stopped
        # This task's requests queue behind the rate limit by nature: each one's timeout
        # starts when it is sent, not when the item was read (see _call_scope).
        SCOPE.set(mark)
        try:
            while True:
                while not self._exhausted and self._full():
                    if self._room is None:
                        self._room = asyncio.get_running_loop().create_future()
                    await self._room
                if self._exhausted:
                    return
                chunk = (
                    self._read_chunk_now()
                    if self._read_now is not None
                    else await self._read_chunk()
                )
                if not chunk:
                    continue
                if self._aborted is not None:  # refused while this chunk was being read
                    assert self._unsent is not None  # only async chunks cross awaits
                    self._hand_over([self._unsent(p, self._aborted) for p in chunk])
                    continue
                if self._running < self._max and not self._exhausted:
                    self._spawn()  # another worker reads the next item while this one waits
                self._starting.add(me)
                try:
                    results = await self._start(chunk)
                except asyncio.CancelledError:
                    if me not in self._stopped_by_us:
                        raise
                    me.uncancel()  # stopped, not cancelled: report what was not sent
                    assert self._unsent is not None
                    results = [self._unsent(p, JobStoppedError()) for p in chunk]
                finally:
                    self._starting.discard(me)
                self._hand_over(results)
        except Exception as exc:  # prepare or start failed (a bug): end the job with it
            if self._crashed is None:
                self._crashed = exc
        finally:
            self._running -= 1
            self._wake_up()

    def _wake_up(self) -> None:
        """Wake results() and, once nothing more is read, the workers waiting for room."""
        if self._exhausted and self._room is not None:
            if not self._room.done():
                self._room.set_result(None)
            self._room = None
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _hand_over(self, results: list[R]) -> None:
        self._ready.extend(results)
        if self._aborted is None:
            self._aborted = _key_refused(results)
            if self._aborted is not None:  # stop: read nothing more, send nothing more
                self._exhausted = True
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _full(self) -> bool:
        """No room to read: results wait to be yielded, or the ordered window is full."""
        return len(self._ready) >= self._max or (
            self._ordered and self._pulled - self._next_out >= self._window
        )

    # --- reading -----------------------------------------------------------------------

    def _take(self, chunk: list[P], more: bool, item: Any) -> bool:
        """Put what was read into ``chunk`` (a bad item is handed over at once); True when
        the chunk should go out: full, end of input, or no room to read more."""
        if not more:
            self._exhausted = True
            return True
        prepared = self._prepare(self._pulled, item)
        self._pulled += 1
        if isinstance(prepared, self._result_type):
            self._hand_over([prepared])
        else:
            chunk.append(prepared)  # type: ignore[arg-type]  # not an R: a job
        # A partial chunk goes out rather than wait: what it waits for may be in it.
        return len(chunk) >= self._size or self._exhausted or self._full()

    def _read_chunk_now(self) -> list[P]:
        """Up to ``chunk_size`` jobs from a sync iterable: no coroutine per item."""
        assert self._read_now is not None
        chunk: list[P] = []
        while True:
            try:
                more, item = self._read_now()
            except Exception as exc:
                more, item = self._input_broke(exc), None
            if self._take(chunk, more, item):
                return chunk

    async def _read_chunk(self) -> list[P]:
        """Up to ``chunk_size`` jobs from an async iterable, one reader at a time."""
        chunk: list[P] = []
        async with self._reading:
            while not self._exhausted:
                try:
                    more, item = await self._source.next()
                except Exception as exc:
                    more, item = self._input_broke(exc), None
                if self._take(chunk, more, item):
                    break
        return chunk

    def _input_broke(self, exc: Exception) -> bool:
        """The caller's iterator failed: read no more, drain, then raise it. False."""
        if self._input_error is None:
            self._input_error = exc
        return False


def _key_refused(results: list[Any]) -> BulkAbortedError | None:
    """The error that stops a job, when one of ``results`` says the key was refused."""
    for result in results:
        error = result.error  # None for every item done: nothing more to check
        if error is not None and isinstance(error, _KEY_REFUSED):
            return BulkAbortedError(error)
    return None


def item_failure(exc: BaseException) -> tuple[HelpCrunchError, int]:
    """The error to report for an item whose job raised ``exc``, and the attempts it took
    (any exception that is not a :class:`HelpCrunchError` is reported as one)."""
    if isinstance(exc, APIError | APIConnectionError):
        return exc, exc.attempts
    if isinstance(exc, HelpCrunchError):
        return exc, 0
    error = HelpCrunchError(f"unexpected {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error, 0
