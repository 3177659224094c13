"""What every part of the onboarding workflow shares: the run's state and the few operations that
touch it from everywhere (the audit trail, stage transitions, search attributes, the rules).

Workflow code: every time comes from ``workflow.now()``, nothing here does I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from onboarding.domain.audit import WORKER_ACTOR, AuditAction, AuditEntry
    from onboarding.domain.errors import NON_RETRYABLE_ERROR_TYPES, Category
    from onboarding.domain.payload import OnboardingPayload
    from onboarding.domain.rules import Rules, RulesSnapshot, Steps, TierRules
    from onboarding.domain.run import OnboardingInput, RunState, StageEntry
    from onboarding.domain.stages import Stage
    from onboarding.runtime import metrics
    from workflows import search_attributes as sa
    from workflows.versions import BASE_RELEASE


class TrailWriter(Protocol):
    """Writes the run's new audit entries where they outlive the run (the ledger)."""

    async def flush(self) -> None:
        """Write every entry not written yet."""

    async def flush_if_moved(self) -> None:
        """Write when the run changed stage since the last write."""


#: Start-to-close timeout of one vendor call attempt.
ACTIVITY_TIMEOUT = timedelta(seconds=30)
#: How long the run's own calls (rules, validation, routing, rollback) retry, whatever fails:
#: workers killed mid-call or a database restarting never fail a run.
STEP_DEADLINE = timedelta(minutes=30)
#: Attempts of a vendor call that has no retry budget (alerts, change orders).
UNBUDGETED_ATTEMPTS = 5
#: Retries of the run's own calls: unlimited within STEP_DEADLINE, errors no retry can fix aside.
OWN_CALL_RETRY = RetryPolicy(maximum_attempts=0, non_retryable_error_types=["ValidationError"])


