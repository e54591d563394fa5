"""``HelpCrunch``: the blocking client, a thin facade over :class:`AsyncHelpCrunch`.

Each method runs the async method of the same name to completion; no logic is
duplicated. Each client has one event loop for its whole life, so one connection pool
and one rate limiter are reused across calls. A plain script's call runs that loop in
the calling thread (no thread hand-off: as fast as awaiting the async client); a
background thread, started the first time one is needed, takes the loop over when it
must keep running without the caller — several threads calling at once, a caller
inside a running event loop (a Jupyter cell, an async web handler: the call blocks
that thread until the request is done; in async code, prefer
:class:`AsyncHelpCrunch`), or an open ``update_customers`` iterator.

After ``os.fork()`` the child gets a fresh loop and connection pool on its first call
(the parent's sockets are left alone, untouched).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar, Unpack

import aiohttp

from ._bulk import BulkItem, BulkResult
from ._client import AsyncHelpCrunch
from ._config import DEFAULT_TIMEOUT, resolve_api_key, resolve_base_url
from ._customer_sync import CustomerSyncResult, SyncMatch, SyncStrategy
from ._exceptions import HelpCrunchError, ValidationError
from ._filters import Filter
from ._models import Customer, CustomerFields, CustomerUpdate, Tag
from ._paging import CustomerPager
from ._ratelimit import RateLimiter
from ._requestor import RequestStats
from ._types import UNSET, Unset

__all__ = ["HelpCrunch"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _AsyncSteps(Protocol[T_co]):
    """What :meth:`HelpCrunch._iterate` steps through: an async generator or pager."""

    def __anext__(self) -> Awaitable[T_co]: ...
    def aclose(self) -> Awaitable[None]: ...

# Objects inherited from the parent by a forked child: kept referenced, never used,
# never closed (closing would touch sockets and an epoll set shared with the parent).
_ABANDONED_AFTER_FORK: list[object] = []
_UNWIND_TIMEOUT = 5.0  # seconds an interrupted call gets to finish cancelling

# Bumped in a forked child: how a client learns it runs in a child, without a system call.
_FORKS = [0]


def _count_fork() -> None:
    _FORKS[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)


class _Secret:
    """Holds the API key so that it never shows in ``repr``/``vars`` output."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


