"""What tracing and event hooks cost per call: client CPU with a tracer set and without.

One event loop, one ``AsyncHelpCrunch`` (rate limiting off) and the fake server in
another process; rounds of CHUNK ``update_customer`` calls at concurrency 16, the
variants alternating round by round (off, traced, hooked, off, ...):

* **off**: no tracer provider set (OpenTelemetry's default proxy), no hooks;
* **traced**: an SDK ``TracerProvider`` with a ``SimpleSpanProcessor`` into an
  ``InMemorySpanExporter`` set as the global provider (cleared after each round): one
  span per call, exported synchronously -- the dearest common set-up;
* **hooked**: no provider; ``EventHooks`` with a trivial function on all four events.

Measured: client-process CPU (``time.process_time()``) per call, median of the rounds,
and the median of each round's difference to the **off** round just before it: the
overhead per call in µs, in the same run. Needs ``opentelemetry-sdk`` (the ``dev`` extra).
The global provider is swapped between rounds by resetting OpenTelemetry's globals, as
its own test utilities do (a program sets it once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

import helpcrunch_async as hc

from ._common import API_KEY, Table, cli, fake_server, fmt, median, pinned, progress, split_cpus

CONCURRENCY = 16
CHUNK = 400
VARIANTS = ("off", "traced", "hooked")


def _set_provider(provider: TracerProvider | None) -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    if provider is not None:
        trace.set_tracer_provider(provider)


async def _rounds(base: str, customers: int, rounds: int) -> tuple[dict[str, list[float]], int]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    events = 0

    def count(_: object) -> None:
        nonlocal events
        events += 1

    hooks = hc.EventHooks(
        on_request=count, on_response=count, on_retry=count, on_rate_limit_wait=count
    )
    items = [
        (1 + i % customers, {"name": f"Customer {i}", "custom_data": {"n": i}})
        for i in range(CHUNK)
    ]
    sem = asyncio.Semaphore(CONCURRENCY)
    spans = 0
    async with (
        hc.AsyncHelpCrunch(
            API_KEY, base_url=base, rate_limit=None, max_concurrency=CONCURRENCY
        ) as plain,
        hc.AsyncHelpCrunch(
            API_KEY, base_url=base, rate_limit=None, max_concurrency=CONCURRENCY, event_hooks=hooks
        ) as hooked,
    ):

        def calls(client: hc.AsyncHelpCrunch) -> Callable[[], Awaitable[int]]:
            async def one(cid: int, fields: Any) -> int:
                async with sem:
                    customer = await client.update_customer(cid, **fields)
                    return 1 if customer.id else 0

            async def run() -> int:
                return sum(await asyncio.gather(*(one(cid, f) for cid, f in items)))

            return run

        jobs = {"off": (plain, None), "traced": (plain, provider), "hooked": (hooked, None)}
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for warm_up in (True, *([False] * rounds)):
            for name in VARIANTS:
                client, with_provider = jobs[name]
                _set_provider(with_provider)
                start = time.process_time()
                ok = await calls(client)()
                cpu = time.process_time() - start
                _set_provider(None)
                if ok != CHUNK:
                    raise RuntimeError(f"{name}: {ok} of {CHUNK} calls succeeded")
                if name == "traced":
                    spans += len(exporter.get_finished_spans())
                    exporter.clear()
                if not warm_up:
                    samples[name].append(cpu / CHUNK * 1e6)
    provider.shutdown()
    if spans != CHUNK * (rounds + 1) or events != 2 * CHUNK * (rounds + 1):
        raise RuntimeError(
            f"expected a span and two hook events per call: {spans} spans, {events} events"
        )
    return samples, spans


def run(quick: bool = False) -> list[Table]:
    rounds, customers = (15, 500) if quick else (150, 2000)
    split = split_cpus()
    server_cpus, client_cpus = split if split is not None else (None, None)
    with (
        fake_server(rate_limit="off", customers=customers, cpus=server_cpus) as fake,
        pinned(client_cpus),
    ):
        progress("tracing: %d rounds of %d calls per variant", rounds, CHUNK)
        samples, _ = asyncio.run(_rounds(fake.base_url, customers, rounds))
    table = Table(
        f"tracing: client CPU per update_customer, rounds of {CHUNK} calls per "
        f"variant alternating, {rounds} rounds",
        ["variant", "CPU µs/call", "overhead µs/call: median of rounds", "middle half of rounds"],
    )
    off = samples["off"]
    for name in VARIANTS:
        extra = sorted(v - o for v, o in zip(samples[name], off, strict=True))
        table.add(
            name,
            fmt(median(samples[name])),
            "—" if name == "off" else f"{median(extra):+.1f}",
            "—"
            if name == "off"
            else f"{extra[len(extra) // 4]:+.1f} to {extra[3 * len(extra) // 4]:+.1f}",
        )
    table.notes.append("overhead: each round's CPU per call minus the 'off' round's just before it")
    table.notes.append(
        "traced: SDK TracerProvider + SimpleSpanProcessor + "
        "InMemorySpanExporter; hooked: a trivial function on all four hooks"
    )
    return [table]


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
