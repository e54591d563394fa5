"""Compare a row of your data with a customer as HelpCrunch has it: what has to change.

Pure functions and small records, no I/O: the data sync
(:mod:`helpcrunch_async._customer_sync`) reads the account, keeps one compact
:class:`CustomerRecord` per customer, and asks :func:`plan_update` what to send for each
input row.

Both sides are normalised the way the converter reads and writes them, so a value that
would come back unchanged is never reported as a change:

* timestamps (``first_seen``/``last_seen``) as whole epoch seconds, whether written as
  a ``datetime`` or an ``int`` and returned as a string of digits or a number;
* custom data per property: a number equals the same number written as a string
  (``5`` and ``"5"``: HelpCrunch returns some strings as numbers), a ``datetime`` equals
  the same second as a number, a string of digits or an ISO date (``"2020-09-01
  00:40:00"``, read as UTC as the converter does); ``True`` is not ``1``;
* ``None`` means "clear": it equals a field HelpCrunch returns as ``null``;
* a field missing from HelpCrunch's answer is **unknown** and always sent (it is never
  taken to be equal).

Example:
    >>> import helpcrunch_async as hc
    >>> from helpcrunch_async._fastpaths import customer_from_json
    >>> record = record_of(customer_from_json({
    ...     "id": 7, "userId": "u7", "name": "Ann", "firstSeen": "1603885746",
    ...     "tags": [{"name": "vip", "color": "#f00"}], "customData": {"seats": 5}}))
    >>> plan = plan_update(hc.CustomerUpdate(
    ...     name="Ann", first_seen=1603885746, custom_data={"seats": "5"}), record)
    >>> plan.unchanged
    True
    >>> plan = plan_update(hc.CustomerUpdate(name="Anna", tags=["beta"]), record)
    >>> plan.changed, plan.diff["name"]
    (('name', 'tags'), ('Ann', 'Anna'))
"""

from __future__ import annotations

import enum
import math
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, TypeAlias

import attrs

from ._convert import WIRE_KEYS, datetime_in
from ._exceptions import HelpCrunchError
from ._models import Customer, CustomerUpdate, Tag
from ._types import UNSET, CustomDataInput, CustomDataValue

__all__ = [
    "COMPARED_FIELDS",
    "UNKNOWN",
    "CustomerRecord",
    "RecordBuilder",
    "RowPlan",
    "needs_full_customer",
    "plan_create",
    "plan_update",
    "record_of",
    "record_of_update",
]


class _UnknownType(enum.Enum):
    UNKNOWN = "UNKNOWN"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _UnknownType.UNKNOWN
"""The old value of a field HelpCrunch's answer did not show (in a diff)."""

# The writable scalar fields compared one to one (tags and custom data have their own rules).
_STRINGS = (
    "name",
    "email",
    "user_id",
    "company",
    "phone",
    "source",
    "referer",
    "last_page",
    "locale",
    "notes",
)
_TIMESTAMPS = ("first_seen", "last_seen")
_BOOLS = ("unsubscribed", "blocked")
_SCALARS = (*_STRINGS, *_TIMESTAMPS, *_BOOLS)
COMPARED_FIELDS: Final = (*_SCALARS, "custom_data", "tags")
"""The fields a sync compares: every writable field of :class:`CustomerUpdate`."""

_BIT = {name: 1 << i for i, name in enumerate(COMPARED_FIELDS)}
_WIRE = {name: WIRE_KEYS.get(name, name) for name in COMPARED_FIELDS}

TagState: TypeAlias = tuple[tuple[str, str | None], ...]
"""A customer's tags as ``(name, color)`` pairs, in HelpCrunch's order."""
CustomState: TypeAlias = tuple[tuple[str, CustomDataValue], ...]
"""A customer's custom data as ``(property, value)`` pairs, values as returned."""