class _LoopRunner:
    """One event loop for one blocking client, run by whichever thread needs it.

    At most one thread runs ("drives") the loop at a time:

    * A call from a thread with no running loop of its own, while nobody drives, drives
      the loop itself until its call is done (``run_until_complete``): the common case
      of a script calling one method after another, with no thread hand-off at all.
    * A call made while another thread drives, or from inside a running event loop (a
      Jupyter cell, an async handler), is handed to the loop and waits for its result.
    * When a driving call ends while other calls, or an open bulk iterator (whose
      requests must keep moving between results), still need the loop, a background
      thread takes over and drives until nothing needs it. The thread is started the
      first time that happens: a single-threaded script never starts it (so it forks
      without Python 3.12's "multi-threaded fork" warning).

    Every run of the loop ends when a future of its own completes -- the call's task, or
    the background run's ``release`` future, made anew for each run -- never by
    ``loop.stop()``. A late "stop the background run" can only complete a future that
    is already done; it cannot end a call's run in another thread. (It did, as a
    ``RuntimeError('Event loop stopped before Future completed.')`` in 0.2-2.5 % of
    calls under threads.)

    Ctrl-C in a call the calling thread drives cancels that call and lets it unwind (no
    signal handler is installed for that: the ``KeyboardInterrupt`` itself is caught).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # driver, calls or state changed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None  # the background thread, once started
        self._forks = _FORKS[0]
        self._driver: threading.Thread | None = None  # who runs the loop now
        self._release: asyncio.Future[None] | None = None  # ends the background run
        self._calls = 0  # calls in progress, driven or handed in
        self._holds = 0  # open bulk iterators
        self._closing = False  # stop() began: no new calls
        self._closed = False  # stop() ended: the loop is closed

    def forked(self) -> bool:
        return self._forks != _FORKS[0]  # no getpid() system call on every call

    @property
    def background_thread(self) -> threading.Thread | None:
        """The background thread, once one was needed (for tests and inspection)."""
        return self._thread

    def _needed(self) -> bool:
        return self._calls > 0 or (self._holds > 0 and not self._closing)

    def _drive_in_background(self, loop: asyncio.AbstractEventLoop) -> None:
        # Under self._lock, while nobody drives: the background thread runs the loop
        # until its new release future is completed.
        self._release = loop.create_future()
        start = self._thread is None
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, args=(loop,), name="helpcrunch-async-loop", daemon=True)
        self._driver = self._thread
        self._changed.notify_all()
        if start:
            self._thread.start()

    def _end_background_run(self, loop: asyncio.AbstractEventLoop) -> None:
        # Under self._lock: nothing needs the loop; end the background run, if one is on.
        if self._driver is self._thread and self._release is not None:
            loop.call_soon_threadsafe(_complete, self._release)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        """The background thread: run the loop whenever it is handed over."""
        me = threading.current_thread()
        with self._changed:
            while True:
                while self._driver is not me and not self._closed:
                    self._changed.wait()
                if self._driver is not me:  # closed
                    return
                release = self._release
                assert release is not None
                self._changed.release()
                try:
                    _run_until(loop, release)
                finally:
                    self._changed.acquire()
                if self._needed():  # work came in as the run was being ended: go on
                    self._release = loop.create_future()
                    continue
                self._driver = self._release = None
                self._changed.notify_all()

    def run(self, factory: Callable[[], Awaitable[T]], *, closing: bool = False) -> T:
        """Run ``factory()`` on the loop (in this thread when it can) and return its result."""
        running = asyncio._get_running_loop()
        with self._lock:
            if self._closed or (self._closing and not closing):
                raise HelpCrunchError("the client is closed; create a new one")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            loop = self._loop
            if running is loop:
                raise HelpCrunchError(
                    "HelpCrunch was called from its own event loop (a callback of the "
                    "client itself); use AsyncHelpCrunch in async code"
                )
            self._calls += 1
            direct = self._driver is None and running is None
            if direct:
                self._driver = threading.current_thread()
            elif self._driver is None:
                self._drive_in_background(loop)
        try:
            if direct:
                return self._drive(loop, factory)
            return self._submit(loop, factory, closing)
        finally:
            with self._lock:
                self._calls -= 1
                if direct:
                    self._driver = None
                    if self._needed():  # calls handed in meanwhile, or an open iterator
                        self._drive_in_background(loop)
                elif not self._needed():
                    self._end_background_run(loop)
                self._changed.notify_all()

    def _drive(self, loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[T]]) -> T:
        """Run the call's task on the loop in this thread."""
        task = loop.create_task(_fresh(factory))
        try:
            return _run_until(loop, task)
        except asyncio.CancelledError:
            if self._closing:  # close() from another thread ended this call
                raise HelpCrunchError(
                    "the client was closed while this call was waiting") from None
            raise
        except BaseException:  # KeyboardInterrupt/SystemExit while it ran: stop the request
            if not task.done():
                task.cancel()
                # Let the call unwind (its finally blocks, an async generator it was
                # stepping) before the caller goes on; a second Ctrl-C cuts this short.
                with contextlib.suppress(BaseException):
                    _run_until(loop, asyncio.ensure_future(
                        asyncio.wait((task,), timeout=_UNWIND_TIMEOUT), loop=loop))
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" log
            raise

    def _submit(
        self, loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[T]], closing: bool
    ) -> T:
        """Hand the call to the loop (run by another thread) and wait for its result."""
        finished = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self._call(factory, finished, closing), loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:  # cancelled before it began: by close()
            raise HelpCrunchError("the client was closed while this call was waiting") from None
        except BaseException as exc:  # KeyboardInterrupt/SystemExit while waiting
            if not future.done():  # stop the request
                future.cancel()
                # Let the call unwind on the loop (its finally blocks, an async generator
                # it was stepping) before the caller goes on and, say, closes that generator.
                finished.wait(_UNWIND_TIMEOUT)
            raise exc from None if isinstance(exc, HelpCrunchError) else exc

    async def _call(
        self, factory: Callable[[], Awaitable[T]], finished: threading.Event, closing: bool
    ) -> T:
        try:
            if self._closing and not closing:  # handed in just as close() began
                raise HelpCrunchError("the client was closed while this call was waiting")
            return await factory()
        except asyncio.CancelledError:
            if self._closing:  # close() from another thread ended this call
                raise HelpCrunchError(
                    "the client was closed while this call was waiting") from None
            raise
        finally:
            finished.set()

    def hold(self) -> None:
        """A bulk iterator opened: keep the loop running in the background until release."""
        with self._lock:
            if self._closing:
                return
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            self._holds += 1
            if self._driver is None:
                self._drive_in_background(self._loop)

    def release(self) -> None:
        """The bulk iterator of a :meth:`hold` ended."""
        with self._lock:
            if self._closing or self._holds == 0 or self._loop is None:
                return
            self._holds -= 1
            if not self._needed():
                self._end_background_run(self._loop)

    def close_generator(self, agen: _AsyncSteps[Any]) -> None:
        """Close a bulk job's generator on the loop.

        Once :meth:`stop` has begun this waits for it instead: stop closes every async
        generator of the loop (``shutdown_asyncgens``) before the loop is closed, so the
        job never ends up as a task left pending on a stopped loop.
        """
        try:
            self.run(agen.aclose)
            return
        except HelpCrunchError:
            if not self._closing:
                raise
        if threading.current_thread() is not self._thread:
            with self._lock:
                self._changed.wait_for(lambda: self._closed, _UNWIND_TIMEOUT)

    def stop(self, aclose: Callable[[], Awaitable[None]] | None) -> None:
        """End every call still running, close async generators and ``aclose``, close the loop.

        Waits for every call of other threads to return (each ends with a
        :class:`HelpCrunchError`) before the loop is closed.
        """
        with self._lock:
            if self._closing:  # another thread closes: wait for it to finish
                self._changed.wait_for(lambda: self._closed, _UNWIND_TIMEOUT)
                return
            self._closing = True
            loop = self._loop
            if loop is None:
                self._closed = True
                return
        if asyncio._get_running_loop() is loop:
            raise HelpCrunchError(
                "HelpCrunch.close() was called from the client's own event loop (a callback "
                "of the client itself); close it from your own code")
        try:
            self.run(lambda: _wind_down(loop, aclose), closing=True)
        finally:
            with self._lock:
                # Calls of other threads still return through the loop (refused at once):
                # someone drives it as long as one is in progress.
                while self._calls > 0:
                    self._changed.wait()
                self._closed = True
                self._end_background_run(loop)
                self._changed.notify_all()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join()
            if not loop.is_running():
                loop.close()


