"""The account's customers by match key, and whether to list the account or search it.

The data sync (:mod:`~helpcrunch_async._customer_sync`) and the command's
``update-customers --match`` both find customers by a key of yours: ``user_id``
(compared exactly), ``email`` (ignoring case, as ``find_customer`` does) or HelpCrunch's
``id``. Both either read the whole account once (``ceil(total / 100)`` list requests) or
search each key on its own (one request a key), whichever costs fewer requests
(:func:`search_is_cheaper`), and both keep what a list pass found in an
:class:`AccountIndex`: a key held by several customers is :class:`Ambiguous`, with
their ids; neither ever picks one.

Example:
    >>> index: AccountIndex[int] = AccountIndex("email", id_of=lambda cid: cid)
    >>> index.add("Ann@Example.com", 7, 7); index.add("ann@example.com", 9, 9)
    >>> index.get("ANN@example.com").ids
    [7, 9]
    >>> search_is_cheaper(keys=3, total=1_000)   # 3 searches < 10 list pages
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, Literal, Protocol, TypeAlias, TypeVar

from ._paging import MAX_PAGE_SIZE

__all__ = [
    "AccountIndex",
    "Ambiguous",
    "MatchField",
    "key_of",
    "list_pages",
    "match_key",
    "search_is_cheaper",
]

MatchField: TypeAlias = Literal["user_id", "email", "id"]
V = TypeVar("V")


class _Keyed(Protocol):
    """Anything with a customer's keys: a ``Customer`` or a compact record of one."""

    @property
    def id(self) -> int | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


class Ambiguous:
    """A key several customers hold: their ids, in the order they were found."""

    __slots__ = ("ids",)

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def __repr__(self) -> str:
        return f"Ambiguous({self.ids})"


def match_key(match: MatchField, key: str | int) -> str | int:
    """The form a key is compared in: emails ignoring case, the rest as they are.

    The key itself when it is already in that form (one string less to keep).

    Example:
        >>> match_key("email", "Ann@Example.com"), match_key("user_id", "U-1")
        ('ann@example.com', 'U-1')
    """
    if match == "email" and isinstance(key, str):
        folded = key.casefold()
        return key if folded == key else folded
    return key


def key_of(match: MatchField, customer: _Keyed) -> str | int | None:
    """``customer``'s key in :func:`match_key` form (``None`` when it has none)."""
    if match == "id":
        return customer.id
    value = customer.user_id if match == "user_id" else customer.email
    return match_key(match, value) if value else None


def list_pages(total: int | None, fetched: int = 0) -> int:
    """The list requests a pass over ``total`` customers takes (``fetched`` when the
    total is unknown, and never fewer)."""
    if total is None:
        return fetched
    return max(fetched, math.ceil(total / MAX_PAGE_SIZE))


def search_is_cheaper(keys: int, total: int | None, fetched: int = 1) -> bool:
    """True when searching each of ``keys`` costs fewer requests than listing the
    account of ``total`` customers (of which ``fetched`` pages are read already)."""
    return keys < list_pages(total, fetched)


class AccountIndex(Generic[V]):
    """Values (a customer's record, or just its id) by match key.

    Args:
        match: which key: ``"user_id"``, ``"email"`` or ``"id"``.
        id_of: the customer id of a value (to list the ids of an ambiguous key).
    """

    __slots__ = ("_entries", "_id_of", "match")

    def __init__(self, match: MatchField, *, id_of: Callable[[V], int | None]) -> None:
        self.match = match
        self._id_of = id_of
        self._entries: dict[str | int, V | Ambiguous] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str | int) -> bool:
        return match_key(self.match, key) in self._entries

    def get(self, key: str | int) -> V | Ambiguous | None:
        """The value for ``key``, :class:`Ambiguous` when several customers hold it, or
        ``None``."""
        return self._entries.get(match_key(self.match, key))

    def add(self, key: str | int, customer_id: int | None, value: V) -> None:
        """A customer found with ``key``: a second customer with it makes it ambiguous."""
        wanted = match_key(self.match, key)
        entry = self._entries.get(wanted)
        if entry is None:
            self._entries[wanted] = value
        elif isinstance(entry, Ambiguous):
            if customer_id is not None:
                entry.ids.append(customer_id)
        else:
            first = self._id_of(entry)
            if first is not None and customer_id is not None:
                self._entries[wanted] = Ambiguous([first, customer_id])

    def put(self, key: str | int, value: V) -> None:
        """Set what ``key`` holds now (a customer created, or refreshed)."""
        self._entries[match_key(self.match, key)] = value
