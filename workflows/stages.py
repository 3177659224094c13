"""The work of an onboarding run, a short function per stage, in order: matching the CRM
identity, provisioning the delivery project and the support desk, kickoff, the welcome sequence,
the QA gate, and live.

No delivery project or support organization is ever created before the CRM company ID is
confirmed: that one rule prevents most orphan projects.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import (
        CrmActivities,
        CustomerActivities,
        DeliveryActivities,
        QaActivities,
        SupportActivities,
    )
    from activities.models import (
        CrmOnboardingUpdate,
        DeliveryProjectInput,
        KickoffLinkInput,
        ResolveIdentityInput,
        SendEmailInput,
        StandardTaskSpec,
        SupportInput,
        VerifyInput,
    )
    from onboarding.domain.actions import SafeAction, safe_actions
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.calendar import add_business_days
    from onboarding.domain.errors import Category
    from onboarding.domain.rules import StepMode, TierRules
    from onboarding.domain.stages import Stage
    from workflows.context import ACTIVITY_TIMEOUT, RunContext
    from workflows.desk import ExceptionDesk, ReplayFrom
    from workflows.gates import Gates
    from workflows.steps import StepRunner, StepSpec

#: Quality checks that belong to each step, for steps the rules do not automate.
STEP_CHECKS = {
    "crm": ["crm-company", "crm-contact"],
    "project": ["delivery-project"],
    "support": ["support-organization", "support-user"],
    "kickoff": ["kickoff-link"],
    "welcome": ["welcome-emails"],
}


class Stages:
    """Drives one run through the work, matching to live."""

    def __init__(
        self, ctx: RunContext, desk: ExceptionDesk, gates: Gates, steps: StepRunner
    ) -> None:
        self.ctx = ctx
        self.desk = desk
        self.gates = gates
        self.steps = steps

    # ------------------------------------------------------------------ the work

    async def run_all(self) -> None:
        """Matching to QA, in order; a person's ``replay-from`` restarts at an earlier stage."""
        phases = {
            Stage.MATCHING: self.match,
            Stage.PROVISIONING: self.provision,
            Stage.KICKOFF: self.kickoff,
            Stage.WELCOME: self.welcome,
            Stage.QA: self.qa,
        }
        order = list(phases)
        index = 0
        while index < len(order):
            await self.gates.checkpoint()
            try:
                await phases[order[index]](self.ctx.tier)
                index += 1
            except ReplayFrom as replay:
                index = order.index(replay.stage)
                self.ctx.record(
                    AuditAction.REPLAY,
                    f"rerunning from {replay.stage.value}",
                    from_stage=replay.stage.value,
                )

    async def match(self, tier: TierRules) -> None:
        """Get-or-create the CRM company and primary contact, then mark the company onboarding."""
        ctx, linked = self.ctx, self.ctx.state.linked
        payload = ctx.payload
        ctx.enter(Stage.MATCHING, ctx.state.case_owner)
        identity = await self.steps.run(
            StepSpec(
                name="resolve_crm_identity",
                system="hubspot",
                activity=CrmActivities.resolve_crm_identity,
                input=ResolveIdentityInput(
                    transaction_id=ctx.transaction_id,
                    legal_name=payload.customer.legal_name,
                    domain=payload.customer.domain,
                    contact_name=payload.primary_contact.name,
                    contact_email=payload.primary_contact.email,
                    crm_owner=payload.crm_owner,
                ),
                mode=self.ctx.modes.crm,
                skippable=False,
                choose_match=lambda request, company: request.model_copy(
                    update={"chosen_company_id": company}
                ),
            )
        )
        if identity is None:
            return  # crm is a manual task or off (rules): nothing downstream may be automated
        linked.crm_company_id = identity.company_id
        linked.crm_contact_id = identity.contact_id
        for record, created, record_id in (
            ("crm_company", identity.company_created, identity.company_id),
            ("crm_contact", identity.contact_created, identity.contact_id),
        ):
            if created:
                ctx.created(record)
            ctx.record(
                AuditAction.STEP_DONE,
                f"{record} {record_id} ({'created' if created else 'matched'})",
                step="resolve_crm_identity",
                system="hubspot",
                kind=record,
                record=record_id,
                created=str(created).lower(),
            )
        await self._mark_crm("update_crm_onboarding", identity.company_id, "onboarding", tier)

    async def provision(self, tier: TierRules) -> None:
        """The delivery project from the tier's template, then the support organization and
        user; never before a confirmed CRM company."""
        ctx, linked = self.ctx, self.ctx.state.linked
        payload = ctx.payload
        company_id = linked.crm_company_id
        ctx.enter(Stage.PROVISIONING, ctx.state.case_owner)
        if not company_id:
            if StepMode.AUTOMATED in (self.ctx.modes.project, self.ctx.modes.support):
                raise ApplicationError(
                    "no confirmed CRM company ID before provisioning", non_retryable=True
                )
            company_id = ""
        today = workflow.now().date()
        project = await self.steps.run(
            StepSpec(
                name="create_delivery_project",
                system="asana",
                activity=DeliveryActivities.create_delivery_project,
                input=DeliveryProjectInput(
                    transaction_id=ctx.transaction_id,
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
                mode=self.ctx.modes.project,
                heartbeat=ACTIVITY_TIMEOUT,
            )
        )
        if project is not None:
            linked.project_gid = project.project_gid
            if project.created:
                ctx.created("project")
            linked.task_gids = dict(project.task_gids)
            ctx.record(
                AuditAction.STEP_DONE,
                f"project {project.project_gid} from template {tier.project_template_gid} "
                f"({project.template_task_count} template tasks, {len(project.task_gids)} standard)",
                step="create_delivery_project",
                kind="project",
                system="asana",
                record=project.project_gid,
                created=str(project.created).lower(),
            )
        support = await self.steps.run(
            StepSpec(
                name="provision_support",
                system="zendesk",
                activity=SupportActivities.provision_support,
                input=SupportInput(
                    crm_company_id=company_id,
                    crm_contact_id=str(linked.crm_contact_id),
                    legal_name=payload.customer.legal_name,
                    domain=payload.customer.domain,
                    contact_name=payload.primary_contact.name,
                    contact_email=payload.primary_contact.email,
                    transaction_id=ctx.transaction_id,
                ),
                mode=self.ctx.modes.support,
            )
        )
        if support is not None:
            linked.support_org_id = support.organization_id
            linked.support_user_id = support.user_id
            if support.organization_created:
                ctx.created("support_org")
            if support.user_created:
                ctx.created("support_user")
            ctx.record(
                AuditAction.STEP_DONE,
                f"organization {support.organization_id}, user {support.user_id}",
                step="provision_support",
                kind="support_org",
                system="zendesk",
                record=str(support.organization_id),
                created=str(support.organization_created).lower(),
            )

    async def kickoff(self, tier: TierRules) -> None:
        """A scheduling link for the kickoff (after any payment hold)."""
        ctx, linked = self.ctx, self.ctx.state.linked
        await self.gates.hold_while_payment_failed()
        ctx.enter(Stage.KICKOFF, ctx.state.case_owner)
        if linked.scheduling_link:
            ctx.record(
                AuditAction.STEP_DONE,
                f"kickoff link reused: {linked.scheduling_link}",
                step="create_kickoff_link",
                kind="kickoff_link",
                system="calendly",
                record=linked.scheduling_link,
                created="false",
            )
            return
        link = await self.steps.run(
            StepSpec(
                name="create_kickoff_link",
                system="calendly",
                activity=CustomerActivities.create_kickoff_link,
                input=KickoffLinkInput(
                    transaction_id=ctx.transaction_id,
                    contact_name=ctx.payload.primary_contact.name,
                    contact_email=ctx.payload.primary_contact.email,
                ),
                mode=self.ctx.modes.kickoff,
            )
        )
        if link is not None:
            linked.scheduling_link = link.booking_url
            ctx.record(
                AuditAction.STEP_DONE,
                f"kickoff link created: {link.booking_url}",
                step="create_kickoff_link",
                kind="kickoff_link",
                system="calendly",
                record=link.booking_url,
                created="true",
            )

    async def welcome(self, tier: TierRules) -> None:
        """The tier's welcome sequence: each email sent or scheduled once."""
        ctx, linked = self.ctx, self.ctx.state.linked
        payload = ctx.payload
        ctx.enter(Stage.WELCOME, ctx.state.case_owner)
        values = {
            "customer": payload.customer.legal_name,
            "contact_name": payload.primary_contact.name,
            "booking_url": linked.scheduling_link or "(your case owner will send a link)",
            "case_owner": ctx.state.case_owner,
            "plan": payload.plan.sku,
        }
        now = workflow.now()
        for email in tier.welcome_sequence:
            if email.key in linked.email_ids:
                continue  # sent by an earlier pass (replay-from): never twice
            subject, text = email.render(values)
            sent = await self.steps.run(
                StepSpec(
                    name=f"send_email:{email.key}",
                    system="resend",
                    activity=CustomerActivities.send_email,
                    input=SendEmailInput(
                        transaction_id=ctx.transaction_id,
                        key=email.key,
                        to=payload.primary_contact.email,
                        subject=subject,
                        text=text,
                        scheduled_at=(
                            now + timedelta(days=email.send_after_days)
                            if email.send_after_days
                            else None
                        ),
                        # Scheduled from the run's received time: what the email carries is
                        # the same on every attempt and for a run re-created from the event.
                        send_after_days=email.send_after_days,
                        schedule_from=ctx.state.received_at,
                    ),
                    mode=self.ctx.modes.welcome,
                )
            )
            if sent is not None:
                linked.email_ids[email.key] = sent.email_id
                ctx.record(
                    AuditAction.STEP_DONE,
                    f"{email.key} {'scheduled' if email.send_after_days else 'sent'}: {subject}",
                    step=f"send_email:{email.key}",
                    kind="email",
                    system="resend",
                    record=sent.email_id,
                    created="true",
                )

    async def qa(self, tier: TierRules) -> None:
        """Automated readiness checks (every linked record exists), then any manual sign-off."""
        ctx, state = self.ctx, self.ctx.state
        ctx.enter(Stage.QA, state.case_owner)
        qa_pass = 0
        while True:
            qa_pass += 1
            report = await self.steps.run(
                StepSpec(
                    name="verify_linked_records",
                    system="qa",
                    activity=QaActivities.verify_linked_records,
                    input=VerifyInput(
                        linked=state.linked,
                        expected_tasks=len(tier.standard_tasks),
                        not_automated={
                            check: mode.value
                            for step, mode in self.ctx.modes.model_dump().items()
                            if mode != StepMode.AUTOMATED
                            for check in STEP_CHECKS[step]
                        },
                    ),
                )
            )
            if report is None:
                break
            state.qa = report.checks
            for check in report.checks:
                ctx.record(
                    AuditAction.QA_CHECK,
                    f"{check.name}: {'pass' if check.ok else 'FAIL'} {check.detail}",
                    check=check.name,
                    ok=str(check.ok).lower(),
                    **{"pass": str(qa_pass)},
                )
            failed = [c for c in report.checks if not c.ok]
            if not failed:
                break
            item = self.desk.open(
                step="verify_linked_records",
                system="qa",
                category=Category.QA_FAILED,
                message="; ".join(f"{c.name}: {c.detail}" for c in failed),
                owner=state.case_owner,
                actions=safe_actions(Category.QA_FAILED),
            )
            resolution = await self.desk.wait(item)
            if resolution.action == SafeAction.REPLAY_FROM and resolution.stage:
                raise ReplayFrom(Stage(resolution.stage))
            if resolution.action == SafeAction.SKIP:
                break
        await self.gates.await_sign_off(tier)

    async def go_live(self) -> None:
        """Mark the CRM company live; the run is live."""
        ctx = self.ctx
        await self._mark_crm(
            "update_crm_onboarding:live", str(ctx.state.linked.crm_company_id), "live", ctx.tier
        )
        ctx.enter(Stage.LIVE, ctx.state.case_owner)
        ctx.record(AuditAction.LIVE, "setup, customer communication and ownership handoff complete")
        workflow.set_current_details(
            f"**Live**: setup, customer communication and ownership handoff complete. "
            f"Case owner {ctx.state.case_owner}."
        )

    async def _mark_crm(self, step: str, company_id: str, status: str, tier: TierRules) -> None:
        ctx = self.ctx
        await self.steps.run(
            StepSpec(
                name=step,
                system="hubspot",
                activity=CrmActivities.update_crm_onboarding,
                input=CrmOnboardingUpdate(
                    company_id=company_id,
                    transaction_id=ctx.transaction_id,
                    status=status,
                    implementation_owner=ctx.state.case_owner,
                ),
                mode=self.ctx.modes.crm,
                skippable=False,
            )
        )
