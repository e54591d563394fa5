"""Every failure the SDK can raise, in one hierarchy.

::

    HelpCrunchError                      anything this SDK raises
    ├── ValidationError (ValueError)     bad input, raised before any request is sent
    ├── AmbiguousCustomerError           find_customer matched several customers
    ├── BulkAbortedError                 a bulk job stopped: HelpCrunch refused the API key
    ├── CustomerNotFoundError            sync_customers: no customer has the row's key
    ├── webhooks.WebhookError            a webhook request (hc.webhooks)
    │   ├── webhooks.SignatureError      missing, malformed or wrong X-HelpCrunch-Signature
    │   ├── webhooks.InvalidEventError   signed, but not a documented event
    │   └── webhooks.DeliveryError       send_event: the receiver did not answer
    ├── APIConnectionError               no usable HTTP response: DNS, refused, reset
    │   ├── APITimeoutError              timed out (or could not be sent before the deadline)
    │   └── JobStoppedError              a bulk job was stopped before this was sent
    └── APIError                         HelpCrunch answered with an error, or an unreadable body
        ├── BadRequestError              400
        ├── AuthenticationError          401
        ├── PermissionDeniedError        403
        ├── NotFoundError                404
        ├── ConflictError                409
        ├── UnprocessableEntityError     422
        ├── RateLimitError               429 (``retry_after`` when the server sent one)
        ├── ServerError                  5xx
        ├── APIResponseValidationError   2xx whose body is not the documented shape
        └── BatchItemError               a batch request succeeded, but not for this item

No exception's ``str``/``repr`` ever holds the API key: requests are described by
method and path only, and response bodies are the server's.

Example:
    >>> import helpcrunch_async as hc
    >>> err = hc.NotFoundError(
    ...     status=404, method="PATCH", path="/v1/customers/1",
    ...     errors=(hc.ErrorDetail(code="not_found", message="Customer not found"),),
    ... )
    >>> print(err)
    404 Not Found for PATCH /v1/customers/1: not_found: Customer not found
    >>> err.codes
    ('not_found',)
"""

from __future__ import annotations

from http import HTTPStatus

import attrs

__all__ = [
    "AmbiguousCustomerError",
    "CustomerNotFoundError",
    "BatchItemError",
    "BulkAbortedError",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "JobStoppedError",
    "BadRequestError",
    "ConflictError",
    "ErrorDetail",
    "HelpCrunchError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UnprocessableEntityError",
    "ValidationError",
]


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """One entry of an error body's ``errors[]``: ``{"code": ..., "message": ...}``.

    Example:
        >>> ErrorDetail(code="customer", message="This value should be of type numeric.")
        ErrorDetail(code='customer', message='This value should be of type numeric.')
    """

    code: str
    message: str


class HelpCrunchError(Exception):
    """The root of every exception this SDK raises.

    Example:
        >>> import helpcrunch_async as hc
        >>> issubclass(hc.APIError, hc.HelpCrunchError)
        True
        >>> issubclass(hc.ValidationError, hc.HelpCrunchError)
        True
    """


