"""Data sync: requests and time of ``sync_customers`` against one PATCH per row.

The fake server (another process) holds 10,000 customers (``--quick``: 2,000) and
enforces a sliding window of 60 requests / 10 s (HelpCrunch's 120 / 60 s, scaled up
3× so the sync takes about a minute). The input is the account's own rows — the same
fields HelpCrunch has — where 2 % differ in one or two fields (``name``; ``name`` and
``locale``) and 1 % are new customers. Each job starts on a fresh server:

* ``sync_customers(create_missing=True)`` with a client ``RateLimit`` equal to the
  server's: requests sent (list pages, PATCHes, POSTs) and seconds;
* ``update_customers`` of every existing row (one PATCH each; it cannot create):
  the time of its first minute's worth of rows, projected to all rows (a job paced
  by the rate limit takes time in proportion to its requests).

Then the projection for 50,000 customers at HelpCrunch's 120 requests a minute (same
shares changed and new), from the request counts and the measured share of the ceiling;
and the peak RSS of a sync (dry run, nothing changed, rate limit off) over an account
of 100,000 customers (``--quick``: 20,000), in a fresh process, with the bytes per
customer of its compact records measured with ``tracemalloc``.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import helpcrunch_async as hc
from helpcrunch_async._customer_diff import RecordBuilder
from helpcrunch_async._fastpaths import customer_from_json
from helpcrunch_async.testing._store import CustomerStore

from ._common import API_KEY, Table, cli, fake_server, progress

TS = 1603885746  # the fake seeds firstSeen/lastSeen as str(TS + id)
CHANGED_EVERY = 50  # 2 %
NEW_EVERY = 100  # 1 %


def seeded_row(cid: int) -> dict[str, Any]:
    """The input row holding exactly what the fake seeded for customer ``cid``."""
    return {
        "user_id": f"user_{cid}",
        "name": f"Customer {cid}",
        "email": f"customer{cid}@example.com",
        "first_seen": TS + cid,
        "last_seen": TS + cid,
        "unsubscribed": False,
        "blocked": False,
        "locale": "en",
        "tags": [],
    }


def sync_rows(customers: int) -> Iterator[dict[str, Any]]:
    """``customers`` rows: 1 % new, 2 % changed in one or two fields, the rest equal."""
    new = customers // NEW_EVERY
    for cid in range(1, customers - new + 1):
        row = seeded_row(cid)
        if cid % CHANGED_EVERY == 0:
            row["name"] = f"Renamed {cid}"
            if cid % (2 * CHANGED_EVERY) == 0:
                row["locale"] = "uk"
        yield row
    for i in range(new):
        yield {"user_id": f"new_{i}", "name": f"New {i}", "email": f"new{i}@example.com"}


def counts(customers: int) -> tuple[int, int]:
    """(changed rows, new rows) of :func:`sync_rows`."""
    new = customers // NEW_EVERY
    return (customers - new) // CHANGED_EVERY, new


async def sync_job(base: str, customers: int, limit: int, period: float) -> dict[str, Any]:
    async with hc.AsyncHelpCrunch(
        API_KEY,
        base_url=base,
        rate_limit=hc.RateLimit(limit, period),
        max_concurrency=16,
        max_retries=4,
    ) as client:
        start = time.perf_counter()
        job = client.sync_customers(sync_rows(customers), create_missing=True, strategy="auto")
        async for _ in job:
            pass
        return {
            "seconds": time.perf_counter() - start,
            "requests": client.stats.requests,
            "rate_limited": client.stats.rate_limited,
            "counts": dict(job.counts),
            "pages": job.pages_read,
            "strategy": job.strategy,
        }


def update_items(customers: int, rows: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """The first ``rows`` existing rows as ``update_customers`` items: one PATCH each."""
    for cid, row in zip(range(1, rows + 1), sync_rows(customers), strict=False):
        fields = {k: v for k, v in row.items() if k not in ("user_id", "tags")}
        yield cid, fields


async def update_job(
    base: str, customers: int, rows: int, limit: int, period: float
) -> dict[str, Any]:
    async with hc.AsyncHelpCrunch(
        API_KEY,
        base_url=base,
        rate_limit=hc.RateLimit(limit, period),
        max_concurrency=16,
        max_retries=4,
    ) as client:
        items = update_items(customers, rows)
        start = time.perf_counter()
        ok = 0
        async for result in client.update_customers(items):
            ok += result.ok
        return {"seconds": time.perf_counter() - start, "requests": client.stats.requests, "ok": ok}


# --- memory, in a fresh process --------------------------------------------------------


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _memory_job(base: str, customers: int) -> dict[str, float]:
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=base, rate_limit=None, max_concurrency=16
    ) as client:
        await client.get_customer(1)  # warm-up: imports, loop, pool
        baseline = _peak_mib()
        start = time.perf_counter()
        rows = (seeded_row(cid) for cid in range(1, customers + 1))
        job = client.sync_customers(rows, dry_run=True, strategy="list")
        unchanged = 0
        async for result in job:
            unchanged += result.action == "unchanged"
        return {
            "customers": customers,
            "unchanged": unchanged,
            "baseline_mib": baseline,
            "peak_mib": _peak_mib(),
            "seconds": time.perf_counter() - start,
        }


def record_bytes(customers: int = 10_000) -> float:
    """Bytes per customer held by the sync's map of compact records (``tracemalloc``)."""
    store = CustomerStore()
    store.seed(customers)
    parsed = [customer_from_json(c) for c in store.customers.values()]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    builder = RecordBuilder()
    index = {}
    for customer in parsed:
        record = builder.record(customer)
        index[record.user_id] = record
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / customers


