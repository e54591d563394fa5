"""helpcrunch-async: an async-first Python SDK for HelpCrunch's customer API (REST v1).

Example:
    >>> import helpcrunch_async as hc
    >>> async def main() -> None:
    ...     async with hc.AsyncHelpCrunch() as client:        # key from $HELPCRUNCH_API_KEY
    ...         await client.update_customer(1568834, name="John Doe", email=None)

``update_customer`` sends ``PATCH`` (only the fields given; ``None`` clears one,
:data:`UNSET` leaves it alone). ``replace_customer`` sends ``PUT``, which clears
every field left out. ``HelpCrunch`` is the same client for blocking code.
"""

from typing import TYPE_CHECKING, Any

from . import webhooks
from ._blocking import HelpCrunch
from ._bulk import BulkItem, BulkJob, BulkResult
from ._client import AsyncHelpCrunch
from ._config import DEFAULT_BASE_URL
from ._customer_diff import UNKNOWN
from ._customer_sync import CustomerSync, CustomerSyncResult
from ._event_hooks import (
    EventHooks,
    RateLimitWait,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from ._exceptions import (
    AmbiguousCustomerError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchItemError,
    BulkAbortedError,
    ConflictError,
    CustomerNotFoundError,
    ErrorDetail,
    HelpCrunchError,
    JobStoppedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
    ValidationError,
)
from ._filters import Filter
from ._models import Customer, CustomerFields, CustomerUpdate, Device, Location, Tag
from ._paging import AsyncCustomerPager, CustomerPager
from ._ratelimit import RateLimit, RateLimiter
from ._request_stats import RequestStats
from ._types import UNSET, CustomDataInput, CustomDataValue, Timestamp, Unset
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "UNKNOWN",
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AmbiguousCustomerError",
    "AsyncCustomerPager",
    "AsyncHelpCrunch",
    "AuthenticationError",
    "BadRequestError",
    "BatchItemError",
    "BulkAbortedError",
    "BulkItem",
    "BulkJob",
    "BulkResult",
    "ConflictError",
    "CustomDataInput",
    "CustomDataValue",
    "Customer",
    "CustomerNotFoundError",
    "CustomerSync",
    "CustomerSyncResult",
    "CustomerFields",
    "CustomerPager",
    "CustomerUpdate",
    "Device",
    "ErrorDetail",
    "EventHooks",
    "Filter",
    "HelpCrunch",
    "HelpCrunchError",
    "JobStoppedError",
    "Location",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimitWait",
    "RateLimiter",
    "RequestSent",
    "RequestStats",
    "ResponseReceived",
    "RetryScheduled",
    "ServerError",
    "Tag",
    "Timestamp",
    "UnprocessableEntityError",
    "Unset",
    "ValidationError",
    "__version__",
    "webhooks",
]

if TYPE_CHECKING:
    from ._redis_ratelimit import RedisRateLimit as RedisRateLimit


def __getattr__(name: str) -> Any:
    # RedisRateLimit needs the optional redis package: imported on first use, and kept
    # out of __all__ so that `from helpcrunch_async import *` works without it.
    if name == "RedisRateLimit":
        try:
            from ._redis_ratelimit import RedisRateLimit as RedisRateLimit
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] != "redis":
                raise
            raise ImportError(
                "helpcrunch_async.RedisRateLimit needs the redis package: "
                "pip install 'helpcrunch-async[redis]'",
                name="redis",
            ) from exc
        return RedisRateLimit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "RedisRateLimit"]
