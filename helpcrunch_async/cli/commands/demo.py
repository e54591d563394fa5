"""``helpcrunch demo``: a whole bulk job against the built-in fake server.

It starts :class:`~helpcrunch_async.testing.FakeHelpCrunch` in-process with a few
thousand customers, HelpCrunch's rate limit run 60 times faster (240 requests per 2 s
instead of 120 a minute; a 1-second window would make loopback timing jitter count)
and a sprinkling of injected faults (5xx answers, dropped connections), bulk-updates
every customer through :class:`AsyncHelpCrunch` with a progress bar, then checks the
fake's stored customers against the input and prints what it took. It never
contacts a real HelpCrunch account, key or no key.

The summary (throughput, retries, the check) is the result and goes to stdout; the
start line, progress and failed customers go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

from ..._client import AsyncHelpCrunch
from ..._ratelimit import RateLimit
from .._common import (
    add_rate_limit_option,
    emit,
    fraction,
    non_negative_int,
    plural,
    positive_int,
    say,
)
from .._connect import add_redis_option, client_rate_limit
from .._progress import Progress

__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "run", "run_demo"]

_PLANS = ("free", "basic", "pro", "enterprise")


def _update_for(cid: int) -> dict[str, Any]:
    return {
        "name": f"Customer {cid}",
        "email": f"customer{cid}@example.com",
        "company": None if cid % 5 == 0 else f"Company {cid % 97}",
        "custom_data": {"plan": _PLANS[cid % len(_PLANS)], "seats": cid % 50 + 1},
    }


def _matches(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    custom = stored.get("customData") or {}
    return (
        stored.get("name") == wanted["name"]
        and stored.get("email") == wanted["email"]
        and stored.get("company") == wanted["company"]
        and all(custom.get(k) == v for k, v in wanted["custom_data"].items())
    )


HELP = "bulk-update customers of a built-in fake server (no key needed)"

DESCRIPTION = (
    "Start the fake HelpCrunch server in-process, bulk-update its customers "
    "through the SDK with a progress bar, check the result. Never touches a "
    "real account."
)

EPILOG = """\
Examples:
  helpcrunch demo
  helpcrunch demo --customers 500 --batch --no-progress
  helpcrunch demo --rate-limit off > summary.txt     # as fast as the machine goes

Input: none (the fake server is seeded with --customers customers). The summary goes
to stdout; progress and messages to stderr."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and arguments of ``helpcrunch demo``."""
    parser.add_argument(
        "--customers",
        type=positive_int,
        default=2000,
        metavar="N",
        help="customers to create and update (default 2000)",
    )
    add_rate_limit_option(
        parser,
        default=(240, 2.0),
        help="the fake's and the client's limit (default 240/2: HelpCrunch's "
        "rate of 120 a minute, 60 times faster; off: none)",
    )
    add_redis_option(parser)
    parser.add_argument(
        "--fault-rate",
        type=fraction,
        default=0.01,
        help="share of requests the fake fails (5xx, drops; default 0.01)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="requests in flight (default 16)",
    )
    parser.add_argument("--batch", action="store_true", help="use the batch endpoint")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=7,
        help="seed of the fake's injected faults (default 7)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    """Run ``demo``; returns the exit code."""
    client_rate_limit(args.rate_limit, args.redis)  # a bad --redis: exit 2 before anything runs
    return asyncio.run(
        run_demo(
            customers=args.customers,
            rate_limit=args.rate_limit,
            fault_rate=args.fault_rate,
            concurrency=args.concurrency,
            batch=args.batch,
            seed=args.seed,
            progress=not args.no_progress,
            redis=args.redis,
        )
    )


async def run_demo(
    *,
    customers: int = 2000,
    rate_limit: tuple[int, float] | None = (240, 2.0),
    fault_rate: float = 0.01,
    concurrency: int = 16,
    batch: bool = False,
    seed: int | None = 7,
    progress: bool = True,
    redis: str | None = None,
) -> int:
    """Run the demo; return 0 when every customer ended exactly as sent, else 1.

    ``redis``: a Redis URL to share the client's rate limit through (else
    ``$HELPCRUNCH_REDIS_URL``, else a local ``RateLimit``).
    """
    from ...testing import FakeHelpCrunch

    fault_kinds = ("500", "502", "503", "drop_before", "drop_after")
    async with FakeHelpCrunch(
        rate_limit=rate_limit, fault_rate=fault_rate, fault_kinds=fault_kinds, seed=seed
    ) as fake:
        ids = fake.seed_customers(customers)
        limit_text = (
            f"{rate_limit[0]} requests per {rate_limit[1]:g} s" if rate_limit else "no rate limit"
        )
        say(
            f"Fake HelpCrunch at {fake.base_url}: {len(ids)} customers, {limit_text}, "
            f"{fault_rate:.0%} of requests failed on purpose."
        )
        client_limit = client_rate_limit(rate_limit, redis)
        if client_limit is not None and not isinstance(client_limit, RateLimit):
            say("The client's rate limit is shared through Redis.")
        start = time.monotonic()
        async with AsyncHelpCrunch(
            fake.api_key,
            base_url=fake.base_url,
            rate_limit=client_limit,
            max_concurrency=concurrency,
            max_retries=6,
        ) as client:
            updates = ((cid, _update_for(cid)) for cid in ids)
            results = client.update_customers(updates, max_concurrency=concurrency, batch=batch)
            with Progress(len(ids), enabled=progress) as bar:
                async with contextlib.aclosing(results):
                    async for result in results:
                        bar.advance(ok=result.ok)
                        if not result.ok:
                            say(f"customer {result.customer_id} failed: {result.error}")
            stats = client.stats
        elapsed = time.monotonic() - start
        wrong = [cid for cid in ids if not _matches(fake.customers[cid], _update_for(cid))]
        fake_stats = fake.stats

    per_request = 10 if batch else 1
    emit(
        f"{plural(bar.done, 'customer')} updated, {bar.failed} failed, in {elapsed:.1f} s "
        f"({bar.done / elapsed:.1f} customers/s)."
    )
    if rate_limit:
        ceiling = rate_limit[0] / rate_limit[1] * per_request
        emit(
            f"Throughput: {bar.done / elapsed / ceiling:.1%} of the rate limit's ceiling "
            f"({ceiling:g} customers/s); requests sent: {stats.requests} "
            f"({stats.requests / elapsed / (rate_limit[0] / rate_limit[1]):.1%} of the "
            "request limit)."
        )
    emit(
        f"Retries: {stats.retries} (the fake injected {plural(fake_stats.faults, 'fault')}); "
        f"429s received: {stats.rate_limited}."
    )
    if wrong:
        emit(
            f"MISMATCH: {plural(len(wrong), 'customer differs', 'customers differ')} from "
            f"the input (first: {wrong[:5]})."
        )
        return 1
    emit(
        f"Checked: all {plural(len(ids), 'stored customer matches', 'stored customers match')} "
        "the input."
    )
    return 0 if bar.failed == 0 else 1
