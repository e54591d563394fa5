"""A fake HelpCrunch server for tests, demos and benchmarks.

A real ``aiohttp.web`` server on loopback implementing the documented customer
endpoints of HelpCrunch's REST API v1 (written from the docs on plain dicts, not with
this SDK's models), with a sliding-window rate limit, scriptable and seeded random
faults, a request log and counters.

Example:
    >>> import helpcrunch_async as hc
    >>> from helpcrunch_async.testing import FakeHelpCrunch, Fault
    >>> async def test_retry_on_503() -> None:
    ...     async with FakeHelpCrunch(rate_limit=None) as fake:
    ...         fake.seed_customers(1)
    ...         fake.add_faults(Fault.status(503), method="PATCH")
    ...         async with hc.AsyncHelpCrunch(fake.api_key, base_url=fake.base_url) as c:
    ...             await c.update_customer(1, name="Ann")
    ...         assert fake.customers[1]["name"] == "Ann"
    ...         assert [r.status for r in fake.requests] == [503, 200]

In pytest, the ``helpcrunch_fake`` / ``helpcrunch_client`` fixtures (registered by this
package's pytest plugin) give the same without the boilerplate. From a shell:
``helpcrunch fake-server --port 8080``.
"""

from ._faults import ALL_FAULT_KINDS, Fault
from ._records import FakeStats, RecordedRequest
from ._run import run_fake_server
from ._server import FakeHelpCrunch
from ._webhooks import WebhookDelivery

__all__ = [
    "ALL_FAULT_KINDS",
    "FakeHelpCrunch",
    "FakeStats",
    "Fault",
    "RecordedRequest",
    "WebhookDelivery",
    "run_fake_server",
]