class RunContext:
    """One run's state, and the bookkeeping every part of the workflow does on it.

    Args:
        request: The workflow's input.
    """

    def __init__(self, request: OnboardingInput) -> None:
        self.input = request
        self.state = RunState.start(request)
        #: Bumped whenever something an SLA clock depends on changes: the SLA watch recomputes.
        self.sla_version = 0
        #: Whether this run has SLA timers and alerts (runs started before them have none).
        self.sla_on = False
        #: The workflow release the run started under (see workflows/versions.py).
        self.release = BASE_RELEASE
        #: Writes the trail to the ledger (set by the workflow; release 3 on).
        self.ledger: TrailWriter | None = None
        #: Search attribute changes not written yet, by name (release 4 on).
        self._unwritten: dict[str, SearchAttributeUpdate[Any]] = {}

    async def flush(self) -> None:
        """Write the trail's new entries to the ledger (runs before release 3 keep them)."""
        if self.ledger is not None:
            await self.ledger.flush()

    # ------------------------------------------------------------------ what the run knows

    @property
    def release3(self) -> bool:
        """Whether the run has release 3's behaviour (see workflows/versions.py)."""
        return self.release >= 3

    @property
    def release4(self) -> bool:
        """Whether the run has release 4's behaviour (see workflows/versions.py)."""
        return self.release >= 4

    @property
    def transaction_id(self) -> str:
        return self.state.transaction_id

    @property
    def snapshot(self) -> RulesSnapshot:
        """The rules the run loaded at its start (a failure before they are loaded is a bug)."""
        if self.state.rules is None:
            raise ApplicationError("rules not loaded yet", non_retryable=True)
        return self.state.rules

    @property
    def rules(self) -> Rules:
        return self.snapshot.rules

    @property
    def payload(self) -> OnboardingPayload:
        """The validated payload (a failure before validation is a bug)."""
        if self.state.payload is None:
            raise ApplicationError("payload not validated yet", non_retryable=True)
        return self.state.payload

    @property
    def tier(self) -> TierRules:
        """The rules of the customer's tier."""
        tier = self.payload.customer.tier.value
        if tier not in self.rules.tiers:
            raise ApplicationError(f"rules have no tier {tier!r}", non_retryable=True)
        return self.rules.tiers[tier]

    @property
    def modes(self) -> Steps:
        """How each step of the customer's tier runs: its rules' modes under its rollout
        phase (record and notify, CRM and tasks, full provisioning)."""
        return self.rules.effective_steps(self.payload.customer.tier.value)

    @property
    def customer_name(self) -> str | None:
        return self.state.customer()[0]

    def deal_owner(self) -> str:
        """The deal owner from the payload, or sales operations when it names nobody."""
        owner = self.state.document.get("crm_owner")
        if isinstance(owner, str) and "@" in owner:
            return owner
        return self.rules.owners.sales_ops

    def owner_for(self, category: Category) -> str:
        """Who owns an exception item of ``category`` (rules: exception routing)."""
        return self.rules.route_exception(
            category, deal_owner=self.deal_owner(), case_owner=self.state.case_owner
        )

    def retry_policy(self, *, within_budget: bool = False) -> RetryPolicy:
        """Vendor retries from the rules. Within a step's budget (its schedule-to-close timeout)
        attempts are unlimited unless the rules cap them; a call without a budget gets at most
        ``UNBUDGETED_ATTEMPTS``. ``Retry-After`` comes back as the failure's next retry delay."""
        retry = self.rules.retry
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

    @property
    def step_budget(self) -> timedelta:
        """How long a step retries transient failures before a person is asked (rules)."""
        return timedelta(minutes=self.rules.retry.budget_minutes)

    # ------------------------------------------------------------------ bookkeeping

    def record(
        self,
        action: AuditAction | str,
        detail: str,
        /,
        *,
        actor: str = WORKER_ACTOR,
        **data: object,
    ) -> AuditEntry:
        """Put one entry on the run's audit trail, with its actor."""
        entry = AuditEntry(
            at=workflow.now(),
            actor=actor,
            action=str(action),
            stage=self.state.stage,
            detail=detail,
            data={key: str(value) for key, value in data.items()},
        )
        self.state.audit.append(entry)
        return entry

    def enter(self, stage: Stage, owner: str, *, at: datetime | None = None) -> None:
        """Move the run to ``stage``, owned by ``owner``: timestamped, on the record, searchable."""
        now = at or workflow.now()
        state = self.state
        if state.stages and state.stages[-1].left_at is None:
            state.stages[-1].left_at = now
        state.stage = stage
        state.stages.append(StageEntry(stage=stage, owner=owner, entered_at=now))
        metrics.stage_entered(workflow.metric_meter(), stage.value)
        self.sla_changed()
        self.record(AuditAction.STAGE, f"entered {stage.value}, owner {owner}", owner=owner)
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(stage.value),
            sa.CASE_OWNER.value_set(state.case_owner),
        ]
        if state.rules:
            updates.append(sa.RULES_VERSION.value_set(state.rules.version))
        if self.release > BASE_RELEASE:
            updates.append(sa.RELEASE.value_set(self.release))
        self.upsert(updates)

    def upsert(self, updates: Sequence[SearchAttributeUpdate[Any]]) -> None:
        """Change the run's search attributes.

        From release 4 on, the changes made while the workflow code runs are gathered and
        written as one upsert when it yields (one history event per workflow task instead of
        one per change; visibility sees them at the same moment either way). Earlier runs write
        each change at once, as they did.
        """
        if not self.release4:
            workflow.upsert_search_attributes(list(updates))
            return
        schedule = not self._unwritten
        for update in updates:
            self._unwritten[update.key.name] = update
        if schedule:
            asyncio.get_running_loop().call_soon(self.write_search_attributes)

    def write_search_attributes(self) -> None:
        """Write the gathered search attribute changes now (also called before the run ends)."""
        if self._unwritten:
            updates = list(self._unwritten.values())
            self._unwritten.clear()
            workflow.upsert_search_attributes(updates)

    def upsert_customer(self) -> None:
        """Make the customer findable in visibility once the payload is valid."""
        payload = self.payload
        self.upsert(
            [
                sa.CUSTOMER_DOMAIN.value_set(payload.customer.domain),
                sa.CUSTOMER_NAME.value_set(payload.customer.legal_name),
                sa.TIER.value_set(payload.customer.tier.value),
            ]
        )

    def created(self, record: str) -> None:
        """Remember that the run created ``record`` (not matched it): rollback may archive it."""
        if record not in self.state.linked.created:
            self.state.linked.created.append(record)

    def sla_changed(self) -> None:
        """Something an SLA clock depends on changed: the SLA watch recomputes its next notice."""
        self.sla_version += 1