def _complete(future: asyncio.Future[None]) -> None:
    if not future.done():  # a late one finds its run's future already done: no effect
        future.set_result(None)


def _run_until(loop: asyncio.AbstractEventLoop, future: asyncio.Future[T]) -> T:
    """``loop.run_until_complete(future)``, run again should the run end before ``future``.

    A run of this loop ends only when its own future completes, but asyncio itself can
    leave a "stop" behind: its callback that stops the run of a completed future, still
    queued when a ``KeyboardInterrupt`` ended that run. Such a stray stop ends the next
    run at once; the future is then not done, and the run goes on.
    """
    while True:
        try:
            return loop.run_until_complete(future)
        except RuntimeError as exc:
            if future.done() or str(exc) != _STOPPED_EARLY:
                raise


_STOPPED_EARLY = "Event loop stopped before Future completed."


async def _fresh(factory: Callable[[], Awaitable[T]]) -> T:
    # One pass of the loop before the request: events that came while it was not
    # running (a keep-alive connection the server closed) are seen, so the pool does
    # not hand out a dead connection.
    await asyncio.sleep(0)
    return await factory()


async def _wind_down(
    loop: asyncio.AbstractEventLoop, aclose: Callable[[], Awaitable[None]] | None
) -> None:
    """Cancel every call, close the async generators (bulk jobs) and the client."""
    await _cancel_all()
    await loop.shutdown_asyncgens()
    if aclose is not None:
        await aclose()
    await _cancel_all()  # whatever the generators' cleanup started


