"""JSON in and out: compact UTF-8 bodies, and every JSON that comes from outside.

With orjson installed (the ``speedups`` extra) both directions use it, with the same
results as the standard library's ``json``: whatever orjson would read or write
differently is left to ``json`` (see :func:`encode_body` and :func:`decode_json`).

Example:
    >>> encode_json({"name": "Ann", "email": None})
    b'{"name":"Ann","email":null}'
    >>> decode_json(b'{"id": 1}')
    {'id': 1}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["InvalidJSON", "decode_json", "encode_body", "encode_json"]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, refusing NaN/Infinity (which are not JSON)."""
    # One encoder for every call: json.dumps() with options builds a new one each time.
    return _ENCODER.encode(payload).encode()


_orjson_dumps: Callable[..., bytes] | None
try:  # the optional ``speedups`` extra
    from orjson import OPT_PASSTHROUGH_DATACLASS as _PD
    from orjson import OPT_PASSTHROUGH_DATETIME as _PT
    from orjson import OPT_PASSTHROUGH_SUBCLASS as _PS
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_dumps, _ORJSON_OPTIONS = None, 0
else:
    _ORJSON_OPTIONS = _PD | _PT | _PS


def encode_body(payload: Any) -> bytes:
    """:func:`encode_json` of a request body built from :func:`update_to_json` objects.

    With orjson installed (the ``speedups`` extra) it encodes instead of json: the same
    JSON (compact UTF-8, keys in order; a float may be spelled differently, ``1e-7``
    for ``1e-07``, with the same value). Whatever orjson would encode where json
    refuses or differs goes to :func:`encode_json`: anything orjson refuses (a subclass
    of str/int/dict/list, a datetime, an int beyond 64 bits, a non-str key, a lone
    surrogate) and a payload holding NaN or Infinity (orjson writes them as ``null``;
    json refuses them). A legitimate ``null`` (``email=None``) stays with orjson.
    """
    if _orjson_dumps is not None:
        try:
            out = _orjson_dumps(payload, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
        else:
            # find(), not "in": "in" on bytes tries the needle as an int first, which costs.
            if out.find(b"null") < 0 or (type(payload) in (dict, list) and _all_finite(payload)):
                return out
    return encode_json(payload)


def _all_finite(value: dict[str, Any] | list[Any]) -> bool:
    """False if a float in ``value`` (nested in dicts and lists) is NaN or infinite."""
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                return False
        elif (kind is dict or kind is list) and not _all_finite(item):
            return False
    return True


_orjson_loads: Callable[[bytes | str], Any] | None
try:  # the optional ``speedups`` extra
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None

# orjson reads an integer of more than 64 bits as a float, where json gives an int: a
# body with a run of 20+ digits anywhere (even inside a string) goes to json instead.
# (Mapping every digit to "0" and everything else to " " finds one fast, in C.)
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_DIGITS = b"0" * 20
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{20}")


def _has_long_digits(body: bytes) -> bool:
    """True if ``body`` holds a run of 20 or more ASCII digits."""
    # Any 20 consecutive positions hold four multiples of 5, so such a run shows as four
    # digits in a row among every 5th byte: that fifth of the body is mapped first, and
    # only a body where it does is mapped whole. (Timestamps and ISO dates never do.)
    # find(), not "in": "in" on bytes tries the needle as an int first, which costs.
    return (
        body[::5].translate(_DIGITS_TO_ZERO).find(b"0000") >= 0
        and body.translate(_DIGITS_TO_ZERO).find(_LONG_DIGITS) >= 0
    )


class InvalidJSON(ValueError):
    """What :func:`decode_json` raises: the text is not JSON the SDK can read.

    That is: not JSON at all, not UTF-8, or nested so deeply that decoding it would
    exhaust the interpreter's stack (``[`` × 200,000 would otherwise end in a
    ``RecursionError``). ``str(exc)`` says which.
    """


def decode_json(body: bytes | str) -> Any:
    """``json.loads(body)``, with orjson when it is installed (the ``speedups`` extra).

    The result is the same either way: whatever orjson refuses or might read differently
    (NaN, Infinity, a BOM, integers beyond 64 bits, invalid text) is left to json.
    Every failure is an :class:`InvalidJSON` (a ``ValueError``), never anything else:
    use this for any JSON that comes from outside (responses, error bodies, input lines).

    Example:
        >>> decode_json(b'{"id": 1}')
        {'id': 1}
        >>> decode_json("[" * 100_000 + "]" * 100_000)
        Traceback (most recent call last):
        ...
        helpcrunch_async._json.InvalidJSON: JSON nested too deeply to read
    """
    if _orjson_loads is not None and (
        not _has_long_digits(body)
        if isinstance(body, bytes)
        else _LONG_DIGITS_TEXT.search(body) is None
    ):
        try:
            return _orjson_loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise InvalidJSON("JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidJSON(f"not valid JSON: {exc}") from exc
