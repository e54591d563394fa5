"""``AsyncHelpCrunch``: the async client for HelpCrunch's customer endpoints."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack
from urllib.parse import urlencode

import aiohttp

from ._bulk import (
    BatchOutcome,
    BulkItem,
    BulkJob,
    batch_outcomes,
    run_bulk,
)
from ._call_scope import deadline_scope
from ._config import DEFAULT_TIMEOUT, client_options, to_client_timeout
from ._convert import tags_to_json, update_to_json
from ._customer_sync import CustomerSync, SyncMatch, SyncStrategy
from ._exceptions import AmbiguousCustomerError, NotFoundError, ValidationError
from ._fastpaths import customer_from_json, fields_to_json
from ._filters import Filter
from ._job_engine import InputSource
from ._json import encode_body
from ._models import Customer, CustomerFields, CustomerUpdate, Tag, _to_tags, coerce_update
from ._paging import (
    AsyncCustomerPager,
    CustomerPage,
    check_paging,
    customer_page_from_json,
    sort_params,
)
from ._ratelimit import RateLimiter
from ._requestor import Requestor, RequestStats, discard_body, request_headers
from ._retry import RetryPolicy, check_max_retries
from ._transport import AiohttpTransport
from ._types import UNSET, Unset
from ._validation import check_customer_id, check_int

__all__ = ["AsyncHelpCrunch"]

logger = logging.getLogger("helpcrunch_async")


_F = TypeVar("_F", bound=Callable[..., Any])


def _mark_coroutine_function(func: _F) -> _F:
    """Mark ``func``, a plain function returning a coroutine, as a coroutine function."""
    if sys.version_info >= (3, 12):
        return inspect.markcoroutinefunction(func)
    func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]  # 3.11
    return func


class AsyncHelpCrunch:
    """Async client for the HelpCrunch REST API v1 customer endpoints.

    One client holds one ``aiohttp.ClientSession`` (one connection pool), created
    lazily inside the running event loop on the first call. Use it as an async
    context manager, or call :meth:`aclose` when done.

    Args:
        api_key: your HelpCrunch API key (Settings → Developers → Public API); read from
            ``$HELPCRUNCH_API_KEY`` when not given. It is never logged or shown in errors.
        base_url: the API root: this, else ``$HELPCRUNCH_BASE_URL``, else
            ``https://api.helpcrunch.com/v1``. Must be ``https://`` except for loopback
            hosts (the fake server).
        timeout: seconds for a whole request (default 30; connecting gets at most 10),
            or an ``aiohttp.ClientTimeout``.
        session: your own ``aiohttp.ClientSession`` to send through. It is used as is
            and never closed by the client.
        max_retries: extra attempts for failures that are safe to retry (429, 5xx and
            dropped connections for PATCH/PUT/GET; see :mod:`helpcrunch_async._retry`).
            Default 2; 0 turns retries off. Per call: ``max_retries=``.
        max_retry_after: the longest ``Retry-After`` of a 429 honoured, in seconds
            (default 60); a longer one is cut to this.
        rate_limit: a :class:`RateLimit` (default: 120 requests per 60 s, evenly
            spaced, HelpCrunch's documented limit); share one object between clients on
            one key; ``None`` turns client-side limiting off. Any :class:`RateLimiter`
            works, e.g. :class:`RedisRateLimit` for one budget across processes.
        max_concurrency: the most requests in flight at once (and the connection pool's
            size). Default 16.

    Example:
        >>> import asyncio, helpcrunch_async as hc
        >>> async def main() -> None:
        ...     async with hc.AsyncHelpCrunch(api_key="...") as client:
        ...         customer = await client.update_customer(1568834, name="John Doe")
        ...         print(customer.name)
        >>> asyncio.run(main())  # doctest: +SKIP
        John Doe
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        rate_limit: RateLimiter | None | Unset = UNSET,
        max_concurrency: int = 16,
    ) -> None:
        options = client_options(
            api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
            max_retry_after=max_retry_after, rate_limit=rate_limit,
            max_concurrency=max_concurrency)
        self._base_url = options.base_url
        self._rate_limit = options.rate_limit
        self._max_concurrency = options.max_concurrency
        self._transport = AiohttpTransport(
            session=session, max_connections=options.max_concurrency,
            headers=request_headers(options.api_key))
        self._requestor = Requestor(
            self._transport, base_url=options.base_url, api_key=options.api_key,
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.max_retries,
                              max_retry_after=options.max_retry_after),
            rate_limit=options.rate_limit, max_concurrency=options.max_concurrency,
        )

    @property
    def base_url(self) -> str:
        """The API root requests go to (no trailing slash)."""
        return str(self._base_url)

    @property
    def rate_limit(self) -> RateLimiter | None:
        """The client's rate limiter (``None`` when limiting is off)."""
        return self._rate_limit

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has in flight at once."""
        return self._max_concurrency

    @property
    def stats(self) -> RequestStats:
        """Counters of requests sent, retries, 429s received and failed calls."""
        return self._requestor.stats

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called; a closed client refuses new calls."""
        return self._transport.closed

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} base_url={self.base_url!r}{state}>"

    async def __aenter__(self) -> AsyncHelpCrunch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (not a session you passed in). Safe to call twice."""
        await self._transport.aclose()
        await self._requestor.aclose()

    # --- customers -----------------------------------------------------------------------

    @_mark_coroutine_function  # still one to inspect and to unittest.mock's autospec
    def update_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Coroutine[Any, Any, Customer]:
        """Update some fields of a customer (``PATCH /customers/{id}``).

        Only the fields you give are sent; every other field keeps its value. Give a
        :class:`CustomerUpdate`, or the same fields as keywords, not both. ``None``
        clears a field; :data:`UNSET` (the default) leaves it alone.

        Returns a coroutine to await, like an ``async def``: bad input raises where it is
        awaited, and nothing is sent. The fields are checked and encoded when you call
        it, so changing a dict you passed afterwards does not change what is sent.

        Args:
            customer_id: HelpCrunch's numeric customer id (not your own ``user_id``).
            update: the fields to change, as a record.
            timeout, max_retries: override the client's settings for this call.
            **fields: the fields to change, as keywords (``name=``, ``custom_data=``, ...).

        Returns:
            The customer as HelpCrunch returns it after the update.

        Raises:
            ValidationError: bad input (named field), or nothing to update; nothing sent.
            NotFoundError: no customer with that id.
            APIError: any other error answer; APIConnectionError: no answer.

        Example:
            >>> c = await client.update_customer(  # doctest: +SKIP
            ...     1568834, email=None, custom_data={"plan": "pro"})
        """
        # Not an ``async def``: it returns the request's own coroutine, one await layer
        # fewer on every update.
        try:
            cid = check_customer_id(customer_id)
            payload = _update_json(update, fields)
            if not payload:
                raise ValidationError(
                    "nothing to update: give at least one field (None clears a field)",
                    field="update",
                )
            body = encode_body(payload)
            call_timeout = _call_timeout(timeout)
        except Exception as exc:
            return _update_customer_error(exc)
        return self._requestor.request("PATCH", f"/customers/{cid}", customer_from_json,
                                       body=body, timeout=call_timeout, max_retries=max_retries)

    async def replace_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Replace a customer's data (``PUT /customers/{id}``).

        **HelpCrunch sets every field you leave out to null** — name, email, tags,
        custom data and all. Use :meth:`update_customer` to change only some fields.
        An empty update is refused: it would wipe the customer.

        Example:
            Every field of the customer other than name and email is cleared:
            >>> full = hc.CustomerUpdate(name="Ann", email="ann@example.com")  # doctest: +SKIP
            >>> c = await client.replace_customer(1568834, full)  # doctest: +SKIP
        """
        cid = check_customer_id(customer_id)
        if not isinstance(update, CustomerUpdate):
            raise ValidationError(
                "replace_customer takes a CustomerUpdate record (a deliberate full replace), "
                f"got {type(update).__name__}",
                field="update",
            )
        if update.is_empty():
            raise ValidationError(
                "refusing an empty replace: PUT would set every field of the customer to null",
                field="update",
            )
        return (await self._send_customer("PUT", cid, update_to_json(update), timeout,
                                          max_retries))[0]

    async def create_customer(
        self,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """Create a customer (``POST /customers``); same fields as :meth:`update_customer`.

        A create is **never re-sent once it may have reached the server** (a timeout or a
        dropped connection after sending): HelpCrunch documents no idempotency key, so a
        retry could create the customer twice. Such a failure raises
        :class:`APIConnectionError` with ``maybe_sent=True``; check before creating again
        (for example by ``user_id``). For the same reason a 5xx answer is not retried
        (the create may have happened); failures before sending and 429s are.

        Example:
            >>> c = await client.create_customer(name="Ann", user_id="u-17")  # doctest: +SKIP
            >>> c.id  # doctest: +SKIP
            1568835
        """
        payload = _update_json(update, fields)
        if not payload:
            raise ValidationError("nothing to create: give at least one field", field="update")
        body = encode_body(payload)
        return await self._requestor.request(
            "POST", "/customers", customer_from_json, body=body,
            timeout=_call_timeout(timeout), max_retries=max_retries,
        )

    async def get_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Fetch one customer (``GET /customers/{id}``).

        Example:
            >>> c = await client.get_customer(1568834)  # doctest: +SKIP
        """
        cid = check_customer_id(customer_id)
        return await self._requestor.request(
            "GET", f"/customers/{cid}", customer_from_json,
            timeout=_call_timeout(timeout), max_retries=max_retries,
        )

    # --- finding, deleting and tagging customers -----------------------------------------

    def list_customers(
        self,
        *,
        sort: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncCustomerPager:
        """Every customer, page by page (``GET /customers?limit=&offset=``).

        An async iterator (:class:`AsyncCustomerPager`): one request per page of
        ``page_size`` (1..100, default 100: the docs show no larger page), through the
        client's rate limiter and retries; ``.total`` is the API's count once the first
        page is in. ``limit`` stops after that many customers. No customer comes twice
        in one iteration, but customers deleted or added meanwhile can shift pages so
        that one is missed (see :mod:`helpcrunch_async._paging`).

        Args:
            sort: ``"first_seen"`` or ``"last_seen"`` (or the API names
                ``"customers.firstSeen"``, ``"customers.lastSeen"``), the documented sort
                fields. Without it the server's order applies (not documented).
            order: ``"asc"`` or ``"desc"``; needs ``sort``.
            page_size, limit: customers per request; the most to yield (``None``: all).
            timeout, max_retries: per-request overrides.

        Raises:
            ValidationError: bad arguments, here, before anything is sent.

        Example:
            >>> customers = client.list_customers(sort="first_seen", order="asc")  # doctest: +SKIP
            >>> async for c in customers:  # doctest: +SKIP
            ...     print(c.id, c.email)
        """
        params, size, cap, call_timeout = _pager_args(sort, order, page_size, limit,
                                                      timeout, max_retries)

        def fetch(offset: int, count: int) -> Awaitable[CustomerPage]:
            query = urlencode({"limit": count, "offset": offset, **params})
            return self._requestor.request(
                "GET", f"/customers?{query}", customer_page_from_json,
                timeout=call_timeout, max_retries=max_retries)

        return AsyncCustomerPager(fetch, page_size=size, limit=cap)

    def search_customers(
        self,
        *filters: Filter,
        match: Literal["all", "any"] = "all",
        sort: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncCustomerPager:
        """Customers matching filters, page by page (``POST /customers/search``).

        The same iterator and arguments as :meth:`list_customers`. ``match="all"``
        (the default) sends ``"comparison": "AND"``, ``"any"`` sends ``"OR"``. The
        search changes nothing, so although it is a ``POST`` it is retried like a
        ``GET`` (5xx, timeouts and dropped connections included).

        Raises:
            ValidationError: no filter, something that is not a :class:`Filter`, or a
                bad argument; nothing is sent. A bad field, operator or value is
                refused when the :class:`Filter` is made.

        Example:
            >>> async for c in client.search_customers(  # doctest: +SKIP
            ...         hc.Filter("email", "~", "gmail"), hc.Filter("tags", "=", ["paid"]),
            ...         match="any"):
            ...     print(c.id)
        """
        if not filters:
            raise ValidationError("give at least one Filter (list_customers lists everyone)",
                                  field="filters")
        for i, item in enumerate(filters):
            if not isinstance(item, Filter):
                raise ValidationError(f"filters[{i}] must be a Filter, got "
                                      f"{type(item).__name__}", field="filters")
        if match not in ("all", "any"):
            raise ValidationError(f"match must be 'all' or 'any', got {match!r}", field="match")
        params, size, cap, call_timeout = _pager_args(sort, order, page_size, limit,
                                                      timeout, max_retries)
        conditions = [f.to_json() for f in filters]
        comparison = "AND" if match == "all" else "OR"

        def fetch(offset: int, count: int) -> Awaitable[CustomerPage]:
            body = encode_body({"filter": conditions, "comparison": comparison,
                                "limit": count, "offset": offset, **params})
            return self._requestor.request(
                "POST", "/customers/search", customer_page_from_json, body=body,
                timeout=call_timeout, max_retries=max_retries, idempotent=True)

        return AsyncCustomerPager(fetch, page_size=size, limit=cap)

    async def find_customer(
        self,
        *,
        user_id: str | None = None,
        email: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer | None:
        """The one customer with this ``user_id`` (your own id) or ``email``; ``None``
        when there is none.

        Give exactly one of them. It searches with ``=`` and reads every page of the
        answer, then keeps only exact matches, in case the server matches loosely:
        ``user_id`` compares exactly (case matters); ``email`` ignores case (HelpCrunch
        does not document whether its ``=`` or its stored emails are case-sensitive;
        addresses are in practice case-insensitive, and two customers differing only
        in case are reported as ambiguous rather than one picked).

        Raises:
            AmbiguousCustomerError: several customers match (HelpCrunch does not enforce
                unique emails); ``.customer_ids`` lists them all. Never one picked.
            ValidationError: not exactly one of ``user_id``/``email``, or not a
                non-empty ``str``.

        Example:
            >>> c = await client.find_customer(user_id="u-42")  # doctest: +SKIP
            >>> c = await client.find_customer(email="ann@example.com")  # doctest: +SKIP
        """
        if (user_id is None) == (email is None):
            raise ValidationError("give exactly one of user_id= and email=", field="user_id")
        field, value = ("user_id", user_id) if user_id is not None else ("email", email)
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{field} must be a non-empty str, got {value!r}",
                                  field=field)
        if field == "user_id":
            def same(c: Customer) -> bool:
                return c.user_id == value
        else:
            wanted = value.casefold()

            def same(c: Customer) -> bool:
                return c.email is not None and c.email.casefold() == wanted
        pager = self.search_customers(Filter(field, "=", value), timeout=timeout,
                                      max_retries=max_retries)
        call_timeout = _call_timeout(timeout) or self._requestor.timeout
        with deadline_scope(call_timeout.total):  # one deadline for every page
            matches = [c async for c in pager if same(c)]
        if not matches:
            return None
        if len(matches) > 1:
            ids = tuple(sorted(c.id for c in matches))
            raise AmbiguousCustomerError(
                f"{len(ids)} customers have {field} {value!r} (ids {', '.join(map(str, ids))})"
                "; refusing to pick one", customer_ids=ids)
        return matches[0]

    async def delete_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Delete a customer (``DELETE /customers/{id}``).

        Retried like any idempotent request (429, 5xx, timeouts, dropped
        connections). A 404 answering the **first** attempt raises
        :class:`NotFoundError`; a 404 answering a **retry** means done: an earlier
        attempt may have deleted the customer before its answer was lost. (Should
        the earlier attempts all have been refused without effect, e.g. by 429s, the
        customer was gone anyway; the SDK does not tell the two apart.) The success
        answer's body is not documented and is not read.

        One case the SDK cannot see: aiohttp itself re-sends a ``DELETE`` once when a
        reused connection drops before any answer. If the first send had deleted the
        customer, that resend's 404 looks like a first attempt and raises
        :class:`NotFoundError`. Nothing is lost either way (the customer is gone);
        catch :class:`NotFoundError` where "already gone" is fine.

        Example:
            >>> await client.delete_customer(1568834)  # doctest: +SKIP
        """
        cid = check_customer_id(customer_id)
        try:
            await self._requestor.request(
                "DELETE", f"/customers/{cid}", discard_body,
                timeout=_call_timeout(timeout), max_retries=max_retries)
        except NotFoundError as exc:
            if exc.attempts < 2:
                raise
            logger.info("DELETE /customers/%d: 404 on attempt %d, taken as deleted",
                        cid, exc.attempts)

    async def tag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Add tags to a customer (``PUT /customers/{id}/tags``); its other tags stay.

        Tags are names or :class:`Tag` objects. Unknown tags are created by HelpCrunch
        (``#c377e0`` when no colour is given); a colour is sent only when the
        :class:`Tag` has one (which recolours an existing tag).

        Returns:
            The customer as HelpCrunch returns it after tagging.

        Example:
            >>> c = await client.tag_customer(  # doctest: +SKIP
            ...     1568834, ["vip", hc.Tag(name="beta", color="#ff9800")])
        """
        return await self._send_tags("PUT", customer_id, tags, timeout, max_retries)

    async def untag_customer(
        self,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Customer:
        """Remove tags from a customer (``DELETE /customers/{id}/tags`` with a JSON body
        of names; a :class:`Tag`'s colour is not sent).

        Returns:
            The customer as HelpCrunch returns it after untagging.

        Example:
            >>> c = await client.untag_customer(1568834, ["vip"])  # doctest: +SKIP
        """
        return await self._send_tags("DELETE", customer_id, tags, timeout, max_retries)

    def _send_tags(
        self,
        method: str,
        customer_id: int | str,
        tags: Sequence[Tag | str],
        timeout: float | aiohttp.ClientTimeout | None,
        max_retries: int | None,
    ) -> Awaitable[Customer]:
        """``PUT`` (tag: names and given colours) or ``DELETE`` (untag: names only)."""
        cid = check_customer_id(customer_id)
        checked = _tag_list(tags)
        payload = (tags_to_json(checked) if method == "PUT"
                   else [{"name": t.name} for t in checked])
        return self._requestor.request(
            method, f"/customers/{cid}/tags", customer_from_json,
            body=encode_body({"tags": payload}), timeout=_call_timeout(timeout),
            max_retries=max_retries)

    def update_customers(
        self,
        updates: Iterable[BulkItem] | AsyncIterable[BulkItem],
        /,
        *,
        max_concurrency: int | None = None,
        ordered: bool = False,
        replace: bool = False,
        batch: bool = False,
        batch_fallback: bool = False,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> BulkJob:
        """Update many customers; an async iterator of one :class:`BulkResult` per item.

        ``updates`` yields ``(customer_id, update)`` pairs, where ``update`` is a
        :class:`CustomerUpdate` or a mapping of the keyword fields of
        :meth:`update_customer`. It is read lazily (a generator of millions is fine):
        at most ``max_concurrency`` requests are in flight, and every request goes
        through this client's rate limiter, retries and shared 429 pause. Requests keep
        going while your loop handles a result; input is read only while fewer than
        ``max_concurrency`` results wait for you.

        Every item gives exactly one result, done or failed: a bad item fails with its
        :class:`ValidationError` (``attempts == 0``) and the job goes on. Results come
        as they complete; ``ordered=True`` yields them in input order. Bad arguments
        raise :class:`ValidationError` here, before anything runs.

        A refused API key stops the job: after a 401 or 403 no more input is read, the
        requests in flight finish and are yielded, items read but not sent are yielded
        failed with :class:`BulkAbortedError`, and the iterator then raises that
        :class:`BulkAbortedError` (``.cause`` is the 401/403 error). Items never read
        stay in ``updates``.

        Stopping early: ``job.stop()`` (:meth:`BulkJob.stop`) ends the job cleanly —
        requests on the wire finish, items read but not sent are reported failed with
        :class:`JobStoppedError` at once, then the iterator ends. Closing the iterator
        instead (``contextlib.aclosing`` does it for you) cancels the requests still in
        flight, unreported. Each request's ``timeout`` starts when it is sent: a job's
        items queue behind the rate limit by nature.

        Args:
            updates: an iterable or async iterable of ``(customer_id, update)`` pairs.
            max_concurrency: requests in flight for this job (default: the client's;
                the client's own bound applies too).
            ordered: yield results in input order (holds back at most
                ``4 * max_concurrency`` items, times 10 with ``batch=True``).
            replace: send ``PUT`` (every field left out is set to null!) instead of
                ``PATCH``.
            batch: send ``PUT /customers/batch`` with up to 10 items per request: ten
                times the customers per minute under the same rate limit. **HelpCrunch
                does not document** whether fields left out of a batch item are cleared
                (as with ``PUT``) or kept, nor the batch response's shape or per-item
                errors, so this is off by default. A batch refused with a 4xx other
                than 401/403/429 did nothing (one unknown id makes the whole batch 404),
                so its items are always retried one by one with ``PATCH``/``PUT`` and
                each fails or succeeds on its own. When a batch request fails otherwise
                (401/403: a bad key; 429 after the retries; 5xx; no answer), each of
                its items is reported failed with that error — or, with
                ``batch_fallback=True``, retried on its own.
                When the response lists one entry per item, an entry with ``errors``,
                or one that is not the item's customer, fails that item with
                :class:`BatchItemError`; a response without per-item entries counts
                every item done, with ``customer=None``.
            timeout, max_retries: per-request overrides, as for :meth:`update_customer`.

        Example:
            >>> import contextlib
            >>> updates = ((cid, {"custom_data": {"plan": "pro"}}) for cid in ids)  # doctest: +SKIP
            >>> async with contextlib.aclosing(  # doctest: +SKIP
            ...         client.update_customers(updates, max_concurrency=8)) as results:
            ...     async for r in results:
            ...         if not r.ok:
            ...             print(r.index, r.customer_id, r.error)
        """
        concurrency = self._job_concurrency(max_concurrency)
        for name, flag in (("ordered", ordered), ("replace", replace), ("batch", batch),
                           ("batch_fallback", batch_fallback)):
            if not isinstance(flag, bool):  # "false" is truthy: never guess at PUT
                raise ValidationError(f"{name} must be True or False, got {flag!r}",
                                      field=name)
        call_timeout = _call_timeout(timeout)
        if max_retries is not None:
            check_max_retries(max_retries)
        method = "PUT" if replace else "PATCH"
        batch_path = f"{self._base_url.path.rstrip('/')}/customers/batch"

        def send_one(cid: int, payload: dict[str, Any]) -> Awaitable[tuple[Customer, int]]:
            return self._send_customer(method, cid, payload, timeout, max_retries)

        async def send_batch(
            items: list[tuple[int, dict[str, Any]]],
        ) -> tuple[list[BatchOutcome], int]:
            body = encode_body([{"customer": cid, **payload} for cid, payload in items])
            ids = [cid for cid, _ in items]
            return await self._requestor.request(
                "PUT", "/customers/batch", lambda data: batch_outcomes(data, ids, batch_path),
                body=body, timeout=call_timeout, max_retries=max_retries, counted=True,
            )

        return run_bulk(
            InputSource(updates), send_one=send_one, send_batch=send_batch if batch else None,
            max_concurrency=concurrency, ordered=ordered, batch_fallback=batch_fallback,
            replace=replace,
        )

    def sync_customers(
        self,
        rows: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        /,
        *,
        match: SyncMatch = "user_id",
        create_missing: bool = False,
        exact_tags: bool = False,
        dry_run: bool = False,
        strategy: SyncStrategy = "auto",
        max_concurrency: int | None = None,
        ordered: bool = False,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> CustomerSync:
        """Make HelpCrunch match your rows, sending only what differs (the data sync).

        An async iterator (:class:`CustomerSync`) of one :class:`CustomerSyncResult`
        per row: ``index``, ``key``, ``action`` (``"unchanged"``, ``"updated"``,
        ``"created"``, ``"failed"``), ``customer_id``, ``changed``, ``diff``, ``error``.

        Each row is a mapping with the keyword fields of :meth:`update_customer` plus
        the match key (``user_id`` and ``email`` are fields themselves; ``match="id"``
        takes HelpCrunch's numeric ``id``). It is validated like ``update_customer``'s
        fields; a bad row fails with its :class:`ValidationError`.

        The sync reads every customer once (``list_customers``: one request per 100)
        and keeps one compact record per customer (about 300 bytes; never the raw JSON),
        then compares each row with its customer field by field, after normalising
        both sides (timestamps as whole seconds, custom data per property with numbers
        equal to the same number as a string, ``None`` meaning clear). A row that
        already matches sends nothing; one that differs sends a ``PATCH`` of only the
        differing fields. A field HelpCrunch's answer does not show is sent anyway.

        * **Tags** in a row are tags the customer must have: missing ones are added with
          the tag endpoint, others are left alone — with ``exact_tags=True`` removed
          with the untag endpoint (``tags=None`` removes all).
        * **Custom data** properties the row does not name are left alone. When one
          differs, the ``PATCH`` carries the customer's current properties with the
          row's over them: HelpCrunch does not document whether ``customData`` under
          ``PATCH`` merges or replaces, and this keeps the others either way.
        * **No match**: with ``create_missing=True`` the row is created (``POST``, never
          re-sent once it may have reached the server; a re-run finds it by its key
          first), otherwise it fails with :class:`CustomerNotFoundError`.
        * **Several customers with the key**: the row fails with
          :class:`AmbiguousCustomerError`; nothing is sent. ``email`` keys ignore case.
        * ``dry_run=True`` reads as usual and yields every action with its diff, sending
          no write.

        Args:
            rows: an iterable or async iterable of mappings, read lazily.
            match: ``"user_id"`` (default), ``"email"`` or ``"id"``.
            create_missing, exact_tags, dry_run: see above.
            strategy: ``"list"`` reads the whole account first; ``"search"`` looks up
                each row's customer on its own (a search, or a fetch by id: about one
                request per row, and only the created keys are kept in memory);
                ``"auto"`` (default) reads the first list page to learn the account's
                size and searches when the input has fewer rows than the account has
                pages — ``len(rows)`` when it has one, otherwise by reading at most that
                many rows ahead.
            max_concurrency: rows in flight (default: the client's).
            ordered: yield results in input order.
            timeout, max_retries: per-request overrides.

        Raises:
            ValidationError: bad arguments, here, before anything is sent.
            HelpCrunchError: reading the account failed (from the iterator, before any
                row is touched).
            BulkAbortedError: HelpCrunch refused the API key (401/403) while rows were
                sent: no more rows are read, and the iterator raises it after every row
                read has been reported.

        Example:
            >>> rows = [{"user_id": "u-1", "name": "Ann", "tags": ["paid"]}]
            >>> async for r in client.sync_customers(rows, create_missing=True):  # doctest: +SKIP
            ...     print(r.index, r.action, r.changed)
            0 updated ('name', 'tags')
        """
        if max_retries is not None:
            check_max_retries(max_retries)
        return CustomerSync(
            self, rows, match=match, create_missing=create_missing, exact_tags=exact_tags,
            dry_run=dry_run, strategy=strategy,
            max_concurrency=self._job_concurrency(max_concurrency), ordered=ordered,
            timeout=timeout, max_retries=max_retries,
        )

    def _job_concurrency(self, max_concurrency: int | None) -> int:
        """A bulk job's concurrency: the client's by default, checked."""
        if max_concurrency is None:
            return self._max_concurrency
        return check_int("max_concurrency", max_concurrency, minimum=1)

    def _send_customer(
        self,
        method: str,
        cid: int,
        payload: dict[str, Any],
        timeout: float | aiohttp.ClientTimeout | None,
        max_retries: int | None,
    ) -> Awaitable[tuple[Customer, int]]:
        # A plain function returning the request's coroutine: no extra await layer on
        # the hot path of every update.
        body = encode_body(payload)
        return self._requestor.request(
            method, f"/customers/{cid}", customer_from_json, body=body,
            timeout=_call_timeout(timeout), max_retries=max_retries, counted=True,
        )


def _pager_args(
    sort: str | None,
    order: Literal["asc", "desc"] | None,
    page_size: int,
    limit: int | None,
    timeout: float | aiohttp.ClientTimeout | None,
    max_retries: int | None,
) -> tuple[dict[str, str], int, int | None, aiohttp.ClientTimeout | None]:
    """The checked arguments of a pager: (sort/order params, page_size, limit, timeout)."""
    params = sort_params(sort, order)
    size, cap = check_paging(page_size, limit)
    call_timeout = _call_timeout(timeout)
    if max_retries is not None:
        check_max_retries(max_retries)
    return params, size, cap, call_timeout


def _tag_list(tags: Sequence[Tag | str]) -> tuple[Tag, ...]:
    checked = _to_tags(tags)
    if not checked:  # None, UNSET or empty
        raise ValidationError("give at least one tag (a name or a Tag)", field="tags")
    return checked  # type: ignore[return-value]


def _update_json(update: CustomerUpdate | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object of a record (or mapping) or of keyword fields, checked."""
    if update is None:  # keywords go straight to the wire, checked as the record checks them
        return fields_to_json(fields)
    return update_to_json(coerce_update(update, fields))


async def _update_customer_error(exc: Exception) -> Any:
    """What ``update_customer`` returns for bad input: raises ``exc`` when awaited."""
    raise exc


def _call_timeout(timeout: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout | None:
    return None if timeout is None else to_client_timeout(timeout)


