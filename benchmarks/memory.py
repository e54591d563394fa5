"""Memory: peak RSS of ``update_customers`` over 100k and 1M generated updates.

Each N runs in a fresh subprocess (so ``ru_maxrss``, the peak resident set size, is
that job's alone) against the fake server in another process, rate limiting off.
The input is a generator of ``(id, fields)`` pairs; results are counted and dropped.
Reported: the peak RSS after start-up and a warm-up call (imports, event loop,
connection pool), the peak RSS at the end of the job, and the ratio of the largest
N's peak to the smallest's — flat means ≈ 1.00. ``--quick`` runs 10k and 100k.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, progress

CUSTOMERS = 1000


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _job(base: str, n: int) -> dict[str, float]:
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=base, rate_limit=None, max_concurrency=16
    ) as client:
        await client.update_customer(1, name="warm-up")
        baseline = _peak_mib()
        ok = 0
        start = time.perf_counter()
        gen = (
            (i % CUSTOMERS + 1, {"name": f"Customer {i}", "custom_data": {"seq": i}})
            for i in range(n)
        )
        async for result in client.update_customers(gen):
            ok += result.ok
        elapsed = time.perf_counter() - start
    return {"n": n, "ok": ok, "baseline_mib": baseline, "peak_mib": _peak_mib(), "seconds": elapsed}


def child(n: int, base: str) -> None:
    print(json.dumps(asyncio.run(_job(base, n))))


def run(quick: bool = False) -> list[Table]:
    sizes = [10_000, 100_000] if quick else [100_000, 1_000_000]
    figures = []
    with fake_server(rate_limit="off", customers=CUSTOMERS) as fake:
        for n in sizes:
            progress("memory: %d updates in a fresh process", n)
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.memory",
                    "--child",
                    str(n),
                    "--base-url",
                    fake.base_url,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            figures.append(json.loads(out.stdout.strip().splitlines()[-1]))
    table = Table(
        "memory: peak RSS of update_customers over a generator (rate limit off, concurrency 16)",
        ["updates", "ok", "RSS after warm-up MiB", "peak RSS MiB", "job growth MiB", "updates/s"],
    )
    for f in figures:
        table.add(
            f"{int(f['n']):,}",
            f"{int(f['ok']):,}",
            f"{f['baseline_mib']:.1f}",
            f"{f['peak_mib']:.1f}",
            f"{f['peak_mib'] - f['baseline_mib']:.1f}",
            f"{f['n'] / f['seconds']:,.0f}",
        )
    small, large = figures[0], figures[-1]
    table.notes.append(
        f"peak RSS {int(large['n']):,} / {int(small['n']):,} updates: "
        f"{large['peak_mib'] / small['peak_mib']:.3f}× (flat in N means ≈ 1.00×)"
    )
    return [table]


def main() -> None:
    cli(run, __doc__, child=child, quick_help="10k and 100k updates")


if __name__ == "__main__":
    main()
