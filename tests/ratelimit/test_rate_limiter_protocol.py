"""The RateLimiter protocol: what a client calls on any limiter passed as rate_limit=."""

from __future__ import annotations

import pytest

import helpcrunch_async as hc
from helpcrunch_async._ratelimit import key_digest
from helpcrunch_async.testing import FakeHelpCrunch, Fault

KEY = "sk-protocol-SECRET"


class Recorder:
    """A limiter that lets everything through and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def acquire(self) -> None:
        self.calls.append(("acquire", None))

    def on_rate_limited(self, pause: float) -> None:
        self.calls.append(("on_rate_limited", pause))

    def on_success(self) -> None:
        self.calls.append(("on_success", None))


class RecorderWithHooks(Recorder):
    def bind_key(self, digest: str) -> None:
        self.calls.append(("bind_key", digest))

    async def aclose(self) -> None:
        self.calls.append(("aclose", None))


def test_the_builtin_limiters_implement_it() -> None:
    assert isinstance(hc.RateLimit(), hc.RateLimiter)
    assert isinstance(Recorder(), hc.RateLimiter)
    assert not isinstance(object(), hc.RateLimiter)


async def test_every_attempt_acquires_and_429s_and_successes_are_reported() -> None:
    limiter = Recorder()
    async with FakeHelpCrunch(api_key=KEY, rate_limit=None, retry_after=True) as fake:
        fake.seed_customers(1)
        fake.add_faults(Fault.status(429), Fault.status(503))
        async with hc.AsyncHelpCrunch(
            KEY, base_url=fake.base_url, rate_limit=limiter, max_retries=3
        ) as client:
            assert client.rate_limit is limiter
            await client.update_customer(1, name="A")
    names = [name for name, _ in limiter.calls]
    # 429 -> retry -> 503 -> retry -> 200: three attempts, each after acquire()
    assert names == ["acquire", "on_rate_limited", "acquire", "acquire", "on_success"]
    pause = limiter.calls[1][1]
    assert isinstance(pause, float)
    assert pause > 0


async def test_optional_hooks_get_a_digest_of_the_key_and_the_close() -> None:
    limiter = RecorderWithHooks()
    async with FakeHelpCrunch(api_key=KEY, rate_limit=None) as fake:
        fake.seed_customers(1)
        async with hc.AsyncHelpCrunch(KEY, base_url=fake.base_url, rate_limit=limiter) as c:
            assert limiter.calls == [("bind_key", key_digest(KEY))]
            await c.update_customer(1, name="A")
    assert limiter.calls[-1] == ("aclose", None)
    assert all(KEY not in str(value) for _, value in limiter.calls)


def test_the_blocking_client_takes_any_limiter() -> None:
    limiter = Recorder()
    with FakeHelpCrunch(api_key=KEY, rate_limit=None).in_thread() as fake:
        fake.seed_customers(1)
        with hc.HelpCrunch(KEY, base_url=fake.base_url, rate_limit=limiter) as client:
            client.update_customer(1, name="A")
            assert client.rate_limit is limiter
    assert [name for name, _ in limiter.calls] == ["acquire", "on_success"]


def test_objects_without_the_methods_are_rejected() -> None:
    class Half:
        async def acquire(self) -> None:
            pass

    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(KEY, rate_limit=Half())  # type: ignore[arg-type]
    assert info.value.field == "rate_limit"
    assert "RateLimiter" in str(info.value)


def test_a_key_utf8_cannot_encode_gets_a_digest_not_an_error_holding_the_key() -> None:
    odd = "sk-\ud800-SECRET"  # a lone surrogate (e.g. from a badly decoded env file)
    digest = key_digest(odd)  # before: UnicodeEncodeError, with the key in its .object
    assert len(digest) == 32
    assert digest != key_digest("sk--SECRET")
    limiter = RecorderWithHooks()
    with pytest.raises(hc.ValidationError) as info:  # the client refuses such a key first
        hc.AsyncHelpCrunch(odd, rate_limit=limiter)
    assert "SECRET" not in str(info.value)
    assert limiter.calls == []
