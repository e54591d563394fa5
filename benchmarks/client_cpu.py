"""Client CPU per update: the SDK against raw aiohttp (the floor) and httpx.

The same N ``PATCH /customers/{id}`` updates at the same concurrency, rate limiting
off, against the fake server in another process, by:

(a) raw ``aiohttp`` with pre-built JSON bodies and ``json.loads`` of each response;
(b) ``AsyncHelpCrunch.update_customer`` (keyword fields) under ``asyncio.gather``
    bounded by a semaphore;
(c) ``AsyncHelpCrunch.update_customers`` over a generator of ``(id, fields)`` pairs;
(d) ``httpx.AsyncClient`` with pre-built bodies and ``json.loads``.

Every variant builds its inputs (ids and fields; (a) and (d) also their URLs and bodies)
before its clock starts, and (a) configures its connector as the SDK does (``limit``
only), so the clocks hold the same work on every side: send, receive, decode.

Measured: client-process CPU (``time.process_time()``) per request, median of the
repetitions, and its ratio to (a); also each repetition's ratio to the (a) run just
before it, whose median and spread say how much of a difference is noise. The variants
run interleaved (a, b, c, d, a, b, ...) so machine noise spreads over all of them. With
two CPUs or more, the fake server runs on one CPU and the client on the others, so
neither takes the other's time slices in the middle of a measurement.

A second table alternates (a), (b) and (c) far more finely: one event loop, one open
client or session each, and rounds of CHUNK requests per variant (a, b, c, a, b, ...).
A noisy machine's slow and fast phases last seconds, so each round's ratio to its own
(a) chunk, milliseconds before, compares like with like; the median of hundreds of
such ratios moves far less between runs than the ratio of 11 medians.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import httpx

import helpcrunch_async as hc
from helpcrunch_async import _json
from helpcrunch_async._json import encode_json

from ._common import (
    API_KEY,
    Table,
    cli,
    fake_server,
    fmt,
    median,
    pinned,
    progress,
    split_cpus,
)

CONCURRENCY = 16
HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


def fields_for(i: int, customers: int) -> tuple[int, dict[str, object]]:
    """The i-th update: a customer id and the keyword fields changed."""
    return (i % customers) + 1, {
        "name": f"Customer {i}",
        "email": f"c{i}@example.com",
        "custom_data": {"plan": "pro", "seats": i % 50},
    }


def body_for(fields: dict[str, object]) -> bytes:
    """The wire body for ``fields``, written by hand (what raw-aiohttp code sends)."""
    data = fields["custom_data"]
    assert isinstance(data, dict)
    return encode_json(
        {
            "name": fields["name"],
            "email": fields["email"],
            "customData": [{"property": k, "value": v} for k, v in data.items()],
        }
    )


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.process_time()
    done = await run()
    return time.process_time() - start, done


async def raw_aiohttp(base: str, n: int, customers: int) -> tuple[float, int]:
    items = [fields_for(i, customers) for i in range(n)]
    urls = [f"{base}/customers/{cid}" for cid, _ in items]
    bodies = [body_for(f) for _, f in items]
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(url: str, body: bytes) -> int:
            async with sem, session.patch(url, data=body, headers=HEADERS) as resp:
                payload = json.loads(await resp.read())
                return 1 if resp.status == 200 and payload["id"] else 0

        await asyncio.gather(*(one(urls[i], bodies[i]) for i in range(2 * CONCURRENCY)))

        async def run() -> int:
            return sum(
                await asyncio.gather(*(one(u, b) for u, b in zip(urls, bodies, strict=True)))
            )

        return await _timed(run)


async def raw_httpx(base: str, n: int, customers: int) -> tuple[float, int]:
    items = [fields_for(i, customers) for i in range(n)]
    urls = [f"{base}/customers/{cid}" for cid, _ in items]
    bodies = [body_for(f) for _, f in items]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, headers=HEADERS) as client:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(url: str, body: bytes) -> int:
            async with sem:
                resp = await client.patch(url, content=body)
                payload = json.loads(resp.content)
                return 1 if resp.status_code == 200 and payload["id"] else 0

        await asyncio.gather(*(one(urls[i], bodies[i]) for i in range(2 * CONCURRENCY)))

        async def run() -> int:
            return sum(
                await asyncio.gather(*(one(u, b) for u, b in zip(urls, bodies, strict=True)))
            )

        return await _timed(run)


async def sdk_update_customer(base: str, n: int, customers: int) -> tuple[float, int]:
    items = [fields_for(i, customers) for i in range(n)]
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=base, rate_limit=None, max_concurrency=CONCURRENCY
    ) as client:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(cid: int, fields: dict[str, object]) -> int:
            async with sem:
                customer = await client.update_customer(cid, **fields)  # type: ignore[arg-type]
                return 1 if customer.id else 0

        await asyncio.gather(*(one(*items[i]) for i in range(2 * CONCURRENCY)))

        async def run() -> int:
            return sum(await asyncio.gather(*(one(cid, f) for cid, f in items)))

        return await _timed(run)


async def sdk_update_customers(base: str, n: int, customers: int) -> tuple[float, int]:
    async with hc.AsyncHelpCrunch(
        API_KEY, base_url=base, rate_limit=None, max_concurrency=CONCURRENCY
    ) as client:
        # The inputs are built before timing, as (a) and (b) build theirs: the
        # generator only hands them over.
        items = [fields_for(i, customers) for i in range(n)]

        async def job(inputs: list[tuple[int, dict[str, object]]]) -> int:
            ok = 0
            async for result in client.update_customers(item for item in inputs):
                ok += result.ok
            return ok

        await job(items[: 2 * CONCURRENCY])
        return await _timed(lambda: job(items))


async def sdk_update_customer_plain_json(base: str, n: int, customers: int) -> tuple[float, int]:
    """(b) with the ``speedups`` extra (orjson) switched off: json only."""
    saved = _json._orjson_loads, _json._orjson_dumps
    _json._orjson_loads = _json._orjson_dumps = None
    try:
        return await sdk_update_customer(base, n, customers)
    finally:
        _json._orjson_loads, _json._orjson_dumps = saved


VARIANTS: list[tuple[str, Callable[[str, int, int], Coroutine[Any, Any, tuple[float, int]]]]] = [
    ("(a) raw aiohttp + json.loads", raw_aiohttp),
    ("(b) AsyncHelpCrunch.update_customer", sdk_update_customer),
    ("(c) AsyncHelpCrunch.update_customers", sdk_update_customers),
    ("(d) httpx.AsyncClient + json.loads", raw_httpx),
]
if getattr(_json, "_orjson_loads", None) is not None:
    VARIANTS.insert(2, ("(b) without orjson (json only)", sdk_update_customer_plain_json))

# Variants run on another event loop than asyncio's own: name -> loop factory.
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {}
UVLOOP_RAW, UVLOOP_SDK = "(a) under uvloop", "(b) under uvloop"
try:  # not a dependency: measured when it is installed (pip install uvloop)
    import uvloop  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    pass
else:
    VARIANTS += [(UVLOOP_RAW, raw_aiohttp), (UVLOOP_SDK, sdk_update_customer)]
    LOOPS.update({UVLOOP_RAW: uvloop.new_event_loop, UVLOOP_SDK: uvloop.new_event_loop})


CHUNK = 400


async def _alternating(base: str, rounds: int) -> dict[str, list[float]]:
    """µs of client CPU per request of each round of CHUNK requests, per variant."""
    customers = 2000
    items = [fields_for(i, customers) for i in range(CHUNK)]
    urls = [f"{base}/customers/{cid}" for cid, _ in items]
    bodies = [body_for(f) for _, f in items]
    sem = asyncio.Semaphore(CONCURRENCY)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
        hc.AsyncHelpCrunch(
            API_KEY, base_url=base, rate_limit=None, max_concurrency=CONCURRENCY
        ) as client,
    ):

        async def raw_one(url: str, body: bytes) -> int:
            async with sem, session.patch(url, data=body, headers=HEADERS) as resp:
                payload = json.loads(await resp.read())
                return 1 if resp.status == 200 and payload["id"] else 0

        async def sdk_one(cid: int, fields: dict[str, object]) -> int:
            async with sem:
                customer = await client.update_customer(cid, **fields)  # type: ignore[arg-type]
                return 1 if customer.id else 0

        async def raw() -> int:
            return sum(
                await asyncio.gather(*(raw_one(u, b) for u, b in zip(urls, bodies, strict=True)))
            )

        async def sdk() -> int:
            return sum(await asyncio.gather(*(sdk_one(cid, f) for cid, f in items)))

        async def bulk() -> int:
            ok = 0
            async for result in client.update_customers(item for item in items):
                ok += result.ok
            return ok

        runs = {ALTERNATING[0]: raw, ALTERNATING[1]: sdk, ALTERNATING[2]: bulk}
        for job in runs.values():  # warm up: connections open, code paths taken
            await job()
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, job in runs.items():
                cpu, ok = await _timed(job)
                if ok != CHUNK:
                    raise RuntimeError(f"{name}: {ok} of {CHUNK} updates succeeded")
                samples[name].append(cpu / CHUNK * 1e6)
        return samples


ALTERNATING = (
    "(a) raw aiohttp + json.loads",
    "(b) AsyncHelpCrunch.update_customer",
    "(c) AsyncHelpCrunch.update_customers",
)


def _alternating_table(samples: dict[str, list[float]], rounds: int) -> Table:
    table = Table(
        f"client_cpu, alternating: rounds of {CHUNK} requests per variant, one event "
        f"loop, {rounds} rounds",
        ["variant", "CPU µs/request", "ratio to (a): median of rounds", "middle half of rounds"],
    )
    floor = samples[ALTERNATING[0]]
    for name in ALTERNATING:
        paired = sorted(v / a for v, a in zip(samples[name], floor, strict=True))
        table.add(
            name,
            fmt(median(samples[name])),
            f"{median(paired):.3f}×",
            f"{paired[len(paired) // 4]:.2f}–{paired[3 * len(paired) // 4]:.2f}×",
        )
    table.notes.append("each round's ratio is to the (a) round run just before it")
    return table


def run(quick: bool = False) -> list[Table]:
    n, reps, customers = (500, 3, 500) if quick else (2000, 11, 2000)
    rounds = 20 if quick else 300
    samples: dict[str, list[float]] = {name: [] for name, _ in VARIANTS}
    split = split_cpus()
    server_cpus, client_cpus = split if split is not None else (None, None)
    with (
        fake_server(rate_limit="off", customers=customers, cpus=server_cpus) as fake,
        pinned(client_cpus),
    ):
        for rep in range(reps):
            progress("client_cpu repetition %d/%d", rep + 1, reps)
            for name, variant in VARIANTS:
                with asyncio.Runner(loop_factory=LOOPS.get(name)) as runner:
                    cpu, ok = runner.run(variant(fake.base_url, n, customers))
                if ok != n:
                    raise RuntimeError(f"{name}: {ok} of {n} updates succeeded")
                samples[name].append(cpu / n * 1e6)
        progress("client_cpu alternating rounds (%d)", rounds)
        alternating = asyncio.run(_alternating(fake.base_url, rounds))
    floor_name = VARIANTS[0][0]
    floor = median(samples[floor_name])
    table = Table(
        f"client_cpu: client CPU per PATCH update (N={n}, concurrency "
        f"{CONCURRENCY}, rate limit off, median of {reps})",
        [
            "variant",
            "CPU µs/request",
            "min–max µs",
            "ratio to (a)",
            "per-rep ratio: median (min–max)",
        ],
    )
    for name, _ in VARIANTS:
        values = samples[name]
        # each repetition's ratio to (a) of the same repetition, run just before it
        paired = [v / a for v, a in zip(values, samples[floor_name], strict=True)]
        table.add(
            name,
            fmt(median(values)),
            f"{min(values):.0f}–{max(values):.0f}",
            f"{median(values) / floor:.2f}×",
            f"{median(paired):.2f}× ({min(paired):.2f}–{max(paired):.2f})",
        )
    table.notes.append("target: (b) and (c) within 1.10× of (a)")
    speedups = getattr(_json, "_orjson_loads", None) is not None
    table.notes.append(
        "(b) and (c) decode responses and encode bodies with orjson when the "
        "`speedups` extra is installed" + ("" if speedups else " (it is not here)")
    )
    if UVLOOP_SDK in samples:
        uv_paired = [b / a for b, a in zip(samples[UVLOOP_SDK], samples[UVLOOP_RAW], strict=True)]
        uv_ratio = median(samples[UVLOOP_SDK]) / median(samples[UVLOOP_RAW])
        table.notes.append(
            f"under uvloop, (b) to (a): {uv_ratio:.2f}× "
            f"(per repetition {median(uv_paired):.2f}×, {min(uv_paired):.2f}–{max(uv_paired):.2f})"
            " — uvloop is not a dependency: measured because it is installed"
        )
    table.notes.append(
        f"fake server pinned to CPU {sorted(server_cpus)}, client to {sorted(client_cpus)}"
        if server_cpus is not None and client_cpus is not None
        else "not pinned to CPUs (one CPU, or no CPU affinity here)"
    )
    return [table, _alternating_table(alternating, rounds)]


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