def child(customers: int, base: str) -> None:
    print(json.dumps(asyncio.run(_memory_job(base, customers))))


# --- the tables ------------------------------------------------------------------------


def run(quick: bool = False) -> list[Table]:
    customers = 2_000 if quick else 10_000
    limit, period = 60, 10.0
    rate = limit / period
    changed, new = counts(customers)
    existing = customers - new
    progress("customer_sync: sync of %d rows (%d changed, %d new)", customers, changed, new)
    with fake_server(rate_limit=f"{limit}/{period:g}", customers=customers) as fake:
        synced = asyncio.run(sync_job(fake.base_url, customers, limit, period))
    sample = min(existing, int(rate * (15 if quick else 60)))
    progress("customer_sync: update_customers of %d rows (to project %d)", sample, existing)
    with fake_server(rate_limit=f"{limit}/{period:g}", customers=customers) as fake:
        updated = asyncio.run(update_job(fake.base_url, customers, sample, limit, period))
    update_seconds = updated["seconds"] * existing / sample
    target = math.ceil(customers / 100) + changed + new

    table = Table(
        f"customer_sync: {customers:,} customers, {changed} changed + {new} new rows, "
        f"{limit}/{period:g} s sliding window",
        ["job", "requests", "seconds", "share of ceiling", "429s"],
    )
    table.add(
        "sync_customers(create_missing=True)",
        f"{synced['requests']:,}",
        f"{synced['seconds']:.1f}",
        f"{synced['requests'] / synced['seconds'] / rate:.3f}",
        synced["rate_limited"],
    )
    table.add(
        f"update_customers, every row (projected from {sample:,})",
        f"{existing:,}",
        f"{update_seconds:,.0f}",
        f"{updated['requests'] / updated['seconds'] / rate:.3f}",
        "-",
    )
    table.notes.append(
        f"sync actions: {synced['counts']}; {synced['pages']} list pages; "
        f"strategy {synced['strategy']}"
    )
    table.notes.append(
        f"requests {synced['requests']:,} vs target ≤ ⌈{customers:,}/100⌉ + {changed} + "
        f"{new} + a small constant = {target:,} + c: "
        f"{'met' if synced['requests'] <= target + 5 else 'NOT met'}"
    )
    table.notes.append(
        f"ratio: {existing / synced['requests']:.1f}× fewer requests, "
        f"{update_seconds / synced['seconds']:.1f}× less time"
    )
    big = 50_000
    big_changed, big_new = counts(big)
    big_sync = math.ceil(big / 100) + big_changed + big_new
    share = synced["requests"] / synced["seconds"] / rate
    table.notes.append(
        f"projection, {big:,} customers at 120 requests/min: sync {big_sync:,} requests "
        f"≈ {big_sync / 2 / share / 60:.0f} min; update-customers {big - big_new:,} "
        f"requests ≈ {(big - big_new) / 2 / 3600:.1f} h"
    )

    mem_customers = 20_000 if quick else 100_000
    progress("customer_sync: memory, %d customers in the account", mem_customers)
    with fake_server(rate_limit="off", customers=mem_customers) as fake:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.customer_sync",
                "--child",
                str(mem_customers),
                "--base-url",
                fake.base_url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    per_customer = record_bytes()
    memory = Table(
        f"customer_sync: memory of a sync over {mem_customers:,} customers "
        "(dry run, rate limit off)",
        [
            "customers",
            "unchanged",
            "RSS after warm-up MiB",
            "peak RSS MiB",
            "growth MiB",
            "bytes per customer (records + map)",
        ],
    )
    memory.add(
        f"{mem_customers:,}",
        f"{int(mem['unchanged']):,}",
        f"{mem['baseline_mib']:.1f}",
        f"{mem['peak_mib']:.1f}",
        f"{mem['peak_mib'] - mem['baseline_mib']:.1f}",
        f"{per_customer:.0f}",
    )
    memory.notes.append("the input is a generator: memory follows the account, not the input")
    return [table, memory]


def main() -> None:
    cli(run, __doc__, child=child, quick_help="2,000 customers; 20,000 for RSS")


if __name__ == "__main__":
    main()
