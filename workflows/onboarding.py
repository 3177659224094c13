"""The onboarding workflow: one paid or signed event, one durable run, live or parked in front of a
named human.

Workflow ID = transaction ID. Stages run in the brief's order; no delivery project is ever created
before the CRM company ID is confirmed. A step that cannot proceed (retries exhausted, or a
non-retryable failure) opens an exception item, upserts the queue's search attributes and waits
for a person to resolve it through the ``resolve`` update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities import (
        AlertActivities,
        CrmActivities,
        CustomerActivities,
        DeliveryActivities,
        QaActivities,
        RollbackActivities,
        RunSetupActivities,
        SupportActivities,
    )
    from activities.models import (
        AssignOwnerInput,
        ChangeOrderInput,
        CrmIdentity,
        CrmOnboardingUpdate,
        DeliveryProject,
        DeliveryProjectInput,
        KickoffLink,
        KickoffLinkInput,
        LoadRulesInput,
        NotifyInput,
        ResolveIdentityInput,
        RollbackInput,
        SendEmailInput,
        SentEmail,
        StandardTaskSpec,
        SupportIdentity,
        SupportInput,
        ValidatePayloadInput,
        VerifyInput,
        VerifyOutput,
    )
    from onboarding.domain import keys
    from onboarding.domain.calendar import add_business_days
    from onboarding.domain.errors import NON_RETRYABLE_ERROR_TYPES, Category, category_for
    from onboarding.domain.payload import OnboardingPayload
    from onboarding.domain.routing import RoutingError, route_team
    from onboarding.domain.rules import RulesSnapshot, StepMode, TierRules
    from onboarding.domain.run import (
        AuditEntry,
        ExceptionItem,
        LinkedRecords,
        ManualTask,
        MatchCandidate,
        NoticeRecord,
        OnboardingInput,
        OnboardingResult,
        QaCheck,
        RunStatus,
        ScopeChange,
        SignOff,
        SlaState,
        StageEntry,
    )
    from onboarding.domain.sla import Deadlines, deadlines
    from onboarding.domain.stages import Stage
    from onboarding.domain.validation import FieldProblem, find_problems, missing_paths
    from workflows import search_attributes as sa
    from workflows.messages import (
        JUSTIFIED_ACTIONS,
        CancelRequest,
        CancelResult,
        PaymentFailed,
        PaymentSucceeded,
        ResolveRequest,
        ResolveResult,
        SafeAction,
        ScopeChangeRequest,
        ScopeChangeResult,
        SignOffRequest,
        SignOffResult,
    )

M = TypeVar("M", bound=BaseModel)

WORKER_ACTOR = "onboarding-worker"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
#: The brief: 5xx goes to a human after the attempts run out or 30+ minutes.
STEP_DEADLINE = timedelta(minutes=30)
#: Attempts of a vendor call that has no retry budget (alerts, change orders, rollback).
UNBUDGETED_ATTEMPTS = 5
#: The SLA watcher wakes at least this often, even with nothing due (timers always time out).
SLA_WATCH_MAX_SLEEP = timedelta(days=1)
#: Stage order, to know whether a run has left a stage (its stage SLA then stops).
STAGE_ORDER = [
    Stage.RECEIVED,
    Stage.VALIDATING,
    Stage.AWAITING_DATA,
    Stage.MATCHING,
    Stage.PROVISIONING,
    Stage.KICKOFF,
    Stage.WELCOME,
    Stage.QA,
    Stage.LIVE,
]
#: Quality checks that belong to each step, for steps the rules do not automate.
STEP_CHECKS = {
    "crm": ["crm-company", "crm-contact"],
    "project": ["delivery-project"],
    "support": ["support-organization", "support-user"],
    "kickoff": ["kickoff-link"],
    "welcome": ["welcome-emails"],
}


#: Stages a person may replay from, in order.
REPLAYABLE_STAGES = (Stage.MATCHING, Stage.PROVISIONING, Stage.KICKOFF, Stage.WELCOME, Stage.QA)


class RunCancelled(Exception):
    """A person cancelled the run."""


class ReplayFrom(Exception):
    """A person asked to rerun the stages from ``stage`` on (every step is a get-or-create)."""

    def __init__(self, stage: Stage) -> None:
        super().__init__(stage.value)
        self.stage = stage


@workflow.defn
class OnboardingWorkflow:
    """One client onboarding, from the paid or signed event to live."""

    @workflow.init
    def __init__(self, request: OnboardingInput) -> None:
        self._input = request
        self._stage = Stage.RECEIVED
        self._stages: list[StageEntry] = []
        self._audit: list[AuditEntry] = []
        self._linked = LinkedRecords()
        self._rules: RulesSnapshot | None = None
        self._payload: OnboardingPayload | None = None
        self._case_owner = WORKER_ACTOR
        self._open: ExceptionItem | None = None
        self._exceptions: list[ExceptionItem] = []
        self._resolution: ResolveRequest | None = None
        self._qa: list[QaCheck] = []
        self._payment_failure: PaymentFailed | None = None
        self._document: dict[str, Any] = dict(request.payload)
        self._cancel: CancelRequest | None = None
        self._team: str | None = None
        self._escalation_owner: str | None = None
        self._notices: list[NoticeRecord] = []
        self._sent: set[str] = set()
        self._sla_version = 0
        self._done = False
        self._manual_tasks: list[ManualTask] = []
        self._awaiting: str | None = None
        self._sign_off: SignOff | None = None
        self._scope_changes: list[ScopeChange] = []
        self._pending_scope: ScopeChange | None = None
        self._sla_on = False

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, request: OnboardingInput) -> OnboardingResult:
        """Drive the run through every stage, or park it in front of a person."""
        self._rules = await workflow.execute_activity_method(
            RunSetupActivities.load_rules,
            LoadRulesInput(),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RetryPolicy(
                maximum_attempts=3, non_retryable_error_types=["ValidationError"]
            ),
        )
        self._case_owner = self._rules.rules.owners.process_owner
        self._enter(Stage.RECEIVED, self._case_owner, at=request.received_at)
        self._record(
            "rules-loaded",
            f"rules {self._rules.version} ({self._rules.source}, sha256 {self._rules.sha256[:12]})",
            version=self._rules.version,
            sha256=self._rules.sha256,
        )
        watcher: asyncio.Task[None] | None = None
        self._sla_on = workflow.patched("sla-watch")
        if self._sla_on:
            watcher = asyncio.create_task(self._watch_slas())
        try:
            await self._validate()
            tier = self._tier()
            await self._assign_case_owner(tier)
            await self._run_stages(tier)
            await self._checkpoint()
            await self._go_live()
        except RunCancelled:
            await self._cancel_run()
        self._done = True
        self._sla_changed()
        if watcher is not None:
            await watcher
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OnboardingResult(
            transaction_id=request.transaction_id,
            stage=self._stage,
            linked=self._linked,
            manual_exceptions=len(self._exceptions),
        )

    async def _assign_case_owner(self, tier: TierRules) -> None:
        """Route the run to a team and a case owner (rules), or the tier's owner (old rules)."""
        rules = self._rules_or_fail().rules
        payload = self._payload_or_fail()
        if rules.routing and workflow.patched("owner-routing"):
            try:
                team_name = route_team(
                    rules.routing,
                    tier=payload.customer.tier.value,
                    region=payload.customer.region,
                    segment=payload.customer.segment,
                )
            except RoutingError as exc:
                raise ApplicationError(str(exc), non_retryable=True) from None
            assignment = await workflow.execute_activity_method(
                RunSetupActivities.assign_owner,
                AssignOwnerInput(
                    transaction_id=self._input.transaction_id,
                    team_name=team_name,
                    team=rules.teams[team_name],
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            self._team = assignment.team
            self._case_owner = assignment.owner
            self._escalation_owner = assignment.escalation_owner
            reason = assignment.reason
            workflow.upsert_search_attributes([sa.TEAM.value_set(assignment.team)])
        else:
            self._case_owner = str(tier.implementation_owner)
            self._escalation_owner = tier.escalation_owner
            reason = f"tier {payload.customer.tier.value}"
        self._record(
            "case-owner-assigned",
            f"case owner {self._case_owner}, escalation owner {self._escalation_owner} ({reason})",
            owner=self._case_owner,
        )

    async def _run_stages(self, tier: TierRules) -> None:
        """The stages in order; a person's ``replay-from`` restarts them at an earlier stage."""
        phases = {
            Stage.MATCHING: self._match,
            Stage.PROVISIONING: self._provision,
            Stage.KICKOFF: self._kickoff,
            Stage.WELCOME: self._welcome,
            Stage.QA: self._qa_gate,
        }
        order = list(phases)
        index = 0
        while index < len(order):
            await self._checkpoint()
            try:
                await phases[order[index]](tier)
                index += 1
            except ReplayFrom as replay:
                index = order.index(replay.stage)
                self._record("replay", f"rerunning from {replay.stage.value}")

    def _check_cancel(self) -> None:
        if self._cancel is not None:
            raise RunCancelled

    async def _checkpoint(self) -> None:
        """Between steps: a cancel ends the run, a scope change freezes it until approved."""
        self._check_cancel()
        change = self._pending_scope
        if change is None:
            return
        rules = self._rules_or_fail().rules
        if self._linked.project_gid and not change.task_gids:
            outcome = await workflow.execute_activity_method(
                DeliveryActivities.create_change_order_tasks,
                ChangeOrderInput(
                    transaction_id=self._input.transaction_id,
                    project_gid=self._linked.project_gid,
                    request_id=change.id,
                    items=change.items,
                    due_on=add_business_days(workflow.now().date(), 2).isoformat(),
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._retry_policy(),
            )
            change.task_gids = outcome.task_gids
            self._record("change-order-tasks", f"{len(outcome.task_gids)} task(s) for {change.id}")
        approvers = (
            ", ".join(rules.roles.get("scope-approver", [])) or "(nobody holds scope-approver)"
        )
        item = self._open_item(
            step=f"scope-change:{change.id}",
            system="delivery",
            category=Category.SCOPE_CHANGE,
            message=f"scope change requested by {change.requested_by}: {change.reason} "
            f"({'; '.join(change.items)}). Work and billing are on hold until a scope approver "
            f"({approvers}) approves.",
            owner=rules.route_exception(
                Category.SCOPE_CHANGE,
                deal_owner=self._deal_owner(self._document),
                case_owner=self._case_owner,
            ),
            actions=[SafeAction.APPROVE, SafeAction.REASSIGN, SafeAction.CANCEL],
        )
        if self._sla_on:
            await self._notify_now(
                key=f"scope:{change.id}",
                kind="billing-hold",
                recipients=[rules.owners.process_owner, item.owner],
                subject=f"Hold billing: scope change on {self._customer()[0]}",
                text=item.message,
            )
        resolution = await self._wait_for_resolution(item)
        change.decision = f"{resolution.action.value} by {resolution.actor}: {resolution.reason}"
        self._pending_scope = None

    async def _cancel_run(self) -> None:
        """Roll back what this run created (unless asked not to), then end cancelled."""
        request = self._cancel or CancelRequest(actor=WORKER_ACTOR, reason="cancelled")
        if request.rollback and self._linked.model_dump(exclude_defaults=True):
            outcome = await workflow.execute_activity_method(
                RollbackActivities.roll_back,
                RollbackInput(transaction_id=self._input.transaction_id, linked=self._linked),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=self._retry_policy(),
            )
            for line in outcome.actions:
                self._record("rollback", line)
        self._enter(Stage.CANCELLED, self._case_owner)
        self._record(
            "cancelled",
            f"cancelled by {request.actor}: {request.reason}"
            + ("" if request.rollback else " (no rollback)"),
            actor=request.actor,
        )

    async def _validate(self) -> None:
        """The required-fields gate: park in awaiting-data with the field list until complete."""
        self._enter(Stage.VALIDATING, self._rules_or_fail().rules.owners.sales_ops)
        while True:
            self._check_cancel()
            outcome = await workflow.execute_activity_method(
                RunSetupActivities.validate_payload,
                ValidatePayloadInput(payload=self._document),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            problems = outcome.problems
            if outcome.payload is not None:
                tier_name = str(outcome.payload["customer"]["tier"])
                tier_rules = self._rules_or_fail().rules.tiers.get(tier_name)
                problems = missing_paths(
                    outcome.payload,
                    tier_rules.required_inputs if tier_rules else [],
                    f"required for the {tier_name} tier",
                )
                if not problems:
                    self._payload = OnboardingPayload.model_validate(outcome.payload)
                    self._record("payload-valid", "every required field present and valid")
                    self._upsert_customer()
                    return
            self._record(
                "payload-incomplete",
                "missing or invalid: " + ", ".join(p.path for p in problems),
            )
            owner = self._deal_owner(self._document)
            self._enter(Stage.AWAITING_DATA, owner)
            item = self._open_item(
                step="validate_payload",
                system="intake",
                category=Category.MISSING_DATA,
                message=f"{len(problems)} required field(s) missing or invalid",
                owner=owner,
                missing_fields=problems,
                actions=[SafeAction.SUPPLY_DATA, SafeAction.REASSIGN, SafeAction.CANCEL],
            )
            await self._wait_for_resolution(item)
            self._enter(Stage.VALIDATING, self._rules_or_fail().rules.owners.sales_ops)

    async def _match(self, tier: TierRules) -> None:
        payload = self._payload_or_fail()
        self._enter(Stage.MATCHING, self._case_owner)
        request = ResolveIdentityInput(
            transaction_id=self._input.transaction_id,
            legal_name=payload.customer.legal_name,
            domain=payload.customer.domain,
            contact_name=payload.primary_contact.name,
            contact_email=payload.primary_contact.email,
            crm_owner=payload.crm_owner,
        )
        identity = await self._step(
            "resolve_crm_identity",
            "hubspot",
            CrmActivities.resolve_crm_identity,
            request,
            CrmIdentity,
            mode=tier.steps.crm,
        )
        if identity is None:
            return  # crm is a manual task or off (rules): nothing downstream may be automated
        self._linked.crm_company_id = identity.company_id
        self._linked.crm_contact_id = identity.contact_id
        if identity.company_created:
            self._created("crm_company")
        if identity.contact_created:
            self._created("crm_contact")
        self._record(
            "crm-identity-resolved",
            f"company {identity.company_id} ({'created' if identity.company_created else 'matched'}"
            f"), contact {identity.contact_id} "
            f"({'created' if identity.contact_created else 'matched'})",
            company_id=identity.company_id,
            contact_id=identity.contact_id,
        )
        await self._step(
            "update_crm_onboarding",
            "hubspot",
            CrmActivities.update_crm_onboarding,
            CrmOnboardingUpdate(
                company_id=identity.company_id,
                transaction_id=self._input.transaction_id,
                status="onboarding",
                implementation_owner=self._case_owner,
            ),
            BaseModel,
            mode=tier.steps.crm,
        )

    async def _provision(self, tier: TierRules) -> None:
        payload = self._payload_or_fail()
        company_id = self._linked.crm_company_id
        self._enter(Stage.PROVISIONING, self._case_owner)
        if not company_id:  # the rule that prevents orphan projects
            if StepMode.AUTOMATED in (tier.steps.project, tier.steps.support):
                raise ApplicationError(
                    "no confirmed CRM company ID before provisioning", non_retryable=True
                )
            company_id = ""
        today = workflow.now().date()
        project = await self._step(
            "create_delivery_project",
            "asana",
            DeliveryActivities.create_delivery_project,
            DeliveryProjectInput(
                transaction_id=self._input.transaction_id,
                crm_company_id=company_id,
                legal_name=payload.customer.legal_name,
                template_gid=tier.project_template_gid,
                tasks=[
                    StandardTaskSpec(
                        key=t.key,
                        name=t.name,
                        due_on=add_business_days(today, t.due_business_days).isoformat(),
                    )
                    for t in tier.standard_tasks
                ],
            ),
            DeliveryProject,
            mode=tier.steps.project,
        )
        if project is not None:
            self._linked.project_gid = project.project_gid
            if project.created:
                self._created("project")
            self._linked.task_gids = dict(project.task_gids)
            self._record(
                "delivery-project-ready",
                f"project {project.project_gid} from template {tier.project_template_gid} "
                f"({project.template_task_count} template tasks, {len(project.task_gids)} standard)",
                project_gid=project.project_gid,
            )
        support = await self._step(
            "provision_support",
            "zendesk",
            SupportActivities.provision_support,
            SupportInput(
                crm_company_id=company_id,
                crm_contact_id=str(self._linked.crm_contact_id),
                legal_name=payload.customer.legal_name,
                domain=payload.customer.domain,
                contact_name=payload.primary_contact.name,
                contact_email=payload.primary_contact.email,
            ),
            SupportIdentity,
            mode=tier.steps.support,
        )
        if support is not None:
            self._linked.support_org_id = support.organization_id
            self._linked.support_user_id = support.user_id
            if support.organization_created:
                self._created("support_org")
            if support.user_created:
                self._created("support_user")
            self._record(
                "support-identity-ready",
                f"organization {support.organization_id}, user {support.user_id}",
            )

    async def _hold_while_payment_failed(self) -> None:
        """Payment failed: pause before scheduling, in front of revenue operations, until billing
        reports a successful payment or a person acts."""
        failure = self._payment_failure
        if failure is None:
            return
        item = self._open_item(
            step="payment",
            system="stripe",
            category=Category.PAYMENT_FAILED,
            message=f"payment failed for invoice {failure.invoice_id}"
            + (f": {failure.reason}" if failure.reason else ""),
            owner=self._rules_or_fail().rules.owners.process_owner,
            actions=[SafeAction.SKIP, SafeAction.REASSIGN, SafeAction.CANCEL],
        )
        await self._wait_for_resolution(
            item, unless=lambda: self._payment_failure is None, unless_reason="payment succeeded"
        )

    async def _kickoff(self, tier: TierRules) -> None:
        await self._hold_while_payment_failed()
        self._enter(Stage.KICKOFF, self._case_owner)
        if self._linked.scheduling_link:
            # Calendly has no idempotency key: the run's state is the mapping to what exists.
            self._record("kickoff-link-reused", self._linked.scheduling_link)
            return
        link = await self._step(
            "create_kickoff_link",
            "calendly",
            CustomerActivities.create_kickoff_link,
            KickoffLinkInput(transaction_id=self._input.transaction_id),
            KickoffLink,
            mode=tier.steps.kickoff,
        )
        if link is not None:
            self._linked.scheduling_link = link.booking_url
            self._record("kickoff-link-created", link.booking_url)

    async def _welcome(self, tier: TierRules) -> None:
        payload = self._payload_or_fail()
        self._enter(Stage.WELCOME, self._case_owner)
        values = {
            "customer": payload.customer.legal_name,
            "contact_name": payload.primary_contact.name,
            "booking_url": self._linked.scheduling_link or "(your case owner will send a link)",
            "case_owner": self._case_owner,
            "plan": payload.plan.sku,
        }
        now = workflow.now()
        for email in tier.welcome_sequence:
            if email.key in self._linked.email_ids:
                continue  # sent by an earlier pass (replay-from): never twice
            subject, text = email.render(values)
            sent = await self._step(
                f"send_email:{email.key}",
                "resend",
                CustomerActivities.send_email,
                SendEmailInput(
                    transaction_id=self._input.transaction_id,
                    key=email.key,
                    to=payload.primary_contact.email,
                    subject=subject,
                    text=text,
                    scheduled_at=(
                        now + timedelta(days=email.send_after_days)
                        if email.send_after_days
                        else None
                    ),
                ),
                SentEmail,
                mode=tier.steps.welcome,
            )
            if sent is not None:
                self._linked.email_ids[email.key] = sent.email_id
                self._record(
                    "email-sent" if not email.send_after_days else "email-scheduled",
                    f"{email.key}: {subject}",
                    email_id=sent.email_id,
                )

    async def _qa_gate(self, tier: TierRules) -> None:
        """Automated readiness checks: every linked record exists in its system."""
        self._enter(Stage.QA, self._case_owner)
        while True:
            report = await self._step(
                "verify_linked_records",
                "qa",
                QaActivities.verify_linked_records,
                VerifyInput(
                    linked=self._linked,
                    expected_tasks=len(tier.standard_tasks),
                    not_automated={
                        check: mode.value
                        for step, mode in tier.steps.model_dump().items()
                        if mode != StepMode.AUTOMATED
                        for check in STEP_CHECKS[step]
                    },
                ),
                VerifyOutput,
            )
            if report is None:
                await self._await_sign_off(tier)
                return
            self._qa = report.checks
            failed = [c for c in report.checks if not c.ok]
            for check in report.checks:
                self._record(
                    "qa-check", f"{check.name}: {'pass' if check.ok else 'FAIL'} {check.detail}"
                )
            if not failed:
                await self._await_sign_off(tier)
                return
            item = self._open_item(
                step="verify_linked_records",
                system="qa",
                category=Category.QA_FAILED,
                message="; ".join(f"{c.name}: {c.detail}" for c in failed),
                owner=self._case_owner,
                actions=[
                    SafeAction.RETRY,
                    SafeAction.REPLAY_FROM,
                    SafeAction.SKIP,
                    SafeAction.REASSIGN,
                    SafeAction.CANCEL,
                ],
            )
            resolution = await self._wait_for_resolution(item)
            if resolution.action == SafeAction.REPLAY_FROM and resolution.stage:
                raise ReplayFrom(Stage(resolution.stage))
            if resolution.action == SafeAction.SKIP:
                await self._await_sign_off(tier)
                return

    async def _await_sign_off(self, tier: TierRules) -> None:
        """The manual QA gate: where the tier asks for it, a permitted role signs off."""
        if not tier.qa_sign_off_roles or self._sign_off is not None:
            return
        roles = ", ".join(tier.qa_sign_off_roles)
        self._awaiting = f"QA sign-off by a member of: {roles}"
        self._record("awaiting-sign-off", self._awaiting)
        workflow.set_current_details(
            f"**Waiting for QA sign-off** by a member of: {roles}.\n\n"
            f"`onboarding sign-off {self._input.transaction_id} --actor YOU`"
        )
        self._sla_changed()
        await workflow.wait_condition(
            lambda: self._sign_off is not None or self._cancel is not None
        )
        self._awaiting = None
        workflow.set_current_details("")
        self._check_cancel()

    async def _go_live(self) -> None:
        tier = self._tier()
        await self._step(
            "update_crm_onboarding:live",
            "hubspot",
            CrmActivities.update_crm_onboarding,
            CrmOnboardingUpdate(
                company_id=str(self._linked.crm_company_id),
                transaction_id=self._input.transaction_id,
                status="live",
                implementation_owner=self._case_owner,
            ),
            BaseModel,
            mode=tier.steps.crm,
        )
        self._enter(Stage.LIVE, self._case_owner)
        self._record("live", "setup, customer communication and ownership handoff complete")

    # ------------------------------------------------------------------ steps and exceptions

    async def _step(
        self,
        step: str,
        system: str,
        activity: Any,
        arg: BaseModel,
        result_type: type[M],
        *,
        mode: StepMode = StepMode.AUTOMATED,
    ) -> M | None:
        """Run one side-effecting step with the brief's retry policy.

        When it cannot proceed, open an exception item and wait for a person: ``retry`` runs it
        again, ``skip`` returns None, ``cancel`` ends the run, ``choose-match`` retries with the
        chosen CRM company.
        """
        if mode != StepMode.AUTOMATED:
            await self._not_automated(step, system, mode)
            return None
        while True:
            await self._checkpoint()
            try:
                return await workflow.execute_activity_method(  # type: ignore[no-any-return]
                    activity,
                    arg,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    # The retry budget: transient failures retry until it runs out.
                    schedule_to_close_timeout=timedelta(
                        minutes=self._rules_or_fail().rules.retry.budget_minutes
                    ),
                    heartbeat_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._retry_policy(within_budget=True),
                    summary=step,
                )
            except ActivityError as err:
                cause = _last_failure(err)
                error_type = cause.type if isinstance(cause, ApplicationError) else None
                details = _details(cause)
                category = category_for(error_type)
                actions = [
                    SafeAction.RETRY,
                    SafeAction.REPLAY_FROM,
                    SafeAction.SKIP,
                    SafeAction.REASSIGN,
                    SafeAction.CANCEL,
                ]
                candidates = [
                    MatchCandidate.model_validate(c) for c in details.get("candidates", [])
                ]
                if category == Category.AMBIGUOUS_MATCH:
                    actions = [
                        SafeAction.CHOOSE_MATCH,
                        SafeAction.RETRY,
                        SafeAction.REASSIGN,
                        SafeAction.CANCEL,
                    ]
                elif step.startswith(("resolve_crm_identity", "update_crm_onboarding")):
                    actions = [SafeAction.RETRY, SafeAction.REASSIGN, SafeAction.CANCEL]
                fields = [
                    FieldProblem(path=str(f), problem=f"rejected by {details.get('system')}")
                    for f in details.get("fields") or []
                ]
                item = self._open_item(
                    step=step,
                    system=str(details.get("system") or system),
                    category=category,
                    message=str(cause.message if isinstance(cause, ApplicationError) else err),
                    owner=self._owner_for(category),
                    http_status=details.get("http_status"),
                    attempts=int(details.get("attempt") or 0),
                    candidates=candidates,
                    missing_fields=fields,
                    actions=actions,
                )
                resolution = await self._wait_for_resolution(item)
                if resolution.action == SafeAction.REPLAY_FROM and resolution.stage:
                    raise ReplayFrom(Stage(resolution.stage)) from None
                if resolution.action == SafeAction.SKIP:
                    return None
                if resolution.action == SafeAction.CHOOSE_MATCH and isinstance(
                    arg, ResolveIdentityInput
                ):
                    arg = arg.model_copy(update={"chosen_company_id": resolution.company_id})

    async def _not_automated(self, step: str, system: str, mode: StepMode) -> None:
        """A step the rules turn off (recorded) or make a person's task (recorded and sent)."""
        if mode == StepMode.OFF:
            self._record("step-off", f"{step} ({system}) is off in rules {self._rules_version()}")
            return
        task = ManualTask(
            step=step,
            owner=self._case_owner,
            created_at=workflow.now(),
            note=f"do {step} in {system} by hand for {self._customer()[0]}",
        )
        self._manual_tasks.append(task)
        self._record("manual-task", f"{task.note}; owner {task.owner}", owner=task.owner)
        if self._sla_on:
            await self._notify_now(
                key=f"manual:{step}",
                kind="manual-task",
                recipients=[task.owner],
                subject=f"Task: {step} for {self._customer()[0]}",
                text=f"The rules make {step} ({system}) a manual task for "
                f"{self._input.transaction_id}: {task.note}.",
                chat=False,
            )

    def _retry_policy(self, *, within_budget: bool = False) -> RetryPolicy:
        """Vendor retries from the rules. Within a step's budget (its schedule-to-close timeout)
        attempts are unlimited unless the rules cap them; a call without a budget gets at most
        ``UNBUDGETED_ATTEMPTS``. ``Retry-After`` comes back as the failure's next retry delay."""
        retry = self._rules_or_fail().rules.retry
        return RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_seconds),
            backoff_coefficient=retry.backoff_coefficient,
            maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
            maximum_attempts=(
                (retry.max_attempts or 0)
                if within_budget
                else (retry.max_attempts or UNBUDGETED_ATTEMPTS)
            ),
            non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
        )

    def _owner_for(self, category: Category) -> str:
        """Exception routing by category, from the rules."""
        return self._rules_or_fail().rules.route_exception(
            category, deal_owner=self._deal_owner(self._document), case_owner=self._case_owner
        )

    def _deal_owner(self, document: dict[str, Any]) -> str:
        owner = document.get("crm_owner")
        if isinstance(owner, str) and "@" in owner:
            return owner
        return self._rules_or_fail().rules.owners.sales_ops

    def _open_item(
        self,
        *,
        step: str,
        system: str,
        category: Category,
        message: str,
        owner: str,
        actions: list[SafeAction],
        http_status: int | None = None,
        attempts: int = 0,
        candidates: list[MatchCandidate] | None = None,
        missing_fields: list[FieldProblem] | None = None,
    ) -> ExceptionItem:
        now = workflow.now()
        rules = self._rules_or_fail().rules
        due = deadlines(rules.calendar, now, rules.exception_sla(category), []).due_at
        customer = self._customer()
        item = ExceptionItem(
            id=f"{self._input.transaction_id}/{len(self._exceptions) + 1}",
            transaction_id=self._input.transaction_id,
            idempotency_key=keys.idempotency_key(self._input.transaction_id, step),
            customer_name=customer[0],
            customer_domain=customer[1],
            category=category,
            system=system,
            step=step,
            message=message,
            http_status=http_status,
            attempts=attempts,
            sla_due_at=due,
            owner=owner,
            safe_actions=[a.value for a in actions],
            candidates=candidates or [],
            missing_fields=missing_fields or [],
            opened_at=now,
        )
        self._open = item
        self._exceptions.append(item)
        self._sla_changed()
        self._record(
            "exception-opened",
            f"{category.value} at {step} ({system}): {message}; owner {owner}",
            exception_id=item.id,
            category=category.value,
            owner=owner,
        )
        workflow.upsert_search_attributes(
            [
                sa.EXCEPTION_CATEGORY.value_set(category.value),
                sa.EXCEPTION_OWNER.value_set(owner),
                sa.SLA_DUE_AT.value_set(item.sla_due_at or now),
            ]
        )
        self._describe_open(item)
        workflow.logger.warning(
            "exception item opened",
            extra={"category": category.value, "step": step, "owner": owner},
        )
        return item

    @overload
    async def _wait_for_resolution(self, item: ExceptionItem) -> ResolveRequest: ...

    @overload
    async def _wait_for_resolution(
        self, item: ExceptionItem, *, unless: Callable[[], bool], unless_reason: str
    ) -> ResolveRequest | None: ...

    async def _wait_for_resolution(
        self,
        item: ExceptionItem,
        *,
        unless: Callable[[], bool] | None = None,
        unless_reason: str = "",
    ) -> ResolveRequest | None:
        """Wait for a person's action on ``item`` (or, with ``unless``, for the cause to clear)."""
        self._resolution = None
        await workflow.wait_condition(
            lambda: (
                self._resolution is not None
                or self._cancel is not None
                or (unless is not None and unless())
            )
        )
        resolution = self._resolution
        item.resolved_at = workflow.now()
        if resolution is not None:
            item.resolution = (
                f"{resolution.action.value} by {resolution.actor}: {resolution.reason}"
            )
        elif self._cancel is not None:
            item.resolution = f"run cancelled by {self._cancel.actor}: {self._cancel.reason}"
        else:
            item.resolution = f"cleared automatically: {unless_reason}"
        if resolution is None and self._cancel is None:
            self._record("exception-cleared", f"{item.id}: {unless_reason}", exception_id=item.id)
        self._open = None
        workflow.upsert_search_attributes(
            [
                sa.EXCEPTION_CATEGORY.value_unset(),
                sa.EXCEPTION_OWNER.value_unset(),
                sa.SLA_DUE_AT.value_unset(),
            ]
        )
        workflow.set_current_details("")
        self._sla_changed()
        self._check_cancel()
        return resolution

    # ------------------------------------------------------------------ messages

    @workflow.update
    def resolve(self, request: ResolveRequest) -> ResolveResult:
        """A person acts on the open exception item; the run resumes (``reassign`` only hands the
        item to another owner)."""
        item = self._open
        assert item is not None  # the validator guarantees it
        self._record(
            f"manual-{request.action.value}",
            f"{request.actor} chose {request.action.value} on {item.id}: "
            f"{request.reason or '(no reason given)'}",
            exception_id=item.id,
            actor_kind="person",
        )
        self._audit[-1].actor = request.actor
        if request.action == SafeAction.REASSIGN:
            previous, item.owner = item.owner, str(request.owner)
            workflow.upsert_search_attributes([sa.EXCEPTION_OWNER.value_set(item.owner)])
            self._describe_open(item)
            self._sla_changed()
            return ResolveResult(
                exception_id=item.id,
                action=request.action,
                message=f"{item.id} reassigned from {previous} to {item.owner}",
            )
        remaining: list[FieldProblem] = []
        if request.action == SafeAction.SUPPLY_DATA:
            self._document = _merge(self._document, request.data or {})
            remaining = find_problems(self._document)
        if request.action == SafeAction.CANCEL:
            self._cancel = CancelRequest(actor=request.actor, reason=request.reason)
        self._resolution = request
        message = f"{item.id}: {request.action.value} accepted; the run resumes"
        if remaining:
            message = f"{item.id}: data accepted; still missing or invalid: " + ", ".join(
                p.path for p in remaining
            )
        return ResolveResult(
            exception_id=item.id,
            action=request.action,
            message=message,
            remaining_problems=remaining,
        )

    @resolve.validator
    def _validate_resolve(self, request: ResolveRequest) -> None:
        item = self._open
        if item is None:
            raise ValueError(
                f"run {self._input.transaction_id} has no open exception item "
                f"(stage {self._stage.value})"
            )
        if request.exception_id and request.exception_id != item.id:
            raise ValueError(
                f"exception {request.exception_id} is not open; the open one is {item.id}"
            )
        if request.action.value not in item.safe_actions:
            raise ValueError(
                f"{request.action.value} is not a safe action for this {item.category.value} "
                f"item; choose one of: {', '.join(item.safe_actions)}"
            )
        if not request.actor.strip():
            raise ValueError("actor is required: who is acting")
        if request.action in JUSTIFIED_ACTIONS and not request.reason.strip():
            raise ValueError(f"{request.action.value} needs a justification (reason)")
        if request.action == SafeAction.CHOOSE_MATCH:
            ids = [c.id for c in item.candidates]
            if request.company_id not in ids:
                raise ValueError(
                    f"company {request.company_id!r} is not a candidate; "
                    f"candidates: {', '.join(ids)}"
                )
        if request.action == SafeAction.APPROVE:
            approvers = self._rules_or_fail().rules.roles.get("scope-approver", [])
            if request.actor.strip().lower() not in (a.lower() for a in approvers):
                raise ValueError(
                    f"{request.actor} may not approve a scope change: only scope approvers "
                    f"({', '.join(approvers) or 'nobody holds that role'})"
                )
        if request.action == SafeAction.REASSIGN and not (request.owner or "").strip():
            raise ValueError("reassign needs the new owner")
        if request.action == SafeAction.REPLAY_FROM:
            allowed = self._replayable()
            if request.stage not in allowed:
                raise ValueError(
                    f"replay-from needs a stage the run has reached: one of {', '.join(allowed)}"
                )
        if request.action == SafeAction.SUPPLY_DATA:
            if not request.data:
                raise ValueError("supply-data needs the fields to set (data)")
            merged = _merge(self._document, request.data)
            patched = _paths(request.data)
            wrong = [
                p
                for p in find_problems(merged)
                if p.path == "(payload)"
                or any(p.path == q or p.path.startswith(q + ".") for q in patched)
            ]
            if wrong:
                raise ValueError(
                    "supplied data is not valid: "
                    + "; ".join(f"{p.path} {p.problem}" for p in wrong)
                )

    def _replayable(self) -> list[str]:
        reached = {entry.stage for entry in self._stages}
        return [stage.value for stage in REPLAYABLE_STAGES if stage in reached]

    @workflow.update
    def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel the run; with ``rollback`` its own records are archived or closed."""
        self._cancel = request
        self._record(
            "manual-cancel",
            f"{request.actor} cancelled the run: {request.reason}",
            actor_kind="person",
        )
        self._audit[-1].actor = request.actor
        return CancelResult(
            transaction_id=self._input.transaction_id,
            message="cancel accepted; "
            + ("rolling back what this run created" if request.rollback else "no rollback"),
        )

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._stage in (Stage.LIVE, Stage.CANCELLED) or self._cancel is not None:
            raise ValueError(
                f"run {self._input.transaction_id} is already {self._stage.value}"
                + (" (cancel in progress)" if self._cancel is not None else "")
            )
        if not request.actor.strip():
            raise ValueError("actor is required: who is cancelling")
        if not request.reason.strip():
            raise ValueError("cancel needs a justification (reason)")

    @workflow.signal
    def payment_failed(self, event: PaymentFailed) -> None:
        """Billing reports a failed payment: scheduling waits until it succeeds."""
        self._payment_failure = event
        self._record(
            "payment-failed",
            f"invoice {event.invoice_id}: {event.reason or 'payment failed'}",
            invoice_id=event.invoice_id,
            event_id=event.event_id or "",
        )

    @workflow.signal
    def payment_succeeded(self, event: PaymentSucceeded) -> None:
        """Billing reports a successful payment: a payment hold is lifted."""
        if self._payment_failure is not None:
            self._record(
                "payment-succeeded",
                f"invoice {event.invoice_id} paid",
                invoice_id=event.invoice_id,
                event_id=event.event_id or "",
            )
        self._payment_failure = None

    @workflow.query
    def rules(self) -> RulesSnapshot | None:
        """The rules this run loaded at its start and keeps for its whole life."""
        return self._rules

    @workflow.query
    def status(self) -> RunStatus:
        """Everything about this run: stage, owners, linked IDs, exceptions, audit trail."""
        customer = self._customer()
        return RunStatus(
            transaction_id=self._input.transaction_id,
            stage=self._stage,
            customer_name=customer[0],
            customer_domain=customer[1],
            tier=self._payload.customer.tier.value if self._payload else None,
            case_owner=self._case_owner,
            rules_version=self._rules.version if self._rules else None,
            rules_sha256=self._rules.sha256 if self._rules else None,
            source=self._input.source,
            stages=self._stages,
            linked=self._linked,
            open_exception=self._open,
            exceptions=self._exceptions,
            qa=self._qa,
            audit=self._audit,
            team=self._team,
            escalation_owner=self._escalation_owner,
            slas=self._sla_states(),
            notices=self._notices,
            manual_tasks=self._manual_tasks,
            awaiting=self._awaiting,
            sign_off=self._sign_off,
            scope_changes=self._scope_changes,
        )

    # ------------------------------------------------------------------ SLAs and alerts

    def _sla_changed(self) -> None:
        """Something an SLA clock depends on changed: the watcher recomputes its next notice."""
        self._sla_version += 1

    def _rules_version(self) -> str:
        return self._rules.version if self._rules else "(not loaded)"

    def _clocks(self) -> list[tuple[str, str, Deadlines, str | None]]:
        """The running SLA clocks: ``(clock, owner, deadlines, priority)``."""
        if self._rules is None or self._done or self._stage in (Stage.LIVE, Stage.CANCELLED):
            return []
        rules = self._rules.rules
        escalation = rules.sla.escalation
        started = workflow.info().start_time
        clocks: list[tuple[str, str, Deadlines, str | None]] = []
        position = STAGE_ORDER.index(self._stage)
        for name, rule in rules.sla.stages.items():
            if Stage(name) in STAGE_ORDER and STAGE_ORDER.index(Stage(name)) < position:
                continue  # the run has left that stage: its clock stopped
            clocks.append(
                (
                    f"stage:{name}",
                    self._case_owner,
                    deadlines(rules.calendar, started, rule, escalation),
                    rule.priority,
                )
            )
        item = self._open
        if item is not None and item.category != Category.MISSING_DATA:
            rule = rules.exception_sla(item.category)
            clocks.append(
                (
                    f"exception:{item.id}",
                    item.owner,
                    deadlines(rules.calendar, item.opened_at, rule, escalation),
                    rule.priority,
                )
            )
        return clocks

    def _candidate_notices(self) -> list[tuple[Any, str, str, str, list[str], str]]:
        """Every notice the run may still owe: ``(when, clock, key, kind, notify, owner)``."""
        out: list[tuple[Any, str, str, str, list[str], str]] = []
        for clock, owner, d, _priority in self._clocks():
            out.append((d.at_risk_at, clock, "at-risk", "at-risk", ["owner"], owner))
            out.append((d.due_at, clock, "breached", "breached", ["owner"], owner))
            for index, (when, notify) in enumerate(d.escalations):
                out.append((when, clock, f"escalated:{index}", "escalated", [notify], owner))
        item = self._open
        if item is not None and self._rules is not None and not self._done:
            rules = self._rules.rules
            clock = f"exception:{item.id}"
            if item.category in rules.sla.alert_at_once:
                out.append((item.opened_at, clock, "alert", "failure", ["owner"], item.owner))
            if item.category == Category.MISSING_DATA:
                nudges = rules.sla.nudges
                escalate_at = rules.calendar.add(item.opened_at, nudges.escalate_after)
                when, count = rules.calendar.add(item.opened_at, nudges.every), 1
                while when < escalate_at and count <= 50:
                    out.append((when, clock, f"nudge:{count}", "nudge", ["owner"], item.owner))
                    when, count = rules.calendar.add(when, nudges.every), count + 1
                out.append(
                    (escalate_at, clock, "escalated", "escalated", ["escalation_owner"], item.owner)
                )
        return [c for c in out if f"{c[1]}:{c[2]}" not in self._sent]

    async def _watch_slas(self) -> None:
        """Send each SLA notice when it falls due: at risk, breached, escalated, nudges."""
        while not self._done:
            pending = sorted(self._candidate_notices(), key=lambda c: (c[0], c[1], c[2]))
            version = self._sla_version
            if pending:
                wait = pending[0][0] - workflow.now()
            else:
                wait = SLA_WATCH_MAX_SLEEP
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda version=version: (
                            self._done  # type: ignore[misc]
                            or self._sla_version != version
                        ),
                        timeout=min(wait, SLA_WATCH_MAX_SLEEP),
                    )
                    continue  # something changed: recompute
                except TimeoutError:
                    if not pending or workflow.now() < pending[0][0]:
                        continue
            if self._done:
                return
            await self._send_notice(*pending[0])

    def _recipient(self, ref: str, owner: str) -> str:
        owners = self._rules_or_fail().rules.owners
        if ref == "owner":
            return owner
        if ref == "escalation_owner":
            return self._escalation_owner or owners.process_owner
        if ref == "process_owner":
            return owners.process_owner
        if ref == "system_owner":
            return owners.system_owner
        return ref

    async def _send_notice(
        self, when: Any, clock: str, key: str, kind: str, notify: list[str], owner: str
    ) -> None:
        customer = self._customer()[0] or self._input.transaction_id
        what = clock.split(":", 1)[1]
        label = f"stage {what}" if clock.startswith("stage:") else f"exception {what}"
        item = self._open
        detail = ""
        if clock.startswith("exception:") and item is not None:
            detail = f" {item.category.value} at {item.step}: {item.message}"
        subject = {
            "at-risk": f"SLA at risk: {customer}, {label}",
            "breached": f"SLA breached: {customer}, {label}",
            "escalated": f"Escalation: {customer}, {label} is overdue",
            "nudge": f"Waiting for input: {customer}",
            "failure": f"Action needed now: {customer},{detail[:80]}",
        }.get(kind, f"{kind}: {customer}")
        text = (
            f"Transaction {self._input.transaction_id} ({customer}) is in stage "
            f"{self._stage.value}; owner {owner}.{detail} "
            f"Details: onboarding show {self._input.transaction_id}"
        )
        if kind == "nudge" and item is not None and self._rules is not None:
            subject, text = self._rules.rules.sla.nudges.render(
                {
                    "customer": customer,
                    "transaction": self._input.transaction_id,
                    "fields": ", ".join(p.path for p in item.missing_fields),
                }
            )
        recipients = sorted({self._recipient(ref, owner) for ref in notify})
        await self._notify_now(
            key=f"{clock}:{key}",
            kind=kind,
            recipients=recipients,
            subject=subject,
            text=text,
            chat=kind != "nudge",
            clock=clock,
        )

    async def _notify_now(
        self,
        *,
        key: str,
        kind: str,
        recipients: list[str],
        subject: str,
        text: str,
        chat: bool = True,
        clock: str = "",
    ) -> None:
        """Send one alert (email, and chat unless ``chat`` is off), once per key."""
        if key in self._sent:
            return
        self._sent.add(key)
        self._notices.append(
            NoticeRecord(
                at=workflow.now(),
                clock=clock or key,
                kind=kind,
                recipients=recipients,
                subject=subject,
            )
        )
        self._record("notice", f"{kind} to {', '.join(recipients)}: {subject}", key=key)
        if kind in ("at-risk", "breached", "escalated"):
            workflow.upsert_search_attributes(
                [sa.SLA_STATE.value_set("breached" if kind != "at-risk" else "at-risk")]
            )
        try:
            await workflow.execute_activity_method(
                AlertActivities.notify,
                NotifyInput(
                    transaction_id=self._input.transaction_id,
                    key=key,
                    recipients=recipients,
                    subject=subject,
                    text=text,
                    chat=chat,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._retry_policy(),
            )
        except ActivityError as err:
            self._record("notice-failed", f"{key}: {err.cause or err}")

    def _sla_states(self) -> list[SlaState]:
        now = workflow.now()
        states = []
        for clock, owner, d, priority in self._clocks():
            state = (
                "breached" if now >= d.due_at else "at-risk" if now >= d.at_risk_at else "on-track"
            )
            states.append(
                SlaState(
                    clock=clock,
                    owner=owner,
                    priority=priority,
                    started_at=d.started_at,
                    at_risk_at=d.at_risk_at,
                    due_at=d.due_at,
                    state=state,
                )
            )
        return states

    # ------------------------------------------------------------------ gates

    @workflow.update
    def sign_off(self, request: SignOffRequest) -> SignOffResult:
        """The manual QA sign-off before live, by a member of a permitted role."""
        role = self._role_of(request.actor)
        assert role is not None  # the validator guarantees it
        self._sign_off = SignOff(
            actor=request.actor, role=role, note=request.note, at=workflow.now()
        )
        self._record("qa-sign-off", f"{request.actor} ({role}) signed off: {request.note or '-'}")
        self._audit[-1].actor = request.actor
        return SignOffResult(message=f"signed off by {request.actor} as {role}", role=role)

    @sign_off.validator
    def _validate_sign_off(self, request: SignOffRequest) -> None:
        if self._awaiting is None or not self._awaiting.startswith("QA sign-off"):
            raise ValueError(
                f"run {self._input.transaction_id} is not waiting for a QA sign-off "
                f"(stage {self._stage.value})"
            )
        if self._role_of(request.actor) is None:
            roles = ", ".join(self._tier().qa_sign_off_roles)
            raise ValueError(f"{request.actor} may not sign off: only members of {roles}")

    def _role_of(self, actor: str) -> str | None:
        rules = self._rules_or_fail().rules
        for role in self._tier().qa_sign_off_roles:
            if actor.strip().lower() in (m.lower() for m in rules.roles.get(role, [])):
                return role
        return None

    @workflow.update
    def request_scope_change(self, request: ScopeChangeRequest) -> ScopeChangeResult:
        """A change of scope: work freezes at the next step until a scope approver approves."""
        change = ScopeChange(
            id=f"SC{len(self._scope_changes) + 1}",
            requested_by=request.actor,
            reason=request.reason,
            items=list(request.items),
            requested_at=workflow.now(),
        )
        self._scope_changes.append(change)
        self._pending_scope = change
        self._record(
            "scope-change-requested",
            f"{request.actor}: {request.reason} ({'; '.join(request.items)}); work frozen",
        )
        self._audit[-1].actor = request.actor
        return ScopeChangeResult(
            id=change.id,
            message=f"scope change {change.id} recorded; the run freezes at its next step "
            "until a scope approver approves",
        )

    @request_scope_change.validator
    def _validate_scope_change(self, request: ScopeChangeRequest) -> None:
        if self._stage in (Stage.LIVE, Stage.CANCELLED) or self._done:
            raise ValueError(f"run {self._input.transaction_id} is already {self._stage.value}")
        if self._pending_scope is not None:
            raise ValueError(f"scope change {self._pending_scope.id} is still waiting for approval")
        if not request.actor.strip() or not request.reason.strip():
            raise ValueError("a scope change needs an actor and a reason")
        if not [i for i in request.items if i.strip()]:
            raise ValueError("a scope change needs at least one change-order item")

    # ------------------------------------------------------------------ bookkeeping

    def _describe_open(self, item: ExceptionItem) -> None:
        """What the Temporal UI shows as the run's current details: why it waits, for whom."""
        workflow.set_current_details(
            f"**Parked: {item.category.value}** at `{item.step}` ({item.system})\n\n"
            f"{item.message}\n\nOwner: {item.owner}. "
            f"SLA due {item.sla_due_at:%Y-%m-%d %H:%M} UTC. "
            f"Safe actions: {', '.join(item.safe_actions)}."
        )

    def _created(self, record: str) -> None:
        if record not in self._linked.created:
            self._linked.created.append(record)

    def _enter(self, stage: Stage, owner: str, *, at: Any = None) -> None:
        now = at or workflow.now()
        if self._stages and self._stages[-1].left_at is None:
            self._stages[-1].left_at = now
        self._stage = stage
        self._stages.append(StageEntry(stage=stage, owner=owner, entered_at=now))
        self._sla_changed()
        self._record("stage", f"entered {stage.value}, owner {owner}", owner=owner)
        pairs: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(stage.value),
            sa.CASE_OWNER.value_set(self._case_owner),
        ]
        if self._rules:
            pairs.append(sa.RULES_VERSION.value_set(self._rules.version))
        workflow.upsert_search_attributes(pairs)

    def _upsert_customer(self) -> None:
        payload = self._payload_or_fail()
        workflow.upsert_search_attributes(
            [
                sa.CUSTOMER_DOMAIN.value_set(payload.customer.domain),
                sa.CUSTOMER_NAME.value_set(payload.customer.legal_name),
                sa.TIER.value_set(payload.customer.tier.value),
            ]
        )

    def _record(self, action: str, detail: str, **data: str) -> None:
        self._audit.append(
            AuditEntry(
                at=workflow.now(),
                actor=WORKER_ACTOR,
                action=action,
                stage=self._stage,
                detail=detail,
                data={k: str(v) for k, v in data.items()},
            )
        )

    def _customer(self) -> tuple[str | None, str | None]:
        if self._payload:
            return self._payload.customer.legal_name, self._payload.customer.domain
        customer = self._input.payload.get("customer")
        if isinstance(customer, dict):
            return customer.get("legal_name"), customer.get("domain")
        return None, None

    def _tier(self) -> TierRules:
        tier = self._payload_or_fail().customer.tier.value
        tiers = self._rules_or_fail().rules.tiers
        if tier not in tiers:
            raise ApplicationError(f"rules have no tier {tier!r}", non_retryable=True)
        return tiers[tier]

    def _payload_or_fail(self) -> OnboardingPayload:
        if self._payload is None:
            raise ApplicationError("payload not validated yet", non_retryable=True)
        return self._payload

    def _rules_or_fail(self) -> RulesSnapshot:
        if self._rules is None:
            raise ApplicationError("rules not loaded yet", non_retryable=True)
        return self._rules


def _last_failure(err: ActivityError) -> BaseException | None:
    """The vendor failure behind an activity error. When a step's retry budget runs out, the
    cause is a schedule-to-close timeout whose own cause is the last attempt's failure: that is
    what the exception item must name (its category, system, status and message)."""
    cause = err.cause
    if (
        isinstance(cause, TemporalTimeoutError)
        and cause.type == TimeoutType.SCHEDULE_TO_CLOSE
        and cause.cause is not None
    ):
        return cause.cause
    return cause


def _details(cause: BaseException | None) -> dict[str, Any]:
    if isinstance(cause, ApplicationError) and cause.details:
        first = cause.details[0]
        if isinstance(first, dict):
            return first
    return {}


def _paths(patch: dict[str, Any], prefix: str = "") -> list[str]:
    """The leaf paths a merge patch sets."""
    paths: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def _merge(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386) of supplied data onto the payload document."""
    merged = dict(document)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
