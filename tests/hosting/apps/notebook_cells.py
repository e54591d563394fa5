"""Run notebook cells as a Jupyter kernel does: one event loop, running, for every cell.

IPython compiles a cell with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT``; when the code is then a
coroutine (it awaits at the top level) the kernel awaits it on its own event loop, which
is running all along. The value of a cell's last expression is displayed: here printed
as ``Out[n]: repr``. The cells share one namespace.

Run: ``python notebook_cells.py CELL_FILE...``; a cell that raises ends the run with the
traceback (exit 1).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from pathlib import Path
from typing import Any

FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


async def _run(code: Any, namespace: dict[str, Any]) -> Any:
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:
        result = await result
    return result


async def run_cell(source: str, filename: str, namespace: dict[str, Any]) -> Any:
    """Run one cell on the running loop; the value of its last expression, or None."""
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    await _run(compile(tree, filename, "exec", flags=FLAGS), namespace)
    if last is None:
        return None
    expression = ast.Expression(last.value)  # type: ignore[attr-defined]
    return await _run(compile(expression, filename, "eval", flags=FLAGS), namespace)


async def main(cells: list[tuple[str, str]]) -> None:
    """Run ``(filename, source)`` cells one after another, all on this running loop."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for n, (filename, source) in enumerate(cells, 1):
        value = await run_cell(source, filename, namespace)
        if value is not None:
            print(f"Out[{n}]: {value!r}", flush=True)


if __name__ == "__main__":
    asyncio.run(main([(p, Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:]]))
