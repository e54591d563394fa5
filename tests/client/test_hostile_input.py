"""Hostile input: text UTF-8 cannot carry, and bodies over 1 MiB.

A lone surrogate (``"\\ud800"``) in any string field is a ValidationError naming the
field, raised by the records' own checks before anything is sent — so bulk items fail
with it too. A body over 1 MiB is sent without aiohttp's ResourceWarning.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async._fastpaths import customer_from_json
from helpcrunch_async._json import decode_json
from helpcrunch_async._models import coerce_update
from helpcrunch_async.testing import FakeHelpCrunch, Fault

LONE = "a\ud800b"

CASES = [
    ({"name": LONE}, "name"),
    ({"email": "\udfff@example.com"}, "email"),
    ({"notes": "ü" * 10 + "\udc80"}, "notes"),
    ({"user_id": LONE}, "user_id"),
    ({"custom_data": {"plan": LONE}}, "custom_data['plan']"),
    ({"custom_data": {"pl\ud800an": "pro"}}, "custom_data key 'pl\\ud800an'"),
    ({"tags": ["ok", LONE]}, "tags[1].name"),
]


@pytest.mark.parametrize(("fields", "field"), CASES, ids=[c[1] for c in CASES])
def test_lone_surrogate_is_a_validation_error_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(hc.ValidationError, match="lone surrogate") as info:
        coerce_update(None, fields)
    assert info.value.field == field


def test_lone_surrogate_in_a_tag_is_refused_when_the_tag_is_built() -> None:
    with pytest.raises(hc.ValidationError, match="lone surrogate") as info:
        hc.Tag(name=LONE)
    assert info.value.field == "tag name"
    with pytest.raises(hc.ValidationError, match="lone surrogate") as info:
        hc.Tag(name="vip", color="#\ud800")
    assert info.value.field == "tag color"


def test_tags_read_from_a_response_are_checked_again_when_sent() -> None:
    """A ``"\\ud800"`` escape in a response gives a Tag that skipped the input checks."""
    customer = customer_from_json(
        decode_json(b'{"id": 1, "tags": [{"name": "ok"}, {"name": "x\\ud800", "color": "red"}]}')
    )
    with pytest.raises(hc.ValidationError, match="lone surrogate") as info:
        hc.CustomerUpdate(tags=customer.tags)
    assert info.value.field == "tags[1].name"


def test_non_ascii_text_without_surrogates_is_accepted() -> None:
    update = coerce_update(
        None, {"name": "Zoë 🎉", "custom_data": {"città": "Zürich"}, "tags": ["café"]}
    )
    assert update.name == "Zoë 🎉"


async def test_single_calls_refuse_before_sending(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    calls = [
        lambda: helpcrunch_client.update_customer(cid, name=LONE),
        lambda: helpcrunch_client.update_customer(cid, custom_data={"plan": LONE}),
        lambda: helpcrunch_client.create_customer(name=LONE),
        lambda: helpcrunch_client.replace_customer(cid, hc.CustomerUpdate(tags=[LONE])),
    ]
    for call in calls:
        with pytest.raises(hc.ValidationError, match="lone surrogate"):
            await call()
    assert helpcrunch_fake.requests == []


@pytest.mark.parametrize("batch", [False, True])
async def test_bulk_items_fail_with_the_validation_error(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch, batch: bool
) -> None:
    ids = helpcrunch_fake.seed_customers(3)
    items: list[tuple[int, dict[str, Any]]] = [
        (ids[0], {"name": "fine"}),
        (ids[1], {"name": LONE}),
        (ids[2], {"custom_data": {"plan": LONE}}),
    ]
    results = {r.index: r async for r in helpcrunch_client.update_customers(items, batch=batch)}
    assert results[0].ok
    for index, field in ((1, "name"), (2, "custom_data['plan']")):
        error = results[index].error
        assert type(error) is hc.ValidationError, error
        assert error.field == field
        assert results[index].attempts == 0
    assert len(helpcrunch_fake.requests) == 1
    assert helpcrunch_fake.customers[ids[0]]["name"] == "fine"


# --- item 4: bodies over 1 MiB ---------------------------------------------------------


async def test_issue_scenario_large_notes_ends_in_a_helpcrunch_error(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    """The 2 MB body is sent; the fake refuses notes over 255 chars (seen, undocumented)."""
    [cid] = helpcrunch_fake.seed_customers(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with pytest.raises(hc.BadRequestError, match="too long"):
            await helpcrunch_client.update_customer(cid, notes="ü" * 1_000_000)
    assert len(helpcrunch_fake.requests) == 1


async def test_a_body_over_1_mib_is_sent_whole_without_resource_warning(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    name = "ü" * 1_000_000  # 2 MB of UTF-8
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        customer = await helpcrunch_client.update_customer(cid, name=name)
    assert customer.name == name
    assert helpcrunch_fake.customers[cid]["name"] == name
    assert helpcrunch_fake.requests[-1].body == {"name": name}


async def test_a_large_body_is_sent_again_whole_on_retry(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    [cid] = helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(503))
    name = "x" * 1_100_000
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        await helpcrunch_client.update_customer(cid, name=name)
    assert [r.status for r in helpcrunch_fake.requests] == [503, 200]
    assert all(r.body == {"name": name} for r in helpcrunch_fake.requests)


async def test_a_large_batch_is_sent_without_resource_warning(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    ids = helpcrunch_fake.seed_customers(2)
    big = "x" * 1_100_000
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        results = [
            r
            async for r in helpcrunch_client.update_customers(
                [(cid, {"name": big}) for cid in ids], batch=True
            )
        ]
    assert all(r.ok for r in results), [r.error for r in results]
    assert all(helpcrunch_fake.customers[cid]["name"] == big for cid in ids)
    assert len(helpcrunch_fake.requests) == 1


async def test_fake_answers_400_to_a_request_body_nested_too_deeply(
    helpcrunch_fake: FakeHelpCrunch,
) -> None:
    import aiohttp

    [cid] = helpcrunch_fake.seed_customers(1)
    async with (
        aiohttp.ClientSession() as session,
        session.patch(
            f"{helpcrunch_fake.base_url}/customers/{cid}",
            data=b"[" * 100_000 + b"]" * 100_000,
            headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"},
        ) as resp,
    ):
        assert resp.status == 400
        errors = (await resp.json())["errors"]
        assert {"code": "body", "message": "Invalid JSON."} in errors
