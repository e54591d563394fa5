"""The README's "Testing your code" example, verbatim: it must keep working."""

from helpcrunch_async.testing import Fault


async def test_plan_upgrade(helpcrunch_fake, helpcrunch_client):  # type: ignore[no-untyped-def]
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(503))            # the first PATCH fails...
    await helpcrunch_client.update_customer(cid, custom_data={"plan": "pro"})
    assert helpcrunch_fake.customers[cid]["customData"]["plan"] == "pro"   # ...and is retried
    assert [r.status for r in helpcrunch_fake.requests] == [503, 200]
