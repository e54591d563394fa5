"""A module-level ``AsyncHelpCrunch`` used from one ``asyncio.run`` per task, 20 tasks.

What a Celery task, a cron script or a pytest test with a loop per test does. The
client is never closed (a module-level client usually is not). Prints one JSON line:
the tasks' outcomes and what the fake (in a thread of this process) stored.
"""

from __future__ import annotations

import asyncio
import json

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

TASKS = 20

with FakeHelpCrunch(rate_limit=None).in_thread() as fake:
    fake.seed_customers(TASKS)
    # module level; no client-side rate limit, so that 20 calls take no 10 s (the budget
    # shared by loops has a test of its own)
    client = hc.AsyncHelpCrunch(api_key=fake.api_key, base_url=fake.base_url, rate_limit=None)

    async def task(n: int) -> None:
        await client.update_customer(n, name=f"run {n}")

    outcomes: dict[str, int] = {"done": 0, "hc_error": 0, "other": 0}
    for n in range(1, TASKS + 1):
        try:
            asyncio.run(task(n))
            outcomes["done"] += 1
        except hc.HelpCrunchError:
            outcomes["hc_error"] += 1
        except Exception:
            outcomes["other"] += 1
    stored = sum(fake.customers[n]["name"] == f"run {n}" for n in range(1, TASKS + 1))
    print(json.dumps({**outcomes, "stored": stored, "requests": fake.stats.requests}), flush=True)
