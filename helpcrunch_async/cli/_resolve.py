"""Finding each line's customer for ``update-customers --match user_id|email``.

HelpCrunch updates customers by its own numeric id only, so a line keyed by your
``userId`` or by ``email`` needs that id first. Two ways, each counted in requests:

* **search** — one ``POST /customers/search`` per line
  (:meth:`~helpcrunch_async.AsyncHelpCrunch.find_customer`): N lines cost N requests.
  Up to ``--concurrency`` searches run ahead of the updates.
* **list** — one pass over ``GET /customers`` (pages of 100): ``ceil(total / 100)``
  requests whatever the number of lines. The pass keeps only the keys the input asks
  for (``{key: id}``, a key held by several customers marked with their ids), so its
  memory grows with the input, not with the account.

``--resolve auto`` (the default) picks the cheaper: with at most one key to find it
searches; otherwise it reads the first list page, whose ``total`` gives the page count,
and goes on listing when the keys to find are at least as many as the pages (that
first page is spent either way), else searches. It says on stderr what it chose and
why.

A key matches exactly (``userId``) or ignoring case (``email``), as ``find_customer``
does. A line whose key matches nobody, or several customers (HelpCrunch does not
enforce unique emails), fails with a message and nothing is sent for it. The list is
read before the updates start: a customer created during the pass, or one whose key
changes after it, can be missed (offset paging; see :mod:`helpcrunch_async._paging`) —
such a line fails as matching nobody and ``--resume`` tries it again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from typing import Literal

from .._account_index import (
    AccountIndex,
    Ambiguous,
    MatchField,
    key_of,
    list_pages,
    search_is_cheaper,
)
from .._call_scope import as_job_task
from .._client import AsyncHelpCrunch
from .._exceptions import AmbiguousCustomerError, HelpCrunchError
from .._models import Customer
from .._paging import MAX_PAGE_SIZE, AsyncCustomerPager
from ._common import say
from ._input_line import MATCH_NAMES, JobLine

__all__ = ["Resolver", "UnmatchedError", "choose_resolver", "resolve_lines"]

Strategy = Literal["search", "list"]


class UnmatchedError(HelpCrunchError):
    """No customer has the line's ``userId``/``email``: nothing was sent for it."""


class Resolver:
    """Turns a line's key into HelpCrunch's customer id, by search or from a list pass."""

    def __init__(self, client: AsyncHelpCrunch, match: MatchField, strategy: Strategy) -> None:
        self.match = match
        self.strategy = strategy
        self._client = client
        self._name = MATCH_NAMES[match]
        self._found: AccountIndex[int] = AccountIndex(match, id_of=lambda cid: cid)

    async def lookup(self, key: str) -> int:
        """The customer id for ``key``.

        Raises:
            UnmatchedError: nobody has it.
            AmbiguousCustomerError: several customers have it; none is picked.
            HelpCrunchError: the search failed (``search`` only).
        """
        if self.strategy == "list":
            return self.lookup_listed(key)
        find = self._client.find_customer
        customer = await (find(user_id=key) if self.match == "user_id" else find(email=key))
        if customer is None:
            raise self._unmatched(key)
        return customer.id

    def lookup_listed(self, key: str) -> int:
        """:meth:`lookup` from the map a list pass built (no request)."""
        found = self._found.get(key)
        if isinstance(found, Ambiguous):
            ids = tuple(sorted(found.ids))
            raise AmbiguousCustomerError(
                f"{len(ids)} customers have {self._name} {key!r} (ids "
                f"{', '.join(map(str, ids))}); refusing to pick one",
                customer_ids=ids,
            )
        if found is None:
            raise self._unmatched(key)
        return found

    def _unmatched(self, key: str) -> UnmatchedError:
        return UnmatchedError(f"no customer has {self._name} {key!r}; nothing sent")

    def add(self, customer: Customer, wanted: set[str | int]) -> None:
        """Record a listed customer whose key the input asks for."""
        key = key_of(self.match, customer)
        if key is not None and key in wanted:
            self._found.add(key, customer.id, customer.id)

    async def read_list(
        self, pager: AsyncCustomerPager, first: Customer | None, wanted: set[str | int]
    ) -> None:
        """One pass over the customer list (``first`` already taken from ``pager``)."""
        start = time.monotonic()
        seen = 0
        if first is not None:
            self.add(first, wanted)
            seen = 1
            async for customer in pager:
                self.add(customer, wanted)
                seen += 1
        ambiguous = sum(
            isinstance(self._found.get(k), Ambiguous) for k in wanted if k in self._found
        )
        say(
            f"helpcrunch: read {seen} customers in {pager.pages_fetched} pages "
            f"({time.monotonic() - start:.1f} s): {len(self._found) - ambiguous} of "
            f"{len(wanted)} {self._name}s found, {ambiguous} held by several customers"
        )


