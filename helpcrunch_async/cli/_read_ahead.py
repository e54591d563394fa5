"""Reading an input whose reads can wait (stdin, a pipe, a terminal) in a thread of its own,
for a job on the event loop.

``update-customers -`` and ``sync -`` read their input while requests are in flight. A
read from a pipe or a terminal waits until the writer writes; made on the event loop,
that wait stalls every request in flight: an answer that came is not read, its timeout
runs out, and the request is sent again. :class:`ReadAhead` makes the reads in a daemon
thread instead, keeping a few items ready; the job awaits the next one and the loop
serves the requests meanwhile.

The thread reads at most ``ahead`` items before the job takes them (a full queue waits
until half of it is taken: a thread switch per ``ahead / 2`` items, not per item).
:meth:`ReadAhead.close` (the job stopped: Ctrl-C, a refused key, or the end) ends the
iteration at once, even while the thread waits in a read; that read is left to finish in
the thread, which then lets the input go (``release``). So nothing ever waits for input
that may never come, and a process that ends meanwhile ends as usual (the thread is a
daemon, and it reads through streams of its own, never through ``sys.stdin``: a daemon
thread holding ``sys.stdin``'s lock at exit is a fatal error).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["ReadAhead"]

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """``items`` (a blocking iterator) as an async iterator, read in a daemon thread.

    ``release`` lets the input go (closes the stream); it is called once, when the
    thread has read to the end, or at :meth:`close` — whichever comes last. An error
    ``items`` raises is raised by ``__anext__`` after the items read before it.

    Example:
        >>> import asyncio
        >>> async def main() -> list[int]:
        ...     reader = ReadAhead(iter([1, 2, 3]), release=lambda: None, ahead=2)
        ...     try:
        ...         return [item async for item in reader]
        ...     finally:
        ...         reader.close()
        >>> asyncio.run(main())
        [1, 2, 3]
    """

    def __init__(self, items: Iterator[T], *, release: Callable[[], None], ahead: int = 64) -> None:
        self._items = items
        self._release = release
        self._ahead = ahead
        self._ready: deque[T] = deque()
        self._lock = threading.Condition()
        self._error: BaseException | None = None
        self._finished = False  # the thread read its last item (or failed)
        self._closed = False  # close() was called: read nothing more
        self._released = False
        self._waiter: asyncio.Future[None] | None = None  # __anext__ waits here
        self._thread: threading.Thread | None = None

    def __aiter__(self) -> ReadAhead[T]:
        return self

    async def __anext__(self) -> T:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._read, name="helpcrunch-input", daemon=True)
            self._thread.start()
        while True:
            with self._lock:
                if self._closed:
                    raise StopAsyncIteration
                if self._ready:
                    item = self._ready.popleft()
                    if len(self._ready) == self._ahead // 2:
                        self._lock.notify()  # a full queue is half empty: read on
                    return item
                if self._finished:
                    if self._error is not None:
                        error, self._error = self._error, None
                        raise error
                    raise StopAsyncIteration
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def close(self) -> None:
        """Read nothing more: the iteration ends (one waiting ends at once); the input is
        let go now, or when a read the thread is in returns."""
        self._end(closed=True)

    def _read(self) -> None:
        """The thread: read items into the queue, up to ``ahead`` of the consumer."""
        try:
            for item in self._items:
                with self._lock:
                    while len(self._ready) >= self._ahead and not self._closed:
                        self._lock.wait()
                    if self._closed:
                        break
                    self._ready.append(item)
                    waiter, self._waiter = self._waiter, None
                if waiter is not None:
                    _wake(waiter)
        except BaseException as exc:  # raised by __anext__, in the job, in its turn
            with self._lock:
                self._error = exc
        finally:
            self._end(finished=True)

    def _end(self, *, closed: bool = False, finished: bool = False) -> None:
        """The job closed the reader, or the thread finished: wake a waiting
        ``__anext__``, and let the input go once both hold (or no thread ever started)."""
        with self._lock:
            self._closed = self._closed or closed
            self._finished = self._finished or finished
            self._lock.notify_all()
            waiter, self._waiter = self._waiter, None
            release = (
                self._closed and (self._finished or self._thread is None) and not self._released
            )
            self._released = self._released or release
        if waiter is not None:
            _wake(waiter)
        if release:
            self._release()


def _wake(waiter: asyncio.Future[None]) -> None:
    """Wake the coroutine waiting on ``waiter``, from its loop's thread or any other."""
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _set(waiter)
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(_set, waiter)


def _set(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
