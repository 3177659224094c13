"""The canonical onboarding payload: one schema-validated document carried through every system.

The pydantic models here are the single source of truth; ``schemas/onboarding-payload.schema.json``
is generated from them (``python -m onboarding.domain.schema``) and a test fails when the two drift.

Required fields are kept short on purpose (over-required forms get bypassed with fake values):
customer legal name, primary contact name and email, company domain, plan/SKU and billing term,
CRM owner, and an implementation start target or an urgency.

What a value may contain is decided here too, once, for every way a payload arrives (an event,
``onboarding-start``, a person supplying data): names are letters, marks, digits, punctuation
and spaces within :data:`MAX_NAME_LENGTH`; no text carries a control or format character (see
:mod:`onboarding.domain.text`); a domain is normalised with IDNA (UTS #46) to its ASCII form.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import idna
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from onboarding.domain.text import is_steering, printable

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: A normalised domain: lower-case ASCII labels, the last one a TLD (letters, or an A-label).
DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
#: Longest legal or personal name accepted.
MAX_NAME_LENGTH = 200
#: Longest domain accepted before normalisation (a DNS name is at most 253 characters).
MAX_DOMAIN_LENGTH = 253
#: Unicode categories a name may use: letters, marks, digits, punctuation, spaces.
NAME_CATEGORIES = ("L", "M", "N", "P", "Zs")
#: Symbols company names use that are not punctuation in Unicode.
NAME_SYMBOLS = frozenset("+")


def _shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for a problem message: escaped, and cut when long."""
    text = printable(value)
    return "'" + (text if len(text) <= limit else text[: limit - 1] + "…") + "'"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a control or format character), or None."""
    for char in value:
        if is_steering(char):
            return (
                f"contains the control or format character U+{ord(char):04X}; "
                "text may not carry any"
            )
    return None


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a company's or a person's name, or None when it can.

    A name is letters, marks, digits, punctuation and spaces (any script), ``+``, and the
    joiners some scripts need; at most :data:`MAX_NAME_LENGTH` characters, with at least one
    letter or digit.
    """
    if len(value) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    for char in value:
        if char in NAME_SYMBOLS or (char in "\u200c\u200d"):
            continue
        if not unicodedata.category(char).startswith(NAME_CATEGORIES):
            what = unicodedata.name(char, "") or unicodedata.category(char)
            return (
                f"may contain letters, marks, digits, punctuation and spaces only; "
                f"U+{ord(char):04X} ({what}) is none of them"
            )
    if not any(c.isalnum() for c in value):
        return "has no letter or digit"
    return None


def normalise_domain(value: str) -> str:
    """The domain in its normalised form: IDNA (UTS #46) mapping, then ASCII (A-labels).

    ``Acme.Example`` becomes ``acme.example``, ``bücher.example`` becomes
    ``xn--bcher-kva.example``, and look-alikes map to what they look like (the KELVIN SIGN to
    ``k``); a trailing root dot is dropped.

    Raises:
        ValueError: not a domain name, with the reason.
    """
    text = value.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("is required")
    if len(text) > MAX_DOMAIN_LENGTH:
        raise ValueError(f"is longer than {MAX_DOMAIN_LENGTH} characters")
    try:
        ascii_form = idna.encode(text, uts46=True, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError) as exc:
        reason = str(exc).split(" in '")[0][:80]  # idna repeats the whole value after " in "
        raise ValueError(f"is not valid: {_shown(value)} (not a domain name: {reason})") from None
    domain = ascii_form.decode("ascii")
    if not re.fullmatch(DOMAIN_PATTERN, domain):
        raise ValueError(f"is not valid: {_shown(value)}")
    return domain


def _checked_name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _checked_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _normalised_domain(value: Any) -> Any:
    return normalise_domain(value) if isinstance(value, str) else value


Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]
#: Free text: bounded, no control or format character.
Text = Annotated[str, Field(max_length=500), AfterValidator(_checked_text)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_checked_text)]
#: A company's or a person's name (see :func:`name_problem`).
Name = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_checked_name)
]
#: A web domain, normalised (see :func:`normalise_domain`).
Domain = Annotated[
    str,
    BeforeValidator(_normalised_domain),
    Field(pattern=DOMAIN_PATTERN, max_length=253),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_DOMAIN_LENGTH,
            "description": "Web domain. Normalised with IDNA (UTS #46) to its lower-case "
            "ASCII form: Acme.Example is acme.example, bücher.example is "
            "xn--bcher-kva.example.",
        }
    ),
]


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

    legal_name: Name
    domain: Domain
    region: Text | None = Field(default=None, description="Sales region, e.g. emea, amer, apac.")
    segment: Text | None = Field(default=None, description="Segment, e.g. startup, growth.")
    tier: Tier = Tier.SMB


class Contact(_Model):
    """The customer's primary contact."""

    name: Name
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

    milestone: Text | None = None
    target_days: Annotated[int, Field(ge=1, le=365)] | None = None


class Stakeholders(_Model):
    """The people on the customer side."""

    champion: Name | None = None
    technical_owner: Name | None = None
    approver: Name | None = None


class Links(_Model):
    """Where the deal's context lives."""

    order: Text | None = None
    deal: Text | None = None
    notes: Text | None = None
    folder: Text | None = None


class HandoverBrief(_Model):
    """What sales knows that delivery needs: why they bought and what success means."""

    goals: list[Text] = Field(
        default_factory=list, max_length=20, description="Top goals, in the customer's words."
    )
    success_criteria: list[Text] = Field(
        default_factory=list, max_length=20, description="Success criteria for the first 14 days."
    )
    constraints: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Security, compliance and approval constraints.",
    )
    stakeholders: Stakeholders | None = None
    risks: list[Text] = Field(default_factory=list, max_length=20)
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
