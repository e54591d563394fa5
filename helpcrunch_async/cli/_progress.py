"""Progress display for the ``helpcrunch`` command.

On a terminal, with the ``progress`` extra (``rich``) installed: a live bar with done,
failed, rate and ETA. Otherwise — output piped to a file or CI log, or no ``rich`` —
a plain status line every few seconds on stderr, and the last one once at the end.
On a terminal without ``rich``, one line says how to get the bar.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

__all__ = ["PROGRESS_HINT", "Progress"]

PROGRESS_HINT = ('helpcrunch: for a progress bar, pip install "helpcrunch-async[progress]"')
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
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._label = label
        self._detail = detail  # more to show on each update, e.g. counts by kind
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
                    TimeRemainingColumn,
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
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
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
            self._task = self._rich.add_task(self._label, total=self.total, failed=0, rate="0.0",
                                             detail="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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

    def _refresh_rich(self) -> None:
        self._rich.update(self._task, completed=self.done + self.failed, failed=self.failed,
                          rate=f"{self.rate:.1f}",
                          detail=self._detail() if self._detail is not None else "")

    def _print_line(self) -> None:
        self._last_print = time.monotonic()
        finished = self._printed = self.done + self.failed
        of = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total is not None and self.rate > 0:
            eta = f", ETA {_duration((self.total - finished) / self.rate)}"
        detail = f" ({self._detail()})" if self._detail is not None else ""
        print(f"{finished}{of} {self._label}: {self.done} done, {self.failed} failed{detail}, "
              f"{self.rate:.1f}/s, {_duration(self.elapsed)} elapsed{eta}",
              file=self._stream, flush=True)


def _hint_once(stream: IO[str]) -> None:
    global _hinted
    if not _hinted:
        _hinted = True
        print(PROGRESS_HINT, file=stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
