"""find/delete/tag/untag against the fake server (and a few wire-shape checks)."""

from __future__ import annotations

import pickle
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault

BASE = 1603885746  # the fake seeds firstSeen = lastSeen = BASE + id


def _queries(fake: FakeHelpCrunch) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path).query) for r in fake.requests]


def _search_bodies(fake: FakeHelpCrunch) -> list[Any]:
    return [r.body for r in fake.requests if r.path == "/v1/customers/search"]


# --- find_customer -----------------------------------------------------------------------


async def test_find_by_user_id_and_email(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(5)
    c = await helpcrunch_client.find_customer(user_id="user_3")
    assert c is not None
    assert c.id == 3
    c = await helpcrunch_client.find_customer(email="Customer4@Example.com")  # case ignored
    assert c is not None
    assert c.id == 4
    assert await helpcrunch_client.find_customer(user_id="user_99") is None
    assert await helpcrunch_client.find_customer(email="nobody@example.com") is None


async def test_find_filters_loose_server_matches(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    # The fake's "=" ignores case, so the server answers user_1 for USER_1: not the same id.
    assert await helpcrunch_client.find_customer(user_id="USER_1") is None
    [body] = _search_bodies(helpcrunch_fake)
    assert body["filter"] == [{"field": "customers.userId", "operator": "=", "value": "USER_1"}]


async def test_find_several_is_ambiguous_with_every_id(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.seed_customers(150, start_id=10, email="dup@example.com")
    with pytest.raises(hc.AmbiguousCustomerError) as info:
        await helpcrunch_client.find_customer(email="dup@example.com")
    assert info.value.customer_ids == tuple(range(10, 160))  # both pages were read
    assert isinstance(info.value, hc.HelpCrunchError)
    assert len(_search_bodies(helpcrunch_fake)) == 2
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.customer_ids == info.value.customer_ids
    assert str(copy) == str(info.value)


async def test_find_emails_differing_in_case_are_ambiguous(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1, email="Ann@example.com")
    helpcrunch_fake.seed_customers(1, start_id=2, email="ann@example.com")
    with pytest.raises(hc.AmbiguousCustomerError) as info:
        await helpcrunch_client.find_customer(email="ann@example.com")
    assert info.value.customer_ids == (1, 2)


@pytest.mark.parametrize(
    "kwargs", [{}, {"user_id": "a", "email": "b"}, {"user_id": ""}, {"email": 5}]
)
async def test_find_needs_exactly_one_key(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(hc.ValidationError):
        await helpcrunch_client.find_customer(**kwargs)
    assert helpcrunch_fake.requests == []


# --- delete, tag, untag ------------------------------------------------------------------


async def test_delete(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    assert await helpcrunch_client.delete_customer(1) is None  # type: ignore[func-returns-value]
    assert list(helpcrunch_fake.customers) == [2]
    with pytest.raises(hc.NotFoundError) as info:
        await helpcrunch_client.delete_customer(1)  # a 404 on the first attempt
    assert info.value.attempts == 1
    with pytest.raises(hc.ValidationError):
        await helpcrunch_client.delete_customer("user_2")
    assert [(r.method, r.status) for r in helpcrunch_fake.requests] == [
        ("DELETE", 200),
        ("DELETE", 404),
    ]


async def test_a_retried_delete_that_finds_nothing_is_done(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.truncated(), method="DELETE")  # deleted, answer cut
    assert await helpcrunch_client.delete_customer(1) is None  # type: ignore[func-returns-value]
    assert helpcrunch_fake.customers == {}
    assert [r.status for r in helpcrunch_fake.requests] == [200, 404]


async def test_delete_reads_no_body(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.delete("https://api.helpcrunch.com/v1/customers/7", status=200, body=b"")
    assert await client.delete_customer(7) is None  # type: ignore[func-returns-value]
    assert mock_api.only_request()[0] == "DELETE"


async def test_tag_creates_with_the_default_color_and_sends_no_color(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    c = await helpcrunch_client.tag_customer(1, ["vip", hc.Tag(name="beta", color="#ff9800")])
    assert [(t.name, t.color) for t in c.tags] == [("vip", "#c377e0"), ("beta", "#ff9800")]
    assert helpcrunch_fake.requests[-1].body == {
        "tags": [{"name": "vip"}, {"name": "beta", "color": "#ff9800"}]
    }
    assert helpcrunch_fake.requests[-1].path == "/v1/customers/1/tags"
    c = await helpcrunch_client.tag_customer(2, [hc.Tag(name="beta")])  # keeps its colour
    assert [(t.name, t.color) for t in c.tags] == [("beta", "#ff9800")]


async def test_untag_sends_names_only(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    await helpcrunch_client.tag_customer(1, ["vip", "beta"])
    c = await helpcrunch_client.untag_customer(1, [hc.Tag(name="vip", color="#000")])
    assert [t.name for t in c.tags] == ["beta"]
    last = helpcrunch_fake.requests[-1]
    assert (last.method, last.body) == ("DELETE", {"tags": [{"name": "vip"}]})
    assert [t["name"] for t in helpcrunch_fake.customers[1]["tags"]] == ["beta"]


@pytest.mark.parametrize("tags", [[], "vip", [""], [5]])
async def test_bad_tags_send_nothing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch, tags: Any
) -> None:
    for call in (helpcrunch_client.tag_customer, helpcrunch_client.untag_customer):
        with pytest.raises(hc.ValidationError):
            await call(1, tags)
    assert helpcrunch_fake.requests == []


@pytest.mark.parametrize("cls", [hc.AsyncHelpCrunch, hc.HelpCrunch])
@pytest.mark.parametrize(
    "name",
    [
        "list_customers",
        "search_customers",
        "find_customer",
        "delete_customer",
        "tag_customer",
        "untag_customer",
    ],
)
def test_every_finding_method_has_a_docstring_example(cls: type, name: str) -> None:
    assert ">>>" in (getattr(cls, name).__doc__ or "")


def test_a_blocking_pager_left_half_read_does_not_hang_the_interpreter_exit(
    helpcrunch_fake_thread: FakeHelpCrunch,
) -> None:
    import subprocess
    import sys

    helpcrunch_fake_thread.seed_customers(30)
    script = (
        "import helpcrunch_async as hc\n"
        f"client = hc.HelpCrunch({helpcrunch_fake_thread.api_key!r}, "
        f"base_url={helpcrunch_fake_thread.base_url!r}, rate_limit=None)\n"
        "customers = client.list_customers(page_size=10)\n"
        "print(next(customers).id)\n"  # then exit: nothing closed
    )
    # The pager's cleanup runs after the client's at exit; with the loop-thread runner
    # of 35924bf it started a new loop thread that never started, and waited forever.
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
