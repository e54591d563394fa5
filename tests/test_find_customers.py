"""list/search/find/delete/tag/untag against the fake server (and a few wire-shape checks)."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime, timedelta, timezone
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(40)
    ids = [c.id async for c in helpcrunch_client.list_customers(page_size=20)]
    assert ids == list(range(1, 41))
    assert len(helpcrunch_fake.requests) == 2  # offset 40 == total: no third request


async def test_list_does_not_trust_a_total_the_pages_contradict(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch,
        monkeypatch: pytest.MonkeyPatch) -> None:
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(300)
    pager = helpcrunch_client.list_customers(limit=150)
    ids = [c.id async for c in pager]
    assert ids == list(range(1, 151))
    assert pager.pages_fetched == 2
    assert pager.total == 300
    assert [c.id async for c in helpcrunch_client.list_customers(limit=0)] == []
    assert len(helpcrunch_fake.requests) == 2


async def test_total_is_set_once_the_first_page_is_in(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(5)
    pager = helpcrunch_client.list_customers(page_size=2)
    first = await anext(pager)
    assert (first.id, pager.total, pager.pages_fetched) == (1, 5, 1)
    await pager.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(pager)
    assert len(helpcrunch_fake.requests) == 1


async def test_list_sorts_on_documented_fields(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(5)
    helpcrunch_fake.customers[2]["lastSeen"] = str(BASE + 100)
    ids = [c.id async for c in helpcrunch_client.list_customers(sort="first_seen",
                                                                 order="desc")]
    assert ids == [5, 4, 3, 2, 1]
    ids = [c.id async for c in helpcrunch_client.list_customers(sort="customers.lastSeen",
                                                                 order="asc")]
    assert ids == [1, 3, 4, 5, 2]
    sent = _queries(helpcrunch_fake)
    assert (sent[0]["sort"], sent[0]["order"]) == (["customers.firstSeen"], ["desc"])
    assert (sent[1]["sort"], sent[1]["order"]) == (["customers.lastSeen"], ["asc"])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"sort": "name"}, "sort"),
    ({"sort": "customers.email"}, "sort"),
    ({"sort": "first_seen", "order": "up"}, "order"),
    ({"order": "asc"}, "order"),
    ({"page_size": 101}, "page_size"),
    ({"page_size": 0}, "page_size"),
    ({"limit": -1}, "limit"),
    ({"max_retries": -1}, "max_retries"),
])
async def test_bad_list_arguments_are_refused_before_sending(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch,
        kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(hc.ValidationError) as info:
        helpcrunch_client.list_customers(**kwargs)
    assert info.value.field == field
    assert helpcrunch_fake.requests == []


async def test_shifted_pages_never_yield_a_customer_twice(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(10, start_id=2)
    pager = helpcrunch_client.list_customers(page_size=4)
    seen = [(await anext(pager)).id for _ in range(4)]
    assert seen == [2, 3, 4, 5]
    helpcrunch_fake.seed_customers(1, start_id=1)  # sorts first: every later one shifts right
    seen += [c.id async for c in pager]
    assert seen == list(range(2, 12))  # 5 came again on page 2 and was skipped; 1 is behind
    assert pager.total == 11


async def test_a_deletion_before_the_position_can_make_one_missed(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    # The documented limit of offset paging, pinned so the docs stay true.
    helpcrunch_fake.seed_customers(10)
    pager = helpcrunch_client.list_customers(page_size=4)
    seen = [(await anext(pager)).id for _ in range(4)]
    del helpcrunch_fake.customers[2]
    seen += [c.id async for c in pager]
    assert seen == [1, 2, 3, 4, 6, 7, 8, 9, 10]  # 5 moved to offset 3: missed
    assert len(seen) == len(set(seen))


async def test_fake_refuses_a_page_above_100_with_the_documented_error_shape(
        helpcrunch_fake: FakeHelpCrunch) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{helpcrunch_fake.base_url}/customers?limit=101",
                        headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"})
        body = await r.json()
    assert r.status == 400
    assert body["errors"][0]["code"] == "invalid_request"
    assert body["errors"][1]["code"] == "limit"


async def test_list_and_search_pages_are_retried(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.add_faults(Fault.status(503), method="GET")
    helpcrunch_fake.add_faults(Fault.drop_after(), Fault.status(502), method="POST")
    assert len([c async for c in helpcrunch_client.list_customers()]) == 3
    found = [c.id async for c in helpcrunch_client.search_customers(hc.Filter("id", ">", 1))]
    assert found == [2, 3]
    assert [r.status for r in helpcrunch_fake.requests] == [503, 200, 0, 502, 200]


# --- search_customers ---------------------------------------------------------------------


@pytest.fixture
def people(helpcrunch_fake: FakeHelpCrunch) -> FakeHelpCrunch:
    """Three customers differing in every searchable field."""
    helpcrunch_fake.seed_customers(3)
    c = helpcrunch_fake.customers
    c[1].update(name="Ann Lee", email="ann@gmail.com", company="Acme", phone="+100",
                location={"countryCode": "UA", "regionCode": "30", "city": "Kyiv"},
                tags=[{"name": "vip", "color": "#c377e0"}, {"name": "paid", "color": "#c377e0"}],
                telegramId="tg1", facebookId="fb1", instagramId="ig1", viberId="vb1",
                whatsappId="wa1")
    c[2].update(name="Bob Stone", email="bob@example.com", company="Beta", phone="+200",
                location={"countryCode": "PL", "regionCode": "14", "city": "Warsaw"},
                tags=[{"name": "paid", "color": "#c377e0"}])
    c[3].update(name="Cy Lee", email="cy@gmail.com", company=None, phone=None, location=None)
    return helpcrunch_fake


DAY2 = datetime.fromtimestamp(BASE + 2, UTC)
SEARCHES = [
    (hc.Filter("email", "=", "bob@example.com"), [2]),
    (hc.Filter("email", "!=", "bob@example.com"), [1, 3]),
    (hc.Filter("email", "~", "gmail"), [1, 3]),
    (hc.Filter("customers.email", "~", "GMAIL"), [1, 3]),  # the fake matches loosely
    (hc.Filter("name", "~", "Lee"), [1, 3]),
    (hc.Filter("user_id", "=", "user_2"), [2]),
    (hc.Filter("customers.userId", "!=", "user_2"), [1, 3]),
    (hc.Filter("company", "=", "Acme"), [1]),
    (hc.Filter("company", "!=", "Acme"), [2]),  # a null field matches nothing
    (hc.Filter("phone", "~", "+2"), [2]),
    (hc.Filter("country_code", "=", "PL"), [2]),
    (hc.Filter("region_code", "=", "30"), [1]),
    (hc.Filter("city", "~", "kyi"), [1]),
    (hc.Filter("telegram_id", "=", "tg1"), [1]),
    (hc.Filter("facebook_id", "=", "fb1"), [1]),
    (hc.Filter("instagram_id", "=", "ig1"), [1]),
    (hc.Filter("viber_id", "~", "vb"), [1]),
    (hc.Filter("customers.whatsappId", "=", "wa1"), [1]),
    (hc.Filter("id", "=", 2), [2]),
    (hc.Filter("id", "!=", 2), [1, 3]),
    (hc.Filter("id", ">", 1), [2, 3]),
    (hc.Filter("customers.id", ">=", 3), [3]),
    (hc.Filter("last_seen", "=", DAY2), [2]),
    (hc.Filter("last_seen", "!=", BASE + 2), [1, 3]),
    (hc.Filter("last_seen", ">", DAY2), [3]),
    (hc.Filter("last_seen", ">=", DAY2.astimezone(timezone(timedelta(hours=3)))), [2, 3]),
    (hc.Filter("tags", "=", ["paid"]), [1, 2]),
    (hc.Filter("tags", "=", ["paid", hc.Tag(name="vip", color="#000")]), [1]),
    (hc.Filter("customers.tagsData", "=", ["nope"]), []),
]


@pytest.mark.parametrize(("flt", "expected"), SEARCHES, ids=[
    f"{f.field}{f.operator}{i}" for i, (f, _) in enumerate(SEARCHES)])
async def test_every_filter_field_and_operator(
        people: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch,
        flt: hc.Filter, expected: list[int]) -> None:
    found = [c.id async for c in helpcrunch_client.search_customers(flt)]
    assert found == expected
    [body] = _search_bodies(people)
    assert body["filter"] == [flt.to_json()]
    assert body["comparison"] == "AND"


async def test_search_body_is_the_documented_shape(
        people: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    pager = helpcrunch_client.search_customers(
        hc.Filter("tags", "=", ["vip", hc.Tag(name="paid", color="#fff")]),
        hc.Filter("last_seen", ">=", DAY2), match="any", sort="last_seen", order="desc",
        page_size=2)
    assert [c.id async for c in pager] == [3, 2, 1]
    assert pager.total == 3
    first, second = _search_bodies(people)
    assert first == {
        "filter": [
            {"field": "customers.tagsData", "operator": "=",
             "value": [{"name": "vip"}, {"name": "paid"}]},  # never a colour
            {"field": "customers.lastSeen", "operator": ">=", "value": BASE + 2},
        ],
        "comparison": "OR", "limit": 2, "offset": 0,
        "sort": "customers.lastSeen", "order": "desc",
    }
    assert second["offset"] == 2


async def test_match_all_and_any(
        people: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    gmail, paid = hc.Filter("email", "~", "gmail"), hc.Filter("tags", "=", ["paid"])
    assert [c.id async for c in helpcrunch_client.search_customers(gmail, paid)] == [1]
    assert [c.id async for c in helpcrunch_client.search_customers(
        gmail, paid, match="any")] == [1, 2, 3]


async def test_search_pages_and_limit(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(230, fields={"company": "Acme"})
    pager = helpcrunch_client.search_customers(hc.Filter("company", "=", "Acme"), limit=205)
    ids = [c.id async for c in pager]
    assert ids == list(range(1, 206))
    assert (pager.total, pager.pages_fetched) == (230, 3)
    assert [b["offset"] for b in _search_bodies(helpcrunch_fake)] == [0, 100, 200]


@pytest.mark.parametrize(("args", "field"), [
    (("nope", "=", "x"), "filter.field"),
    (("customers.firstSeen", "=", 1), "filter.field"),  # sortable, not searchable
    (("email", ">", "x"), "filter.operator"),
    (("email", "<", "x"), "filter.operator"),  # not documented
    (("id", "~", 1), "filter.operator"),
    (("tags", "!=", ["a"]), "filter.operator"),
    (("email", "=", 5), "filter.value"),
    (("id", "=", "1"), "filter.value"),
    (("id", "=", True), "filter.value"),
    (("tags", "=", []), "filter.value"),
    (("tags", "=", "vip"), "filter.value"),
    (("tags", "=", [""]), "tags[0].name"),
    (("email", "=", "a\ud800"), "filter.value"),
])
async def test_bad_filters_are_refused_at_construction(args: tuple[Any, ...],
                                                       field: str) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.Filter(*args)
    assert info.value.field == field
    assert repr(args[0]) in str(info.value) or field != "filter.field"


def test_date_filters_take_aware_datetimes_or_epoch_seconds() -> None:
    with pytest.raises(hc.ValidationError, match="naive") as info:
        hc.Filter("last_seen", ">", datetime(2024, 1, 1))
    assert info.value.field == "filter.value"
    with pytest.raises(hc.ValidationError):
        hc.Filter("last_seen", ">", "1700000000")
    assert hc.Filter("last_seen", ">", 1700000000).to_json()["value"] == 1700000000


async def test_bad_search_calls_send_nothing(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    ok = hc.Filter("email", "=", "a@example.com")
    for call in (
        lambda: helpcrunch_client.search_customers(),
        lambda: helpcrunch_client.search_customers(("email", "=", "x")),  # type: ignore[arg-type]
        lambda: helpcrunch_client.search_customers(ok, match="some"),  # type: ignore[arg-type]
        lambda: helpcrunch_client.search_customers(ok, page_size=500),
    ):
        with pytest.raises(hc.ValidationError):
            call()
    assert helpcrunch_fake.requests == []


@pytest.mark.parametrize("condition", [
    {"field": "customers.id", "operator": "=", "value": "1"},
    {"field": "customers.email", "operator": "=", "value": 1},
    {"field": "customers.tagsData", "operator": "=", "value": ["vip"]},
    {"field": "customers.tagsData", "operator": "!=", "value": [{"name": "vip"}]},
    {"field": "customers.email", "operator": ">", "value": "a"},
    {"field": "customers.locale", "operator": "=", "value": "en"},
])
async def test_fake_refuses_bad_conditions(helpcrunch_fake: FakeHelpCrunch,
                                           condition: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{helpcrunch_fake.base_url}/customers/search",
                         json={"filter": [condition]},
                         headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"})
        body = await r.json()
    assert r.status == 400
    assert body["errors"][1]["code"].startswith("filter[0].")


# --- find_customer -----------------------------------------------------------------------


async def test_find_by_user_id_and_email(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(2)
    # The fake's "=" ignores case, so the server answers user_1 for USER_1: not the same id.
    assert await helpcrunch_client.find_customer(user_id="USER_1") is None
    [body] = _search_bodies(helpcrunch_fake)
    assert body["filter"] == [{"field": "customers.userId", "operator": "=",
                               "value": "USER_1"}]


async def test_find_several_is_ambiguous_with_every_id(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(1, email="Ann@example.com")
    helpcrunch_fake.seed_customers(1, start_id=2, email="ann@example.com")
    with pytest.raises(hc.AmbiguousCustomerError) as info:
        await helpcrunch_client.find_customer(email="ann@example.com")
    assert info.value.customer_ids == (1, 2)


@pytest.mark.parametrize("kwargs", [{}, {"user_id": "a", "email": "b"}, {"user_id": ""},
                                    {"email": 5}])
async def test_find_needs_exactly_one_key(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch,
        kwargs: dict[str, Any]) -> None:
    with pytest.raises(hc.ValidationError):
        await helpcrunch_client.find_customer(**kwargs)
    assert helpcrunch_fake.requests == []


# --- delete, tag, untag ------------------------------------------------------------------


async def test_delete(helpcrunch_fake: FakeHelpCrunch,
                      helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(2)
    assert await helpcrunch_client.delete_customer(1) is None
    assert list(helpcrunch_fake.customers) == [2]
    with pytest.raises(hc.NotFoundError) as info:
        await helpcrunch_client.delete_customer(1)  # a 404 on the first attempt
    assert info.value.attempts == 1
    with pytest.raises(hc.ValidationError):
        await helpcrunch_client.delete_customer("user_2")
    assert [(r.method, r.status) for r in helpcrunch_fake.requests] == [
        ("DELETE", 200), ("DELETE", 404)]


async def test_a_retried_delete_that_finds_nothing_is_done(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.truncated(), method="DELETE")  # deleted, answer cut
    assert await helpcrunch_client.delete_customer(1) is None
    assert helpcrunch_fake.customers == {}
    assert [r.status for r in helpcrunch_fake.requests] == [200, 404]


async def test_delete_reads_no_body(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.delete("https://api.helpcrunch.com/v1/customers/7", status=200, body=b"")
    assert await client.delete_customer(7) is None
    assert mock_api.only_request()[0] == "DELETE"


async def test_tag_creates_with_the_default_color_and_sends_no_color(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(2)
    c = await helpcrunch_client.tag_customer(1, ["vip", hc.Tag(name="beta", color="#ff9800")])
    assert [(t.name, t.color) for t in c.tags] == [("vip", "#c377e0"), ("beta", "#ff9800")]
    assert helpcrunch_fake.requests[-1].body == {
        "tags": [{"name": "vip"}, {"name": "beta", "color": "#ff9800"}]}
    assert helpcrunch_fake.requests[-1].path == "/v1/customers/1/tags"
    c = await helpcrunch_client.tag_customer(2, [hc.Tag(name="beta")])  # keeps its colour
    assert [(t.name, t.color) for t in c.tags] == [("beta", "#ff9800")]


async def test_untag_sends_names_only(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    helpcrunch_fake.seed_customers(1)
    await helpcrunch_client.tag_customer(1, ["vip", "beta"])
    c = await helpcrunch_client.untag_customer(1, [hc.Tag(name="vip", color="#000")])
    assert [t.name for t in c.tags] == ["beta"]
    last = helpcrunch_fake.requests[-1]
    assert (last.method, last.body) == ("DELETE", {"tags": [{"name": "vip"}]})
    assert [t["name"] for t in helpcrunch_fake.customers[1]["tags"]] == ["beta"]


@pytest.mark.parametrize("tags", [[], "vip", [""], [5]])
async def test_bad_tags_send_nothing(
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch,
        tags: Any) -> None:
    for call in (helpcrunch_client.tag_customer, helpcrunch_client.untag_customer):
        with pytest.raises(hc.ValidationError):
            await call(1, tags)
    assert helpcrunch_fake.requests == []


# --- answers of the wrong shape ------------------------------------------------------------


@pytest.mark.parametrize(("payload", "path"), [
    ({"total": 1}, "$"),
    ({"data": [{"id": 1}], "total": "many"}, "$.total"),
    ({"data": [{"id": 1}, {"id": 2, "email": {}}], "total": 2}, "$.data[1].email"),
])
async def test_a_page_of_the_wrong_shape_is_reported(
        mock_api: Any, client: hc.AsyncHelpCrunch, payload: Any, path: str) -> None:
    mock_api.get("https://api.helpcrunch.com/v1/customers?limit=100&offset=0",
                 payload=payload)
    with pytest.raises(hc.APIResponseValidationError) as info:
        [c async for c in client.list_customers()]
    assert info.value.json_path == path


async def test_total_key_order_does_not_matter(mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    mock_api.get("https://api.helpcrunch.com/v1/customers?limit=100&offset=0",
                 body=b'{"total": 1, "data": [{"id": 7}]}')
    pager = client.list_customers()
    assert [c.id async for c in pager] == [7]
    assert pager.total == 1


@pytest.mark.parametrize("total", [None, 10**9], ids=["no-total", "lying-total"])
async def test_a_server_ignoring_offset_does_not_make_paging_endless(
        mock_api: Any, client: hc.AsyncHelpCrunch, total: int | None) -> None:
    from aioresponses import CallbackResult

    page: dict[str, Any] = {"data": [{"id": i} for i in range(1, 11)]}
    if total is not None:
        page["total"] = total
    calls = 0

    def same_page(url: Any, **_: Any) -> CallbackResult:
        nonlocal calls
        calls += 1  # the same full page whatever the offset (an empty one after 50,
        return CallbackResult(payload=page if calls <= 50 else {"data": []})  # to end)

    mock_api.get(re.compile(r"https://api\.helpcrunch\.com/v1/customers\?.*"),
                 callback=same_page, repeat=True)
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
        helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    import asyncio

    helpcrunch_fake.seed_customers(60)
    pager = helpcrunch_client.list_customers(page_size=10)

    async def worker() -> list[int]:  # the usual "N workers, one queue" pattern
        return [c.id async for c in pager]

    got = await asyncio.gather(*(worker() for _ in range(3)))
    ids = [cid for part in got for cid in part]
    # before: two tasks fetched the same offset at once and the next page was skipped
    assert sorted(ids) == list(range(1, 61))
    assert [q["offset"] for q in _queries(helpcrunch_fake)] == [
        [str(n)] for n in range(0, 60, 10)]


async def test_a_page_shifted_by_insertions_is_not_taken_for_an_ignored_offset(
        mock_api: Any, client: hc.AsyncHelpCrunch) -> None:
    url = "https://api.helpcrunch.com/v1/customers?limit=2&offset={}"
    mock_api.get(url.format(0), payload={"data": [{"id": 1}, {"id": 2}]})
    mock_api.get(url.format(2), payload={"data": [{"id": 1}, {"id": 2}]})  # 2 inserted
    mock_api.get(url.format(4), payload={"data": [{"id": 1}, {"id": 2}]})  # 2 more
    mock_api.get(url.format(6), payload={"data": [{"id": 3}]})
    assert [c.id async for c in client.list_customers(page_size=2)] == [1, 2, 3]


# --- the blocking client -----------------------------------------------------------------


def test_blocking_client(helpcrunch_fake_thread: FakeHelpCrunch,
                     helpcrunch_sync_client: hc.HelpCrunch) -> None:
    fake, client = helpcrunch_fake_thread, helpcrunch_sync_client
    fake.seed_customers(120)
    fake.seed_customers(2, start_id=200, email="dup@example.com")
    customers = client.list_customers(page_size=50)
    assert isinstance(customers, hc.CustomerPager)
    assert customers.total is None
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
    assert client.delete_customer(7) is None
    assert 7 not in fake.customers
    with pytest.raises(hc.ValidationError):
        client.list_customers(page_size=101)


def test_sync_pager_left_early_fetches_no_more(helpcrunch_fake_thread: FakeHelpCrunch,
                                               helpcrunch_sync_client: hc.HelpCrunch) -> None:
    helpcrunch_fake_thread.seed_customers(30)
    customers = helpcrunch_sync_client.list_customers(page_size=10)
    for c in customers:
        if c.id == 3:
            break
    customers.close()
    assert list(customers) == []
    assert len(helpcrunch_fake_thread.requests) == 1


def test_one_sync_pager_read_from_two_threads_yields_each_customer_once(
        helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_sync_client: hc.HelpCrunch) -> None:
    import threading

    helpcrunch_fake_thread.seed_customers(60)
    customers = helpcrunch_sync_client.list_customers(page_size=5)
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


def test_a_sync_pager_closed_from_another_thread_stops_cleanly(
        helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_sync_client: hc.HelpCrunch) -> None:
    import threading

    helpcrunch_fake_thread.seed_customers(200)
    customers = helpcrunch_sync_client.list_customers(page_size=1)
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


@pytest.mark.parametrize(("method", "query", "body", "code"), [
    ("POST", "", {"filter": [{"field": ["customers.email"], "operator": "=", "value": "a"}]},
     "filter[0].field"),
    ("POST", "", {"filter": [{"field": "customers.email", "operator": "=", "value": "a"}],
                  "sort": ["customers.lastSeen"]}, "sort"),
    ("POST", "", {"filter": [{"field": "customers.lastSeen", "operator": "=",
                              "value": "9" * 5000}]}, "filter[0].value"),
    ("GET", "?offset=" + "9" * 5000, None, "offset"),
], ids=["unhashable-field", "unhashable-sort", "huge-timestamp", "huge-offset"])
async def test_fake_answers_a_malformed_query_with_400_not_500(
        helpcrunch_fake: FakeHelpCrunch, method: str, query: str, body: Any,
        code: str) -> None:
    path = "/customers/search" if method == "POST" else "/customers"
    async with aiohttp.ClientSession() as s:
        r = await s.request(method, f"{helpcrunch_fake.base_url}{path}{query}", json=body,
                            headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"})
        assert r.status == 400, await r.text()
        answer = await r.json()
    assert answer["errors"][1]["code"] == code


@pytest.mark.parametrize("cls", [hc.AsyncHelpCrunch, hc.HelpCrunch])
@pytest.mark.parametrize("name", ["list_customers", "search_customers", "find_customer",
                                  "delete_customer", "tag_customer", "untag_customer"])
def test_every_finding_method_has_a_docstring_example(cls: type, name: str) -> None:
    assert ">>>" in (getattr(cls, name).__doc__ or "")


def test_a_sync_pager_left_half_read_does_not_hang_the_interpreter_exit(
        helpcrunch_fake_thread: FakeHelpCrunch) -> None:
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
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
