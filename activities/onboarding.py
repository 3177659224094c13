"""The onboarding activities: every side effect of a run, each one replay-safe.

Every create is a get-or-create keyed by the transaction ID and the step (search before create,
external IDs, idempotency keys), so an activity retried after a lost response, or replayed,
never creates a second record.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

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
    LoadRulesInput,
    NotifyInput,
    NotifyOutput,
    ResolveIdentityInput,
    RollbackInput,
    RollbackOutput,
    SendEmailInput,
    SentEmail,
    SupportIdentity,
    SupportInput,
    ValidatePayloadInput,
    ValidatePayloadOutput,
    VerifyInput,
    VerifyOutput,
)
from onboarding.domain import keys
from onboarding.domain.errors import ErrorType, VendorFailure
from onboarding.domain.payload import OnboardingPayload
from onboarding.domain.routing import Assignment, assign
from onboarding.domain.rules import RulesError, RulesSnapshot, load_rules
from onboarding.domain.run import MatchCandidate, QaCheck
from onboarding.domain.validation import find_problems
from onboarding.integrations.hubspot import ambiguous
from onboarding.integrations.settings import Vendors

P = ParamSpec("P")
R = TypeVar("R")

COMPANY_PROPERTIES = ["name", "domain", "onboarding_transaction_id"]


def application_error(failure: VendorFailure, **extra: Any) -> ApplicationError:
    """The Temporal form of a classified vendor failure."""
    details = {
        "system": failure.system,
        "http_status": failure.http_status,
        "fields": list(failure.fields),
        "attempt": activity.info().attempt if activity.in_activity() else None,
        **extra,
    }
    return ApplicationError(
        str(failure),
        details,
        type=failure.error_type.value,
        non_retryable=not failure.retryable,
        next_retry_delay=(
            timedelta(seconds=failure.retry_after_seconds)
            if failure.retry_after_seconds is not None
            else None
        ),
    )


def vendor_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise every :class:`VendorFailure` as an ``ApplicationError`` of the shared taxonomy."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except VendorFailure as failure:
            activity.logger.warning(
                "vendor call failed",
                extra={
                    "system": failure.system,
                    "error_type": failure.error_type.value,
                    "http_status": failure.http_status,
                    "attempt": activity.info().attempt,
                },
            )
            raise application_error(failure) from None

    return wrapper


class OnboardingActivities:
    """Activities bound to the vendor clients of one worker process.

    Args:
        vendors: The vendor clients.
        rules_path: The rules file; None means the configured one.
    """

    def __init__(self, vendors: Vendors, *, rules_path: Path | None = None) -> None:
        self.vendors = vendors
        self.rules_path = rules_path

    @activity.defn
    async def load_rules(self, request: LoadRulesInput) -> RulesSnapshot:
        """Load and validate the rules file the run will keep for its whole life."""
        path = Path(request.path) if request.path else self.rules_path
        try:
            return load_rules(path)
        except RulesError as exc:
            raise ApplicationError(str(exc), type=ErrorType.VALIDATION_ERROR.value) from None

    @activity.defn
    async def validate_payload(self, request: ValidatePayloadInput) -> ValidatePayloadOutput:
        """The required-fields gate: all problems by path, or the normalised payload."""
        problems = find_problems(request.payload)
        if problems:
            return ValidatePayloadOutput(problems=problems)
        payload = OnboardingPayload.model_validate(request.payload)
        return ValidatePayloadOutput(problems=[], payload=payload.model_dump(mode="json"))

    @activity.defn
    @vendor_errors
    async def resolve_crm_identity(self, request: ResolveIdentityInput) -> CrmIdentity:
        """Get-or-create the CRM company (by domain; several matches are never auto-picked) and the
        primary contact (by email; a 409 duplicate is a "get"), then associate them."""
        crm = self.vendors.crm
        company_created = False
        candidates_seen = 1
        if request.chosen_company_id:
            company = await crm.get("companies", request.chosen_company_id)
            company_id = str(company["id"])
        else:
            matches = await crm.search("companies", {"domain": request.domain}, COMPANY_PROPERTIES)
            candidates_seen = len(matches)
            if len(matches) > 1:
                candidates = [
                    MatchCandidate(
                        id=str(m["id"]),
                        name=str(m.get("properties", {}).get("name") or ""),
                        domain=m.get("properties", {}).get("domain"),
                    ).model_dump()
                    for m in matches
                ]
                raise application_error(
                    ambiguous(crm.system, request.domain, len(matches)), candidates=candidates
                )
            if matches:
                company_id = str(matches[0]["id"])
            else:
                company = await crm.create(
                    "companies",
                    {
                        "name": request.legal_name,
                        "domain": request.domain,
                        "onboarding_transaction_id": request.transaction_id,
                    },
                )
                company_id = str(company["id"])
                company_created = True
        contacts = await crm.search("contacts", {"email": request.contact_email}, ["email"])
        if contacts:
            contact_id, contact_created = str(contacts[0]["id"]), False
        else:
            first, _, last = request.contact_name.partition(" ")
            contact_id, contact_created = await crm.create_contact(
                {"email": request.contact_email, "firstname": first, "lastname": last}
            )
        await crm.associate("contacts", contact_id, "companies", company_id)
        return CrmIdentity(
            company_id=company_id,
            contact_id=contact_id,
            company_created=company_created,
            contact_created=contact_created,
            candidates_seen=candidates_seen,
        )

    @activity.defn
    @vendor_errors
    async def update_crm_onboarding(self, request: CrmOnboardingUpdate) -> CrmUpdated:
        """Record onboarding status, transaction ID and implementation owner on the company."""
        properties = {
            "onboarding_status": request.status,
            "onboarding_transaction_id": request.transaction_id,
            "implementation_owner": request.implementation_owner,
        }
        company = await self.vendors.crm.update("companies", request.company_id, properties)
        return CrmUpdated(
            company_id=request.company_id,
            properties={
                k: str(v) for k, v in company.get("properties", {}).items() if k in properties
            },
        )

    @activity.defn
    @vendor_errors
    async def create_delivery_project(self, request: DeliveryProjectInput) -> DeliveryProject:
        """Get-or-create the delivery project from the tier's template, then its standard tasks."""
        asana = self.vendors.projects
        settings = self.vendors.settings
        marker = f"[{request.transaction_id}]"
        project = await asana.find_project(settings.asana_workspace_gid, marker)
        created = project is None
        if project is None:
            job = await asana.instantiate_template(
                request.template_gid,
                name=keys.project_name(request.legal_name, request.transaction_id),
                team_gid=settings.asana_team_gid,
            )
            while job.get("status") not in ("succeeded", "failed"):
                activity.heartbeat(job.get("gid"))
                await asyncio.sleep(0.5)
                job = await asana.get_job(str(job["gid"]))
            if job["status"] == "failed":
                raise ApplicationError(
                    f"asana: project template {request.template_gid} could not be instantiated",
                    type=ErrorType.SERVER_ERROR.value,
                )
            project = job["new_project"]
        project_gid = str(project["gid"])
        template_tasks = await asana.project_tasks(project_gid)
        task_gids: dict[str, str] = {}
        for task in request.tasks:
            task_gids[task.key] = await asana.get_or_create_task(
                project_gid=project_gid,
                external_gid=keys.task_external_gid(request.transaction_id, task.key),
                name=task.name,
                due_on=task.due_on,
                notes=f"Onboarding {request.transaction_id}, HubSpot company {request.crm_company_id}",
            )
        standard = set(task_gids.values())
        return DeliveryProject(
            project_gid=project_gid,
            created=created,
            task_gids=task_gids,
            template_task_count=len([t for t in template_tasks if t.get("gid") not in standard]),
        )

    @activity.defn
    @vendor_errors
    async def provision_support(self, request: SupportInput) -> SupportIdentity:
        """Create or update the support organization and the primary contact as its end user."""
        zendesk = self.vendors.support
        org, org_created = await zendesk.upsert_organization(
            external_id=keys.support_org_external_id(request.crm_company_id),
            name=request.legal_name,
            domain=request.domain,
        )
        user, user_created = await zendesk.upsert_user(
            external_id=keys.support_user_external_id(request.crm_contact_id),
            name=request.contact_name,
            email=request.contact_email,
            organization_id=int(org["id"]),
        )
        return SupportIdentity(
            organization_id=int(org["id"]),
            user_id=int(user["id"]),
            organization_created=org_created,
            user_created=user_created,
        )

    @activity.defn
    @vendor_errors
    async def create_kickoff_link(self, request: KickoffLinkInput) -> KickoffLink:
        """A single-use kickoff scheduling link."""
        url = await self.vendors.scheduling.create_single_use_link(
            self.vendors.settings.calendly_event_type_uri
        )
        return KickoffLink(booking_url=url)

    @activity.defn
    @vendor_errors
    async def send_email(self, request: SendEmailInput) -> SentEmail:
        """Send or schedule one email; its idempotency key is the transaction and the step."""
        email_id = await self.vendors.email.send(
            idempotency_key=keys.idempotency_key(request.transaction_id, "email", request.key),
            sender=self.vendors.settings.resend_from,
            to=request.to,
            subject=request.subject,
            text=request.text,
            tags={"transaction": keys.tag_value(request.transaction_id), "step": request.key},
            scheduled_at=request.scheduled_at,
        )
        return SentEmail(key=request.key, email_id=email_id)

    @activity.defn
    async def assign_owner(self, request: AssignOwnerInput) -> Assignment:
        """Pick the case owner within a team: round-robin over the team's runs so far, or the
        member with the fewest open runs under capacity (counted in Temporal's visibility)."""
        client = activity.client()
        members = request.team.members
        note = ""
        try:
            assigned = (
                await client.count_workflows(f"OnboardingTeam = '{request.team_name}'")
            ).count
            open_counts: dict[str, int] = {}
            if request.team.assignment == "capacity":
                for member in members:
                    query = f"CaseOwner = '{member}' AND ExecutionStatus = 'Running'"
                    open_counts[member] = (await client.count_workflows(query)).count
        except RPCError as exc:
            # Visibility cannot count here: spread by the transaction ID instead, and say so.
            digest = request.transaction_id.encode()
            assigned = sum(digest) % len(members)
            open_counts = {}
            note = f" (visibility count unavailable: {exc.message})"
        result = assign(
            request.team_name, request.team, assigned_so_far=assigned, open_counts=open_counts
        )
        return result.model_copy(update={"reason": result.reason + note})

    @activity.defn
    @vendor_errors
    async def notify(self, request: NotifyInput) -> NotifyOutput:
        """An alert by email (idempotent per key) and to the chat webhook."""
        email_id = await self.vendors.email.send(
            idempotency_key=keys.idempotency_key(request.transaction_id, "notify", request.key),
            sender=self.vendors.settings.resend_from,
            to=request.recipients,
            subject=request.subject,
            text=request.text,
            tags={"transaction": keys.tag_value(request.transaction_id), "step": "alert"},
        )
        if request.chat:
            await self.vendors.chat.post(f"*{request.subject}*\n{request.text}")
        return NotifyOutput(email_id=email_id, chat_posted=request.chat)

    @activity.defn
    @vendor_errors
    async def create_change_order_tasks(self, request: ChangeOrderInput) -> ChangeOrderOutput:
        """Get-or-create one change-order task per item in the delivery project."""
        gids = [
            await self.vendors.projects.get_or_create_task(
                project_gid=request.project_gid,
                external_gid=keys.task_external_gid(
                    request.transaction_id, f"change-{request.request_id}-{n}"
                ),
                name=f"Change order: {item}",
                due_on=request.due_on,
                notes=f"Scope change {request.request_id} of {request.transaction_id}",
            )
            for n, item in enumerate(request.items, start=1)
        ]
        return ChangeOrderOutput(task_gids=gids)

    @activity.defn
    @vendor_errors
    async def roll_back(self, request: RollbackInput) -> RollbackOutput:
        """Archive or close what a cancelled run created, newest first. Records the run only
        matched (an existing CRM company or contact) are kept, and marked cancelled."""
        linked = request.linked
        v = self.vendors
        done: list[str] = []
        for email_key, email_id in reversed(list(linked.email_ids.items())):
            await v.email.cancel(email_id)
            done.append(f"resend: cancelled email {email_key} ({email_id}) if still scheduled")
        if linked.support_user_id and "support_user" in linked.created:
            await v.support.delete_user(linked.support_user_id)
            done.append(f"zendesk: deleted user {linked.support_user_id}")
        if linked.support_org_id and "support_org" in linked.created:
            await v.support.delete_organization(linked.support_org_id)
            done.append(f"zendesk: deleted organization {linked.support_org_id}")
        if linked.project_gid:
            await v.projects.archive_project(linked.project_gid)
            done.append(f"asana: archived project {linked.project_gid}")
        if linked.crm_contact_id and "crm_contact" in linked.created:
            await v.crm.archive("contacts", linked.crm_contact_id)
            done.append(f"hubspot: archived contact {linked.crm_contact_id}")
        if linked.crm_company_id:
            if "crm_company" in linked.created:
                await v.crm.archive("companies", linked.crm_company_id)
                done.append(f"hubspot: archived company {linked.crm_company_id}")
            else:
                await v.crm.update(
                    "companies", linked.crm_company_id, {"onboarding_status": "cancelled"}
                )
                done.append(
                    f"hubspot: kept existing company {linked.crm_company_id}, "
                    "onboarding_status=cancelled"
                )
        return RollbackOutput(actions=done)

    @activity.defn
    async def verify_linked_records(self, request: VerifyInput) -> VerifyOutput:
        """The automated readiness gate: every linked record exists in its system."""
        linked = request.linked
        v = self.vendors

        async def check(name: str, ok_when: Callable[[], Awaitable[str]]) -> QaCheck:
            if name in request.not_automated:
                return QaCheck(
                    name=name, ok=True, detail=f"not checked: step is {request.not_automated[name]}"
                )
            try:
                return QaCheck(name=name, ok=True, detail=await ok_when())
            except VendorFailure as failure:
                if failure.retryable:
                    raise application_error(failure) from None
                return QaCheck(name=name, ok=False, detail=str(failure))

        async def company() -> str:
            data = await v.crm.get("companies", str(linked.crm_company_id))
            return f"company {data['id']}"

        async def contact() -> str:
            data = await v.crm.get("contacts", str(linked.crm_contact_id))
            return f"contact {data['id']}"

        async def project() -> str:
            data = await v.projects.get_project(str(linked.project_gid))
            if data.get("archived"):
                raise VendorFailure(ErrorType.NOT_FOUND, "asana", "project is archived")
            tasks = await v.projects.project_tasks(str(linked.project_gid))
            if len(tasks) < request.expected_tasks:
                raise VendorFailure(
                    ErrorType.NOT_FOUND,
                    "asana",
                    f"project has {len(tasks)} tasks, expected at least {request.expected_tasks}",
                )
            return f"project {data['gid']} with {len(tasks)} tasks"

        async def org() -> str:
            data = await v.support.get_organization(int(linked.support_org_id or 0))
            return f"organization {data['id']}"

        async def user() -> str:
            data = await v.support.get_user(int(linked.support_user_id or 0))
            return f"user {data['id']}"

        async def emails() -> str:
            for email_id in linked.email_ids.values():
                await v.email.get(email_id)
            return f"{len(linked.email_ids)} emails"

        async def link() -> str:
            if not linked.scheduling_link:
                raise VendorFailure(ErrorType.NOT_FOUND, "calendly", "no kickoff link")
            return linked.scheduling_link

        checks = [
            await check("crm-company", company),
            await check("crm-contact", contact),
            await check("delivery-project", project),
            await check("support-organization", org),
            await check("support-user", user),
            await check("kickoff-link", link),
            await check("welcome-emails", emails),
        ]
        return VerifyOutput(checks=checks)
