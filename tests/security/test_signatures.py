"""Webhook signatures: Stripe's own library signs (and, as the oracle, verifies) the deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.security.signatures import (
    SignatureError,
    SignatureProblem,
    crm_signature,
    docusign_signature,
    docusign_signatures,
    hubspot_signature,
    hubspot_uri,
    stripe_signature_header,
    verify_crm,
    verify_docusign,
    verify_hubspot,
    verify_stripe,
)

SECRET = "whsec_test_" + "a" * 32
OLD_SECRET = "whsec_test_" + "b" * 32
BODY = json.dumps(
    {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
)


def stripe_header(body: str, secret: str, timestamp: int | None = None) -> str:
    """The header Stripe's official library generates for its users' tests."""
    return str(stripe.WebhookSignature.generate_signature_header(body, secret, timestamp))


def test_a_header_from_stripes_library_is_accepted() -> None:
    header = stripe_header(BODY, SECRET)
    timestamp = verify_stripe(BODY.encode(), header, [SECRET])
    assert abs(timestamp - time.time()) < 5


def test_our_signing_helper_is_what_stripe_verifies() -> None:
    """Stripe's ``construct_event`` is the oracle for the header format we produce."""
    now = int(time.time())
    header = stripe_signature_header(BODY.encode(), [SECRET], now)
    event = stripe.Webhook.construct_event(BODY, header, SECRET)
    assert event["id"] == "evt_1"
    assert header == stripe_header(BODY, SECRET, now)


def test_non_ascii_body_is_signed_over_its_utf8_bytes() -> None:
    body = json.dumps({"object": "event", "name": "Zoë Ångström"}, ensure_ascii=False)
    header = stripe_header(body, SECRET)
    verify_stripe(body.encode("utf-8"), header, [SECRET])
    stripe.Webhook.construct_event(
        body, stripe_signature_header(body.encode(), [SECRET], int(time.time())), SECRET
    )


def reason(body: bytes, header: str | None, secrets: list[str], **kwargs: float) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify_stripe(body, header, secrets, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_tampered_body_is_refused() -> None:
    header = stripe_header(BODY, SECRET)
    error = reason(BODY.replace("in_1", "in_2").encode(), header, [SECRET])
    assert error.problem is SignatureProblem.MISMATCH
    assert error.reason == "no Stripe signature matches the payload with the configured secrets"


def test_stale_and_future_timestamps_are_refused() -> None:
    stale = stripe_header(BODY, SECRET, int(time.time()) - 301)
    error = reason(BODY.encode(), stale, [SECRET])
    assert error.problem is SignatureProblem.EXPIRED
    assert "outside the tolerance of 300 s" in error.reason
    future = stripe_header(BODY, SECRET, int(time.time()) + 400)
    assert reason(BODY.encode(), future, [SECRET]).problem is SignatureProblem.EXPIRED
    # Within the tolerance it is fine.
    verify_stripe(BODY.encode(), stripe_header(BODY, SECRET, int(time.time()) - 250), [SECRET])


def test_wrong_secret_is_refused() -> None:
    header = stripe_header(BODY, "whsec_someone_else")
    assert reason(BODY.encode(), header, [SECRET]).problem is SignatureProblem.MISMATCH


def test_missing_and_malformed_headers_are_refused_precisely() -> None:
    assert reason(BODY.encode(), None, [SECRET]).reason == "missing Stripe-Signature header"
    assert reason(BODY.encode(), "  ", [SECRET]).problem is SignatureProblem.MISSING
    garbage = reason(BODY.encode(), "garbage", [SECRET])
    assert garbage.problem is SignatureProblem.MALFORMED
    assert "key=value" in garbage.reason
    no_t = reason(BODY.encode(), "v1=abc", [SECRET])
    assert no_t.reason == "malformed Stripe-Signature header: expected exactly one t=<timestamp>"
    bad_t = reason(BODY.encode(), "t=yesterday,v1=abc", [SECRET])
    assert bad_t.reason == "malformed Stripe-Signature header: the timestamp is not a Unix time"
    v0_only = reason(BODY.encode(), f"t={int(time.time())},v0=abc", [SECRET])
    assert v0_only.reason == "no v1 signature in the Stripe-Signature header"


def test_no_secret_configured_is_its_own_problem() -> None:
    error = reason(BODY.encode(), stripe_header(BODY, SECRET), [])
    assert error.problem is SignatureProblem.NOT_CONFIGURED


def test_secret_rotation_accepts_either_secret() -> None:
    old_header = stripe_header(BODY, OLD_SECRET)
    verify_stripe(BODY.encode(), old_header, [SECRET, OLD_SECRET])
    # While rolling its secret, Stripe sends one v1 per active secret.
    now = int(time.time())
    both = stripe_signature_header(BODY.encode(), [OLD_SECRET, SECRET], now)
    assert both.count("v1=") == 2
    verify_stripe(BODY.encode(), both, [SECRET])
    verify_stripe(BODY.encode(), both + ",v0=deadbeef", [OLD_SECRET])
    stripe.Webhook.construct_event(BODY, both, SECRET)  # the oracle agrees


def test_error_reasons_never_contain_signatures_or_secrets() -> None:
    header = stripe_header(BODY, "whsec_other")
    error = reason(BODY.encode(), header, [SECRET])
    signature = header.split("v1=")[1]
    assert signature not in str(error) and SECRET not in str(error)


@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=512), flip=st.integers(min_value=0))
def test_any_changed_byte_breaks_the_signature(body: bytes, flip: int) -> None:
    now = int(time.time())
    header = stripe_signature_header(body, [SECRET], now)
    verify_stripe(body, header, [SECRET], now=now)
    if body:
        index = flip % len(body)
        tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(SignatureError):
            verify_stripe(tampered, header, [SECRET], now=now)