class CustomerRecord(NamedTuple):
    """What a sync keeps of one existing customer: the compared fields, normalised.

    A plain tuple (no per-instance dict, no raw JSON): timestamps as whole seconds,
    tags and custom data as tuples, shared between customers where equal (see
    :class:`RecordBuilder`). ``unknown`` is a bit set of the fields HelpCrunch's
    answer did not show (see :meth:`is_known`).
    """

    id: int | None  # None: a customer a dry run would create
    name: str | None
    email: str | None
    user_id: str | None
    company: str | None
    phone: str | None
    source: str | None
    referer: str | None
    last_page: str | None
    locale: str | None
    notes: str | None
    first_seen: int | None
    last_seen: int | None
    unsubscribed: bool | None
    blocked: bool | None
    tags: TagState
    custom_data: CustomState
    unknown: int = 0

    def is_known(self, field: str) -> bool:
        """False when HelpCrunch's answer did not carry ``field`` at all."""
        return not self.unknown & _BIT[field]


class RecordBuilder:
    """Builds :class:`CustomerRecord` s, sharing equal tag sets and repeated strings.

    One builder per sync: thousands of customers with the same tags or locale then
    hold one tuple or string between them.
    """

    def __init__(self) -> None:
        self._shared: dict[Any, Any] = {}

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def record(self, customer: Customer) -> CustomerRecord:
        """The compact record of ``customer`` (what its ``raw`` answer showed)."""
        raw = customer.raw
        unknown = 0
        for name, key in _WIRE.items():
            if key not in raw:
                unknown |= _BIT[name]
        share = self._share
        tags: TagState = (
            share(
                tuple(
                    (sys.intern(t.name), None if t.color is UNSET else share(t.color))
                    for t in customer.tags
                )
            )
            if customer.tags
            else ()
        )
        custom: CustomState = (
            tuple((sys.intern(k), v) for k, v in customer.custom_data.items())
            if customer.custom_data
            else ()
        )
        return CustomerRecord(
            customer.id,
            customer.name,
            customer.email,
            customer.user_id,
            customer.company,
            customer.phone,
            share(customer.source),
            customer.referer,
            customer.last_page,
            share(customer.locale),
            customer.notes,
            _seconds(customer.first_seen),
            _seconds(customer.last_seen),
            customer.unsubscribed,
            customer.blocked,
            tags,
            custom,
            unknown,
        )


def record_of(customer: Customer) -> CustomerRecord:
    """The :class:`CustomerRecord` of one customer (without sharing)."""
    return RecordBuilder().record(customer)


def record_of_update(update: CustomerUpdate) -> CustomerRecord:
    """The record of the customer that creating ``update`` would make (``id`` unknown).

    A dry run compares later rows with the same key with it. Fields the row does not
    set are empty, as on a new customer.

    Example:
        >>> record_of_update(CustomerUpdate(name="Ann", tags=["vip"])).tags
        (('vip', None),)
    """
    values = {name: getattr(update, name) for name in _SCALARS}
    fields: dict[str, Any] = {
        name: None if value is UNSET else _seconds(value) if name in _TIMESTAMPS else value
        for name, value in values.items()
    }
    tags = (
        ()
        if update.tags is UNSET or update.tags is None
        else tuple(
            dict.fromkeys((t.name, None if t.color is UNSET else t.color) for t in update.tags)
        )
    )
    data = update.custom_data
    custom = (
        ()
        if data is UNSET or data is None
        else tuple((k, _seconds(v) if isinstance(v, datetime) else v) for k, v in data.items())
    )
    return CustomerRecord(id=None, tags=tags, custom_data=custom, **fields)


def _seconds(value: datetime | int | None) -> int | None:
    """Whole epoch seconds, as the converter writes timestamps."""
    if value is None or isinstance(value, int):
        return value
    return math.floor(value.timestamp())


# --- custom data values ----------------------------------------------------------------

_INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T].*)?")


