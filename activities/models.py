"""One input and one output model per activity."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.routing import Team
from onboarding.domain.run import LinkedRecords, MatchCandidate, QaCheck
from onboarding.domain.validation import FieldProblem
from onboarding.ledger.models import RunFacts, SequencedEntry


class LoadRulesInput(BaseModel):
    """Which rules file to load; empty means the worker's configured one."""

    path: str | None = None


class ValidatePayloadInput(BaseModel):
    """A payload document to run through the required-fields gate."""

    payload: dict[str, Any]


class ValidatePayloadOutput(BaseModel):
    """Every problem found, by field path; the normalised payload when there are none."""

    problems: list[FieldProblem]
    payload: dict[str, Any] | None = None


class ResolveIdentityInput(BaseModel):
    """Who to find or create in the CRM."""

    transaction_id: str
    legal_name: str
    domain: str
    contact_name: str
    contact_email: str
    crm_owner: str
    chosen_company_id: str | None = Field(
        default=None, description="A person's choice after an ambiguous match."
    )


class CrmIdentity(BaseModel):
    """The confirmed CRM company and primary contact."""

    company_id: str
    contact_id: str
    company_created: bool
    contact_created: bool
    candidates_seen: int = 1


class CrmOnboardingUpdate(BaseModel):
    """Onboarding properties to set on the CRM company."""

    company_id: str
    transaction_id: str
    status: str
    implementation_owner: str


class CrmUpdated(BaseModel):
    """The properties as the CRM now holds them."""

    company_id: str
    properties: dict[str, str]


class StandardTaskSpec(BaseModel):
    """One standard task to get-or-create in the delivery project."""

    key: str
    name: str
    due_on: str


class DeliveryProjectInput(BaseModel):
    """The delivery workspace to get-or-create; only ever with a confirmed CRM company ID."""

    transaction_id: str
    crm_company_id: str
    legal_name: str
    template_gid: str
    tasks: list[StandardTaskSpec]


class DeliveryProject(BaseModel):
    """The project and its tasks."""

    project_gid: str
    created: bool
    task_gids: dict[str, str]
    template_task_count: int


class SupportInput(BaseModel):
    """The support organization and user to get or create."""

    crm_company_id: str
    crm_contact_id: str
    legal_name: str
    domain: str
    contact_name: str
    contact_email: str
    transaction_id: str | None = Field(
        default=None,
        description="Stamped on what the step creates; default: the workflow ID (the same).",
    )


class SupportIdentity(BaseModel):
    """The support organization and end user."""

    organization_id: int
    user_id: int
    organization_created: bool = False
    user_created: bool = False


class KickoffLinkInput(BaseModel):
    """Kickoff scheduling for one transaction; the contact, when given, is prefilled."""

    transaction_id: str
    contact_name: str | None = None
    contact_email: str | None = None


class KickoffLink(BaseModel):
    """The kickoff booking link: the same for the same transaction, nothing created for it."""

    booking_url: str


class SendEmailInput(BaseModel):
    """One email of the welcome sequence."""

    transaction_id: str
    key: str
    to: str
    subject: str
    text: str
    scheduled_at: datetime | None = None
    send_after_days: int = Field(
        default=0, ge=0, description="With ``schedule_from``: send this many days after it."
    )
    schedule_from: datetime | None = Field(
        default=None,
        description="The run's received time: when given, the email is scheduled at "
        "``schedule_from + send_after_days`` (none for 0 days), so that what the email carries is "
        "the same for every attempt and every incarnation of the run; ``scheduled_at`` is then "
        "ignored.",
    )

    def schedule(self) -> datetime | None:
        """When the email goes out (None: now)."""
        if self.schedule_from is not None:
            if not self.send_after_days:
                return None
            return self.schedule_from + timedelta(days=self.send_after_days)
        return self.scheduled_at


class SentEmail(BaseModel):
    """The email's ID at the email provider."""

    key: str
    email_id: str


class VerifyInput(BaseModel):
    """Every linked record to check before live."""

    linked: LinkedRecords
    expected_tasks: int
    not_automated: dict[str, str] = Field(
        default_factory=dict, description="Check name to the step's mode, for steps not automated."
    )


class VerifyOutput(BaseModel):
    """The readiness checks, one per system."""

    checks: list[QaCheck]


class RollbackInput(BaseModel):
    """What a cancelled run created, to archive or close in reverse order."""

    transaction_id: str
    linked: LinkedRecords


class RollbackOutput(BaseModel):
    """What the rollback did, one line per record, in the order done."""

    actions: list[str]


class AssignOwnerInput(BaseModel):
    """The team a run routes to; the activity picks the member."""

    transaction_id: str
    team_name: str
    team: Team


class NotifyInput(BaseModel):
    """One alert, by email and to the chat webhook. ``key`` makes it idempotent."""

    transaction_id: str
    key: str
    recipients: list[str]
    subject: str
    text: str
    chat: bool = True


class NotifyOutput(BaseModel):
    """Where the alert went."""

    email_id: str | None
    chat_posted: bool


class ChangeOrderInput(BaseModel):
    """Change-order tasks to get-or-create in the delivery project."""

    transaction_id: str
    project_gid: str
    request_id: str
    items: list[str]
    due_on: str


class ChangeOrderOutput(BaseModel):
    """The tasks, by item."""

    task_gids: list[str]


class StepFailureDetails(BaseModel):
    """What a failed vendor step tells the exception desk, carried in its ``ApplicationError``'s
    details: the system, the HTTP status, the attempt, the fields a vendor rejected, and for an
    ambiguous match the candidates a person chooses from."""

    system: str | None = None
    http_status: int | None = None
    attempt: int | None = None
    fields: list[str] = Field(default_factory=list)
    candidates: list[MatchCandidate] = Field(default_factory=list)


class AppendToLedgerInput(BaseModel):
    """Entries of one run's trail to write to the ledger, each at its position (from 1), and the
    run's facts the report needs. Send the entries after the ``last_seq`` the previous write
    answered: positions already written are skipped, so a retry never doubles a row."""

    transaction_id: str
    run: RunFacts
    entries: list[SequencedEntry]