async def choose_resolver(
    client: AsyncHelpCrunch, match: MatchField, how: str, wanted: set[str | int] | None
) -> Resolver:
    """The :class:`Resolver` for ``--resolve how`` (``auto``, ``search``, ``list``),
    its list read when that is the way; says on stderr which way and why.

    ``wanted`` is the set of keys to find (``match_key`` form); ``None`` with
    ``how="search"``, which does not need it.
    """
    name = MATCH_NAMES[match]
    if how == "search":
        say(
            f"helpcrunch: finding each line's customer by {name}: one search per line "
            "(--resolve search)"
        )
        return Resolver(client, match, "search")
    assert wanted is not None
    count = len(wanted)
    if how == "auto" and count <= 1:
        say(
            f"helpcrunch: finding each line's customer by {name}: one search per line "
            f"({count} to find; reading the customer list takes at least one request)"
        )
        return Resolver(client, match, "search")
    pager = client.list_customers(sort="first_seen", order="asc")
    first = await anext(pager, None)
    total = pager.total
    if how == "auto":
        if total is None:
            await pager.aclose()
            say(
                f"helpcrunch: finding each line's customer by {name}: one search per line "
                "(the customer list gave no total, so its length is unknown)"
            )
            return Resolver(client, match, "search")
        pages = list_pages(total)
        more = max(0, pages - 1)
        sizes = f"{count} {name}s to find, {total} customers ({pages} pages of {MAX_PAGE_SIZE})"
        if search_is_cheaper(count, total):
            await pager.aclose()
            say(
                f"helpcrunch: {sizes}: one search per line ({count} requests) costs less "
                f"than reading the customer list ({more} more requests)"
            )
            return Resolver(client, match, "search")
        say(
            f"helpcrunch: {sizes}: reading the customer list once ({more} more requests) "
            f"costs less than one search per line ({count} requests)"
        )
    else:
        say(
            f"helpcrunch: finding each line's customer by {name}: reading the customer "
            f"list once (--resolve list, {total if total is not None else '?'} customers)"
        )
    resolver = Resolver(client, match, "list")
    await resolver.read_list(pager, first, wanted)
    return resolver


async def resolve_lines(
    lines: AsyncIterable[JobLine],
    resolver: Resolver,
    window: int,
) -> AsyncIterator[tuple[JobLine, int | HelpCrunchError]]:
    """Each line with its customer id, or the error that says why it has none, in input
    order; up to ``window`` searches run ahead."""
    if resolver.strategy == "list":
        async for line in lines:
            try:
                yield line, resolver.lookup_listed(str(line.raw_id))
            except HelpCrunchError as exc:
                yield line, exc
        return
    pending: deque[tuple[JobLine, asyncio.Task[int]]] = deque()
    try:
        async for line in lines:
            lookup = as_job_task(resolver.lookup(str(line.raw_id)))  # queues: no deadline
            pending.append((line, asyncio.ensure_future(lookup)))
            while pending and (len(pending) >= window or pending[0][1].done()):
                yield await _outcome(*pending.popleft())
        while pending:
            yield await _outcome(*pending.popleft())
    finally:
        for _, task in pending:
            task.cancel()


async def _outcome(line: JobLine, task: asyncio.Task[int]) -> tuple[JobLine, int | HelpCrunchError]:
    try:
        return line, await task
    except HelpCrunchError as exc:
        return line, exc