class ValidationError(HelpCrunchError, ValueError):
    """Input the SDK refused before sending anything; ``field`` names the culprit.

    Example:
        >>> try:
        ...     hc.CustomerUpdate(blocked="yes")  # doctest: +SKIP
        ... except hc.ValidationError as e:
        ...     e.field
        'blocked'
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AmbiguousCustomerError(HelpCrunchError):
    """``find_customer`` found several customers where one was asked for.

    HelpCrunch does not enforce unique emails; the SDK never picks one of them.
    ``customer_ids`` lists every match (HelpCrunch's ids, ascending).

    Example:
        >>> err = AmbiguousCustomerError("2 customers have email 'a@example.com'",
        ...                              customer_ids=(3, 9))
        >>> err.customer_ids
        (3, 9)
    """

    def __init__(self, message: str, *, customer_ids: tuple[int, ...]) -> None:
        super().__init__(message)
        self.customer_ids = customer_ids

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_ambiguous, (str(self), self.customer_ids))


class CustomerNotFoundError(HelpCrunchError):
    """No customer has the row's key, and the data sync was not asked to create one.

    ``match`` names the key (``"user_id"``, ``"email"`` or ``"id"``), ``key`` its value.

    Example:
        >>> err = CustomerNotFoundError("no customer has user_id 'u1'", match="user_id",
        ...                             key="u1")
        >>> err.match, err.key
        ('user_id', 'u1')
    """

    def __init__(self, message: str, *, match: str, key: str | int) -> None:
        super().__init__(message)
        self.match = match
        self.key = key

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_not_found, (str(self), self.match, self.key))


def _rebuild_not_found(message: str, match: str, key: str | int) -> CustomerNotFoundError:
    return CustomerNotFoundError(message, match=match, key=key)


def _rebuild_ambiguous(message: str, customer_ids: tuple[int, ...]) -> AmbiguousCustomerError:
    return AmbiguousCustomerError(message, customer_ids=customer_ids)


class BulkAbortedError(HelpCrunchError):
    """A bulk job stopped early because HelpCrunch refused the API key (401 or 403):
    every later request would fail the same way.

    ``update_customers()`` then reads no more input, lets the requests in flight finish
    and yields their results, yields every item it had read but not sent as failed with
    this error (``attempts`` 0), and finally raises this error from the iterator, so
    the end of the job is never mistaken for the end of the input. Items it never read
    are still in your iterator. ``cause`` (also ``__cause__``) is the
    :class:`AuthenticationError` or :class:`PermissionDeniedError` that stopped it.

    Example:
        >>> import helpcrunch_async as hc
        >>> refused = hc.AuthenticationError(status=401, method="PATCH", path="/v1/customers/1")
        >>> print(hc.BulkAbortedError(refused))
        HelpCrunch refused the API key: 401 Unauthorized for PATCH /v1/customers/1
    """

    def __init__(self, cause: APIError) -> None:
        super().__init__(f"HelpCrunch refused the API key: {cause}")
        self.cause = cause
        self.__cause__ = cause

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cause,))


class APIConnectionError(HelpCrunchError):
    """No usable HTTP response arrived (DNS failure, refused or dropped connection).

    ``method`` and ``path`` say which request failed; ``attempts`` how many were made.
    ``maybe_sent`` is False only when the request certainly never reached the server
    (the connection could not be opened); otherwise it may have been applied.

    Example:
        >>> import helpcrunch_async as hc
        >>> try:                                                    # doctest: +SKIP
        ...     await client.get_customer(1)
        ... except hc.APIConnectionError as exc:   # APITimeoutError included
        ...     print(exc.maybe_sent, exc.attempts)
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        attempts: int = 1,
        maybe_sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.attempts = attempts
        self.maybe_sent = maybe_sent

    def __str__(self) -> str:
        base = super().__str__()
        where = f" ({self.method} {self.path})" if self.method else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{base}{where}{tries}"


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout.

    For a single call ``timeout=`` bounds the whole call: when the rate limiter (or a
    429 pause) allows no request before it, the call fails at once with this error and
    ``maybe_sent=False``: nothing was sent.

    Example:
        >>> import helpcrunch_async as hc
        >>> issubclass(hc.APITimeoutError, hc.APIConnectionError)
        True
    """


class JobStoppedError(APIConnectionError):
    """A bulk job (``update_customers``, the data sync) was stopped with ``stop()``
    before this item's request went out: nothing more was sent for it
    (``maybe_sent`` False; an earlier request of the same item may have been).

    Example:
        >>> import helpcrunch_async as hc
        >>> print(hc.JobStoppedError(method="PATCH", path="/v1/customers/1"))
        not sent: the job was stopped before this request went out (PATCH /v1/customers/1)
    """

    def __init__(self, *, method: str = "", path: str = "", attempts: int = 0) -> None:
        super().__init__(
            "not sent: the job was stopped before this request went out",
            method=method,
            path=path,
            attempts=attempts,
            maybe_sent=False,
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (_job_stopped, (self.method, self.path, self.attempts))


def _job_stopped(method: str, path: str, attempts: int) -> JobStoppedError:
    return JobStoppedError(method=method, path=path, attempts=attempts)


class APIError(HelpCrunchError):
    """HelpCrunch answered with an error status (or a body that could not be read).

    Attributes:
        status: the HTTP status code.
        errors: every ``{code, message}`` of the body's ``errors[]``, in order.
        method, path: the request (``path`` includes ``/v1``; never the query's secrets).
        body: the raw response body as text (may be HTML, empty, or cut short).
        request_id: the response's ``X-Request-Id`` header, if any (HelpCrunch does
            not document one).
        attempts: how many attempts were made before giving up.

    Example:
        >>> import helpcrunch_async as hc
        >>> try:                                                    # doctest: +SKIP
        ...     await client.update_customer(42, name="Ann")
        ... except hc.NotFoundError as exc:      # one class per status, all APIErrors
        ...     print(exc.status, exc.method, exc.path, [e.code for e in exc.errors])
        404 PATCH /v1/customers/42 ['not_found']
    """

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        errors: tuple[ErrorDetail, ...] = (),
        body: str = "",
        request_id: str | None = None,
        attempts: int = 1,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.errors = errors
        self.body = body
        self.request_id = request_id
        self.attempts = attempts
        self._message = message
        super().__init__(str(self))

    @property
    def codes(self) -> tuple[str, ...]:
        """The ``code`` of every entry of ``errors``, in order."""
        return tuple(e.code for e in self.errors)

    def __str__(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        text = f"{self.status} {phrase} for {self.method} {self.path}"
        details = self._message or "; ".join(f"{e.code}: {e.message}" for e in self.errors)
        if not details and self.body:
            snippet = " ".join(self.body.split())[:200]
            details = f"body: {snippet!r}"
        if details:
            text += f": {details}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, method={self.method!r}, "
            f"path={self.path!r}, errors={self.errors!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only __init__: pickle (multiprocessing) needs help to rebuild us.
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[APIError], state: dict[str, object]) -> APIError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, str(err))
    return err


class BadRequestError(APIError):
    """400: the request was invalid (see ``errors`` for the field).

    Example:
        >>> err = BadRequestError(status=400, method="PUT", path="/v1/customers/7", errors=(
        ...     ErrorDetail(code="customer", message="This value should be of type numeric."),))
        >>> [(e.code, e.message) for e in err.errors]
        [('customer', 'This value should be of type numeric.')]
    """


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or revoked.

    Example:
        >>> print(AuthenticationError(status=401, method="GET", path="/v1/customers"))
        401 Unauthorized for GET /v1/customers
    """


class PermissionDeniedError(APIError):
    """403: the key may not do this.

    Example:
        >>> refused = PermissionDeniedError(status=403, method="DELETE", path="/v1/customers/7")
        >>> BulkAbortedError(refused).cause is refused
        True
    """


class NotFoundError(APIError):
    """404: no such customer (or endpoint).

    Example:
        >>> import helpcrunch_async as hc
        >>> from helpcrunch_async.testing import FakeHelpCrunch
        >>> with FakeHelpCrunch().in_thread() as fake, hc.HelpCrunch(
        ...     fake.api_key, base_url=fake.base_url, rate_limit=None
        ... ) as client:
        ...     try:
        ...         client.get_customer(404)
        ...     except hc.NotFoundError as exc:
        ...         print(exc.status, exc.method, exc.path)
        404 GET /v1/customers/404
    """


class ConflictError(APIError):
    """409: the request conflicts with the resource's state.

    Example:
        >>> ConflictError(status=409, method="POST", path="/v1/customers")
        ConflictError(status=409, method='POST', path='/v1/customers', errors=(), request_id=None)
    """


class UnprocessableEntityError(APIError):
    """422: the request was well-formed but could not be processed.

    Example:
        Not a :class:`BadRequestError`: catch it by its own class, or as an ``APIError``.

        >>> err = UnprocessableEntityError(status=422, method="POST", path="/v1/customers")
        >>> isinstance(err, APIError), isinstance(err, BadRequestError)
        (True, False)
    """


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if given.

    Example:
        >>> err = RateLimitError(retry_after=30.0, status=429, method="PATCH",
        ...                      path="/v1/customers/1", attempts=3)
        >>> err.retry_after, err.attempts
        (30.0, 3)
    """

    def __init__(self, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)  # type: ignore[arg-type]


class ServerError(APIError):
    """5xx: HelpCrunch (or a proxy in front of it) failed.

    Example:
        >>> print(ServerError(status=502, method="GET", path="/v1/customers/1",
        ...                   body="<html>502 Bad Gateway</html>"))
        502 Bad Gateway for GET /v1/customers/1: body: '<html>502 Bad Gateway</html>'
    """


class APIResponseValidationError(APIError):
    """A success status whose body is not what the API documents.

    ``json_path`` points at the offending part (``$.tags[0].name``), or is ``$``
    when the body is not JSON at all.

    Example:
        >>> import helpcrunch_async as hc
        >>> issubclass(hc.APIResponseValidationError, hc.APIError)
        True
    """

    def __init__(self, *, json_path: str = "$", **kwargs: object) -> None:
        self.json_path = json_path
        super().__init__(**kwargs)  # type: ignore[arg-type]


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _error_class_for(status: int) -> type[APIError]:
    """The most specific :class:`APIError` subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status, APIError)


class BatchItemError(APIError):
    """``PUT /customers/batch`` answered 2xx, but its entry for this item reports an
    error, or is not this customer: the update is not confirmed (redo it).

    HelpCrunch does not document the batch response; ``errors`` holds the entry's own
    ``errors[]`` when it has one, and ``body`` the entry's JSON.

    Example:
        >>> import helpcrunch_async as hc
        >>> [r.error for r in results if isinstance(r.error, hc.BatchItemError)]  # doctest: +SKIP
        []
    """
