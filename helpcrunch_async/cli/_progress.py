"""Progress display for the ``helpcrunch`` command.

On a terminal, with the ``progress`` extra (``rich``) installed: a live bar with done,
failed, rate and ETA. Otherwise — output piped to a file or CI log, or no ``rich`` —
a plain status line every few seconds on stderr, and the last one once at the end.
On a terminal without ``rich``, one line says how to get the bar.

The ETA is the items left at the rate so far, unless the job knows better and says so
(``eta=``): ``sync``'s lines cost very different times (an unchanged line no request,
a changed one a request at the rate limit), so it estimates from the work left
(:class:`Pace` measures the recent rates it needs). A display that cannot be written
(stderr on a full disk) is skipped, not fatal.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any

__all__ = ["PACE_WINDOW", "PROGRESS_HINT", "Pace", "Progress"]

PROGRESS_HINT = 'helpcrunch: for a progress bar, pip install "helpcrunch-async[progress]"'
_hinted = False  # the hint is shown once per process


class Progress:
    """Counts finished items and shows them; use as a context manager.

    Example:
        >>> with Progress(total=2, enabled=False) as p:
        ...     p.advance(ok=True); p.advance(ok=False)
        >>> (p.done, p.failed)
        (1, 1)
    """

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        stream: IO[str] | None = None,
        interval: float = 5.0,
        label: str = "customers",
        detail: Callable[[], str] | None = None,
        eta: Callable[[], float | None] | None = None,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._label = label
        self._detail = detail  # more to show on each update, e.g. counts by kind
        self._eta = eta  # seconds left (None: unknown), when the job knows better
        self._enabled = enabled
        self._start = time.monotonic()
        self._last_print = self._start
        self._printed: int | None = None  # items finished at the last plain line
        self._rich: Any = None
        self._task: Any = None
        if enabled and self._stream.isatty():
            try:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    TextColumn,
                    TimeElapsedColumn,
                )
                from rich.progress import Progress as RichProgress
            except ImportError:  # the optional extra is not installed: plain lines
                _hint_once(self._stream)
            else:
                from rich.console import Console

                self._rich = RichProgress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("[red]{task.fields[failed]} failed"),
                    TextColumn("{task.fields[detail]}"),
                    TextColumn("{task.fields[rate]}/s"),
                    TimeElapsedColumn(),
                    TextColumn("ETA {task.fields[eta]}"),
                    console=Console(file=self._stream),
                    transient=False,
                )

    @property
    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return time.monotonic() - self._start

    @property
    def rate(self) -> float:
        """Finished items per second so far."""
        elapsed = self.elapsed
        return (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    def __enter__(self) -> Progress:
        self._start = self._last_print = time.monotonic()
        if self._rich is not None:
            self._rich.start()
            self._task = self._rich.add_task(
                self._label, total=self.total, failed=0, rate="0.0", detail="", eta="-:--"
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._rich is not None:
            self._refresh_rich()
            self._rich.stop()
        elif self._enabled and self._printed != self.done + self.failed:
            self._print_line()  # the final count, unless the last line already said it

    def advance(self, *, ok: bool) -> None:
        """Count one finished item."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._rich is not None:
            self._refresh_rich()
        elif self._enabled and time.monotonic() - self._last_print >= self._interval:
            self._print_line()

    def seconds_left(self) -> float | None:
        """The ETA in seconds; ``None`` while unknown (no total, nothing finished yet)."""
        finished = self.done + self.failed
        if self.total is not None and finished >= self.total:
            return 0.0
        if self._eta is not None:
            return self._eta()
        if self.total is None or self.rate <= 0:
            return None
        return (self.total - finished) / self.rate

    def _refresh_rich(self) -> None:
        left = self.seconds_left()
        self._rich.update(
            self._task,
            completed=self.done + self.failed,
            failed=self.failed,
            rate=f"{self.rate:.1f}",
            detail=self._detail() if self._detail is not None else "",
            eta="-:--" if left is None else _duration(left),
        )

    def _print_line(self) -> None:
        self._last_print = time.monotonic()
        finished = self._printed = self.done + self.failed
        of = f"/{self.total}" if self.total is not None else ""
        left = self.seconds_left()
        eta = "" if left is None else f", ETA {_duration(left)}"
        detail = f" ({self._detail()})" if self._detail is not None else ""
        with contextlib.suppress(OSError):  # stderr on a full disk: no display, same job
            print(
                f"{finished}{of} {self._label}: {self.done} done, {self.failed} failed"
                f"{detail}, {self.rate:.1f}/s, {_duration(self.elapsed)} elapsed{eta}",
                file=self._stream,
                flush=True,
            )


PACE_WINDOW = 10.0
"""Seconds of recent history :class:`Pace` measures over: long enough to smooth out the
bursts (unchanged lines come in hundreds between two requests), short enough to follow
a change of pace within seconds."""


class Pace:
    """The recent rates of a few growing counters (lines read, requests sent): each
    one's change over about the last :data:`PACE_WINDOW` seconds, per second.

    Example:
        >>> sent = [0]
        >>> pace = Pace(lambda: sent[0])
        >>> sent[0] = 10
        >>> rate, = pace.rates()
        >>> rate > 0
        True
    """

    _EVERY = 0.1  # seconds between two kept samples

    def __init__(self, *counters: Callable[[], int]) -> None:
        self._counters = counters
        self._samples: deque[tuple[float, tuple[int, ...]]] = deque()
        self.sample()

    def sample(self) -> None:
        """Note the counters now (cheap: at most one sample every 0.1 s is kept)."""
        now = time.monotonic()
        if self._samples and now - self._samples[-1][0] < self._EVERY:
            return
        self._samples.append((now, tuple(count() for count in self._counters)))
        # keep one sample older than the window: the rates are measured from it
        while len(self._samples) > 2 and now - self._samples[1][0] >= PACE_WINDOW:
            self._samples.popleft()

    def rates(self) -> tuple[float, ...]:
        """Each counter's change per second since the window began (0.0 at first)."""
        self.sample()
        now = time.monotonic()
        start, before = self._samples[0]
        span = now - start
        values = tuple(count() for count in self._counters)
        if span <= 0:
            return tuple(0.0 for _ in values)
        return tuple((value - old) / span for value, old in zip(values, before, strict=True))


def _hint_once(stream: IO[str]) -> None:
    global _hinted
    if not _hinted:
        _hinted = True
        with contextlib.suppress(OSError):
            print(PROGRESS_HINT, file=stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
