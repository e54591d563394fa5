"""search_customers and Filter: every field and operator, the body sent, bad filters refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch

BASE = 1603885746  # the fake seeds firstSeen = lastSeen = BASE + id


def _queries(fake: FakeHelpCrunch) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path).query) for r in fake.requests]


def _search_bodies(fake: FakeHelpCrunch) -> list[Any]:
    return [r.body for r in fake.requests if r.path == "/v1/customers/search"]


# --- search_customers ---------------------------------------------------------------------


@pytest.fixture
def people(helpcrunch_fake: FakeHelpCrunch) -> FakeHelpCrunch:
    """Three customers differing in every searchable field."""
    helpcrunch_fake.seed_customers(3)
    c = helpcrunch_fake.customers
    c[1].update(
        name="Ann Lee",
        email="ann@gmail.com",
        company="Acme",
        phone="+100",
        location={"countryCode": "UA", "regionCode": "30", "city": "Kyiv"},
        tags=[{"name": "vip", "color": "#c377e0"}, {"name": "paid", "color": "#c377e0"}],
        telegramId="tg1",
        facebookId="fb1",
        instagramId="ig1",
        viberId="vb1",
        whatsappId="wa1",
    )
    c[2].update(
        name="Bob Stone",
        email="bob@example.com",
        company="Beta",
        phone="+200",
        location={"countryCode": "PL", "regionCode": "14", "city": "Warsaw"},
        tags=[{"name": "paid", "color": "#c377e0"}],
    )
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


@pytest.mark.parametrize(
    ("flt", "expected"),
    SEARCHES,
    ids=[f"{f.field}{f.operator}{i}" for i, (f, _) in enumerate(SEARCHES)],
)
async def test_every_filter_field_and_operator(
    people: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    flt: hc.Filter,
    expected: list[int],
) -> None:
    found = [c.id async for c in helpcrunch_client.search_customers(flt)]
    assert found == expected
    [body] = _search_bodies(people)
    assert body["filter"] == [flt.to_json()]
    assert body["comparison"] == "AND"


async def test_search_body_is_the_documented_shape(
    people: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    pager = helpcrunch_client.search_customers(
        hc.Filter("tags", "=", ["vip", hc.Tag(name="paid", color="#fff")]),
        hc.Filter("last_seen", ">=", DAY2),
        match="any",
        sort="last_seen",
        order="desc",
        page_size=2,
    )
    assert [c.id async for c in pager] == [3, 2, 1]
    assert pager.total == 3
    first, second = _search_bodies(people)
    assert first == {
        "filter": [
            {
                "field": "customers.tagsData",
                "operator": "=",
                "value": [{"name": "vip"}, {"name": "paid"}],
            },  # never a colour
            {"field": "customers.lastSeen", "operator": ">=", "value": BASE + 2},
        ],
        "comparison": "OR",
        "limit": 2,
        "offset": 0,
        "sort": "customers.lastSeen",
        "order": "desc",
    }
    assert second["offset"] == 2


async def test_match_all_and_any(
    people: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    gmail, paid = hc.Filter("email", "~", "gmail"), hc.Filter("tags", "=", ["paid"])
    assert [c.id async for c in helpcrunch_client.search_customers(gmail, paid)] == [1]
    assert [c.id async for c in helpcrunch_client.search_customers(gmail, paid, match="any")] == [
        1,
        2,
        3,
    ]


async def test_search_pages_and_limit(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(230, fields={"company": "Acme"})
    pager = helpcrunch_client.search_customers(hc.Filter("company", "=", "Acme"), limit=205)
    ids = [c.id async for c in pager]
    assert ids == list(range(1, 206))
    assert (pager.total, pager.pages_fetched) == (230, 3)
    assert [b["offset"] for b in _search_bodies(helpcrunch_fake)] == [0, 100, 200]


@pytest.mark.parametrize(
    ("args", "field"),
    [
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
    ],
)
async def test_bad_filters_are_refused_at_construction(args: tuple[Any, ...], field: str) -> None:
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
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
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


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "customers.id", "operator": "=", "value": "1"},
        {"field": "customers.email", "operator": "=", "value": 1},
        {"field": "customers.tagsData", "operator": "=", "value": ["vip"]},
        {"field": "customers.tagsData", "operator": "!=", "value": [{"name": "vip"}]},
        {"field": "customers.email", "operator": ">", "value": "a"},
        {"field": "customers.locale", "operator": "=", "value": "en"},
    ],
)
async def test_fake_refuses_bad_conditions(
    helpcrunch_fake: FakeHelpCrunch, condition: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.post(
            f"{helpcrunch_fake.base_url}/customers/search",
            json={"filter": [condition]},
            headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"},
        )
        body = await r.json()
    assert r.status == 400
    assert body["errors"][1]["code"].startswith("filter[0].")


@pytest.mark.parametrize(
    ("method", "query", "body", "code"),
    [
        (
            "POST",
            "",
            {"filter": [{"field": ["customers.email"], "operator": "=", "value": "a"}]},
            "filter[0].field",
        ),
        (
            "POST",
            "",
            {
                "filter": [{"field": "customers.email", "operator": "=", "value": "a"}],
                "sort": ["customers.lastSeen"],
            },
            "sort",
        ),
        (
            "POST",
            "",
            {"filter": [{"field": "customers.lastSeen", "operator": "=", "value": "9" * 5000}]},
            "filter[0].value",
        ),
        ("GET", "?offset=" + "9" * 5000, None, "offset"),
    ],
    ids=["unhashable-field", "unhashable-sort", "huge-timestamp", "huge-offset"],
)
async def test_fake_answers_a_malformed_query_with_400_not_500(
    helpcrunch_fake: FakeHelpCrunch, method: str, query: str, body: Any, code: str
) -> None:
    path = "/customers/search" if method == "POST" else "/customers"
    async with aiohttp.ClientSession() as s:
        r = await s.request(
            method,
            f"{helpcrunch_fake.base_url}{path}{query}",
            json=body,
            headers={"Authorization": f"Bearer {helpcrunch_fake.api_key}"},
        )
        assert r.status == 400, await r.text()
        answer = await r.json()
    assert answer["errors"][1]["code"] == code
