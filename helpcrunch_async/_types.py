"""The ``UNSET`` sentinel and shared type aliases.

``UNSET`` means *leave this field alone*: the key is not sent at all. ``None``
means *clear this field*: the key is sent as JSON ``null``. Under ``PATCH`` the
difference decides whether a field keeps its value or is wiped.

Example:
    >>> import helpcrunch_async as hc
    >>> hc.CustomerUpdate(name="Ann").email is hc.UNSET
    True
    >>> bool(hc.UNSET)
    False
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final, Literal, TypeAlias

__all__ = ["UNSET", "CustomDataInput", "CustomDataValue", "Timestamp", "Unset"]


class _UnsetType(enum.Enum):
    """The type of :data:`UNSET`; an enum so that ``x is UNSET`` narrows types."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _UnsetType.UNSET
"""Leave the field alone: it is not sent (compare ``None``, sent as ``null``)."""

Unset: TypeAlias = Literal[_UnsetType.UNSET]
"""The type of :data:`UNSET`, for annotations such as ``str | None | Unset``."""

Timestamp: TypeAlias = datetime | int
"""A moment: a timezone-aware ``datetime`` or whole seconds since the UNIX epoch."""

CustomDataValue: TypeAlias = str | int | float | bool | None
"""A ``custom_data`` value as HelpCrunch stores and returns it."""

CustomDataInput: TypeAlias = str | int | float | bool | datetime | None
"""A ``custom_data`` value you may send; an aware ``datetime`` goes out as a timestamp string."""
