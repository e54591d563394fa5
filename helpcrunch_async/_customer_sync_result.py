"""What the data sync did with one row: :class:`CustomerSyncResult`, and how one is made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from ._customer_diff import RowPlan
from ._exceptions import HelpCrunchError

__all__ = ["CustomerSyncResult", "SyncAction", "SyncMatch", "failed", "row_result"]

SyncAction: TypeAlias = Literal["unchanged", "updated", "created", "failed"]
SyncMatch: TypeAlias = Literal["user_id", "email", "id"]


@attrs.frozen(kw_only=True)
class CustomerSyncResult:
    """What the sync did with one input row.

    Attributes:
        index: the row's position in the input, from 0.
        key: the row's match key (its ``user_id``, ``email`` or ``id``; ``None`` when
            the row has none).
        action: ``"unchanged"`` (no request sent), ``"updated"``, ``"created"`` or
            ``"failed"``. Under ``dry_run=True``: what would be done.
        customer_id: HelpCrunch's id of the customer (``None`` when unknown, e.g. a
            create under ``dry_run``).
        changed: the changed field names (``"custom_data.<property>"`` per property,
            ``"tags"``), also for a failed row whose changes were attempted.
        diff: field → ``(old, new)``, normalised (timestamps as epoch seconds, tags as
            names); ``old`` is ``UNKNOWN`` where HelpCrunch's answer did not show it.
        error: why the row failed: :class:`ValidationError` (bad row),
            :class:`AmbiguousCustomerError` (several customers have the key),
            :class:`CustomerNotFoundError` (no customer has it and ``create_missing``
            is off), or the API/connection error of a request.

    Example:
        >>> r = CustomerSyncResult(index=0, key="u1", action="unchanged", customer_id=7)
        >>> r.ok, r.changed
        (True, ())
    """

    index: int
    key: str | int | None
    action: SyncAction
    customer_id: int | None = None
    changed: tuple[str, ...] = ()
    diff: Mapping[str, tuple[Any, Any]] = attrs.field(factory=dict, repr=False)
    error: HelpCrunchError | None = None

    @property
    def ok(self) -> bool:
        """True unless the row failed."""
        return self.action != "failed"


def row_result(index: int, key: str | int, cid: int | None, plan: RowPlan) -> CustomerSyncResult:
    """The result of a row whose requests (if any) succeeded, as ``plan`` planned."""
    return CustomerSyncResult(
        index=index,
        key=key,
        action=plan.action,
        customer_id=cid,
        changed=plan.changed,
        diff=plan.diff,
    )


def failed(
    index: int,
    key: str | int | None,
    error: HelpCrunchError,
    cid: int | None = None,
    plan: RowPlan | None = None,
) -> CustomerSyncResult:
    """The result of a row that failed with ``error`` (its planned change kept, if any)."""
    return CustomerSyncResult(
        index=index,
        key=key,
        action="failed",
        customer_id=cid,
        error=error,
        changed=() if plan is None else plan.changed,
        diff={} if plan is None else plan.diff,
    )
