"""Rate-ceiling utilisation: how close a bulk job gets to the API's rate limit.

The fake server (another process) enforces an exact sliding window, scaled from
HelpCrunch's 120 requests / 60 s: 100 requests / 10 s (``--quick``: 50 / 5 s), so a
~60 s job (~15 s) spans six (three) windows. Each variant starts on a fresh server
(an empty window) and runs one job:

* ``update_customers`` with a client ``RateLimit`` equal to the server's limit;
* the same with ``batch=True`` (10 customers per request: the ceiling is ×10);
* a naive ``asyncio.gather`` over all updates with raw aiohttp, no client limiter,
  retrying each 429 after ``asyncio.sleep(1)`` — what users write by hand.

Measured: customers updated per second as a fraction of the ceiling
(limit / period, × 10 for batch), and the number of 429 answers. The ceiling is the
steady rate; a job that starts on an empty window may beat it by the first window's
burst (the server lets ``limit`` requests through at once), which the SDK deliberately
does not take (it paces evenly from the first request, to never draw a 429).
"""

from __future__ import annotations

import asyncio
import math
import time

import aiohttp

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, progress

HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


def updates(n: int, customers: int) -> object:
    return (
        (i % customers + 1, {"name": f"Customer {i}", "custom_data": {"seq": i}}) for i in range(n)
    )


async def sdk_job(
    base: str, n: int, customers: int, limit: int, period: float, batch: bool
) -> tuple[int, float, int]:
    async with hc.AsyncHelpCrunch(
        API_KEY,
        base_url=base,
        rate_limit=hc.RateLimit(limit, period),
        max_concurrency=16,
        max_retries=4,
    ) as client:
        ok = 0
        start = time.perf_counter()
        async for result in client.update_customers(
            updates(n, customers),  # type: ignore[arg-type]
            batch=batch,
        ):
            ok += result.ok
        return ok, time.perf_counter() - start, client.stats.rate_limited


async def naive_job(base: str, n: int, customers: int) -> tuple[int, float, int]:
    too_many = 0
    async with aiohttp.ClientSession(headers=HEADERS) as session:

        async def one(i: int) -> bool:
            nonlocal too_many
            url = f"{base}/customers/{i % customers + 1}"
            body = f'{{"name":"Customer {i}","customData":[{{"property":"seq","value":{i}}}]}}'
            while True:
                async with session.patch(url, data=body.encode()) as resp:
                    await resp.read()
                    if resp.status != 429:
                        return resp.status == 200
                too_many += 1
                await asyncio.sleep(1)

        start = time.perf_counter()
        ok = sum(await asyncio.gather(*(one(i) for i in range(n))))
        return ok, time.perf_counter() - start, too_many


def run(quick: bool = False) -> list[Table]:
    limit, period, seconds = (50, 5.0, 15) if quick else (100, 10.0, 60)
    rate = limit / period
    n_single = int(rate * seconds)
    n_batch = n_single * 10
    table = Table(
        f"rate_ceiling: bulk job against a {limit}/{period:g} s sliding window (~{seconds} s each)",
        [
            "variant",
            "customers",
            "seconds",
            "customers/s",
            "ceiling/s",
            "fraction of ceiling",
            "429s",
        ],
    )
    jobs = [
        ("update_customers, RateLimit", n_single, False, False),
        ("update_customers, RateLimit, batch=True", n_batch, True, False),
        ("naive gather + sleep(1) on 429, no limiter", n_single, False, True),
    ]
    for name, n, batch, naive in jobs:
        progress("rate_ceiling: %s (%d customers)", name, n)
        with fake_server(rate_limit=f"{limit}/{period:g}", customers=n) as fake:
            if naive:
                ok, elapsed, too_many = asyncio.run(naive_job(fake.base_url, n, n))
            else:
                ok, elapsed, too_many = asyncio.run(
                    sdk_job(fake.base_url, n, n, limit, period, batch)
                )
        ceiling = rate * (10 if batch else 1)
        table.add(
            name,
            f"{ok}/{n}",
            f"{elapsed:.1f}",
            f"{ok / elapsed:.2f}",
            f"{ceiling:g}",
            f"{ok / elapsed / ceiling:.3f}",
            too_many,
        )
    best = period * (math.ceil(n_single / limit) - 1)
    table.notes.append("target: ≥ 0.97 of the ceiling with zero 429s (SDK rows)")
    table.notes.append(
        f"a job starting on an empty window can finish {n_single} requests in "
        f"{best:g} s at best (a full burst every window: "
        f"{n_single / best / rate:.2f} of the steady ceiling) — the room the naive loop "
        f"uses, at the price of its 429s"
    )
    return [table]


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
