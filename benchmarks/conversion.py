"""Conversion: CustomerUpdate → JSON bytes and JSON bytes → Customer, per second.

Against the floor of the same work written by hand on plain dicts:

* **write** — ``encode_json(update_to_json(update))`` of a prepared ``CustomerUpdate``
  and ``encode_body`` (what the client sends: orjson when installed), and separately
  building the ``CustomerUpdate`` from keyword fields first, which is where input
  validation happens, against building the camelCase dict by hand
  (timestamp as a string, custom data in the list form) plus ``json.dumps``;
* **read** — ``customer_from_json(decode_json(body))`` of a customer response (what
  the client does with each response) against ``json.loads`` plus reading the same
  fields out of the dict.

Medians of several ``timeit`` repetitions, in operations per second, and the ratio
of the floor's rate to the SDK's (how many times slower the SDK is).
"""

from __future__ import annotations

import json
import timeit
from datetime import UTC, datetime
from typing import Any

import helpcrunch_async as hc
from helpcrunch_async._convert import update_to_json
from helpcrunch_async._fastpaths import customer_from_json
from helpcrunch_async._json import decode_json, encode_body, encode_json

from ._common import Table, cli, median

LAST_SEEN = datetime(2020, 10, 28, 11, 49, 6, tzinfo=UTC)
FIELDS: dict[str, Any] = {  # CustomerUpdate(**FIELDS): values of several types
    "name": "John Doe",
    "email": "john@example.com",
    "user_id": "u-1568834",
    "last_seen": LAST_SEEN,
    "tags": ["vip", hc.Tag(name="beta", color="#ff0000")],
    "custom_data": {"plan": "pro", "seats": 5, "trial": False},
}
STAMP = str(int(LAST_SEEN.timestamp()))
RESPONSE = {  # a customer as HelpCrunch answers it
    "id": 1568834,
    "name": "John Doe",
    "email": "john@example.com",
    "userId": "u-1568834",
    "company": None,
    "phone": None,
    "firstSeen": STAMP,
    "lastSeen": STAMP,
    "location": {"regionCode": None, "countryCode": "UA", "city": "Kyiv"},
    "device": {
        "id": 1,
        "ip": "192.0.2.1",
        "timezone": "Europe/Kiev",
        "platform": "desktop",
        "userAgent": "Mozilla/5.0",
    },
    "unsubscribed": False,
    "blocked": False,
    "source": None,
    "referer": None,
    "lastPage": None,
    "locale": "en",
    "createdFrom": None,
    "integrationId": None,
    "notes": None,
    "tags": [{"name": "vip", "color": "#c377e0"}],
    "customData": {"plan": "pro", "seats": 5},
}
BODY = json.dumps(RESPONSE).encode()


def hand_write() -> bytes:
    """The floor: the same request body, built by hand."""
    return json.dumps(
        {
            "name": "John Doe",
            "email": "john@example.com",
            "userId": "u-1568834",
            "lastSeen": str(int(LAST_SEEN.timestamp())),
            "tags": [{"name": "vip"}, {"name": "beta", "color": "#ff0000"}],
            "customData": [
                {"property": "plan", "value": "pro"},
                {"property": "seats", "value": 5},
                {"property": "trial", "value": False},
            ],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def hand_read() -> object:
    """The floor: parse the response and read the fields a Customer holds."""
    data = json.loads(BODY)
    location, device = data["location"], data["device"]
    return (
        data["id"],
        data["name"],
        data["email"],
        data["userId"],
        data["firstSeen"],
        data["lastSeen"],
        location["countryCode"],
        location["city"],
        device["ip"],
        data["unsubscribed"],
        data["blocked"],
        data["locale"],
        data["tags"],
        data["customData"],
    )


def run(quick: bool = False) -> list[Table]:
    number, repeat = (2000, 5) if quick else (20000, 9)
    update = hc.CustomerUpdate(**FIELDS)
    assert json.loads(encode_json(update_to_json(update))) == json.loads(hand_write())
    assert json.loads(encode_body(update_to_json(update))) == json.loads(hand_write())
    assert customer_from_json(decode_json(BODY)).raw == RESPONSE

    cases = [
        ("write: hand-built dict + json.dumps (floor)", hand_write),
        ("write: encode_json(update_to_json(update))", lambda: encode_json(update_to_json(update))),
        ("write: encode_body(update_to_json(update))", lambda: encode_body(update_to_json(update))),
        (
            "write: CustomerUpdate(**fields) + encode_body(update_to_json(...))",
            lambda: encode_body(update_to_json(hc.CustomerUpdate(**FIELDS))),
        ),
        ("read: json.loads + dict access (floor)", hand_read),
        (
            "read: customer_from_json(decode_json(body))",
            lambda: customer_from_json(decode_json(BODY)),
        ),
        (
            "read: customer_from_json(json.loads(body))",
            lambda: customer_from_json(json.loads(BODY)),
        ),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeat):  # interleaved: every case once per round
        for name, fn in cases:
            times[name].append(timeit.timeit(fn, number=number) / number)
    table = Table(
        f"conversion: per-call cost (median of {repeat} × {number} calls)",
        ["operation", "µs/call", "calls/s", "× floor"],
    )
    floors = {"write": median(times[cases[0][0]]), "read": median(times[cases[4][0]])}
    for name, _ in cases:
        t = median(times[name])
        table.add(name, f"{t * 1e6:.2f}", f"{1 / t:,.0f}", f"{t / floors[name.split(':')[0]]:.2f}×")
    try:
        import orjson  # noqa: F401

        speed = "installed: decode_json and encode_body use it"
    except ImportError:
        speed = "not installed: decode_json is json.loads, encode_body is encode_json"
    table.notes.append(
        f"orjson ({speed}); the client encodes every request body with "
        "encode_body and decodes every response with decode_json"
    )
    return [table]


def main() -> None:
    cli(run, __doc__)


if __name__ == "__main__":
    main()