def _normal(value: object) -> tuple[str, object]:
    """A custom data value in the form two equal values share.

    Numbers and strings holding a number in its plain form (``"5"``, ``"1.5"``; not
    ``"007"`` or ``"1.50"``, which HelpCrunch would have no reason to turn into a
    number) compare as numbers; dates (``datetime``, an
    ISO date string) as whole epoch seconds, so they equal the number of seconds
    HelpCrunch may return instead. Everything else compares as itself (``True`` is not
    ``1``, ``""`` is not ``None``).
    """
    if value is None or isinstance(value, bool):
        return ("const", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, datetime):
        return ("number", _seconds(value))
    if isinstance(value, str):
        if _INT_TEXT.fullmatch(value):
            try:
                return ("number", int(value))
            except ValueError:  # over Python's 4,300-digit limit: no number of HelpCrunch's
                return ("text", value)
        if _FLOAT_TEXT.fullmatch(value) and repr(float(value)) == value:
            return ("number", float(value))
        if _DATE_TEXT.fullmatch(value):
            try:
                moment = datetime_in(value)
            except (ValueError, OverflowError, OSError):
                pass
            else:
                if moment is not None:
                    return ("number", _seconds(moment))
        return ("text", value)
    return ("other", value)  # pragma: no cover - the converter admits only the above


def same_custom_value(new: CustomDataInput, old: CustomDataValue) -> bool:
    """True when writing ``new`` over ``old`` would change nothing.

    Example:
        >>> same_custom_value("5", 5), same_custom_value(5, 5.0), same_custom_value(True, 1)
        (True, True, False)
    """
    return _normal(new) == _normal(old)


# --- plans -----------------------------------------------------------------------------

Action: TypeAlias = Literal["unchanged", "updated", "created"]


