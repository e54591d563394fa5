"""The data sync against the fake HelpCrunch: what is sent, and what is not."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import FakeHelpCrunch, Fault

TS = 1603885746  # the fake seeds firstSeen/lastSeen as str(TS + id)
WRITES = ("PATCH", "PUT", "POST", "DELETE")


def row(cid: int, **fields: Any) -> dict[str, Any]:
    """The input row that matches seeded customer ``cid`` exactly, plus ``fields``."""
    base: dict[str, Any] = {
        "user_id": f"user_{cid}",
        "name": f"Customer {cid}",
        "email": f"customer{cid}@example.com",
        "first_seen": TS + cid,
        "last_seen": str(TS + cid),
        "locale": "en",
        "blocked": False,
        "company": None,
    }
    base["last_seen"] = TS + cid
    base.update(fields)
    return base


async def run(client: hc.AsyncHelpCrunch, rows: Any, **options: Any) -> list[hc.CustomerSyncResult]:
    options.setdefault("ordered", True)
    job = client.sync_customers(rows, **options)
    async with contextlib.aclosing(job):
        return [r async for r in job]


def writes(fake: FakeHelpCrunch) -> list[tuple[str, str, Any]]:
    """The write requests, by path (rows run concurrently), in order for each path."""
    return sorted(
        (
            (r.method, r.path, r.body)
            for r in fake.requests
            if r.method in WRITES and not r.path.endswith("/search")
        ),
        key=lambda w: w[1],
    )


def reads(fake: FakeHelpCrunch) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in fake.requests
        if r.method == "GET" or r.path.endswith("/search")
    ]


# --- unchanged rows send nothing; only differing fields are sent --------------------------


async def test_unchanged_rows_send_nothing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(150)
    results = await run(helpcrunch_client, [row(i) for i in range(1, 151)], strategy="list")
    assert [r.action for r in results] == ["unchanged"] * 150
    assert [r.customer_id for r in results] == list(range(1, 151))
    assert writes(helpcrunch_fake) == []
    assert len(reads(helpcrunch_fake)) == 2  # two list pages of 100


async def test_only_differing_fields_are_sent(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    rows = [row(1), row(2, name="Renamed", company="Acme", locale="en"), row(3, blocked=True)]
    results = await run(helpcrunch_client, rows)
    assert [r.action for r in results] == ["unchanged", "updated", "updated"]
    assert results[1].changed == ("name", "company")
    assert results[1].diff == {"name": ("Customer 2", "Renamed"), "company": (None, "Acme")}
    assert writes(helpcrunch_fake) == [
        ("PATCH", "/v1/customers/2", {"name": "Renamed", "company": "Acme"}),
        ("PATCH", "/v1/customers/3", {"blocked": True}),
    ]
    assert helpcrunch_fake.customers[2]["name"] == "Renamed"


async def test_a_second_run_sends_nothing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    rows = [
        row(1, name="New", tags=["vip"], custom_data={"plan": "pro", "paid_date": "1700000000"}),
        row(2, user_id="user_2", phone="380501234567"),
    ]
    first = await run(helpcrunch_client, rows)
    assert [r.action for r in first] == ["updated", "updated"]
    count = len(writes(helpcrunch_fake))
    second = await run(helpcrunch_client, rows)
    assert [r.action for r in second] == ["unchanged", "unchanged"]
    assert len(writes(helpcrunch_fake)) == count


# --- normalisation ------------------------------------------------------------------------


async def test_timestamps_string_vs_integer(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    from datetime import UTC, datetime

    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.customers[2]["firstSeen"] = TS + 2  # an integer, as some answers show
    rows = [row(1, first_seen=datetime.fromtimestamp(TS + 1, UTC)), row(2, first_seen=TS + 2)]
    assert [r.action for r in await run(helpcrunch_client, rows)] == ["unchanged"] * 2
    assert writes(helpcrunch_fake) == []


async def test_custom_data_numbers_vs_strings(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    # The fake (like the docs' example) returns a *_date property written as digits as
    # an integer; a number sent may come back as a string.
    helpcrunch_fake.customers[1]["customData"] = {
        "signup_date": 1700000000,
        "seats": "5",
        "plan": "pro",
        "score": 1.5,
    }
    rows = [
        row(
            1,
            custom_data={
                "signup_date": "1700000000",
                "seats": 5,
                "plan": "pro",
                "score": "1.5",
                "not_there": None,
            },
        )
    ]
    assert [r.action for r in await run(helpcrunch_client, rows)] == ["unchanged"]
    assert writes(helpcrunch_fake) == []


async def test_none_vs_missing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    del helpcrunch_fake.customers[2]["notes"]  # the answer does not show notes at all
    rows = [
        row(1, notes=None, phone=None),  # null in the answer: nothing to clear
        row(2, notes=None),  # unknown: sent
        row(3, name=None),
    ]  # clears the name
    results = await run(helpcrunch_client, rows)
    assert [r.action for r in results] == ["unchanged", "updated", "updated"]
    assert results[1].diff == {"notes": (hc.UNKNOWN, None)}
    assert writes(helpcrunch_fake) == [
        ("PATCH", "/v1/customers/2", {"notes": None}),
        ("PATCH", "/v1/customers/3", {"name": None}),
    ]


async def test_custom_data_patch_keeps_other_properties(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.customers[1]["customData"] = {"plan": "free", "seats": 3}
    [result] = await run(helpcrunch_client, [row(1, custom_data={"plan": "pro"})])
    assert result.changed == ("custom_data.plan",)
    [(_, _, body)] = writes(helpcrunch_fake)
    assert body == {
        "customData": [{"property": "plan", "value": "pro"}, {"property": "seats", "value": 3}]
    }
    assert helpcrunch_fake.customers[1]["customData"] == {"plan": "pro", "seats": 3}


# --- tags ---------------------------------------------------------------------------------


async def test_tags_added_with_the_tag_endpoint(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.customers[1]["tags"] = [{"name": "old", "color": "#000000"}]
    rows = [row(1, tags=["old", "vip"]), row(2, name="X", tags=[])]
    results = await run(helpcrunch_client, rows)
    assert results[0].diff == {"tags": (("old",), ("old", "vip"))}
    assert writes(helpcrunch_fake) == [
        ("PUT", "/v1/customers/1/tags", {"tags": [{"name": "vip"}]}),
        ("PATCH", "/v1/customers/2", {"name": "X"}),
    ]
    assert [t["name"] for t in helpcrunch_fake.customers[1]["tags"]] == ["old", "vip"]


async def test_exact_tags_removes_the_others(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.customers[1]["tags"] = [
        {"name": "old", "color": "#000000"},
        {"name": "vip", "color": "#ff0000"},
    ]
    helpcrunch_fake.customers[2]["tags"] = [{"name": "old", "color": "#000000"}]
    rows = [row(1, tags=["vip", "new"]), row(2, name="Y")]  # row 2 names no tags: left alone
    results = await run(helpcrunch_client, rows, exact_tags=True)
    assert [r.action for r in results] == ["updated", "updated"]
    sent = writes(helpcrunch_fake)
    assert [w for w in sent if w[1] == "/v1/customers/1/tags"] == [
        ("PUT", "/v1/customers/1/tags", {"tags": [{"name": "new"}]}),
        ("DELETE", "/v1/customers/1/tags", {"tags": [{"name": "old"}]}),
    ]
    assert [w for w in sent if w[1] == "/v1/customers/2"] == [
        ("PATCH", "/v1/customers/2", {"name": "Y"})
    ]
    assert len(sent) == 3
    assert [t["name"] for t in helpcrunch_fake.customers[1]["tags"]] == ["vip", "new"]
    assert [t["name"] for t in helpcrunch_fake.customers[2]["tags"]] == ["old"]


async def test_tags_missing_from_the_answer_are_fetched_before_removing(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.customers[1]["tags"] = [{"name": "old", "color": "#000000"}]
    from helpcrunch_async import _paging

    original = _paging.customer_page_from_json

    def without_tags(data: Any) -> Any:  # a list answer that leaves tags out
        for item in data["data"]:
            item.pop("tags", None)
        return original(data)

    monkeypatch.setattr("helpcrunch_async._finding.customer_page_from_json", without_tags)
    [result] = await run(helpcrunch_client, [row(1, tags=None)])
    assert result.action == "updated"
    assert "GET /v1/customers/1" in reads(helpcrunch_fake)
    assert writes(helpcrunch_fake) == [
        ("DELETE", "/v1/customers/1/tags", {"tags": [{"name": "old"}]})
    ]


# --- creates ------------------------------------------------------------------------------


async def test_no_match_fails_without_create_missing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    [result] = await run(helpcrunch_client, [{"user_id": "nobody", "name": "N"}])
    assert result.action == "failed"
    assert isinstance(result.error, hc.CustomerNotFoundError)
    assert result.error.key == "nobody"
    assert writes(helpcrunch_fake) == []


async def test_create_missing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    rows = [row(1), {"user_id": "new-1", "name": "New", "tags": ["vip"]}]
    results = await run(helpcrunch_client, rows, create_missing=True)
    assert [r.action for r in results] == ["unchanged", "created"]
    assert results[1].customer_id == 2
    assert writes(helpcrunch_fake) == [
        ("POST", "/v1/customers", {"userId": "new-1", "name": "New", "tags": [{"name": "vip"}]})
    ]


async def test_same_new_key_twice_in_the_input_creates_once(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    rows = [
        {"user_id": "n", "name": "A"},
        {"user_id": "n", "name": "B"},
        {"user_id": "n", "name": "B"},
    ]
    results = await run(helpcrunch_client, rows, create_missing=True, max_concurrency=4)
    assert [r.action for r in results] == ["created", "updated", "unchanged"]
    assert [m for m, _, _ in writes(helpcrunch_fake)] == ["POST", "PATCH"]


@pytest.mark.parametrize("create_missing", [False, True])
async def test_claim_key_keeps_only_keys_that_hold_a_customer(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch, create_missing: bool
) -> None:
    # What `helpcrunch sync` refuses a second line with: an existing or created
    # customer's key, never one that matches nobody or several customers (every row
    # with those fails alike), so memory stays bounded by the account.
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.customers[3]["userId"] = "user_2"
    keys = ["user_1", "ghost", "user_2", "user_1", "ghost", "user_2"]
    firsts: list[int | None] = []

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for line, key in enumerate(keys, start=1):
            firsts.append(job.claim_key(key, line))
            if firsts[-1] is None:
                yield {"user_id": key, "name": "X"}

    job = helpcrunch_client.sync_customers(
        rows(), strategy="list", dry_run=True, create_missing=create_missing
    )
    async with contextlib.aclosing(job):
        actions = [r.action async for r in job]
    assert firsts == [None, None, None, 1, 2 if create_missing else None, None]
    expected = (
        ["updated", "created", "failed", "failed"]
        if create_missing
        else ["updated", "failed", "failed", "failed", "failed"]
    )
    assert sorted(actions) == sorted(expected)


async def test_create_missing_is_idempotent_across_a_dropped_connection(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.add_faults(Fault.drop_after(), method="POST")  # applied, answer lost
    rows = [row(1), {"user_id": "new-1", "name": "New"}, {"user_id": "new-1", "name": "New"}]
    first = await run(helpcrunch_client, rows, create_missing=True)
    assert [r.action for r in first] == ["unchanged", "failed", "failed"]
    assert isinstance(first[1].error, hc.APIConnectionError)
    assert first[1].error.maybe_sent
    assert "may have reached" in str(first[2].error)  # not created a second time
    posts = [w for w in writes(helpcrunch_fake) if w[0] == "POST"]
    assert len(posts) == 1  # never re-sent
    second = await run(helpcrunch_client, rows, create_missing=True)
    assert [r.action for r in second] == ["unchanged", "unchanged", "unchanged"]
    assert [w for w in writes(helpcrunch_fake) if w[0] == "POST"] == posts
    assert [c["userId"] for c in helpcrunch_fake.customers.values()].count("new-1") == 1


async def test_a_listing_that_missed_customers_confirms_creates_by_search(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpcrunch_fake.seed_customers(3)
    from helpcrunch_async import _paging

    original = _paging.customer_page_from_json

    calls = []

    def shifted(data: Any) -> Any:  # customer 2 slipped between pages (offset paging)
        calls.append(1)
        if len(calls) == 1:  # the list page; the searches after it see everyone
            data["data"] = [c for c in data["data"] if c["id"] != 2]
        return original(data)

    monkeypatch.setattr("helpcrunch_async._finding.customer_page_from_json", shifted)
    rows = [row(2), row(3, name="C"), {"user_id": "new", "name": "N"}]
    preview = await run(helpcrunch_client, rows, create_missing=True, strategy="list", dry_run=True)
    assert [r.action for r in preview] == ["unchanged", "updated", "created"]
    assert writes(helpcrunch_fake) == []
    calls.clear()
    results = await run(helpcrunch_client, rows, create_missing=True, strategy="list")
    assert [r.action for r in results] == ["unchanged", "updated", "created"]
    assert [w[0] for w in writes(helpcrunch_fake)] == ["POST", "PATCH"]
    assert sum(r.endswith("/search") for r in reads(helpcrunch_fake)) == 4  # 2 a run


async def test_a_listing_whose_total_lies_is_read_to_the_end_and_creates_nothing_twice(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The answer says total 5 while 150 customers come: trusting it read one page, and
    # customer 140 (emails are not unique in HelpCrunch) was created a second time.
    helpcrunch_fake.seed_customers(150)
    from helpcrunch_async import _paging

    original = _paging.customer_page_from_json

    def lying(data: Any) -> Any:
        if "total" in data:
            data["total"] = 5
        return original(data)

    monkeypatch.setattr("helpcrunch_async._finding.customer_page_from_json", lying)
    rows = [
        {"email": "customer140@example.com", "name": "Customer 140"},
        {"email": "new@example.com", "name": "New"},
    ]
    results = await run(
        helpcrunch_client, rows, match="email", create_missing=True, strategy="list"
    )
    assert [(r.action, r.customer_id) for r in results] == [("unchanged", 140), ("created", 151)]
    assert [w[:2] for w in writes(helpcrunch_fake)] == [("POST", "/v1/customers")]
    assert len(helpcrunch_fake.customers) == 151
    # the total was wrong: the create was confirmed by a search first
    assert [r for r in reads(helpcrunch_fake) if r.endswith("/search")] == [
        "POST /v1/customers/search"
    ]


async def test_create_after_a_server_error_is_not_repeated(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.add_faults(Fault.status(500), method="POST")
    rows = [{"user_id": "n", "name": "A"}, {"user_id": "n", "name": "A"}]
    results = await run(helpcrunch_client, rows, create_missing=True)
    assert [r.action for r in results] == ["failed", "failed"]
    assert isinstance(results[0].error, hc.ServerError)
    assert len(writes(helpcrunch_fake)) == 1


# --- ambiguous keys -----------------------------------------------------------------------


async def test_ambiguous_key_fails_and_sends_nothing(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.customers[3]["userId"] = "user_1"
    results = await run(
        helpcrunch_client, [row(1, name="X"), row(2, name="Y")], create_missing=True
    )
    assert results[0].action == "failed"
    assert isinstance(results[0].error, hc.AmbiguousCustomerError)
    assert results[0].error.customer_ids == (1, 3)
    assert results[1].action == "updated"
    assert writes(helpcrunch_fake) == [("PATCH", "/v1/customers/2", {"name": "Y"})]


async def test_match_by_email_ignores_case(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.seed_customers(2, start_id=3, email="dup@example.com")
    rows = [
        {"email": "CUSTOMER1@example.com", "name": "Customer 1"},
        {"email": "dup@example.com", "name": "D"},
    ]
    results = await run(helpcrunch_client, rows, match="email")
    assert results[0].action == "updated"
    assert results[0].changed == ("email",)
    assert isinstance(results[1].error, hc.AmbiguousCustomerError)


async def test_match_by_id(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    rows: list[dict[str, Any]] = [
        {"id": 1, "name": "Customer 1"},
        {"id": "2", "name": "Z"},
        {"id": 99, "name": "Q"},
        {"name": "no id"},
    ]
    results = await run(helpcrunch_client, rows, match="id")
    assert [r.action for r in results] == ["unchanged", "updated", "failed", "failed"]
    assert isinstance(results[2].error, hc.CustomerNotFoundError)
    assert isinstance(results[3].error, hc.ValidationError)
    with pytest.raises(hc.ValidationError, match="create_missing"):
        helpcrunch_client.sync_customers(rows, match="id", create_missing=True)


# --- dry run, validation, strategies ------------------------------------------------------


async def test_dry_run_sends_no_write(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.customers[2]["tags"] = [{"name": "old", "color": "#000000"}]
    rows = [
        row(1, name="X"),
        row(2, tags=["vip"]),
        {"user_id": "n", "name": "New"},
        {"user_id": "n", "name": "New"},
    ]
    before = {cid: dict(c) for cid, c in helpcrunch_fake.customers.items()}
    results = await run(helpcrunch_client, rows, dry_run=True, create_missing=True, exact_tags=True)
    assert [r.action for r in results] == ["updated", "updated", "created", "unchanged"]
    assert results[0].diff == {"name": ("Customer 1", "X")}
    assert results[1].diff == {"tags": (("old",), ("vip",))}
    assert results[2].diff == {"user_id": (None, "n"), "name": (None, "New")}
    assert results[2].customer_id is None
    assert writes(helpcrunch_fake) == []
    assert helpcrunch_fake.customers == before


async def test_bad_rows_fail_alone(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    rows: list[Any] = [
        {"user_id": "user_1", "nmae": "typo"},
        {"name": "no key"},
        {"user_id": "user_1", "locale": "english"},
        "not a mapping",
        row(1, name="ok"),
    ]
    results = await run(helpcrunch_client, rows)
    assert [r.action for r in results] == ["failed"] * 4 + ["updated"]
    fields = [r.error.field for r in results[:4] if isinstance(r.error, hc.ValidationError)]
    assert fields == ["nmae", "user_id", "locale", "row"]
    assert results[0].key == "user_1"
    assert len(writes(helpcrunch_fake)) == 1


async def test_each_row_reported_once_unordered(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(40)
    rows = [row(i, name=f"N{i}") if i % 3 == 0 else row(i) for i in range(1, 41)]
    rows += [{"user_id": f"new{i}"} for i in range(5)] + [{"bad": 1}]

    async def source() -> AsyncIterator[dict[str, Any]]:
        for r in rows:
            yield r

    results = await run(
        helpcrunch_client, source(), ordered=False, create_missing=True, max_concurrency=5
    )
    assert sorted(r.index for r in results) == list(range(len(rows)))
    counts = {
        a: sum(r.action == a for r in results)
        for a in ("unchanged", "updated", "created", "failed")
    }
    assert counts == {"unchanged": 27, "updated": 13, "created": 5, "failed": 1}


async def test_auto_searches_for_a_small_input(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(450)  # 5 pages
    job = helpcrunch_client.sync_customers(
        [row(7, name="S"), row(8), {"user_id": "x"}], create_missing=True, ordered=True
    )
    results = [r async for r in job]
    assert job.strategy == "search"
    assert [r.action for r in results] == ["updated", "unchanged", "created"]
    assert sum(1 for r in reads(helpcrunch_fake) if r.startswith("GET")) == 1  # first page
    assert sum(1 for r in reads(helpcrunch_fake) if r.endswith("/search")) == 3


async def test_auto_reads_ahead_of_an_iterator(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(250)  # 3 pages
    small = await run(helpcrunch_client, iter([row(1), row(2)]))
    assert [r.action for r in small] == ["unchanged", "unchanged"]
    job = helpcrunch_client.sync_customers((row(i) for i in range(1, 11)), ordered=True)
    results = [r async for r in job]
    assert job.strategy == "list"
    assert job.pages_read == job.pages_total == 3
    assert [r.index for r in results] == list(range(10))
    assert job.counts["unchanged"] == 10


async def test_search_strategy_and_ambiguity(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.customers[3]["userId"] = "user_1"
    results = await run(helpcrunch_client, [row(1), row(2, name="Q")], strategy="search")
    assert isinstance(results[0].error, hc.AmbiguousCustomerError)
    assert results[1].action == "updated"
    assert not any(r.startswith("GET") for r in reads(helpcrunch_fake))


async def test_writes_go_through_retries(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(1)
    helpcrunch_fake.add_faults(Fault.status(503), method="PATCH")
    helpcrunch_fake.add_faults(Fault.status(429), method="GET")
    [result] = await run(helpcrunch_client, [row(1, name="R")])
    assert result.action == "updated"
    assert helpcrunch_fake.customers[1]["name"] == "R"
    assert helpcrunch_client.stats.retries == 2


async def test_api_error_fails_the_row(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(2)
    helpcrunch_fake.add_faults(Fault.status(400), method="PATCH", path="/v1/customers/1")
    results = await run(helpcrunch_client, [row(1, name="A"), row(2, name="B")])
    assert [r.action for r in results] == ["failed", "updated"]
    assert isinstance(results[0].error, hc.BadRequestError)
    assert results[0].changed == ("name",)


async def test_bad_arguments_raise_at_call_time(helpcrunch_client: hc.AsyncHelpCrunch) -> None:
    cases: list[tuple[dict[str, Any], str]] = [  # bad values on purpose
        ({"match": "userId"}, "match"),
        ({"strategy": "x"}, "strategy"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ]
    for kwargs, field in cases:
        with pytest.raises(hc.ValidationError) as info:
            helpcrunch_client.sync_customers([], **kwargs)
        assert info.value.field == field
    with pytest.raises(hc.ValidationError):
        # a mapping, not rows
        helpcrunch_client.sync_customers({"user_id": "x"})  # type: ignore[dict-item]


async def test_reading_the_account_fails_the_job(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.add_faults(Fault.status(401), method="GET")
    with pytest.raises(hc.AuthenticationError):
        await run(helpcrunch_client, [row(1)], strategy="list")


def test_blocking_client(
    helpcrunch_fake_thread: FakeHelpCrunch, helpcrunch_blocking_client: hc.HelpCrunch
) -> None:
    helpcrunch_fake_thread.seed_customers(2)
    results = list(
        helpcrunch_blocking_client.sync_customers(
            [row(1), row(2, name="B"), {"user_id": "n"}], create_missing=True, ordered=True
        )
    )
    assert [r.action for r in results] == ["unchanged", "updated", "created"]


async def test_a_refused_key_stops_the_sync(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(30)
    helpcrunch_fake.add_faults(Fault.status(401), method="PATCH")
    job = helpcrunch_client.sync_customers(
        [row(i, name=f"N{i}") for i in range(1, 31)], max_concurrency=2
    )
    seen: list[hc.CustomerSyncResult] = []

    async def collect() -> None:
        async for r in job:
            seen.append(r)

    with pytest.raises(hc.BulkAbortedError):
        await collect()
    assert any(isinstance(r.error, hc.AuthenticationError) for r in seen)
    assert len(seen) < 30  # the rest of the input was not read
    assert len({r.index for r in seen}) == len(seen)


async def test_an_unexpected_error_fails_its_row_only(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpcrunch_fake.seed_customers(2)
    original = helpcrunch_client.update_customer

    async def broken(cid: Any, *args: Any, **kwargs: Any) -> Any:
        if cid == 1:
            raise RuntimeError("surprise")
        return await original(cid, *args, **kwargs)

    monkeypatch.setattr(helpcrunch_client, "update_customer", broken)
    results = await run(helpcrunch_client, [row(1, name="A"), row(2, name="B")])
    assert [r.action for r in results] == ["failed", "updated"]
    assert isinstance(results[0].error, hc.HelpCrunchError)
    assert "surprise" in str(results[0].error)


async def test_a_stored_value_the_diff_cannot_read_fails_its_row_only(
    helpcrunch_fake: FakeHelpCrunch,
    helpcrunch_client: hc.AsyncHelpCrunch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.customers[1]["customData"] = {"x": "1" * 5000}
    results = await run(
        helpcrunch_client, [row(1, custom_data={"x": "2"}), row(2, name="B")], strategy="list"
    )
    assert [r.action for r in results] == ["updated", "updated"]  # was: ValueError, no result
    assert helpcrunch_fake.customers[1]["customData"] == {"x": "2"}

    from helpcrunch_async import _customer_sync_rows

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("surprise")

    monkeypatch.setattr(_customer_sync_rows, "plan_update", broken)
    results = await run(helpcrunch_client, [row(1, name="A"), row(2, name="C")], strategy="list")
    assert [r.action for r in results] == ["failed", "failed"]  # each row, not the sync
    assert all("ValueError" in str(r.error) for r in results)


async def test_a_create_answered_with_an_unreadable_201_is_not_repeated(
    helpcrunch_fake: FakeHelpCrunch, helpcrunch_client: hc.AsyncHelpCrunch
) -> None:
    helpcrunch_fake.seed_customers(3)
    helpcrunch_fake.add_faults(Fault.non_json(), method="POST", path="/v1/customers")
    rows = [
        {"email": "new@example.com", "name": "A"},
        {"email": "NEW@example.com", "name": "A"},
    ]  # the same key (emails ignore case)
    results = await run(
        helpcrunch_client, rows, match="email", create_missing=True, max_concurrency=1
    )
    assert isinstance(results[0].error, hc.APIResponseValidationError)
    assert results[0].error.status == 201  # HelpCrunch created it; its answer was lost
    assert results[1].action == "failed"  # was: "created", a second customer
    assert "may have reached HelpCrunch" in str(results[1].error)
    assert [w[0] for w in writes(helpcrunch_fake)] == ["POST"]
    assert len(helpcrunch_fake.customers) == 4
