"""The fake follows the documented wire format: PUT vs PATCH, errors, tags, batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_helpers import Raw

from helpcrunch_async.testing import FakeHelpCrunch

FIXTURES = Path(__file__).parent.parent / "fixtures"
INVALID = {"code": "invalid_request", "message": "Invalid request"}

FULL_BODY: dict[str, Any] = {
    "name": "John Doe",
    "email": "john@example.com",
    "userId": "user_1234567890",
    "company": "Example Inc.",
    "phone": "+10233456781",
    "firstSeen": "1603885746",
    "lastSeen": "1603885746",
    "unsubscribed": False,
    "blocked": True,
    "source": "https://example.com",
    "referer": "https://example.com/r",
    "lastPage": "https://example.com/p",
    "locale": "uk",
    "notes": "Lorem ipsum",
    "createdFrom": "telegram",
    "integrationId": "465847687",
    "tags": [{"name": "vip", "color": "#ff0000"}],
    "customData": [{"property": "plan", "value": "pro"}, {"property": "n", "value": 15}],
}
SCALAR_FIELDS = [k for k in FULL_BODY if k not in ("tags", "customData")]


def errors(*specific: dict[str, str]) -> dict[str, Any]:
    return {"errors": [INVALID, *specific]}


async def test_seed_request_example_round_trips_as_documented(raw: Raw) -> None:
    """The docs' own request example gives the docs' own response shape."""
    seed = json.loads((FIXTURES / "seed_request.json").read_text(encoding="utf-8"))
    status, body = await raw.call("PATCH", "/customers/1", seed)
    assert status == 200
    expected = json.loads((FIXTURES / "seed_response.json").read_text(encoding="utf-8"))
    for key in seed:
        if key != "customData":
            assert body[key] == expected[key], key
    # customData comes back as an object; a *_date string comes back as an integer
    assert body["customData"] == expected["customData"]
    assert list(body) == [k for k in expected if k in body]


async def test_patch_changes_only_the_fields_given(raw: Raw, fake_server: FakeHelpCrunch) -> None:
    await raw.call("PATCH", "/customers/1", FULL_BODY)
    before = dict(fake_server.customers[1])
    status, body = await raw.call("PATCH", "/customers/1", {"name": "Jane"})
    assert status == 200
    for key in before:
        assert body[key] == ("Jane" if key == "name" else before[key]), key


@pytest.mark.parametrize("kept", SCALAR_FIELDS)
async def test_put_nulls_every_scalar_field_not_in_the_body(raw: Raw, kept: str) -> None:
    await raw.call("PATCH", "/customers/2", FULL_BODY)
    status, body = await raw.call("PUT", "/customers/2", {kept: FULL_BODY[kept]})
    assert status == 200
    assert body[kept] == FULL_BODY[kept]
    for key in SCALAR_FIELDS:
        if key != kept:
            assert body[key] is None, key
    assert body["tags"] == []
    assert body["customData"] == {}
    # read-only fields survive a PUT
    assert body["id"] == 2
    assert body["location"] is not None
    assert body["device"] is not None


async def test_null_clears_under_patch(raw: Raw) -> None:
    await raw.call("PATCH", "/customers/1", FULL_BODY)
    status, body = await raw.call(
        "PATCH", "/customers/1", {"email": None, "tags": None, "customData": None}
    )
    assert status == 200
    assert body["email"] is None
    assert body["tags"] == []
    assert body["customData"] == {}
    assert body["name"] == "John Doe"


async def test_custom_data_merges_under_patch_and_replaces_under_put(raw: Raw) -> None:
    await raw.call("PATCH", "/customers/1", {"customData": [{"property": "a", "value": 1}]})
    _, body = await raw.call(
        "PATCH", "/customers/1", {"customData": [{"property": "b", "value": True}]}
    )
    assert body["customData"] == {"a": 1, "b": True}
    _, body = await raw.call(
        "PUT", "/customers/1", {"customData": [{"property": "c", "value": None}]}
    )
    assert body["customData"] == {"c": None}


async def test_get_create_and_list(raw: Raw, fake_server: FakeHelpCrunch) -> None:
    status, body = await raw.call("GET", "/customers/3")
    assert status == 200
    assert body == fake_server.customers[3]
    status, created = await raw.call("POST", "/customers", {"name": "New", "locale": "en"})
    assert status == 201
    assert created["id"] == 6
    assert created["name"] == "New"
    assert created["email"] is None
    assert fake_server.customers[6] == created
    status, listing = await raw.call("GET", "/customers?limit=2&offset=1")
    assert status == 200
    assert listing["total"] == 6
    assert [c["id"] for c in listing["data"]] == [2, 3]


async def test_tags_default_color_keep_color_and_untag(raw: Raw) -> None:
    status, body = await raw.call("PUT", "/customers/1/tags", {"tags": [{"name": "new"}]})
    assert status == 200
    assert body["tags"] == [{"name": "new", "color": "#c377e0"}]
    await raw.call("PUT", "/customers/2/tags", {"tags": [{"name": "vip", "color": "#ff0000"}]})
    # a tag without a color keeps its existing color
    _, body = await raw.call("PUT", "/customers/1/tags", {"tags": [{"name": "vip"}]})
    assert body["tags"] == [
        {"name": "new", "color": "#c377e0"},
        {"name": "vip", "color": "#ff0000"},
    ]
    status, body = await raw.call("DELETE", "/customers/1/tags", {"tags": [{"name": "new"}]})
    assert status == 200
    assert body["tags"] == [{"name": "vip", "color": "#ff0000"}]


async def test_tags_in_an_update_body_replace(raw: Raw) -> None:
    await raw.call("PUT", "/customers/1/tags", {"tags": [{"name": "a"}]})
    _, body = await raw.call("PATCH", "/customers/1", {"tags": [{"name": "b", "color": "red"}]})
    assert body["tags"] == [{"name": "b", "color": "red"}]


# --- documented error bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "test-key"},
        {"Authorization": "Basic test-key"},
    ],
)
async def test_401_missing_or_wrong_key(
    raw: Raw, headers: dict[str, str], fake_server: FakeHelpCrunch
) -> None:
    before = dict(fake_server.customers[1])
    status, body = await raw.call("PATCH", "/customers/1", {"name": "x"}, headers=headers)
    assert status == 401
    assert body == errors({"code": "unauthorized", "message": "Unauthorized"})
    assert fake_server.customers[1] == before


async def test_bearer_scheme_is_case_insensitive(raw: Raw) -> None:
    status, _ = await raw.call("GET", "/customers/1", headers={"Authorization": "bearer test-key"})
    assert status == 200


async def test_404_unknown_customer(raw: Raw) -> None:
    for method, body in [("GET", None), ("PATCH", {"name": "x"}), ("PUT", {}), ("PUT", None)]:
        status, answer = await raw.call(method, "/customers/999", body)
        assert status == 404, method
        assert answer == errors({"code": "not_found", "message": "Customer not found"})


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT"])
async def test_400_non_numeric_id_exact_documented_body(raw: Raw, method: str) -> None:
    status, body = await raw.call(method, "/customers/john", {"name": "x"})
    assert status == 400
    assert body == {
        "errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "customer", "message": "This value should be of type numeric."},
        ]
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"user_id": "u1"}, "user_id"),
        ({"first_seen": "1603885746"}, "first_seen"),
        ({"custom_data": []}, "custom_data"),
        ({"id": 5}, "id"),
        ({"firstSeen": 1603885746}, "firstSeen"),
        ({"lastSeen": "2020-10-28"}, "lastSeen"),
        ({"customData": {"plan": "pro"}}, "customData"),
        ({"customData": [{"property": "p", "name": "n", "value": "x"}]}, "customData[0].name"),
        ({"customData": [{"property": "plan"}]}, "customData[0].value"),
        ({"customData": [{"property": "plan", "value": [1]}]}, "customData[0].value"),
        ({"locale": "ukr"}, "locale"),
        ({"locale": "EN"}, "locale"),
        ({"locale": 1}, "locale"),
        ({"name": 5}, "name"),
        ({"blocked": "yes"}, "blocked"),
        ({"unsubscribed": 0}, "unsubscribed"),
        ({"tags": "vip"}, "tags"),
        ({"tags": [{"color": "red"}]}, "tags[0].name"),
        ({"notes": "x" * 256}, "notes"),
    ],
)
async def test_400_names_the_field(
    raw: Raw, fake_server: FakeHelpCrunch, body: dict[str, Any], code: str
) -> None:
    before = dict(fake_server.customers[1])
    for method in ("PATCH", "PUT"):
        status, answer = await raw.call(method, "/customers/1", body)
        assert status == 400
        assert answer["errors"][0] == INVALID
        assert [e["code"] for e in answer["errors"][1:]] == [code]
        assert isinstance(answer["errors"][1]["message"], str)
    assert fake_server.customers[1] == before
    status, answer = await raw.call("POST", "/customers", body)
    assert status == 400
    assert answer["errors"][1]["code"] == code


async def test_400_lists_every_problem(raw: Raw) -> None:
    status, body = await raw.call(
        "PATCH", "/customers/1", {"user_id": "x", "firstSeen": 1, "locale": "xyz"}
    )
    assert status == 400
    assert [e["code"] for e in body["errors"]] == [
        "invalid_request",
        "user_id",
        "firstSeen",
        "locale",
    ]


async def test_400_body_not_json_or_not_object(raw: Raw) -> None:
    status, body = await raw.call(
        "PATCH",
        "/customers/1",
        data=b"{nope",
        headers={**raw.auth, "Content-Type": "application/json"},
    )
    assert status == 400
    assert body["errors"][1]["code"] == "body"
    status, body = await raw.call("PATCH", "/customers/1", [1, 2])
    assert status == 400
    assert body["errors"][1]["code"] == "body"


async def test_unknown_path_and_method(raw: Raw) -> None:
    status, body = await raw.call("GET", "/nothing")
    assert status == 404
    assert body["errors"][1]["code"] == "not_found"
    status, body = await raw.call("POST", "/customers/1", {})
    assert status == 405
    assert body["errors"][1]["code"] == "method_not_allowed"


async def test_every_response_has_a_request_id(raw: Raw) -> None:
    seen = set()
    for method, path in [
        ("GET", "/customers/1"),
        ("GET", "/customers/x"),
        ("GET", "/customers/99"),
    ]:
        _, headers, _ = await raw.response(method, path)
        seen.add(headers["X-Request-Id"])
    async with raw.session.get(raw.fake.base_url + "/customers/1") as r:
        assert r.status == 401
        seen.add(r.headers["X-Request-Id"])
    assert len(seen) == 4


# --- batch ---------------------------------------------------------------------------


async def test_batch_patches_each_item_and_returns_the_list(
    raw: Raw, fake_server: FakeHelpCrunch
) -> None:
    items = [{"customer": i, "name": f"N{i}"} for i in range(1, 6)]
    items[0]["customData"] = [{"property": "p", "value": "v"}]
    status, body = await raw.call("PUT", "/customers/batch", items)
    assert status == 200
    assert [c["id"] for c in body] == [1, 2, 3, 4, 5]
    assert [c["name"] for c in body] == [f"N{i}" for i in range(1, 6)]
    # items behave like PATCH: other fields are kept
    assert fake_server.customers[2]["email"] == "customer2@example.com"
    assert fake_server.customers[1]["customData"] == {"p": "v"}


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (0, "This collection should contain 1 element or more."),
        (11, "This collection should contain 10 elements or less."),
    ],
)
async def test_batch_outside_1_to_10_is_400(
    raw: Raw, fake_server: FakeHelpCrunch, count: int, message: str
) -> None:
    fake_server.seed_customers(11)
    items = [{"customer": i + 1, "name": "x"} for i in range(count)]
    status, body = await raw.call(
        "PUT",
        "/customers/batch",
        data=json.dumps(items).encode(),
        headers={**raw.auth, "Content-Type": "application/json"},
    )
    assert status == 400
    assert body == errors({"code": "customers", "message": message})
    assert all(c["name"] != "x" for c in fake_server.customers.values())


async def test_batch_of_10_is_fine(raw: Raw, fake_server: FakeHelpCrunch) -> None:
    fake_server.seed_customers(10)
    status, body = await raw.call(
        "PUT", "/customers/batch", [{"customer": i, "blocked": True} for i in range(1, 11)]
    )
    assert status == 200
    assert len(body) == 10


async def test_batch_is_atomic_and_names_the_item(raw: Raw, fake_server: FakeHelpCrunch) -> None:
    items: list[dict[str, Any]] = [
        {"customer": 1, "name": "ok"},
        {"customer": 2, "user_id": "bad"},
        {"customer": "3", "name": "x"},
        {"name": "no id"},
    ]
    status, body = await raw.call("PUT", "/customers/batch", items)
    assert status == 400
    assert [e["code"] for e in body["errors"][1:]] == [
        "[1].user_id",
        "[2].customer",
        "[3].customer",
    ]
    assert fake_server.customers[1]["name"] == "Customer 1"
    status, body = await raw.call(
        "PUT", "/customers/batch", [{"customer": 1, "name": "ok"}, {"customer": 77}]
    )
    assert status == 404
    assert body["errors"][1]["code"] == "not_found"
    assert fake_server.customers[1]["name"] == "Customer 1"
