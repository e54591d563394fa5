"""list_customers and the pagers: every customer once, totals, shifted pages, both clients."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault

BASE = 1603885746  # the fake seeds firstSeen = lastSeen = BASE + id


def _queries(fake: FakeHelpCrunch) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path).query) for r in fake.requests]


def _search_bodies(fake: FakeHelpCrunch) -> list[Any]:
    return [r.body for r in fake.requests if r.path == "/v1/customers/search"]


# --- list_customers ---------------------------------------------------------------------


async def test_list_pages_through_every_customer(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(250)
    pager = helpcrunch_client.list_customers()
    assert pager.total is None
    assert pager.pages_fetched == 0
    ids = [c.id async for c in pager]
    assert ids == list(range(1, 251))
    assert pager.total == 250
    assert pager.pages_fetched == 3
    assert [r.method for r in helpcrunch_fake.requests] == ["GET"] * 3
    paging = [(q["limit"], q["offset"]) for q in _queries(helpcrunch_fake)]
    assert paging == [(["100"], ["0"]), (["100"], ["100"]), (["100"], ["200"])]


async def test_list_stops_at_total_without_an_empty_page(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(40)
    ids = [c.id async for c in helpcrunch_client.list_customers(page_size=20)]
    assert ids == list(range(1, 41))
    assert len(helpcrunch_fake.requests) == 2  # offset 40 == total: no third request


async def test_list_does_not_trust_a_total_the_pages_contradict(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpcrunch_fake.seed_customers(250)
    from helpcrunch_async import _paging

    original = _paging.customer_page_from_json

    def lying(data: Any) -> Any:  # a full page of 100, and "total": 5
        data["total"] = 5
        return original(data)

    monkeypatch.setattr("helpcrunch_async._finding.customer_page_from_json", lying)
    pager = helpcrunch_client.list_customers()
    assert [c.id async for c in pager] == list(range(1, 251))
    assert pager.pages_fetched == 3


async def test_list_limit_stops_after_n_customers(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(300)
    pager = helpcrunch_client.list_customers(limit=150)
    ids = [c.id async for c in pager]
    assert ids == list(range(1, 151))
    assert pager.pages_fetched == 2
    assert pager.total == 300
    assert [c.id async for c in helpcrunch_client.list_customers(limit=0)] == []
    assert len(helpcrunch_fake.requests) == 2


async def test_total_is_set_once_the_first_page_is_in(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(5)
    pager = helpcrunch_client.list_customers(page_size=2)
    first = await anext(pager)
    assert (first.id, pager.total, pager.pages_fetched) == (1, 5, 1)
    await pager.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(pager)
    assert len(helpcrunch_fake.requests) == 1


async def test_list_sorts_on_documented_fields(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(5)
    helpcrunch_fake.customers[2]["lastSeen"] = str(BASE + 100)
    ids = [c.id async for c in helpcrunch_client.list_customers(sort="first_seen", order="desc")]
    assert ids == [5, 4, 3, 2, 1]
    ids = [
        c.id async for c in helpcrunch_client.list_customers(sort="customers.lastSeen", order="asc")
    ]
    assert ids == [1, 3, 4, 5, 2]
    sent = _queries(helpcrunch_fake)
    assert (sent[0]["sort"], sent[0]["order"]) == (["customers.firstSeen"], ["desc"])
    assert (sent[1]["sort"], sent[1]["order"]) == (["customers.lastSeen"], ["asc"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "name"}, "sort"),
        ({"sort": "customers.email"}, "sort"),
        ({"sort": "first_seen", "order": "up"}, "order"),
        ({"order": "asc"}, "order"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"limit": -1}, "limit"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
async def test_bad_list_arguments_are_refused_before_sending(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    kwargs: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(hc.ValidationError) as info:
        helpcrunch_client.list_customers(**kwargs)
    assert info.value.field == field
    assert helpcrunch_fake.requests == []


async def test_shifted_pages_never_yield_a_customer_twice(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(10, start_id=2)
    pager = helpcrunch_client.list_customers(page_size=4)
    seen = [(await anext(pager)).id for _ in range(4)]
    assert seen == [2, 3, 4, 5]
    helpcrunch_fake.seed_customers(1, start_id=1)  # sorts first: every later one shifts right
    seen += [c.id async for c in pager]
    assert seen == list(range(2, 12))  # 5 came again on page 2 and was skipped; 1 is behind
    assert pager.total == 11


async def test_a_deletion_before_the_position_can_make_one_missed(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    # The documented limit of offset paging, pinned so the docs stay true.
    helpcrunch_fake.seed_customers(10)
    pager = helpcrunch_client.list_customers(page_size=4)
    seen = [(await anext(pager)).id for _ in range(4)]
    del helpcrunch_fake.customers[2]
    seen += [c.id async for c in pager]
    assert seen == [1, 2, 3, 4, 6, 7, 8, 9, 10]  # 5 moved to offset 3: missed
    assert len(seen) == len(set(seen))


async def test_fake_refuses_a_page_above_100_with_the_documented_error_shape(
    helpcrunch_fake: FakeHelpCrunch,
) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(
            f"{helpcrunch_fake.base_url}/customers?limit=101",
            headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"},
        )
        body = await r.json()
    assert r.status == 400
    assert body["errors"][0]["code"] == "invalid_request"
    assert body["errors"][1]["code"] == "limit"


async def test_list_and_search_pages_are_retried(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.add_faults(Fault.status(503), method="GET")
    helpcrunch_fake.add_faults(Fault.drop_after(), Fault.status(502), method="POST")
    assert len([c async for c in helpcrunch_client.list_customers()]) == 3
    found = [c.id async for c in helpcrunch_client.search_customers(hc.Filter("id", ">", 1))]
    assert found == [2, 3]
    assert [r.status for r in helpcrunch_fake.requests] == [503, 200, 0, 502, 200]


# --- answers of the wrong shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"total": 1}, "$"),
        ({"data": [{"id": 1}], "total": "many"}, "$.total"),
        ({"data": [{"id": 1}, {"id": 2, "email": {}}], "total": 2}, "$.data[1].email"),
    ],
)
async def test_a_page_of_the_wrong_shape_is_reported(
    mock_api: Any, client: hc.AsyncHelpCrunch, payload: Any, path: str
) -> None:
    mock_api.get("https://api.helpcrunch.com/v1/customers?limit=100&offset=0", payload=payload)
    with pytest.raises(hc.APIResponseValidationError) as info:
        [c async for c in client.list_customers()]
    assert info.value.json_path == path


async def test_total_key_order_does_not_matter(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.get(
        "https://api.helpcrunch.com/v1/customers?limit=100&offset=0",
        body=b'{"total": 1, "data": [{"id": 7}]}',
    )
    pager = client.list_customers()
    assert [c.id async for c in pager] == [7]
    assert pager.total == 1


@pytest.mark.parametrize("total", [None, 10**9], ids=["no-total", "lying-total"])
async def test_a_server_ignoring_offset_does_not_make_paging_endless(
    mock_api: Any, client: hc.AsyncHelpCrunch, total: int | None
) -> None:
    from aioresponses import CallbackResult

    page: dict[str, Any] = {"data": [{"id": i} for i in range(1, 11)]}
    if total is not None:
        page["total"] = total
    calls = 0

    def same_page(url: Any, **_: Any) -> CallbackResult:
        nonlocal calls
        calls += 1  # the same full page whatever the offset (an empty one after 50,
        return CallbackResult(payload=page if calls <= 50 else {"data": []})  # to end)

    mock_api.get(
        re.compile(r"https://api\.helpcrunch\.com/v1/customers\?.*"),
        callback=same_page,
        repeat=True,
    )
    pager = client.list_customers(page_size=10)
    seen = []

    async def read_all() -> None:
        async for c in pager:
            seen.append(c.id)

    with pytest.raises(hc.HelpCrunchError, match="ignore offset"):
        await read_all()
    assert seen == list(range(1, 11))  # each once, then the error instead of more pages
    assert pager.pages_fetched == calls == 4
    assert [c async for c in pager] == []  # and it stays stopped


async def test_one_pager_shared_by_several_tasks_skips_no_page(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    import asyncio

    helpcrunch_fake.seed_customers(60)
    pager = helpcrunch_client.list_customers(page_size=10)

    async def worker() -> list[int]:  # the usual "N workers, one queue" pattern
        return [c.id async for c in pager]

    got = await asyncio.gather(*(worker() for _ in range(3)))
    ids = [cid for part in got for cid in part]
    # before: two tasks fetched the same offset at once and the next page was skipped
    assert sorted(ids) == list(range(1, 61))
    assert [q["offset"] for q in _queries(helpcrunch_fake)] == [[str(n)] for n in range(0, 60, 10)]


async def test_a_page_shifted_by_insertions_is_not_taken_for_an_ignored_offset(
    mock_api: Any, client: hc.AsyncHelpCrunch
) -> None:
    url = "https://api.helpcrunch.com/v1/customers?limit=2&offset={}"
    mock_api.get(url.format(0), payload={"data": [{"id": 1}, {"id": 2}]})
    mock_api.get(url.format(2), payload={"data": [{"id": 1}, {"id": 2}]})  # 2 inserted
    mock_api.get(url.format(4), payload={"data": [{"id": 1}, {"id": 2}]})  # 2 more
    mock_api.get(url.format(6), payload={"data": [{"id": 3}]})
    assert [c.id async for c in client.list_customers(page_size=2)] == [1, 2, 3]


# --- the blocking client -----------------------------------------------------------------


def test_blocking_client(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    fake, client = helpcrunch_fake_thread, helpcrunch_blocking_client
    fake.seed_customers(120)
    fake.seed_customers(2, start_id=200, email="dup@example.com")
    customers = client.list_customers(page_size=50)
    assert isinstance(customers, hc.CustomerPager)
    total_before = customers.total  # a local: mypy would keep customers.total narrowed to None
    assert total_before is None
    assert [c.id for c in customers] == [*range(1, 121), 200, 201]
    assert (customers.total, customers.pages_fetched) == (122, 3)
    found = client.search_customers(hc.Filter("id", ">=", 119), limit=2)
    assert [c.id for c in found] == [119, 120]
    assert found.total == 4
    c = client.find_customer(user_id="user_7")
    assert c is not None
    assert c.id == 7
    assert client.find_customer(user_id="nobody") is None
    with pytest.raises(hc.AmbiguousCustomerError):
        client.find_customer(email="dup@example.com")
    c = client.tag_customer(7, ["vip"])
    assert [(t.name, t.color) for t in c.tags] == [("vip", "#c377e0")]
    assert client.untag_customer(7, ["vip"]).tags == ()
    assert client.delete_customer(7) is None  # type: ignore[func-returns-value]
    assert 7 not in fake.customers
    with pytest.raises(hc.ValidationError):
        client.list_customers(page_size=101)


def test_blocking_pager_left_early_fetches_no_more(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    helpcrunch_fake_thread.seed_customers(30)
    customers = helpcrunch_blocking_client.list_customers(page_size=10)
    for c in customers:
        if c.id == 3:
            break
    customers.close()
    assert list(customers) == []
    assert len(helpcrunch_fake_thread.requests) == 1


def test_one_blocking_pager_read_from_two_threads_yields_each_customer_once(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    import threading

    helpcrunch_fake_thread.seed_customers(60)
    customers = helpcrunch_blocking_client.list_customers(page_size=5)
    got: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def read(into: list[int]) -> None:
        try:
            into.extend(c.id for c in customers)
        except BaseException as exc:  # before the fix: "generator already executing"
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(into,)) for into in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(got[0] + got[1]) == list(range(1, 61))


def test_a_blocking_pager_closed_from_another_thread_stops_cleanly(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    import threading

    helpcrunch_fake_thread.seed_customers(200)
    customers = helpcrunch_blocking_client.list_customers(page_size=1)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in customers:
                pass
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    while customers.pages_fetched < 3 and reader.is_alive():
        threading.Event().wait(0.001)
    customers.close()  # before the fix: ValueError, generator already executing
    reader.join(60)
    assert errors == []
    assert list(customers) == []
