"""A batch refused with a 4xx did nothing: its items are retried singly, each for itself.

The fake refuses a batch holding an unknown id whole (404), without applying any item.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async import _retry
from helpcrunch_async.testing import FakeHelpCrunch, Fault

MISSING = 999_999


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry.RetryPolicy, "backoff", lambda self, retry: 0.0)
    monkeypatch.setattr(_retry.RetryPolicy, "rate_limit_pause", lambda self, r, a: 0.0)


async def _run(client: hc.AsyncHelpCrunch, items: list[Any], **options: Any) -> list[Any]:
    results = [r async for r in client.update_customers(items, batch=True, **options)]
    return sorted(results, key=lambda r: r.index)


async def test_fake_refuses_a_batch_with_an_unknown_id_whole(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(2)
    before = {cid: dict(helpcrunch_fake.customers[cid]) for cid in ids}
    body = [
        {"customer": ids[0], "name": "new"},
        {"customer": MISSING, "name": "new"},
        {"customer": ids[1], "name": "new"},
    ]
    with pytest.raises(hc.NotFoundError):
        await helpcrunch_client._requestor.request(
            "PUT", "/customers/batch", lambda data: data, body=json.dumps(body).encode()
        )
    assert {cid: helpcrunch_fake.customers[cid] for cid in ids} == before


@pytest.mark.parametrize("batch_fallback", [False, True])
async def test_an_unknown_id_fails_alone_and_the_nine_are_updated(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    batch_fallback: bool,
) -> None:
    ids = helpcrunch_fake.seed_customers(9)
    given = [*ids[:4], MISSING, *ids[4:]]
    results = await _run(
        helpcrunch_client,
        [(cid, {"name": f"n{cid}"}) for cid in given],
        batch_fallback=batch_fallback,
    )
    assert len(results) == 10
    failed = [r for r in results if not r.ok]
    assert [(r.index, r.customer_id) for r in failed] == [(4, MISSING)]
    error = failed[0].error
    assert isinstance(error, hc.NotFoundError)
    assert error.path == f"/v1/customers/{MISSING}"  # its own 404, not the batch's
    for r in results:
        if r.ok:
            assert r.customer is not None
            assert r.customer.name == f"n{r.customer_id}"
            assert helpcrunch_fake.customers[r.customer_id]["name"] == f"n{r.customer_id}"
    methods = [(r.method, r.status) for r in helpcrunch_fake.requests]
    assert methods[0] == ("PUT", 404)
    assert sorted(methods[1:]) == [("PATCH", 200)] * 9 + [("PATCH", 404)]


async def test_a_400_batch_fails_only_the_bad_item(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(3)
    items = [(ids[0], {"name": "a"}), (ids[1], {"notes": "x" * 300}), (ids[2], {"name": "c"})]
    results = await _run(helpcrunch_client, items)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, hc.BadRequestError)
    assert results[1].error.path == f"/v1/customers/{ids[1]}"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, hc.AuthenticationError),
        (403, hc.PermissionDeniedError),
        (429, hc.RateLimitError),
    ],
)
async def test_key_and_rate_limit_refusals_are_not_fanned_out(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    no_backoff: None,
    status: int,
    cls: type[hc.APIError],
) -> None:
    ids = helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.add_faults(*[Fault.status(status)] * 10, method="PUT")
    results: list[hc.BulkResult] = []

    async def collect() -> None:
        async for r in helpcrunch_client.update_customers(
            [(cid, {"name": "x"}) for cid in ids], batch=True, max_retries=0
        ):
            results.append(r)

    if status == 429:
        await collect()
    else:  # a refused key also stops the job (BulkAbortedError, after every result)
        with pytest.raises(hc.BulkAbortedError):
            await collect()
    assert len(results) == 3
    assert all(type(r.error) is cls for r in results), [r.error for r in results]
    assert [r.method for r in helpcrunch_fake.requests] == ["PUT"]


async def test_a_5xx_batch_is_not_fanned_out_without_batch_fallback(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.add_faults(Fault.status(500), method="PUT")
    results = await _run(helpcrunch_client, [(cid, {"name": "x"}) for cid in ids], max_retries=0)
    assert all(isinstance(r.error, hc.ServerError) for r in results)
    assert [r.method for r in helpcrunch_fake.requests] == ["PUT"]
