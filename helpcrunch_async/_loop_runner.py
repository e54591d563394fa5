"""One event loop for one blocking client, run by whichever thread needs it.

:class:`LoopRunner` is the engine under :class:`~helpcrunch_async.HelpCrunch`: it runs
coroutines to completion for blocking callers, from any thread, on one loop that lives
as long as the client (so one connection pool and one rate limiter serve every call).
See the class for who runs the loop when. After ``os.fork()`` a child must not use the
parent's runner: :func:`forked` tells.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ._exceptions import HelpCrunchError

__all__ = ["AsyncSteps", "LoopRunner", "cancel_other_tasks"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class AsyncSteps(Protocol[T_co]):
    """What the blocking client steps through: an async generator, a bulk job, a pager."""

    def __anext__(self) -> Awaitable[T_co]: ...
    def aclose(self) -> Awaitable[None]: ...


_UNWIND_TIMEOUT = 5.0  # seconds an interrupted call gets to finish cancelling


class LoopRunner:
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
        self._pid = os.getpid()  # a forked child must not use its parent's runner
        self._driver: threading.Thread | None = None  # who runs the loop now
        self._release: asyncio.Future[None] | None = None  # ends the background run
        self._calls = 0  # calls in progress, driven or handed in
        self._holds = 0  # open bulk iterators
        self._closing = False  # stop() began: no new calls
        self._closed = False  # stop() ended: the loop is closed

    def forked(self) -> bool:
        """True in a child forked after this runner was made (it is the parent's)."""
        return os.getpid() != self._pid

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
                target=self._serve, args=(loop,), name="helpcrunch-async-loop", daemon=True
            )
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
                raise HelpCrunchError("the client was closed while this call was waiting") from None
            raise
        except BaseException:  # KeyboardInterrupt/SystemExit while it ran: stop the request
            if not task.done():
                task.cancel()
                # Let the call unwind (its finally blocks, an async generator it was
                # stepping) before the caller goes on; a second Ctrl-C cuts this short.
                with contextlib.suppress(BaseException):
                    _run_until(
                        loop,
                        asyncio.ensure_future(
                            asyncio.wait((task,), timeout=_UNWIND_TIMEOUT), loop=loop
                        ),
                    )
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
                raise HelpCrunchError("the client was closed while this call was waiting") from None
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

    def close_generator(self, agen: AsyncSteps[Any]) -> None:
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
                "of the client itself); close it from your own code"
            )
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
    await cancel_other_tasks()
    await loop.shutdown_asyncgens()
    if aclose is not None:
        await aclose()
    await cancel_other_tasks()  # whatever the generators' cleanup started


async def cancel_other_tasks() -> None:
    """Cancel every other task on this loop and wait for them to finish."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
