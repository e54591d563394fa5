"""The account index the data sync and ``update-customers --match`` share."""

from __future__ import annotations

import pytest

import helpcrunch_async as hc
from helpcrunch_async._account_index import (
    AccountIndex,
    Ambiguous,
    key_of,
    list_pages,
    match_key,
    search_is_cheaper,
)


def test_emails_ignore_case_user_ids_and_ids_do_not() -> None:
    assert match_key("email", "Ann@Example.COM") == "ann@example.com"
    assert match_key("user_id", "U-1") == "U-1"
    assert match_key("id", 7) == 7
    lower = "ann@example.com"
    assert match_key("email", lower) is lower  # no second copy of an equal string


def test_key_of_a_customer() -> None:
    ann = hc.Customer(id=7, user_id="u-7", email="Ann@Example.com")
    assert key_of("user_id", ann) == "u-7"
    assert key_of("email", ann) == "ann@example.com"
    assert key_of("id", ann) == 7
    assert key_of("email", hc.Customer(id=8)) is None


def test_a_key_held_by_several_customers_is_ambiguous_with_all_their_ids() -> None:
    index: AccountIndex[int] = AccountIndex("email", id_of=lambda cid: cid)
    index.add("ann@example.com", 1, 1)
    assert index.get("ANN@example.com") == 1
    index.add("Ann@example.com", 2, 2)
    index.add("ann@EXAMPLE.com", 3, 3)
    entry = index.get("ann@example.com")
    assert isinstance(entry, Ambiguous)
    assert entry.ids == [1, 2, 3]
    assert len(index) == 1
    assert "ANN@EXAMPLE.COM" in index
    index.put("ann@example.com", 9)  # created or refreshed: what it holds now
    assert index.get("ann@example.com") == 9


@pytest.mark.parametrize(
    ("keys", "total", "search"),
    [
        (0, 0, True),
        (1, 150, True),
        (2, 150, False),
        (9, 1_000, True),
        (10, 1_000, False),
        (5, None, False),  # no total: only the page read so far is known
    ],
)
def test_searching_wins_only_with_fewer_keys_than_list_pages(
    keys: int, total: int | None, search: bool
) -> None:
    assert search_is_cheaper(keys, total) is search


def test_list_pages() -> None:
    assert list_pages(1_000) == 10
    assert list_pages(1_001) == 11
    assert list_pages(None, fetched=3) == 3
    assert list_pages(50, fetched=2) == 2  # never fewer than were read
