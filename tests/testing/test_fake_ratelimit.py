"""The fake's rate limit: an exact sliding window, checked at its boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from fake_helpers import Raw

from helpcrunch_async.testing import FakeHelpCrunch, Fault

TOO_MANY = {
    "errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": "too_many_requests", "message": "Too many requests"},
    ]
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def limited(clock: Clock) -> AsyncIterator[Raw]:
    async with (
        FakeHelpCrunch(rate_limit=(120, 60.0), clock=clock) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.seed_customers(1)
        yield Raw(fake, session)


async def burst(raw: Raw, n: int, **kw: dict[str, str]) -> list[int]:
    return [(await raw.call("GET", "/customers/1", **kw))[0] for _ in range(n)]


async def test_121st_request_inside_the_window_is_429(limited: Raw, clock: Clock) -> None:
    assert await burst(limited, 120) == [200] * 120
    clock.now = 59.999
    status, body = await limited.call("GET", "/customers/1")
    assert status == 429
    assert body == TOO_MANY


async def test_window_is_half_open_the_oldest_leaves_at_exactly_seconds(
    limited: Raw, clock: Clock
) -> None:
    await burst(limited, 1)  # t = 0
    clock.now = 1.0
    await burst(limited, 119)  # t = 1
    clock.now = 60.0  # the request at t=0 has left (now - 60, now]
    assert await burst(limited, 1) == [200]
    assert await burst(limited, 1) == [429]  # the 119 at t=1 are still in
    clock.now = 60.999
    assert await burst(limited, 1) == [429]
    clock.now = 61.0
    assert await burst(limited, 119) == [200] * 119
    assert await burst(limited, 1) == [429]


async def test_429s_do_not_count_in_the_window(limited: Raw, clock: Clock) -> None:
    await burst(limited, 120)
    clock.now = 30.0
    assert await burst(limited, 50) == [429] * 50
    clock.now = 60.0
    assert await burst(limited, 120) == [200] * 120
    assert await burst(limited, 1) == [429]
    stats = limited.fake.stats
    assert stats.rate_limited == 51
    assert stats.by_status[429] == 51
    assert stats.by_status[200] == 240


async def test_401s_do_not_count(limited: Raw) -> None:
    wrong = {"Authorization": "Bearer nope"}
    assert await burst(limited, 130, headers=wrong) == [401] * 130
    assert await burst(limited, 120) == [200] * 120
    assert await burst(limited, 1) == [429]


async def test_429_does_not_apply_the_update(limited: Raw) -> None:
    await burst(limited, 120)
    status, _ = await limited.call("PATCH", "/customers/1", {"name": "late"})
    assert status == 429
    assert limited.fake.customers[1]["name"] == "Customer 1"


async def test_no_retry_after_by_default(limited: Raw) -> None:
    await burst(limited, 120)
    status, headers, _ = await limited.response("GET", "/customers/1")
    assert status == 429
    assert "Retry-After" not in headers


async def test_retry_after_is_seconds_until_a_slot_frees_rounded_up(clock: Clock) -> None:
    async with (
        FakeHelpCrunch(rate_limit=(3, 10.0), retry_after=True, clock=clock) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.seed_customers(1)
        raw = Raw(fake, session)
        await burst(raw, 3)
        for now, expected in [(0.0, "10"), (2.5, "8"), (9.999, "1")]:
            clock.now = now
            status, headers, _ = await raw.response("GET", "/customers/1")
            assert status == 429
            assert headers["Retry-After"] == expected
        clock.now = 10.0
        status, headers, _ = await raw.response("GET", "/customers/1")
        assert status == 200
        assert "Retry-After" not in headers


async def test_faulted_requests_count_but_429_does_not_consume_a_fault(clock: Clock) -> None:
    async with (
        FakeHelpCrunch(rate_limit=(2, 10.0), clock=clock) as fake,
        aiohttp.ClientSession() as session,
    ):
        fake.seed_customers(1)
        raw = Raw(fake, session)
        fake.add_faults(Fault.status(503))
        assert await burst(raw, 3) == [503, 200, 429]
        fake.add_faults(Fault.status(500))
        assert await burst(raw, 1) == [429]
        assert fake.pending_faults == 1
        clock.now = 10.0
        assert await burst(raw, 1) == [500]


async def test_rate_limit_off(raw: Raw) -> None:
    assert set(await burst(raw, 300)) == {200}


def test_bad_rate_limit_arguments() -> None:
    with pytest.raises(ValueError, match="requests"):
        FakeHelpCrunch(rate_limit=(0, 60.0))
    with pytest.raises(ValueError, match="seconds"):
        FakeHelpCrunch(rate_limit=(10, 0.0))
