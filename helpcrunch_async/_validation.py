"""Input checks that run before anything is sent; each failure names its field.

These are the attrs validators and converters of :mod:`helpcrunch_async._models`,
plus the customer-id check used by the client. They raise
:class:`~helpcrunch_async.ValidationError`, never a bare ``TypeError``. This module
knows nothing of the records: :mod:`~helpcrunch_async._models` imports it, never the
reverse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

from ._exceptions import ValidationError
from ._types import UNSET, CustomDataInput, Timestamp, Unset

__all__ = [
    "check_customer_id",
    "check_flags",
    "check_int",
    "check_seconds",
    "check_text",
    "is_int",
    "is_number",
]

# ISO 639-1, the two-letter language codes (the API documents ``locale`` as one).
_ISO_639_1_TEXT = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko
    kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd
    ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se
    sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty
    ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_TEXT.split())
_DIGITS = re.compile(r"[0-9]+")


def is_int(value: object) -> TypeGuard[int]:
    """True for an ``int`` that is not a ``bool`` (``True`` is an ``int`` to Python).

    Example:
        >>> is_int(3), is_int(True), is_int(3.0)
        (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """True for an ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_flags(**flags: object) -> None:
    """Each flag ``True`` or ``False`` (not ``"false"``, ``0`` or ``None``), or a
    :class:`ValidationError` naming the first that is not.

    Example:
        >>> check_flags(ordered=False, replace="false")
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: replace must be True or False, \
got 'false'
    """
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValidationError(f"{name} must be True or False, got {flag!r}", field=name)


def check_int(field: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an ``int`` from ``minimum`` (to ``maximum``), or a
    :class:`ValidationError` naming ``field``.

    Example:
        >>> check_int("max_retries", 2)
        2
        >>> check_int("max_concurrency", True, minimum=1)
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: max_concurrency must be an int >= 1, \
got True
    """
    if is_int(value) and value >= minimum and (maximum is None or value <= maximum):
        return value
    expected = f"an int >= {minimum}" if maximum is None else f"an int from {minimum} to {maximum}"
    raise ValidationError(f"{field} must be {expected}, got {value!r}", field=field)


def check_seconds(field: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as a finite number of seconds (> 0, or >= 0 with ``allow_zero``), or a
    :class:`ValidationError` naming ``field``.

    Example:
        >>> check_seconds("period", 60)
        60.0
        >>> check_seconds("period", float("inf"))
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: period must be a finite number of \
seconds > 0, got inf
    """
    if is_number(value) and math.isfinite(value) and (value > 0 or (allow_zero and value == 0)):
        return float(value)
    raise ValidationError(
        f"{field} must be a finite number of seconds {'>=' if allow_zero else '>'} 0, "
        f"got {value!r}",
        field=field,
    )


def check_customer_id(customer_id: object) -> int:
    """Return ``customer_id`` as a positive ``int`` or raise :class:`ValidationError`.

    HelpCrunch's ids are numeric (``1568834``); a string of ASCII digits is accepted.

    Example:
        >>> check_customer_id("1568834")
        1568834
        >>> check_customer_id("12/../34")
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: customer_id must be a positive integer \
(HelpCrunch's numeric id), got '12/../34'
    """
    if type(customer_id) is int and customer_id > 0:  # the common case, on every call
        return customer_id
    value: int | None = None
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        value = customer_id
    elif isinstance(customer_id, str) and _DIGITS.fullmatch(customer_id):
        value = int(customer_id)
    if value is None or value <= 0:
        raise ValidationError(
            "customer_id must be a positive integer (HelpCrunch's numeric id), "
            f"got {customer_id!r}",
            field="customer_id",
        )
    return value


def check_text(field: str, value: str) -> None:
    """Refuse a str that UTF-8 cannot carry (a lone surrogate such as ``"\\ud800"``).

    Such a str cannot be sent as JSON at all; it comes from ``surrogateescape``
    decoding, a JSON ``"\\ud800"`` escape, or a slicing bug. ASCII text (the common case)
    costs one ``str.isascii()`` call.

    Example:
        >>> check_text("name", "Zoë")
        >>> check_text("name", "a\\ud800b")
        Traceback (most recent call last):
        ...
        helpcrunch_async._exceptions.ValidationError: name is not valid Unicode text: \
it holds a lone surrogate '\\ud800' at position 1, which UTF-8 (and JSON) cannot carry
    """
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{field} is not valid Unicode text: it holds a lone surrogate "
            f"{value[exc.start]!r} at position {exc.start}, which UTF-8 (and JSON) cannot "
            "carry",
            field=field,
        ) from None


def _fail(field: str, expected: str, value: object) -> ValidationError:
    return ValidationError(
        f"{field} must be {expected}, got {type(value).__name__} {value!r}", field=field
    )


def _is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


# --- attrs validators: (instance, attribute, value) -------------------------------------


def optional_str(_: object, attribute: Any, value: Any) -> None:
    if isinstance(value, str):
        if not value.isascii():
            check_text(attribute.name, value)
        return
    if value is UNSET or value is None:
        return
    raise _fail(attribute.name, "a str, None (to clear) or UNSET", value)


def optional_bool(_: object, attribute: Any, value: Any) -> None:
    if value is UNSET or value is None or isinstance(value, bool):
        return
    raise _fail(attribute.name, "a bool, None (to clear) or UNSET", value)


def optional_locale(_: object, attribute: Any, value: Any) -> None:
    if value is UNSET or value is None:
        return
    if not isinstance(value, str) or value not in ISO_639_1:
        raise _fail(attribute.name, "a lowercase ISO 639-1 language code such as 'en'", value)


def optional_timestamp(_: object, attribute: Any, value: Any) -> None:
    if value is UNSET or value is None:
        return
    _check_timestamp(attribute.name, value)


def _check_timestamp(field: str, value: object) -> Timestamp:
    if isinstance(value, datetime):
        if not _is_aware(value):
            raise ValidationError(
                f"{field} is a naive datetime, which is ambiguous; give it a timezone "
                "(for example datetime.now(timezone.utc))",
                field=field,
            )
        if value.timestamp() < 0:
            raise ValidationError(
                f"{field} is before 1970, which a UNIX timestamp cannot hold: {value.isoformat()}",
                field=field,
            )
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _fail(
        field, "a timezone-aware datetime or whole seconds since the epoch (int >= 0)", value
    )


def tag_name(_: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"tag {attribute.name}", "a non-empty str", value)
    check_text(f"tag {attribute.name}", value)


def tag_color(_: object, attribute: Any, value: Any) -> None:
    if value is UNSET:
        return
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"tag {attribute.name}", "a non-empty CSS color str or UNSET", value)
    check_text(f"tag {attribute.name}", value)


def fail_tags(value: object) -> ValidationError:
    """The error for a ``tags`` value that is not a sequence of tags or names."""
    return _fail("tags", "a list of Tag (or tag names), None or UNSET", value)


def fail_tag_item(index: int, item: object) -> ValidationError:
    """The error for an item of ``tags`` that is neither a ``Tag`` nor a name."""
    return _fail(f"tags[{index}]", "a Tag or a tag name", item)


# --- attrs converters: normalise what callers pass into what the record stores ----------


def to_custom_data(
    value: Mapping[str, CustomDataInput] | None | Unset,
) -> dict[str, CustomDataInput] | None | Unset:
    """Check keys and values; store a private copy so later edits by the caller don't leak in."""
    if value is UNSET or value is None:
        return value
    if not isinstance(value, Mapping):
        raise _fail("custom_data", "a mapping of property name to value, None or UNSET", value)
    checked: dict[str, CustomDataInput] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise _fail("custom_data key", "a non-empty str", key)
        if not key.isascii():
            check_text(f"custom_data key {key!r}", key)
        if isinstance(item, str):
            if not item.isascii():
                check_text(f"custom_data[{key!r}]", item)
        elif item is None or type(item) is int or type(item) is bool:  # nothing to check
            pass
        elif isinstance(item, datetime):
            _check_timestamp(f"custom_data[{key!r}]", item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _fail(f"custom_data[{key!r}]", "a finite number", item)
        elif not isinstance(item, int | float | bool):
            raise _fail(
                f"custom_data[{key!r}]", "a str, int, float, bool, aware datetime or None", item
            )
        checked[key] = item
    return checked
