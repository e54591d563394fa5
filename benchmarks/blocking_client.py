"""Blocking client: sequential calls per second, blocking client against async ones.

One ``update_customer`` after another (no concurrency, rate limiting off) against the
fake server in another process, by:

* ``HelpCrunch`` — the blocking client (its own event loop in a background thread,
  one connection pool for the client's life);
* ``AsyncHelpCrunch`` awaited one call at a time;
* an ``asyncio.run()``-per-call wrapper that opens a new client (and session) for
  every call — the usual hand-made way to call async code from sync code.

Median calls per second over interleaved repetitions, and each as a fraction of the
awaited ``AsyncHelpCrunch`` rate. A second table: total calls per second of
``THREADS`` threads sharing one ``HelpCrunch``, each calling one after another.
"""

from __future__ import annotations

import asyncio
import threading
import time

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, median, progress


def blocking_client(base: str, n: int) -> float:
    with hc.HelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
        client.update_customer(1, name="warm-up")
        start = time.perf_counter()
        for i in range(n):
            client.update_customer(i % 100 + 1, name=f"Customer {i}")
        return n / (time.perf_counter() - start)


def async_sequential(base: str, n: int) -> float:
    async def main() -> float:
        async with hc.AsyncHelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
            await client.update_customer(1, name="warm-up")
            start = time.perf_counter()
            for i in range(n):
                await client.update_customer(i % 100 + 1, name=f"Customer {i}")
            return n / (time.perf_counter() - start)

    return asyncio.run(main())


def run_per_call(base: str, n: int) -> float:
    def update(cid: int, name: str) -> hc.Customer:
        async def one() -> hc.Customer:
            async with hc.AsyncHelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
                return await client.update_customer(cid, name=name)

        return asyncio.run(one())

    update(1, "warm-up")
    start = time.perf_counter()
    for i in range(n):
        update(i % 100 + 1, f"Customer {i}")
    return n / (time.perf_counter() - start)


THREADS = 8


def blocking_client_threads(base: str, n: int) -> float:
    """Total calls/s of THREADS threads sharing one client, n calls in all."""
    with hc.HelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
        client.update_customer(1, name="warm-up")
        barrier = threading.Barrier(THREADS + 1)
        per_thread = n // THREADS

        def work(worker: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                client.update_customer((worker * per_thread + i) % 100 + 1, name=f"C {i}")

        threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        return per_thread * THREADS / (time.perf_counter() - start)


VARIANTS = [
    ("AsyncHelpCrunch, awaited sequentially", async_sequential),
    ("HelpCrunch (the blocking client)", blocking_client),
    ("asyncio.run() per call, new client each", run_per_call),
]


ROUND = 100  # calls per round of the alternating table


def alternating(base: str, rounds: int) -> list[float]:
    """Per-round ratios of blocking to awaited calls/s: both clients open all along, a
    round of ROUND calls on each in turn, so a slow or fast phase of this shared machine
    falls on both alike. The async client runs on a loop in another thread (the blocking
    client must be called from a thread without a running loop, as in a script)."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    async def open_async() -> hc.AsyncHelpCrunch:
        return hc.AsyncHelpCrunch(API_KEY, base_url=base, rate_limit=None)

    async def async_round(client: hc.AsyncHelpCrunch) -> float:
        start = time.perf_counter()
        for i in range(ROUND):
            await client.update_customer(i % 100 + 1, name=f"Customer {i}")
        return ROUND / (time.perf_counter() - start)

    aclient = asyncio.run_coroutine_threadsafe(open_async(), loop).result()
    ratios: list[float] = []
    try:
        with hc.HelpCrunch(API_KEY, base_url=base, rate_limit=None) as client:
            client.update_customer(1, name="warm-up")
            asyncio.run_coroutine_threadsafe(async_round(aclient), loop).result()
            for _ in range(rounds):
                awaited = asyncio.run_coroutine_threadsafe(async_round(aclient), loop).result()
                start = time.perf_counter()
                for i in range(ROUND):
                    client.update_customer(i % 100 + 1, name=f"Customer {i}")
                ratios.append(ROUND / (time.perf_counter() - start) / awaited)
    finally:
        asyncio.run_coroutine_threadsafe(aclient.aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        runner.join()
        loop.close()
    return ratios


def run(quick: bool = False) -> list[Table]:
    n, reps = (200, 3) if quick else (1000, 7)
    rates: dict[str, list[float]] = {name: [] for name, _ in VARIANTS}
    threaded: list[float] = []
    with fake_server(rate_limit="off", customers=100) as fake:
        for rep in range(reps):
            progress("blocking_client repetition %d/%d", rep + 1, reps)
            for name, fn in VARIANTS:
                rates[name].append(fn(fake.base_url, n))
            threaded.append(blocking_client_threads(fake.base_url, n))
    base = median(rates[VARIANTS[0][0]])
    table = Table(
        f"blocking_client: sequential update_customer calls (N={n}, median of {reps})",
        ["variant", "calls/s", "min–max", "vs async"],
    )
    for name, _ in VARIANTS:
        values = rates[name]
        table.add(
            name,
            f"{median(values):,.0f}",
            f"{min(values):,.0f}–{max(values):,.0f}",
            f"{median(values) / base:.2f}×",
        )
    rounds = 10 if quick else 60
    with fake_server(rate_limit="off", customers=100) as fake:
        progress("blocking_client: %d alternating rounds", rounds)
        ratios = sorted(alternating(fake.base_url, rounds))
    paired = Table(
        f"blocking_client, alternating: rounds of {ROUND} calls per client, {rounds} rounds",
        ["variant", "vs awaited AsyncHelpCrunch: median of rounds", "middle half of rounds"],
    )
    paired.add(
        "HelpCrunch (the blocking client)",
        f"{median(ratios):.2f}×",
        f"{ratios[len(ratios) // 4]:.2f}–{ratios[3 * len(ratios) // 4]:.2f}×",
    )
    paired.notes.append(
        "each round's ratio is to the awaited round run just before it, "
        "with both clients open all along"
    )
    threads = Table(
        f"blocking_client: {THREADS} threads sharing one HelpCrunch (N={n} in all, "
        f"median of {reps})",
        ["variant", "total calls/s", "min–max"],
    )
    threads.add(
        f"HelpCrunch, {THREADS} threads",
        f"{median(threaded):,.0f}",
        f"{min(threaded):,.0f}–{max(threaded):,.0f}",
    )
    return [table, paired, threads]


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
