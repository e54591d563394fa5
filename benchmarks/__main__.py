"""Run every benchmark: ``python -m benchmarks [--quick] [--markdown FILE] [--only NAME]``."""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import sys
import time

import aiohttp

import helpcrunch_async

from . import BENCHMARKS
from ._common import Table


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the helpcrunch-async benchmarks.")
    parser.add_argument("--quick", action="store_true", help="smaller, faster runs")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    started = time.perf_counter()
    tables: list[Table] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        for table in module.run(args.quick):
            print(table.text(), end="\n\n", flush=True)
            tables.append(table)
    try:
        import orjson

        speedups = f"orjson {orjson.__version__}"
    except ImportError:
        speedups = "no orjson"
    header = (
        f"Run of {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
        f"{' (--quick)' if args.quick else ''}: helpcrunch-async "
        f"{helpcrunch_async.__version__}, Python {platform.python_version()}, aiohttp "
        f"{aiohttp.__version__}, {speedups}, {platform.machine()} × "
        f"{_cpus()} CPUs; {time.perf_counter() - started:.0f} s in all."
    )
    print(header)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(header + "\n\n" + "\n\n".join(t.markdown() for t in tables) + "\n")
        print(f"markdown written to {args.markdown}", file=sys.stderr)


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


if __name__ == "__main__":
    main()