async def _cancel_all() -> None:
    """Cancel every other task on this loop and wait for them to finish."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _shutdown(runner: _LoopRunner, client: AsyncHelpCrunch) -> None:
    """Close the async client on its loop, then close the loop (also run by a finalizer)."""
    if runner.forked():
        return
    runner.stop(None if client.closed else client.aclose)


class HelpCrunch:
    """Blocking client with the same methods and arguments as :class:`AsyncHelpCrunch`.

    Holds one event loop and one connection pool for its whole life. Safe to share
    between threads (one client for a whole web app or worker is the intended use).
    Clients may share one :class:`RateLimit`, blocking and async alike. Use it as a
    context manager or call :meth:`close`.

    Example:
        >>> import helpcrunch_async as hc
        >>> with hc.HelpCrunch(api_key="...") as client:  # doctest: +SKIP
        ...     c = client.update_customer(1568834, name="John Doe")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        rate_limit: RateLimiter | None | Unset = UNSET,
        max_concurrency: int = 16,
    ) -> None:
        if session is not None:
            raise ValidationError(
                "HelpCrunch runs its own event loop and cannot use an aiohttp.ClientSession "
                "made for another; pass session= to AsyncHelpCrunch instead",
                field="session",
            )
        self._key = _Secret(resolve_api_key(api_key))  # a forked child must not re-read env
        self._options: dict[str, Any] = {
            # resolved now: a forked child must not read the environment again
            "base_url": str(resolve_base_url(base_url)), "timeout": timeout,
            "max_retries": max_retries, "max_retry_after": max_retry_after,
            "rate_limit": rate_limit,
            "max_concurrency": max_concurrency,
        }
        self._closed = False
        self._fork_lock = threading.Lock()
        self._setup(AsyncHelpCrunch(self._key.value, **self._options))

    def _setup(self, client: AsyncHelpCrunch) -> None:
        self._async = client
        self._runner = _LoopRunner()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, client)

    def _run(self, factory: Callable[[], Awaitable[T]]) -> T:
        self._client()
        return self._runner.run(factory)

    def _client(self) -> AsyncHelpCrunch:
        """The async client to use in this process (a forked child gets its own)."""
        if self._closed:
            raise HelpCrunchError("the client is closed; create a new one")
        if self._runner.forked():
            with self._fork_lock:
                if self._runner.forked():
                    self._finalizer.detach()
                    _ABANDONED_AFTER_FORK.append((self._async, self._runner))
                    self._setup(AsyncHelpCrunch(self._key.value, **self._options))
        return self._async

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._async.base_url

    @property
    def stats(self) -> RequestStats:
        """Counters of requests sent, retries, 429s received and failed calls."""
        return self._async.stats

    @property
    def rate_limit(self) -> RateLimiter | None:
        """The client's rate limiter (``None`` when limiting is off)."""
        return self._async.rate_limit

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight at once."""
        return self._async.max_concurrency

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __repr__(self) -> str:
        return f"<HelpCrunch base_url={self.base_url!r}{' closed' if self._closed else ''}>"

    def __enter__(self) -> HelpCrunch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and the loop. Safe to call twice.

        Calls still running in other threads end with a :class:`HelpCrunchError`; an
        ``update_customers`` iterator still open is closed (its requests cancelled).
        """
        self._closed = True
        self._finalizer()

    def update_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """``PATCH`` some fields; see :meth:`AsyncHelpCrunch.update_customer`.

        Example:
            >>> client.update_customer(1568834, email=None)  # doctest: +SKIP
        """
        return self._run(lambda: self._async.update_customer(
            customer_id, update, timeout=timeout, max_retries=max_retries, **fields))

    def replace_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """``PUT``: **every field left out is set to null**; see
        :meth:`AsyncHelpCrunch.replace_customer`."""
        return self._run(lambda: self._async.replace_customer(
            customer_id, update, timeout=timeout, max_retries=max_retries))

    def create_customer(
        self,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """``POST`` a new customer (never re-sent once it may have arrived); see
        :meth:`AsyncHelpCrunch.create_customer`."""
        return self._run(lambda: self._async.create_customer(
            update, timeout=timeout, max_retries=max_retries, **fields))

    def get_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Fetch one customer; see :meth:`AsyncHelpCrunch.get_customer`."""
        return self._run(lambda: self._async.get_customer(
            customer_id, timeout=timeout, max_retries=max_retries))

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
        """Every customer, page by page: a plain iterator with ``.total``; see
        :meth:`AsyncHelpCrunch.list_customers`.

        Example:
            >>> for c in client.list_customers(limit=10):  # doctest: +SKIP
            ...     print(c.id)
        """
        pager = self._client().list_customers(
            sort=sort, order=order, page_size=page_size, limit=limit, timeout=timeout,
            max_retries=max_retries)
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
        """Customers matching filters: a plain iterator with ``.total``; see
        :meth:`AsyncHelpCrunch.search_customers`.

        Example:
            >>> for c in client.search_customers(hc.Filter("city", "=", "Kyiv")):  # doctest: +SKIP
            ...     print(c.id)
        """
        pager = self._client().search_customers(
            *filters, match=match, sort=sort, order=order, page_size=page_size, limit=limit,
            timeout=timeout, max_retries=max_retries)
        return CustomerPager(pager, self._iterate(pager))

    def find_customer(
        self,
        *,
        user_id: str | None = None,
        email: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer | None:
        """The one customer with this ``user_id`` or ``email``, or ``None``; see
        :meth:`AsyncHelpCrunch.find_customer`.

        Example:
            >>> c = client.find_customer(email="ann@example.com")  # doctest: +SKIP
        """
        return self._run(lambda: self._async.find_customer(
            user_id=user_id, email=email, timeout=timeout, max_retries=max_retries))

    def delete_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Delete a customer; see :meth:`AsyncHelpCrunch.delete_customer`.

        Example:
            >>> client.delete_customer(1568834)  # doctest: +SKIP
        """
        self._run(lambda: self._async.delete_customer(
            customer_id, timeout=timeout, max_retries=max_retries))

    def tag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Add tags; see :meth:`AsyncHelpCrunch.tag_customer`.

        Example:
            >>> c = client.tag_customer(1568834, ["vip"])  # doctest: +SKIP
        """
        return self._run(lambda: self._async.tag_customer(
            customer_id, tags, timeout=timeout, max_retries=max_retries))

    def untag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Remove tags; see :meth:`AsyncHelpCrunch.untag_customer`.

        Example:
            >>> c = client.untag_customer(1568834, ["vip"])  # doctest: +SKIP
        """
        return self._run(lambda: self._async.untag_customer(
            customer_id, tags, timeout=timeout, max_retries=max_retries))

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
        """Update many customers; an iterator of one :class:`BulkResult` per input item.

        Same arguments and guarantees as :meth:`AsyncHelpCrunch.update_customers`. The
        input is read lazily on the client's loop thread. Leaving the loop early (or
        closing the iterator) cancels the requests still in flight.

        Example:
            >>> for r in client.update_customers([(1, {"name": "Ann"})]):  # doctest: +SKIP
            ...     print(r.index, r.ok)
            0 True
        """
        agen = self._client().update_customers(
            updates, max_concurrency=max_concurrency, ordered=ordered, replace=replace,
            batch=batch, batch_fallback=batch_fallback, timeout=timeout,
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
        """The data sync: an iterator of one :class:`CustomerSyncResult` per row.

        Same arguments and guarantees as :meth:`AsyncHelpCrunch.sync_customers`; the
        rows are read lazily on the client's loop thread. Leaving the loop early (or
        closing the iterator) cancels the requests still in flight.

        Example:
            >>> rows = [{"user_id": "u-1", "name": "Ann"}]
            >>> for r in client.sync_customers(rows, dry_run=True):  # doctest: +SKIP
            ...     print(r.action, r.diff)
            updated {'name': ('Anne', 'Ann')}
        """
        job = self._client().sync_customers(
            rows, match=match, create_missing=create_missing, exact_tags=exact_tags,
            dry_run=dry_run, strategy=strategy, max_concurrency=max_concurrency,
            ordered=ordered, timeout=timeout, max_retries=max_retries,
        )
        return self._iterate(job)  # arguments were checked above, before any iteration

    def _iterate(self, agen: _AsyncSteps[T]) -> Iterator[T]:
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
