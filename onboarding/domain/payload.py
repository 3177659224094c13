"""The canonical onboarding payload: one schema-validated document carried through every system.

The pydantic models here are the single source of truth; ``schemas/onboarding-payload.schema.json``
is generated from them (``python -m onboarding.domain.schema``) and a test fails when the two drift.

Required fields are kept short on purpose (over-required forms get bypassed with fake values):
customer legal name, primary contact name and email, company domain, plan/SKU and billing term,
CRM owner, and an implementation start target or an urgency.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"

Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]


class BillingTerm(StrEnum):
    """How the plan is billed."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    MULTI_YEAR = "multi-year"


class Urgency(StrEnum):
    """How soon implementation must start, when there is no start date."""

    STANDARD = "standard"
    EXPEDITED = "expedited"
    CRITICAL = "critical"


class Tier(StrEnum):
    """The onboarding path; each tier has its own template, SLAs and gates (in the rules)."""

    ENTERPRISE = "enterprise"
    MID_MARKET = "mid-market"
    SMB = "smb"
    PARTNER_LED = "partner-led"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Customer(_Model):
    """The company being onboarded."""

    legal_name: NonEmpty
    domain: Annotated[
        str, Field(pattern=DOMAIN_PATTERN, max_length=253, description="Web domain, lower case.")
    ]
    region: str | None = Field(default=None, description="Sales region, e.g. emea, amer, apac.")
    segment: str | None = Field(default=None, description="Segment, e.g. startup, growth.")
    tier: Tier = Tier.SMB


class Contact(_Model):
    """The customer's primary contact."""

    name: NonEmpty
    email: Email


class Plan(_Model):
    """What was bought."""

    sku: NonEmpty
    billing_term: BillingTerm


class Implementation(_Model):
    """When implementation should start: a target date, an urgency, or both."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"anyOf": [{"required": ["start_target"]}, {"required": ["urgency"]}]},
    )
    start_target: date | None = None
    urgency: Urgency | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Implementation:
        if self.start_target is None and self.urgency is None:
            raise ValueError("either start_target or urgency is required")
        return self


class FirstValue(_Model):
    """The first-value milestone the customer should reach."""

    milestone: str | None = None
    target_days: Annotated[int, Field(ge=1, le=365)] | None = None


class Stakeholders(_Model):
    """The people on the customer side."""

    champion: str | None = None
    technical_owner: str | None = None
    approver: str | None = None


class Links(_Model):
    """Where the deal's context lives."""

    order: str | None = None
    deal: str | None = None
    notes: str | None = None
    folder: str | None = None


class HandoverBrief(_Model):
    """What sales knows that delivery needs: why they bought and what success means."""

    goals: list[str] = Field(
        default_factory=list, description="Top goals, in the customer's words."
    )
    success_criteria: list[str] = Field(
        default_factory=list, description="Success criteria for the first 14 days."
    )
    constraints: list[str] = Field(
        default_factory=list, description="Security, compliance and approval constraints."
    )
    stakeholders: Stakeholders | None = None
    risks: list[str] = Field(default_factory=list)
    links: Links | None = None


class OnboardingPayload(_Model):
    """The canonical payload of one onboarding transaction."""

    customer: Customer
    primary_contact: Contact
    plan: Plan
    crm_owner: Email = Field(description="Email of the closing rep or account owner.")
    implementation: Implementation
    amount: Annotated[int, Field(ge=0, description="Amount in minor units (cents).")] | None = None
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] | None = None
    first_value: FirstValue | None = None
    handover: HandoverBrief | None = None


def payload_json_schema() -> dict[str, Any]:
    """The JSON Schema of the canonical payload, as committed under ``schemas/``."""
    schema = OnboardingPayload.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://onboarding-control-plane.dev/schemas/onboarding-payload.schema.json"
    return schema
