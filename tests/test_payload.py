"""The canonical payload: schema drift, and the required-fields gate reporting every field."""

from __future__ import annotations

from onboarding.data import PAYLOAD_SCHEMA
from onboarding.domain.schema import render
from onboarding.domain.validation import find_problems
from tests.support import make_payload


def test_committed_schema_matches_the_models() -> None:
    assert PAYLOAD_SCHEMA.read_text() == render(), (
        "onboarding/data/schemas/ drifted from onboarding/domain/payload.py: run `python -m onboarding.domain.schema`"
    )


def test_a_complete_payload_has_no_problems() -> None:
    assert find_problems(make_payload("acme")) == []


def test_every_missing_field_is_reported_by_path_at_once() -> None:
    document = {
        "customer": {"legal_name": "Acme"},
        "plan": {"sku": "x"},
        "implementation": {},
    }
    problems = {p.path: p.problem for p in find_problems(document)}
    assert problems == {
        "customer.domain": "is required",
        "primary_contact": "is required",
        "plan.billing_term": "is required",
        "crm_owner": "is required",
        "implementation": "needs a start_target or an urgency",
    }


def test_invalid_values_are_named_with_the_value() -> None:
    document = make_payload(
        "acme",
        primary_contact={"email": "not-an-email"},
        customer={"domain": "Acme Corp"},
        plan={"billing_term": "weekly"},
    )
    problems = {p.path: p.problem for p in find_problems(document)}
    assert problems["primary_contact.email"] == "is not valid: 'not-an-email'"
    assert problems["customer.domain"].startswith("is not valid: 'Acme Corp' (not a domain name")
    assert "weekly" in problems["plan.billing_term"]


def test_unknown_fields_are_refused_not_dropped() -> None:
    problems = find_problems(make_payload("acme", favourite_colour="teal"))
    assert [p.path for p in problems] == ["(payload)"]
    assert "favourite_colour" in problems[0].problem
