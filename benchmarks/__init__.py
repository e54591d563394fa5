"""Benchmarks of helpcrunch-async against raw aiohttp, httpx and the API's rate ceiling.

Run one with ``python -m benchmarks.<name> [--quick]`` or all with
``python -m benchmarks [--quick] [--markdown FILE]``; see ``benchmarks/README.md``.
The fake HelpCrunch server always runs as a separate process, so only the client's
work is measured. Every figure is a ratio or a median measured in the same run:
nothing here asserts an absolute time.
"""

BENCHMARKS = (
    "client_cpu",
    "rate_ceiling",
    "memory",
    "blocking_client",
    "conversion",
    "many_workers",
    "customer_sync",
)
"""Module names, in the order ``python -m benchmarks`` runs them."""
