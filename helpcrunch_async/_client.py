"""``AsyncHelpCrunch``: the async client for HelpCrunch's customer endpoints."""

from __future__ import annotations

import logging
from collections.abc import (
    Awaitable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Unpack

import aiohttp

from ._config import DEFAULT_TIMEOUT, call_timeout, client_options
from ._convert import tags_to_json, update_to_json
from ._event_hooks import EventHooks
from ._exceptions import NotFoundError, ValidationError
from ._fastpaths import customer_from_json, fields_to_json
from ._json import encode_body
from ._many_customers import ManyCustomers
from ._models import Customer, CustomerFields, CustomerUpdate, Tag, _to_tags, coerce_update
from ._observers import observers_for
from ._ratelimit import RateLimiter
from ._request_stats import RequestStats
from ._requestor import Requestor, discard_body
from ._retry import RetryPolicy
from ._transport import AiohttpTransport, request_headers
from ._types import UNSET, Unset
from ._validation import check_customer_id

__all__ = ["AsyncHelpCrunch"]

logger = logging.getLogger("helpcrunch_async")


class AsyncHelpCrunch(ManyCustomers):
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
        event_hooks: an :class:`EventHooks`: your callbacks for each request sent,
            response received, retry scheduled and wait for the rate limit (see
            :mod:`helpcrunch_async._event_hooks`). Default: none. OpenTelemetry spans
            need no option: see :mod:`helpcrunch_async._tracing`.

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
        event_hooks: EventHooks | None = None,
    ) -> None:
        options = client_options(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
        )
        self._base_url = options.base_url
        self._rate_limit = options.rate_limit
        self._max_concurrency = options.max_concurrency
        self._transport = AiohttpTransport(
            session=session,
            max_connections=options.max_concurrency,
            headers=request_headers(options.api_key),
        )
        self._requestor = Requestor(
            self._transport,
            base_url=options.base_url,
            api_key=options.api_key,
            timeout=options.timeout,
            retry=RetryPolicy(
                max_retries=options.max_retries, max_retry_after=options.max_retry_after
            ),
            rate_limit=options.rate_limit,
            max_concurrency=options.max_concurrency,
            observers=observers_for(options.event_hooks),
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

    async def update_customer(
        self,
        customer_id: int | str,
        update: CustomerUpdate | None = None,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """Update some fields of a customer (``PATCH /customers/{id}``).

        Only the fields you give are sent; every other field keeps its value. Give a
        :class:`CustomerUpdate`, or the same fields as keywords, not both. ``None``
        clears a field; :data:`UNSET` (the default) leaves it alone.

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
        cid = check_customer_id(customer_id)
        payload = _update_json(update, fields)
        if not payload:
            raise ValidationError(
                "nothing to update: give at least one field (None clears a field)",
                field="update",
            )
        return await self._requestor.request(
            "PATCH",
            f"/customers/{cid}",
            customer_from_json,
            body=encode_body(payload),
            timeout=call_timeout(timeout),
            max_retries=max_retries,
            call="update_customer",
        )

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
        return await self._requestor.request(
            "PUT",
            f"/customers/{cid}",
            customer_from_json,
            body=encode_body(update_to_json(update)),
            timeout=call_timeout(timeout),
            max_retries=max_retries,
            call="replace_customer",
        )

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
            "POST",
            "/customers",
            customer_from_json,
            body=body,
            timeout=call_timeout(timeout),
            max_retries=max_retries,
            call="create_customer",
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
            "GET",
            f"/customers/{cid}",
            customer_from_json,
            timeout=call_timeout(timeout),
            max_retries=max_retries,
            call="get_customer",
        )

    # --- finding, deleting and tagging customers -----------------------------------------

    async def delete_customer(
        self,
        customer_id: int | str,
        /,
        *,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Delete a customer (``DELETE /customers/{id}``).

        Retried like any idempotent request; a 404 answering a retry counts as
        deleted (an earlier attempt may have done it).

        Raises:
            NotFoundError: no such customer (a 404 to the first attempt).

        Example:
            >>> await client.delete_customer(1568834)  # doctest: +SKIP
        """
        cid = check_customer_id(customer_id)
        try:
            await self._requestor.request(
                "DELETE",
                f"/customers/{cid}",
                discard_body,
                timeout=call_timeout(timeout),
                max_retries=max_retries,
                call="delete_customer",
            )
        except NotFoundError as exc:
            if exc.attempts < 2:
                raise
            logger.info(
                "DELETE /customers/%d: 404 on attempt %d, taken as deleted", cid, exc.attempts
            )

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
        payload = tags_to_json(checked) if method == "PUT" else [{"name": t.name} for t in checked]
        return self._requestor.request(
            method,
            f"/customers/{cid}/tags",
            customer_from_json,
            body=encode_body({"tags": payload}),
            timeout=call_timeout(timeout),
            max_retries=max_retries,
            call="tag_customer" if method == "PUT" else "untag_customer",
        )


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
