"""Client settings: base URL scheme, the API key source, timeouts, option checks."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import helpcrunch_async as hc

API_KEY = "sk-test-SECRET"
URL5 = "https://api.helpcrunch.com/v1/customers/5"


# --- base_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.helpcrunch.com/v1",
        "https://api.helpcrunch.com/v1/",
        "https://proxy.internal:8443/hc/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost:8080/v1",
        "http://[::1]:8080/v1",
        "http://127.0.0.1/v1",
    ],
)
def test_https_or_loopback_http_is_accepted(no_api_key_env: None, base_url: str) -> None:
    client = hc.AsyncHelpCrunch(API_KEY, base_url=base_url)
    assert client.base_url == base_url.rstrip("/")


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.helpcrunch.com/v1",
        "http://10.0.0.5/v1",
        "http://192.168.1.1:8080/v1",
        "http://localhost.evil.com/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://0.0.0.0:8080/v1",
        "ftp://api.helpcrunch.com/v1",
        "ws://127.0.0.1/v1",
        "api.helpcrunch.com/v1",
        "/v1",
        "",
        "https://api.helpcrunch.com/v1?key=x",
        "https://api.helpcrunch.com/v1#frag",
    ],
)
def test_other_base_urls_are_refused(no_api_key_env: None, base_url: str) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(API_KEY, base_url=base_url)
    assert info.value.field == "base_url"


def test_default_base_url(no_api_key_env: None) -> None:
    assert hc.DEFAULT_BASE_URL == "https://api.helpcrunch.com/v1"
    assert hc.AsyncHelpCrunch(API_KEY).base_url == hc.DEFAULT_BASE_URL


# --- the API key -------------------------------------------------------------------------------


async def test_key_is_read_from_env_at_construction(
    mock_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk-env-KEY")
    client = hc.AsyncHelpCrunch(rate_limit=None, max_retries=0)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk-changed-LATER")  # too late to matter
    mock_api.patch(URL5, payload={"id": 5})
    async with client:
        await client.update_customer(5, name="x")
    assert mock_api.only_request()[2]["headers"]["Authorization"] == "Bearer sk-env-KEY"


async def test_explicit_key_wins_over_env(mock_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk-env-KEY")
    mock_api.patch(URL5, payload={"id": 5})
    async with hc.AsyncHelpCrunch(API_KEY, rate_limit=None, max_retries=0) as client:
        await client.update_customer(5, name="x")
    assert mock_api.only_request()[2]["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_no_key_at_all_is_a_clear_error(no_api_key_env: None) -> None:
    with pytest.raises(hc.HelpCrunchError, match="HELPCRUNCH_API_KEY"):
        hc.AsyncHelpCrunch()


def test_empty_env_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "")
    with pytest.raises(hc.HelpCrunchError, match="no API key"):
        hc.AsyncHelpCrunch()


def test_empty_given_key_is_no_key(no_api_key_env: None) -> None:
    with pytest.raises(hc.HelpCrunchError, match="no API key"):
        hc.AsyncHelpCrunch("")


@pytest.mark.parametrize("bad", [b"sk-bytes", 12345])
def test_non_str_key_is_refused(no_api_key_env: None, bad: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(bad)
    assert info.value.field == "api_key"


# --- timeouts and other options ------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [1, 2.5, aiohttp.ClientTimeout(total=5)])
def test_timeout_float_or_client_timeout_accepted(no_api_key_env: None, timeout: Any) -> None:
    hc.AsyncHelpCrunch(API_KEY, timeout=timeout)


@pytest.mark.parametrize("bad", [0, -1, "30", True, None, float("nan")])
def test_bad_timeout_refused(no_api_key_env: None, bad: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(API_KEY, timeout=bad)
    assert info.value.field == "timeout"


@pytest.mark.parametrize("bad", [-1, 1.0, "2", True])
def test_bad_max_retries_refused(no_api_key_env: None, bad: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(API_KEY, max_retries=bad)
    assert info.value.field == "max_retries"


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "4"])
def test_bad_max_concurrency_refused(no_api_key_env: None, bad: Any) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(API_KEY, max_concurrency=bad)
    assert info.value.field == "max_concurrency"


def test_bad_rate_limit_refused(no_api_key_env: None) -> None:
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(API_KEY, rate_limit=120)  # type: ignore[arg-type]
    assert info.value.field == "rate_limit"


def test_rate_limit_defaults_on_and_can_be_turned_off(no_api_key_env: None) -> None:
    assert isinstance(hc.AsyncHelpCrunch(API_KEY).rate_limit, hc.RateLimit)
    assert hc.AsyncHelpCrunch(API_KEY, rate_limit=None).rate_limit is None
    shared = hc.RateLimit()
    assert hc.AsyncHelpCrunch(API_KEY, rate_limit=shared).rate_limit is shared


def test_blocking_client_checks_the_same_settings(no_api_key_env: None) -> None:
    with pytest.raises(hc.ValidationError):
        hc.HelpCrunch(API_KEY, base_url="http://api.helpcrunch.com/v1")
    with pytest.raises(hc.HelpCrunchError, match="HELPCRUNCH_API_KEY"):
        hc.HelpCrunch()


@pytest.mark.parametrize("bad", ["k\x00ey-SECRET", "k\ud800ey-SECRET", "k\x7fey-SECRET"])
def test_key_with_a_control_character_or_lone_surrogate_is_refused_without_echoing_it(
    no_api_key_env: None, bad: str
) -> None:
    # Sent as is, aiohttp raised a plain ValueError (header injection) and the codec a
    # UnicodeEncodeError whose .object holds the whole key.
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch(api_key=bad)
    assert info.value.field == "api_key"
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(info.value)


def test_base_url_comes_from_the_environment_after_the_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # argument > $HELPCRUNCH_BASE_URL > the default, for both clients
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://127.0.0.1:8080/v1/")
    assert hc.AsyncHelpCrunch("key").base_url == "http://127.0.0.1:8080/v1"
    with hc.HelpCrunch("key") as blocking:
        assert blocking.base_url == "http://127.0.0.1:8080/v1"
    given = "https://example.helpcrunch.test/v1"
    assert hc.AsyncHelpCrunch("key", base_url=given).base_url == given
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "  ")  # empty: unset
    assert hc.AsyncHelpCrunch("key").base_url == hc.DEFAULT_BASE_URL


def test_a_bad_base_url_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://api.helpcrunch.com/v1")
    with pytest.raises(hc.ValidationError) as info:
        hc.AsyncHelpCrunch("key")
    assert info.value.field == "base_url"
    assert "$HELPCRUNCH_BASE_URL" in str(info.value)
    assert "https://" in str(info.value)


def test_the_key_from_the_environment_loses_surrounding_whitespace_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One reading of $HELPCRUNCH_API_KEY for the clients and the command alike: a newline
    # left by `export KEY=$(cat key.txt)` is dropped; whitespace inside is still refused.
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk-live-1\n")
    client = hc.AsyncHelpCrunch()
    assert client._requestor._transport._headers["Authorization"] == "Bearer sk-live-1"
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk live")
    with pytest.raises(hc.ValidationError, match="whitespace"):
        hc.AsyncHelpCrunch()
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "   ")
    with pytest.raises(hc.HelpCrunchError, match="no API key"):
        hc.AsyncHelpCrunch()
