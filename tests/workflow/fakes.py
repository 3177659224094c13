"""Fake vendor activities, registered under the real activity names, for workflow unit tests.

The workflow only knows activities by name, so a worker that registers these instead of the
vendor-calling ones runs the real workflow code against a scripted world: each call is
recorded, and a test can make any step fail with any error of the shared taxonomy, built by
the same ``application_error`` the real activities use. The rules, the payload validation and
the ledger are the real ones: they do no vendor I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities import LedgerActivities, RunSetupActivities
from activities.common import application_error
from activities.models import (
    AssignOwnerInput,
    ChangeOrderInput,
    ChangeOrderOutput,
    CrmIdentity,
    CrmOnboardingUpdate,
    CrmUpdated,
    DeliveryProject,
    DeliveryProjectInput,
    KickoffLink,
    KickoffLinkInput,
    NotifyInput,
    NotifyOutput,
    ResolveIdentityInput,
    RollbackInput,
    RollbackOutput,
    SendEmailInput,
    SentEmail,
    SupportIdentity,
    SupportInput,
    VerifyInput,
    VerifyOutput,
)
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.routing import Assignment, assign
from onboarding.domain.run import MatchCandidate, QaCheck
from onboarding.integrations.hubspot import ambiguous
from onboarding.ledger.store import Ledger

#: The vendor system each faked activity calls, as the exception item names it.
SYSTEM_OF = {
    "resolve_crm_identity": "hubspot",
    "update_crm_onboarding": "hubspot",
    "create_delivery_project": "asana",
    "create_change_order_tasks": "asana",
    "provision_support": "zendesk",
    "create_kickoff_link": "calendly",
    "send_email": "resend",
    "notify": "resend",
    "verify_linked_records": "qa",
    "roll_back": "hubspot",
}

#: The HTTP status a vendor answers with for each kind of failure.
STATUS_OF = {
    ErrorType.RATE_LIMITED: 429,
    ErrorType.SERVER_ERROR: 503,
    ErrorType.AUTH_ERROR: 401,
    ErrorType.VALIDATION_ERROR: 400,
    ErrorType.NOT_FOUND: 404,
}

#: The readiness checks the QA step reports, in its order.
QA_CHECKS = (
    "crm-company",
    "crm-contact",
    "delivery-project",
    "support-organization",
    "support-user",
    "kickoff-link",
    "welcome-emails",
)


@dataclass
class Failure:
    """A scripted failure of one activity: ``times`` more calls fail (None: until healed)."""

    error_type: ErrorType
    times: int | None
    fields: tuple[str, ...] = ()


@dataclass
class FakeSystems:
    """The vendors as the workflow sees them: what each activity was asked, what it answers.

    Attributes:
        calls: Every call's input, by activity name, in order.
        companies: CRM companies already on the customer's domain (two or more: ambiguous).
        qa_failing: Readiness checks that fail, with how many more times.
    """

    calls: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    companies: list[MatchCandidate] = field(default_factory=list)
    qa_failing: dict[str, int] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)

    # ------------------------------------------------------------------ scripting

    def fail(
        self,
        activity_name: str,
        error_type: ErrorType = ErrorType.AUTH_ERROR,
        *,
        times: int | None = None,
        fields: tuple[str, ...] = (),
    ) -> None:
        """Make ``activity_name`` fail with ``error_type`` (``times`` calls, or until healed)."""
        assert activity_name in SYSTEM_OF, f"no fake activity {activity_name}"
        self.failures[activity_name] = Failure(error_type, times, fields)

    def heal(self, activity_name: str) -> None:
        """The vendor works again for ``activity_name``."""
        self.failures.pop(activity_name, None)

    def called(self, activity_name: str) -> int:
        """How many times ``activity_name`` was called (attempts included)."""
        return len(self.calls[activity_name])

    def activities(self, rules_path: Path, ledger: Ledger) -> list[Callable[..., Any]]:
        """The worker's activities: the fakes, the real rules and validation, the real ledger."""
        setup = RunSetupActivities(rules_path=rules_path)
        return [
            LedgerActivities(ledger).append_to_ledger,
            setup.load_rules,
            setup.validate_payload,
            self.assign_owner,
            self.resolve_crm_identity,
            self.update_crm_onboarding,
            self.create_delivery_project,
            self.create_change_order_tasks,
            self.provision_support,
            self.create_kickoff_link,
            self.send_email,
            self.notify,
            self.verify_linked_records,
            self.roll_back,
        ]

    def _call(self, name: str, request: BaseModel) -> None:
        """Record the call; raise the scripted failure, if one is due."""
        self.calls[name].append(request)
        failure = self.failures.get(name)
        if failure is None:
            return
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                del self.failures[name]
        raise application_error(
            VendorFailure(
                failure.error_type,
                SYSTEM_OF[name],
                f"scripted {failure.error_type.value}",
                http_status=STATUS_OF.get(failure.error_type),
                fields=failure.fields,
            )
        )

    # ------------------------------------------------------------------ the fakes

    @activity.defn(name="assign_owner")
    async def assign_owner(self, request: AssignOwnerInput) -> Assignment:
        self.calls["assign_owner"].append(request)
        return assign(request.team_name, request.team, assigned_so_far=0, open_counts={})

    @activity.defn(name="resolve_crm_identity")
    async def resolve_crm_identity(self, request: ResolveIdentityInput) -> CrmIdentity:
        self._call("resolve_crm_identity", request)
        if request.chosen_company_id:
            company_id, created = request.chosen_company_id, False
        elif len(self.companies) > 1:
            raise application_error(
                ambiguous("hubspot", request.domain, len(self.companies)),
                candidates=[c.model_dump() for c in self.companies],
            )
        elif self.companies:
            company_id, created = self.companies[0].id, False
        else:
            company_id, created = f"company-{request.transaction_id}", True
        return CrmIdentity(
            company_id=company_id,
            contact_id=f"contact-{request.transaction_id}",
            company_created=created,
            contact_created=True,
            candidates_seen=max(1, len(self.companies)),
        )

    @activity.defn(name="update_crm_onboarding")
    async def update_crm_onboarding(self, request: CrmOnboardingUpdate) -> CrmUpdated:
        self._call("update_crm_onboarding", request)
        return CrmUpdated(
            company_id=request.company_id, properties={"onboarding_status": request.status}
        )

    @activity.defn(name="create_delivery_project")
    async def create_delivery_project(self, request: DeliveryProjectInput) -> DeliveryProject:
        self._call("create_delivery_project", request)
        return DeliveryProject(
            project_gid=f"project-{request.transaction_id}",
            created=True,
            task_gids={t.key: f"task-{t.key}" for t in request.tasks},
            template_task_count=3,
        )

    @activity.defn(name="create_change_order_tasks")
    async def create_change_order_tasks(self, request: ChangeOrderInput) -> ChangeOrderOutput:
        self._call("create_change_order_tasks", request)
        return ChangeOrderOutput(
            task_gids=[f"{request.request_id}-{n}" for n, _ in enumerate(request.items, 1)]
        )

    @activity.defn(name="provision_support")
    async def provision_support(self, request: SupportInput) -> SupportIdentity:
        self._call("provision_support", request)
        return SupportIdentity(
            organization_id=101, user_id=202, organization_created=True, user_created=True
        )

    @activity.defn(name="create_kickoff_link")
    async def create_kickoff_link(self, request: KickoffLinkInput) -> KickoffLink:
        self._call("create_kickoff_link", request)
        return KickoffLink(booking_url=f"https://calendly.example/{request.transaction_id}")

    @activity.defn(name="send_email")
    async def send_email(self, request: SendEmailInput) -> SentEmail:
        self._call("send_email", request)
        return SentEmail(key=request.key, email_id=f"email-{request.key}")

    @activity.defn(name="notify")
    async def notify(self, request: NotifyInput) -> NotifyOutput:
        self._call("notify", request)
        return NotifyOutput(email_id=f"alert-{request.key}", chat_posted=request.chat)

    @activity.defn(name="verify_linked_records")
    async def verify_linked_records(self, request: VerifyInput) -> VerifyOutput:
        self._call("verify_linked_records", request)
        checks = []
        for name in QA_CHECKS:
            failing = self.qa_failing.get(name, 0) > 0 and name not in request.not_automated
            if failing:
                self.qa_failing[name] -= 1
            checks.append(QaCheck(name=name, ok=not failing, detail="gone" if failing else "ok"))
        return VerifyOutput(checks=checks)

    @activity.defn(name="roll_back")
    async def roll_back(self, request: RollbackInput) -> RollbackOutput:
        self._call("roll_back", request)
        return RollbackOutput(
            actions=[f"fake: archived {record}" for record in reversed(request.linked.created)]
        )
