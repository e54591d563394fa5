"""X-HelpCrunch-Signature: hex HMAC-SHA1 over the raw body, checked in constant time."""

from __future__ import annotations

import json
import pickle

import pytest
from webhook_support import EXAMPLE_BODY, EXAMPLE_KEY, EXAMPLE_SIGNATURE

import helpcrunch_async as hc
from helpcrunch_async.webhooks import SignatureError, construct_event, sign, verify_signature


def test_sign_matches_rfc_2202_and_an_independent_openssl_signature() -> None:
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
    )
    assert sign(EXAMPLE_BODY, EXAMPLE_KEY) == EXAMPLE_SIGNATURE


def test_the_example_body_verifies_and_parses_with_its_key() -> None:
    event = construct_event(EXAMPLE_BODY, EXAMPLE_SIGNATURE, EXAMPLE_KEY)
    assert event.id == "73499e69-285c-44c3-8431-a843ed08183d"
    assert event.customer is not None
    assert event.customer.email == "paul@example.com"


def _refused(body: bytes, signature: str | None, key: str = EXAMPLE_KEY) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        construct_event(body, signature, key)
    err = info.value
    assert isinstance(err, hc.HelpCrunchError)
    for text in (str(err), repr(err), repr(pickle.loads(pickle.dumps(err)).args)):
        assert EXAMPLE_KEY not in text
        assert EXAMPLE_SIGNATURE not in text
        assert sign(body, key) not in text
        if signature:
            assert signature not in text
    return err


def test_any_changed_byte_fails() -> None:
    for i in range(len(EXAMPLE_BODY)):
        changed = bytearray(EXAMPLE_BODY)
        changed[i] ^= 0x01
        assert _refused(bytes(changed), EXAMPLE_SIGNATURE).reason == "mismatch", i
    assert _refused(EXAMPLE_BODY + b"\n", EXAMPLE_SIGNATURE).reason == "mismatch"
    assert _refused(EXAMPLE_BODY[:-1], EXAMPLE_SIGNATURE).reason == "mismatch"


def test_a_wrong_key_fails() -> None:
    assert _refused(EXAMPLE_BODY, EXAMPLE_SIGNATURE, "another-key").reason == "mismatch"
    assert _refused(EXAMPLE_BODY, sign(EXAMPLE_BODY, "another-key")).reason == "mismatch"


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_header_fails(missing: str | None) -> None:
    assert _refused(EXAMPLE_BODY, missing).reason == "missing"


@pytest.mark.parametrize(
    "signature",
    [
        EXAMPLE_SIGNATURE.upper(),
        EXAMPLE_SIGNATURE[:39],
        EXAMPLE_SIGNATURE[:20],
        EXAMPLE_SIGNATURE + "0",
        f" {EXAMPLE_SIGNATURE}",
        f"{EXAMPLE_SIGNATURE}\n",
        f"sha1={EXAMPLE_SIGNATURE}",
        EXAMPLE_SIGNATURE[:39] + "é",
        "att73h99zvs9ipdmaj2rmr4oi5jhtwubs6q6tfwr",  # the docs' illustration: not hex
    ],
    ids=[
        "uppercase",
        "truncated-39",
        "truncated-20",
        "too-long",
        "space",
        "newline",
        "prefix",
        "non-ascii",
        "docs-sample",
    ],
)
def test_a_malformed_signature_fails(signature: str) -> None:
    assert _refused(EXAMPLE_BODY, signature).reason == "malformed"


def test_a_signature_of_the_reserialised_json_fails() -> None:
    parsed = json.loads(EXAMPLE_BODY)
    for again in (
        json.dumps(parsed).encode(),
        json.dumps(parsed, separators=(",", ":")).encode(),
        json.dumps(parsed, sort_keys=True).encode(),
    ):
        assert again != EXAMPLE_BODY
        assert _refused(EXAMPLE_BODY, sign(again, EXAMPLE_KEY)).reason == "mismatch"


def test_verify_signature_returns_none_when_it_matches() -> None:
    verify_signature(bytearray(EXAMPLE_BODY), EXAMPLE_SIGNATURE, EXAMPLE_KEY)  # no raise


def test_bad_arguments_are_validation_errors_that_name_the_field() -> None:
    with pytest.raises(hc.ValidationError) as info:
        sign(EXAMPLE_BODY.decode(), EXAMPLE_KEY)  # type: ignore[arg-type,unused-ignore]
    assert info.value.field == "body"
    for key in ("", f" {EXAMPLE_KEY}", 123):
        with pytest.raises(hc.ValidationError) as info:
            construct_event(EXAMPLE_BODY, EXAMPLE_SIGNATURE, key)  # type: ignore[arg-type]
        assert info.value.field == "signing_key"
        assert EXAMPLE_KEY not in str(info.value)
