"""``run_fake_server``: the fake on a port of its own until Ctrl-C (``helpcrunch fake-server``)."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Iterable

from .._config import API_KEY_ENV, BASE_URL_ENV
from ._faults import ALL_FAULT_KINDS
from ._server import FakeHelpCrunch

__all__ = ["run_fake_server"]


def run_fake_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    api_key: str = "test-key",
    rate_limit: tuple[int, float] | None = (120, 60.0),
    retry_after: bool = False,
    fault_rate: float = 0.0,
    seed: int | None = None,
    customers: int = 1000,
    fault_kinds: Iterable[str] = ALL_FAULT_KINDS,
    webhook_url: str | None = None,
    webhook_signing_key: str | None = None,
) -> None:
    """Serve a fake (with ``customers`` seeded customers) until Ctrl-C. Blocking.

    Prints the base URL and API key on start, then the ``export`` lines that point the
    clients and the ``helpcrunch`` command at it. With ``webhook_url`` (and
    ``webhook_signing_key``), every change made through the API is posted there as a
    signed webhook. Used by ``helpcrunch fake-server`` and by benchmarks that run the
    fake as a separate process.

    Example:
        >>> run_fake_server(port=8080, rate_limit=(120, 60.0), customers=100)  # doctest: +SKIP
        HelpCrunch fake server: base_url=http://127.0.0.1:8080/v1 api_key=test-key ...
        export HELPCRUNCH_API_KEY=test-key
        export HELPCRUNCH_BASE_URL=http://127.0.0.1:8080/v1
    """

    async def main() -> None:
        fake = FakeHelpCrunch(
            api_key=api_key,
            host=host,
            port=port,
            rate_limit=rate_limit,
            retry_after=retry_after,
            fault_rate=fault_rate,
            fault_kinds=fault_kinds,
            seed=seed,
            webhook_url=webhook_url,
            webhook_signing_key=webhook_signing_key,
        )
        async with fake:
            fake.seed_customers(customers)
            limit = "off" if rate_limit is None else f"{rate_limit[0]}/{rate_limit[1]:g}s"
            print(
                f"HelpCrunch fake server: base_url={fake.base_url} api_key={fake.api_key} "
                f"customers=1..{customers} rate_limit={limit} fault_rate={fault_rate} "
                "(Ctrl-C to stop)"
            )
            print(f"export {API_KEY_ENV}={shlex.quote(fake.api_key)}")
            print(f"export {BASE_URL_ENV}={shlex.quote(fake.base_url)}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
