"""The onboarding workflow: one paid or signed event, one durable run, live or parked in front of a
named human.

Workflow ID = transaction ID. Stages run in the brief's order; no delivery project is ever created
before the CRM company ID is confirmed. A step that cannot proceed (retries exhausted, or a
non-retryable failure) opens an exception item, upserts the queue's search attributes and waits
for a person to resolve it through the ``resolve`` update.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.models import (
        CrmIdentity,
        CrmOnboardingUpdate,
        DeliveryProject,
        DeliveryProjectInput,
        KickoffLink,
        KickoffLinkInput,
        LoadRulesInput,
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
    from activities.onboarding import OnboardingActivities
    from onboarding import keys
    from onboarding.calendar import add_business_days
    from onboarding.errors import NON_RETRYABLE_ERROR_TYPES, Category, category_for
    from onboarding.payload import OnboardingPayload
    from onboarding.rules import RulesSnapshot, TierRules
    from onboarding.run import (
        AuditEntry,
        ExceptionItem,
        LinkedRecords,
        MatchCandidate,
        OnboardingInput,
        OnboardingResult,
        QaCheck,
        RunStatus,
        StageEntry,
    )
    from onboarding.stages import Stage
    from onboarding.validation import FieldProblem, find_problems
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
    )

M = TypeVar("M", bound=BaseModel)

WORKER_ACTOR = "onboarding-worker"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
#: The brief: 5xx goes to a human after the attempts run out or 30+ minutes.
STEP_DEADLINE = timedelta(minutes=30)
TECHNICAL_SLA = timedelta(hours=4)
BUSINESS_SLA = timedelta(hours=24)
TECHNICAL_CATEGORIES = frozenset(
    {Category.RATE_LIMIT, Category.SERVER_ERROR, Category.AUTH_ERROR, Category.VALIDATION_ERROR}
)


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

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, request: OnboardingInput) -> OnboardingResult:
        """Drive the run through every stage, or park it in front of a person."""
        self._rules = await workflow.execute_activity_method(
            OnboardingActivities.load_rules,
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
        try:
            await self._validate()
            tier = self._tier()
            self._case_owner = tier.implementation_owner
            self._record(
                "case-owner-assigned",
                f"case owner {self._case_owner} for tier {self._payload_or_fail().customer.tier}",
                owner=self._case_owner,
            )
            await self._run_stages(tier)
            self._check_cancel()
            await self._go_live()
        except RunCancelled:
            await self._cancel_run()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OnboardingResult(
            transaction_id=request.transaction_id,
            stage=self._stage,
            linked=self._linked,
            manual_exceptions=len(self._exceptions),
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
            self._check_cancel()
            try:
                await phases[order[index]](tier)
                index += 1
            except ReplayFrom as replay:
                index = order.index(replay.stage)
                self._record("replay", f"rerunning from {replay.stage.value}")

    def _check_cancel(self) -> None:
        if self._cancel is not None:
            raise RunCancelled

    async def _cancel_run(self) -> None:
        """Roll back what this run created (unless asked not to), then end cancelled."""
        request = self._cancel or CancelRequest(actor=WORKER_ACTOR, reason="cancelled")
        if request.rollback and self._linked.model_dump(exclude_defaults=True):
            outcome = await workflow.execute_activity_method(
                OnboardingActivities.roll_back,
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
                OnboardingActivities.validate_payload,
                ValidatePayloadInput(payload=self._document),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            if outcome.payload is not None:
                self._payload = OnboardingPayload.model_validate(outcome.payload)
                self._record("payload-valid", "every required field present and valid")
                self._upsert_customer()
                return
            self._record(
                "payload-incomplete",
                "missing or invalid: " + ", ".join(p.path for p in outcome.problems),
            )
            owner = self._deal_owner(self._document)
            self._enter(Stage.AWAITING_DATA, owner)
            item = self._open_item(
                step="validate_payload",
                system="intake",
                category=Category.MISSING_DATA,
                message=f"{len(outcome.problems)} required field(s) missing or invalid",
                owner=owner,
                missing_fields=outcome.problems,
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
            OnboardingActivities.resolve_crm_identity,
            request,
            CrmIdentity,
        )
        if identity is None:
            raise RunCancelled  # matching cannot be skipped; the validator refuses it anyway
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
            OnboardingActivities.update_crm_onboarding,
            CrmOnboardingUpdate(
                company_id=identity.company_id,
                transaction_id=self._input.transaction_id,
                status="onboarding",
                implementation_owner=self._case_owner,
            ),
            BaseModel,
        )

    async def _provision(self, tier: TierRules) -> None:
        payload = self._payload_or_fail()
        company_id = self._linked.crm_company_id
        if not company_id:  # the rule that prevents orphan projects
            raise ApplicationError(
                "no confirmed CRM company ID before provisioning", non_retryable=True
            )
        self._enter(Stage.PROVISIONING, self._case_owner)
        today = workflow.now().date()
        project = await self._step(
            "create_delivery_project",
            "asana",
            OnboardingActivities.create_delivery_project,
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
            OnboardingActivities.provision_support,
            SupportInput(
                crm_company_id=company_id,
                crm_contact_id=str(self._linked.crm_contact_id),
                legal_name=payload.customer.legal_name,
                domain=payload.customer.domain,
                contact_name=payload.primary_contact.name,
                contact_email=payload.primary_contact.email,
            ),
            SupportIdentity,
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
            OnboardingActivities.create_kickoff_link,
            KickoffLinkInput(transaction_id=self._input.transaction_id),
            KickoffLink,
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
                OnboardingActivities.send_email,
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
                OnboardingActivities.verify_linked_records,
                VerifyInput(linked=self._linked, expected_tasks=len(tier.standard_tasks)),
                VerifyOutput,
            )
            if report is None:
                return
            self._qa = report.checks
            failed = [c for c in report.checks if not c.ok]
            for check in report.checks:
                self._record(
                    "qa-check", f"{check.name}: {'pass' if check.ok else 'FAIL'} {check.detail}"
                )
            if not failed:
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
                return

    async def _go_live(self) -> None:
        await self._step(
            "update_crm_onboarding:live",
            "hubspot",
            OnboardingActivities.update_crm_onboarding,
            CrmOnboardingUpdate(
                company_id=str(self._linked.crm_company_id),
                transaction_id=self._input.transaction_id,
                status="live",
                implementation_owner=self._case_owner,
            ),
            BaseModel,
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
    ) -> M | None:
        """Run one side-effecting step with the brief's retry policy.

        When it cannot proceed, open an exception item and wait for a person: ``retry`` runs it
        again, ``skip`` returns None, ``cancel`` ends the run, ``choose-match`` retries with the
        chosen CRM company.
        """
        while True:
            self._check_cancel()
            try:
                return await workflow.execute_activity_method(  # type: ignore[no-any-return]
                    activity,
                    arg,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=STEP_DEADLINE,
                    heartbeat_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._retry_policy(),
                    summary=step,
                )
            except ActivityError as err:
                cause = err.cause
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

    def _retry_policy(self) -> RetryPolicy:
        retry = self._rules_or_fail().rules.retry
        return RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_seconds),
            backoff_coefficient=retry.backoff_coefficient,
            maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
            maximum_attempts=retry.max_attempts,
            non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
        )

    def _owner_for(self, category: Category) -> str:
        """Exception routing by category (the brief's defaults)."""
        owners = self._rules_or_fail().rules.owners
        if category == Category.AUTH_ERROR:
            return owners.system_owner
        if category == Category.MISSING_DATA:
            return self._deal_owner(self._input.payload)
        if category in (Category.RATE_LIMIT, Category.SERVER_ERROR):
            return owners.system_owner
        return self._case_owner

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
        sla = TECHNICAL_SLA if category in TECHNICAL_CATEGORIES else BUSINESS_SLA
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
            sla_due_at=now + sla,
            owner=owner,
            safe_actions=[a.value for a in actions],
            candidates=candidates or [],
            missing_fields=missing_fields or [],
            opened_at=now,
        )
        self._open = item
        self._exceptions.append(item)
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
        )

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