# ------------------------------------------------------------------------------------- DocuSign

KEY = "dGhpcyBpcyBhIGRvY3VzaWduIGtleQ="
OTHER_KEY = "YW5vdGhlciBjb25uZWN0IGtleQ="


def test_docusign_signature_is_base64_hmac_sha256_of_the_body() -> None:
    body = b'{"event":"envelope-completed"}'
    expected = base64.b64encode(hmac.new(KEY.encode(), body, hashlib.sha256).digest()).decode()
    assert docusign_signature(body, KEY) == expected
    verify_docusign(body, [expected], [KEY])


def test_docusign_any_header_may_match_any_key() -> None:
    body = b'{"event":"envelope-completed","data":{}}'
    headers = {
        "X-DocuSign-Signature-2": docusign_signature(body, OTHER_KEY),
        "x-docusign-signature-1": docusign_signature(body, "retired key"),
        "Content-Type": "application/json",
    }
    signatures = docusign_signatures(headers)
    assert signatures == [headers["x-docusign-signature-1"], headers["X-DocuSign-Signature-2"]]
    verify_docusign(body, signatures, [KEY, OTHER_KEY])


def test_docusign_invalid_and_missing_signatures_are_refused() -> None:
    body = b'{"event":"envelope-completed"}'
    good = docusign_signature(body, KEY)
    with pytest.raises(SignatureError, match="no DocuSign signature matches"):
        verify_docusign(body + b" ", [good], [KEY])
    with pytest.raises(SignatureError, match="no DocuSign signature matches"):
        verify_docusign(body, [good], [OTHER_KEY])
    with pytest.raises(SignatureError, match="missing X-DocuSign-Signature-1") as missing:
        verify_docusign(body, docusign_signatures({}), [KEY])
    assert missing.value.problem is SignatureProblem.MISSING


# ------------------------------------------------------------------------------------------ CRM

CRM_SECRET = "crm-shared-secret"


def test_crm_signature_with_and_without_prefix() -> None:
    body = b'{"event":"deal.closed_won","deal":{"id":"881"}}'
    header = crm_signature(body, CRM_SECRET)
    assert header == "sha256=" + hmac.new(CRM_SECRET.encode(), body, hashlib.sha256).hexdigest()
    verify_crm(body, header, [CRM_SECRET])
    verify_crm(body, header.removeprefix("sha256="), [CRM_SECRET])
    verify_crm(body, header.upper().replace("SHA256=", "sha256="), [CRM_SECRET])
    verify_crm(body, header, ["new-secret", CRM_SECRET])


