"""The report of ``update-customers`` and ``sync`` (``--report``), and ``--resume``.

The report is JSON Lines: one line per input line, written and flushed as each
finishes — ``{"line", "id", "status", "error", "http_status", "codes", "attempts"}``
with ``status`` ``"done"``, ``"failed"`` or ``"invalid"`` (``sync`` adds ``"action"``
and ``"changed"``; ``--match user_id|email`` adds ``"key"``, the line's userId or
email, and ``"id"`` is then the customer it was found to be, ``null`` when none was).
A later line for the same input line supersedes an earlier one; ``--resume`` skips
every line whose last status is ``"done"`` (:func:`done_lines`), provided the input
line still has the id or key the report recorded (:func:`check_resume`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO, Any

from .._exceptions import APIError, HelpCrunchError
from ._common import InputError
from ._input_line import JobLine

__all__ = ["ReportWriter", "check_resume", "done_lines"]


def done_lines(path: str) -> dict[int, str | None]:
    """``{line number: id}`` of the lines whose last report entry says ``done``.

    ``--resume`` skips these lines — only where the input line still has the same id
    (see :func:`check_resume`); or the same ``key``, in a report of ``--match
    user_id|email``.
    """
    last: dict[int, tuple[str, str | None]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for text in f:
                try:
                    entry = json.loads(text)
                    raw_id = entry["key"] if "key" in entry else entry.get("id")
                    last[int(entry["line"])] = (
                        str(entry["status"]),
                        None if raw_id is None else str(raw_id),
                    )
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by a crash: that item is simply redone
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return {line: raw_id for line, (status, raw_id) in last.items() if status == "done"}


def check_resume(line: JobLine, done_id: str | None) -> None:
    """Refuse to skip a line whose id differs from the one the report recorded.

    Raises:
        InputError: the input changed since the report was written (or it is another
            job's report); skipping by line number would skip the wrong customers.
    """
    given = None if line.raw_id is None else str(line.raw_id)
    if given != done_id:
        raise InputError(
            f"line {line.number} has id {given!r} but the report says line {line.number} "
            f"(id {done_id!r}) is done: the input changed since the report was written, "
            "or the report belongs to another file"
        )


class ReportWriter:
    """Appends one JSON line per finished input line, written at once (crash-safe); a
    context manager, which closes it.

    A write that fails (disk full, the file-size limit) does not raise: the writer keeps
    the OS error in :attr:`error`, writes nothing more, and lists each input line it
    could not record in :attr:`unrecorded` (line number, status), so the job can stop
    reading input, let the requests in flight finish and say which lines are done but
    not in the report. An entry cut short by the failure is skipped by ``--resume``
    (that line is simply redone), and the next run appends after a fresh newline.
    """

    def __init__(self, path: str | None, *, keyed: bool = False) -> None:
        self._file: IO[bytes] | None = None
        self._keyed = keyed
        self.path = path
        self.error: OSError | None = None
        self.unrecorded: list[tuple[int, str]] = []
        if path is not None:
            report = Path(path)
            try:
                report.parent.mkdir(parents=True, exist_ok=True)
                # unbuffered: each entry is one write() now, none left to fail at close()
                self._file = open(report, "ab", buffering=0)  # noqa: SIM115 - close()
                if report.stat().st_size and not _ends_with_newline(report):
                    _write_all(self._file, b"\n")  # a crash cut the last entry short
            except OSError as exc:  # a directory, no permission, a file where a dir should be
                if self._file is not None:
                    self._file.close()
                raise InputError(f"cannot write the report {path}: {exc.strerror or exc}") from None

    def write(
        self,
        line: int,
        raw_id: object,
        status: str,
        error: HelpCrunchError | None = None,
        attempts: int = 0,
        key: object = None,
        **extra: Any,
    ) -> None:
        """Record one input line's outcome. A ``keyed`` report (``--match
        user_id|email``) has the line's ``key`` too, and ``id`` is the customer found;
        ``extra``: more keys for the entry (``sync`` adds ``action`` and ``changed``)."""
        if self._file is None:
            return
        if self.error is not None:
            self.unrecorded.append((line, status))
            return
        entry: dict[str, Any] = {
            "line": line,
            "id": raw_id if isinstance(raw_id, int | str) else None,
            "status": status,
            "error": None if error is None else str(error),
            "http_status": error.status if isinstance(error, APIError) else None,
            "codes": list(error.codes) if isinstance(error, APIError) else [],
            "attempts": attempts,
            **extra,
        }
        if self._keyed:
            entry["key"] = key if isinstance(key, str) else None
        try:
            _write_all(self._file, (json.dumps(entry) + "\n").encode())
        except OSError as exc:  # disk full, file too large: recorded, not raised
            self.error = exc
            self.unrecorded.append((line, status))

    def failure(self) -> str:
        """``cannot write the report FILE: <the OS's reason>`` (after a failed write)."""
        assert self.error is not None
        return f"cannot write the report {self.path}: {self.error.strerror or self.error}"

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the report file (each entry is on disk already)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                if self.error is None:
                    self.error = exc
            self._file = None


def _write_all(file: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file: a write() may take only part of it."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:  # pragma: no cover - a raw file says why with an OSError
            raise OSError(f"wrote nothing of {len(view)} bytes")
        view = view[written:]


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, io.SEEK_END)
        return f.read(1) == b"\n"
