"""Testing your own code with the fixtures of helpcrunch-async's pytest plugin (installed
with the package): a fake HelpCrunch per test, and clients pointed at it. Works in a
fresh project: `python -m pytest examples/test_with_fixtures.py` (pytest-asyncio needed
for the async tests).
"""

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault

# --- your code (in your project, imported from your package) ------------------------------


async def upgrade(client: hc.AsyncHelpCrunch, email: str, plan: str) -> int | None:
    """Set the plan of the customer with this email; their id, or None if nobody has it."""
    customer = await client.find_customer(email=email)
    if customer is None:
        return None
    await client.update_customer(customer.id, custom_data={"plan": plan})
    return customer.id


def block_spammers(client: hc.HelpCrunch, ids: list[int]) -> int:
    """Block these customers (blocking code); how many were blocked."""
    return sum(r.ok for r in client.update_customers((i, {"blocked": True}) for i in ids))


# --- its tests -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_upgrade_sets_the_plan(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [ann] = helpcrunch_fake.seed_customers(1, fields={"email": "ann@example.com"})
    assert await upgrade(helpcrunch_client, "ANN@example.com", "pro") == ann
    assert helpcrunch_fake.customers[ann]["customData"]["plan"] == "pro"


@pytest.mark.asyncio
async def test_upgrade_of_nobody_sends_no_update(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    assert await upgrade(helpcrunch_client, "nobody@example.com", "pro") is None
    assert [r.method for r in helpcrunch_fake.requests] == ["POST"]  # the search only


@pytest.mark.asyncio
async def test_upgrade_survives_a_server_error(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [ann] = helpcrunch_fake.seed_customers(1, fields={"email": "ann@example.com"})
    helpcrunch_fake.add_faults(Fault.status(503), method="PATCH")  # the first PATCH fails
    assert await upgrade(helpcrunch_client, "ann@example.com", "pro") == ann
    assert [r.status for r in helpcrunch_fake.requests if r.method == "PATCH"] == [503, 200]


@pytest.mark.helpcrunch_fake(rate_limit=(100, 10.0))
def test_block_spammers_reports_the_unknown_id(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(2)
    assert block_spammers(helpcrunch_blocking_client, [*ids, 999]) == 2
    assert all(helpcrunch_fake.customers[i]["blocked"] for i in ids)