def test_crm_invalid_signatures_are_refused() -> None:
    body = b'{"event":"deal.closed_won"}'
    with pytest.raises(SignatureError, match="no CRM signature matches"):
        verify_crm(body, crm_signature(body, "wrong"), [CRM_SECRET])
    with pytest.raises(SignatureError, match="no CRM signature matches"):
        verify_crm(body + b"\n", crm_signature(body, CRM_SECRET), [CRM_SECRET])
    with pytest.raises(SignatureError, match="missing X-Signature header"):
        verify_crm(body, None, [CRM_SECRET])
    with pytest.raises(SignatureError, match="malformed X-Signature") as malformed:
        verify_crm(body, "sha256=xyz", [CRM_SECRET])
    assert malformed.value.problem is SignatureProblem.MALFORMED


# -------------------------------------------------------------------------------------- HubSpot

HUBSPOT_SECRET = "hubspot-app-secret"
HUBSPOT_URI = "https://intake.example.com/webhooks/hubspot"
NOW = 1_790_000_000.0


def hubspot_headers(
    body: bytes, *, secret: str = HUBSPOT_SECRET, at: float = NOW
) -> tuple[str, str]:
    stamp = str(int(at * 1000))
    return hubspot_signature("POST", HUBSPOT_URI, body, stamp, secret), stamp


def test_hubspot_v3_is_base64_hmac_of_method_uri_body_and_timestamp() -> None:
    body = b'[{"eventId":1,"subscriptionType":"deal.propertyChange"}]'
    stamp = str(int(NOW * 1000))
    expected = base64.b64encode(
        hmac.new(
            HUBSPOT_SECRET.encode(),
            b"POST" + HUBSPOT_URI.encode() + body + stamp.encode(),
            hashlib.sha256,
        ).digest()
    ).decode()
    assert hubspot_signature("POST", HUBSPOT_URI, body, stamp, HUBSPOT_SECRET) == expected
    verify_hubspot("POST", HUBSPOT_URI, body, expected, stamp, ["old", HUBSPOT_SECRET], now=NOW)


def test_hubspot_signs_the_uri_with_some_escapes_decoded() -> None:
    assert (
        hubspot_uri("https://x.example/h?a=b%3Ac%2Fd%20e%40f")
        == "https://x.example/h?a=b:c/d%20e@f"
    )
    body = b"[]"
    stamp = str(int(NOW * 1000))
    signature = hubspot_signature("POST", "https://x.example/h?a=b:c", body, stamp, HUBSPOT_SECRET)
    verify_hubspot(
        "POST", "https://x.example/h?a=b%3Ac", body, signature, stamp, [HUBSPOT_SECRET], now=NOW
    )


@pytest.mark.parametrize(
    ("change", "problem", "reason"),
    [
        ({"secret": "other"}, SignatureProblem.MISMATCH, "no HubSpot signature matches"),
        ({"at": NOW - 301}, SignatureProblem.EXPIRED, "outside the window of 300 s"),
        ({"at": NOW + 301}, SignatureProblem.EXPIRED, "outside the window of 300 s"),
        ({"timestamp": "1.7e12"}, SignatureProblem.MALFORMED, "expected Unix milliseconds"),
        ({"timestamp": ""}, SignatureProblem.MISSING, "missing X-HubSpot-Request-Timestamp"),
        ({"signature": None}, SignatureProblem.MISSING, "missing X-HubSpot-Signature-v3"),
    ],
)
def test_hubspot_refusals(change: dict[str, Any], problem: SignatureProblem, reason: str) -> None:
    body = b"[]"
    signature, stamp = hubspot_headers(
        body, secret=change.get("secret", HUBSPOT_SECRET), at=change.get("at", NOW)
    )
    with pytest.raises(SignatureError) as refused:
        verify_hubspot(
            "POST",
            HUBSPOT_URI,
            body,
            change.get("signature", signature),
            change.get("timestamp", stamp),
            [HUBSPOT_SECRET],
            now=NOW,
        )
    assert refused.value.problem is problem
    assert reason in refused.value.reason
