"""Alerts to people: SLA notices, nudges for missing input, manual tasks and terminal failures.

Each alert is sent once per key (the run remembers what it sent), by email and, except for
nudges and tasks, to the chat webhook. A failed alert is on the record; it never stops the run.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import AlertActivities
    from activities.models import NotifyInput
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.notices import SLA_STATE_KINDS, DueNotice, NoticeKind
    from onboarding.domain.run import NoticeRecord
    from onboarding.runtime import metrics
    from workflows import search_attributes as sa
    from workflows.context import ACTIVITY_TIMEOUT, RunContext


class Alerts:
    """Sends the run's alerts, each once."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    async def notify(
        self,
        *,
        key: str,
        kind: NoticeKind,
        recipients: list[str],
        subject: str,
        text: str,
        chat: bool = True,
        clock: str = "",
    ) -> None:
        """Send one alert (email, and chat unless ``chat`` is off), once per ``key``."""
        ctx, state = self.ctx, self.ctx.state
        if key in state.sent:
            return
        state.sent.append(key)
        metrics.notice_sent(workflow.metric_meter(), kind.value, clock or key)
        state.notices.append(
            NoticeRecord(
                at=workflow.now(),
                clock=clock or key,
                kind=kind.value,
                recipients=recipients,
                subject=subject,
            )
        )
        ctx.record(
            AuditAction.NOTICE,
            f"{kind.value} to {', '.join(recipients)}: {subject}",
            key=key,
            kind=kind.value,
            clock=clock or key,
            recipients=",".join(recipients),
            sent="true",
        )
        if kind in SLA_STATE_KINDS:
            state_value = "at-risk" if kind == NoticeKind.AT_RISK else "breached"
            self.ctx.upsert([sa.SLA_STATE.value_set(state_value)])
        try:
            await workflow.execute_activity_method(
                AlertActivities.notify,
                NotifyInput(
                    transaction_id=ctx.transaction_id,
                    key=key,
                    recipients=recipients,
                    subject=subject,
                    text=text,
                    chat=chat,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ctx.retry_policy(),
            )
        except ActivityError as err:
            ctx.record(AuditAction.NOTICE_FAILED, f"{key}: {err.cause or err}", key=key)

    async def send(self, notice: DueNotice) -> None:
        """Send an SLA notice that fell due: at risk, breached, escalated, nudge, failure."""
        ctx, state = self.ctx, self.ctx.state
        customer = ctx.customer_name or ctx.transaction_id
        what = notice.clock.split(":", 1)[1]
        label = f"stage {what}" if notice.clock.startswith("stage:") else f"exception {what}"
        item = state.open_item
        detail = ""
        if item is not None and self.ctx.release3:
            detail = (
                f" It waits on {item.category.value} at {item.step}: {item.message} Owner "
                f"{item.owner}, due {item.sla_due_at:%Y-%m-%d %H:%M} UTC."
            )
        elif notice.clock.startswith("exception:") and item is not None:
            detail = (
                f" {item.category.value} at {item.step}: {item.message} Owner {item.owner}, "
                f"due {item.sla_due_at:%Y-%m-%d %H:%M} UTC."
            )
        subject = {
            NoticeKind.AT_RISK: f"SLA at risk: {customer}, {label}",
            NoticeKind.BREACHED: f"SLA breached: {customer}, {label}",
            NoticeKind.ESCALATED: f"Escalation: {customer}, {label} is overdue",
            NoticeKind.NUDGE: f"Waiting for input: {customer}",
            NoticeKind.FAILURE: f"Action needed now: {customer},{detail[:80]}",
        }.get(notice.kind, f"{notice.kind.value}: {customer}")
        text = (
            f"Transaction {ctx.transaction_id} ({customer}) is in stage "
            f"{state.stage.value}; owner {notice.owner}.{detail} "
            f"Details: onboarding show {ctx.transaction_id}"
        )
        if notice.kind == NoticeKind.NUDGE and item is not None:
            subject, text = ctx.rules.sla.nudges.render(
                {
                    "customer": customer,
                    "transaction": ctx.transaction_id,
                    "fields": ", ".join(p.path for p in item.missing_fields),
                }
            )
        recipients = sorted({self.recipient(ref, notice.owner) for ref in notice.notify})
        await self.notify(
            key=notice.sent_key,
            kind=notice.kind,
            recipients=recipients,
            subject=subject,
            text=text,
            chat=notice.kind != NoticeKind.NUDGE,
            clock=notice.clock,
        )

    def recipient(self, ref: str, owner: str) -> str:
        """The email address an ``OwnerRef`` stands for in this run."""
        owners = self.ctx.rules.owners
        if ref == "owner":
            return owner
        if ref == "escalation_owner":
            return self.ctx.state.escalation_owner or owners.process_owner
        if ref == "process_owner":
            return owners.process_owner
        if ref == "system_owner":
            return owners.system_owner
        return ref
