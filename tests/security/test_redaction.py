"""The structlog processor that keeps personal data and secrets out of the logs."""

from __future__ import annotations

import json

import structlog

from onboarding.security.redaction import REDACTED, mask_emails, redact_personal_data


def test_personal_and_secret_keys_are_redacted_at_any_depth() -> None:
    event = {
        "event": "welcome sent to pat@acme.example",
        "transaction_id": "stripe-in_1",
        "email": "pat@acme.example",
        "Contact-Name": "Pat Acme",
        "authorization": "Bearer abc",
        "stripe_signature": "t=1,v1=ff",
        "webhook_secret": "whsec_x",
        "payload": {"primary_contact": {"name": "Pat"}, "customer": {"domain": "acme.example"}},
        "items": [{"to": ["pat@acme.example"]}, "cc kim@globex.example"],
        "count": 3,
        "_record": object(),
    }
    out = redact_personal_data(None, "info", dict(event))
    assert out["event"] == "welcome sent to ***@acme.example"
    assert out["transaction_id"] == "stripe-in_1" and out["count"] == 3
    for key in ("email", "Contact-Name", "authorization", "stripe_signature", "webhook_secret"):
        assert out[key] == REDACTED
    assert out["payload"] == {"primary_contact": REDACTED, "customer": {"domain": "acme.example"}}
    assert out["items"] == [{"to": REDACTED}, "cc ***@globex.example"]
    assert out["_record"] is event["_record"]


def test_mask_emails_keeps_the_domain_only() -> None:
    assert mask_emails("a.b+c@sub.example.co.uk, x") == "***@sub.example.co.uk, x"
    assert mask_emails("no address @ here") == "no address @ here"


def test_in_a_structlog_chain() -> None:
    logger = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[redact_personal_data, structlog.processors.JSONRenderer()],
    )
    line = logger.info("contact pat@acme.example", contact_email="pat@acme.example", run_id="r1")
    assert json.loads(line) == {
        "event": "contact ***@acme.example",
        "contact_email": REDACTED,
        "run_id": "r1",
    }