@attrs.frozen(kw_only=True)
class RowPlan:
    """What to send for one row.

    Attributes:
        action: ``"unchanged"`` (nothing to send), ``"updated"`` or ``"created"``.
        patch: the fields to ``PATCH`` (or to ``POST`` for a create); ``None`` when
            there are none.
        add_tags: tags to add with the tag endpoint (an update only).
        remove_tags: names of tags to remove with the untag endpoint.
        diff: changed field → ``(old, new)``, normalised (timestamps as seconds);
            custom data per property as ``"custom_data.<property>"``, tags as
            ``"tags"`` with the tag names before and after. ``old`` is
            :data:`UNKNOWN` for a field HelpCrunch's answer did not show.
    """

    action: Action
    patch: CustomerUpdate | None = None
    add_tags: tuple[Tag, ...] = ()
    remove_tags: tuple[str, ...] = ()
    diff: Mapping[str, tuple[Any, Any]] = attrs.field(factory=dict)

    @property
    def unchanged(self) -> bool:
        """True when the row already matches: no request is needed."""
        return self.action == "unchanged"

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of the changed fields, in :data:`COMPARED_FIELDS` order."""
        return tuple(self.diff)


def needs_full_customer(
    update: CustomerUpdate, record: CustomerRecord, *, exact_tags: bool = False
) -> bool:
    """True when ``record`` lacks what a safe plan needs, so fetch the customer first.

    An unknown scalar field is simply sent. But custom data HelpCrunch did not show
    cannot be merged with the row's properties, and unknown tags cannot tell which tags
    to remove (``exact_tags``, or ``tags=None``).
    """
    if (
        isinstance(update.custom_data, Mapping)
        and update.custom_data
        and not record.is_known("custom_data")
    ):
        return True
    return (update.tags is None or (exact_tags and update.tags is not UNSET)) and (
        not record.is_known("tags")
    )


def plan_update(
    update: CustomerUpdate, record: CustomerRecord, *, exact_tags: bool = False
) -> RowPlan:
    """What to send so that the customer in ``record`` matches the row ``update``.

    Only the fields that differ go into the ``PATCH``. Custom data properties are
    compared one by one; when any differs, the ``PATCH`` carries the customer's current
    properties with the row's over them, because HelpCrunch does not document whether
    ``customData`` under ``PATCH`` is merged by property or replaced — this way the
    properties the row does not name are kept either way. ``custom_data=None`` clears
    all custom data.

    Tags in the row are tags the customer must have: missing ones (or ones whose
    colour the row sets differently) are added with the tag endpoint. With
    ``exact_tags=True``, or ``tags=None`` (no tags at all), tags the row does not name
    are removed with the untag endpoint. Tags are never sent in the ``PATCH``.

    Raises:
        HelpCrunchError: tags must be removed but HelpCrunch's answer did not show the
            customer's tags (see :func:`needs_full_customer`).
    """
    patch: dict[str, Any] = {}
    diff: dict[str, tuple[Any, Any]] = {}
    for name in _SCALARS:
        new = getattr(update, name)
        if new is UNSET:
            continue
        wanted = _seconds(new) if name in _TIMESTAMPS else new
        if not record.is_known(name):
            old: Any = UNKNOWN
        else:
            old = getattr(record, name)
            if old == wanted and type(old) is type(wanted):
                continue
        patch[name] = new
        diff[name] = (old, wanted)
    _plan_custom_data(update, record, patch, diff)
    add, remove = _plan_tags(update, record, exact_tags, diff)
    if not patch and not add and not remove:
        return RowPlan(action="unchanged")
    return RowPlan(
        action="updated",
        patch=CustomerUpdate(**patch) if patch else None,
        add_tags=add,
        remove_tags=remove,
        diff=diff,
    )


def _plan_custom_data(
    update: CustomerUpdate,
    record: CustomerRecord,
    patch: dict[str, Any],
    diff: dict[str, tuple[Any, Any]],
) -> None:
    wanted = update.custom_data
    if wanted is UNSET:
        return
    known = record.is_known("custom_data")
    current = dict(record.custom_data)
    if wanted is None:
        if known and not current:
            return
        patch["custom_data"] = None
        diff["custom_data"] = (current if known else UNKNOWN, None)
        return
    changed = False
    for prop, new in wanted.items():
        if known:
            old: Any = current.get(prop)
            if same_custom_value(new, old):
                continue
        else:
            old = UNKNOWN
        changed = True
        diff[f"custom_data.{prop}"] = (old, _seconds(new) if isinstance(new, datetime) else new)
    if changed:
        patch["custom_data"] = {**current, **wanted}


def _plan_tags(
    update: CustomerUpdate,
    record: CustomerRecord,
    exact_tags: bool,
    diff: dict[str, tuple[Any, Any]],
) -> tuple[tuple[Tag, ...], tuple[str, ...]]:
    wanted = update.tags
    if wanted is UNSET:
        return (), ()
    exact = exact_tags or wanted is None
    required: dict[str, Tag] = {}
    for tag in wanted or ():
        required.setdefault(tag.name, tag)
    known = record.is_known("tags")
    if not known and exact:
        raise HelpCrunchError(
            f"HelpCrunch's answer for customer {record.id} does not show its tags, so the "
            "tags to remove are unknown; nothing was sent"
        )
    colors = dict(record.tags)
    add = tuple(
        tag
        for name, tag in required.items()
        if not known or name not in colors or (tag.color is not UNSET and colors[name] != tag.color)
    )
    remove = tuple(name for name in colors if name not in required) if exact else ()
    if add or remove:
        before = tuple(colors) if known else UNKNOWN
        after = tuple(n for n in colors if n not in remove) + tuple(
            t.name for t in add if t.name not in colors
        )
        diff["tags"] = (before, after)
    return add, remove


def plan_create(update: CustomerUpdate) -> RowPlan:
    """The plan for a row that matches no customer: ``POST`` the whole row.

    Example:
        >>> plan = plan_create(CustomerUpdate(user_id="u1", name="Ann"))
        >>> plan.action, plan.diff
        ('created', {'name': (None, 'Ann'), 'user_id': (None, 'u1')})
    """
    planned = plan_update(update, _NOBODY)  # the diff against an empty customer
    return RowPlan(action="created", patch=update, diff=planned.diff)


# The empty customer a create is compared with: every field null, no tags, no custom data.
_NOBODY = CustomerRecord(id=None, tags=(), custom_data=(), unknown=0, **dict.fromkeys(_SCALARS))
