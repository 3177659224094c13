"""The run's audit trail goes to the ledger, a database outside Temporal, so the record outlives
the namespace's retention and the Monday report covers every run.

Entries are written in batches by a local activity (one marker in the history, no task queue
round trip): when the run changes stage, before it waits for a person, after an alert, and when
it ends. Each entry has its position in the run's trail; the ledger skips positions it holds, so
a retried write never doubles a row. Once written, entries leave the run's memory: the trail is
read from the ledger (``onboarding show``), the run keeps only what it still decides on.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.ledger import LedgerActivities
    from activities.models import AppendToLedgerInput
    from onboarding.ledger.models import RunFacts, SequencedEntry
    from workflows.context import RunContext

#: One write: a local database, quick; retried in the worker, then left for the next flush.
WRITE_TIMEOUT = timedelta(seconds=10)
WRITE_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["LedgerGap"])


class LedgerWriter:
    """Sends the run's unwritten audit entries to the ledger."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: The stage at the last write: a checkpoint writes when the run has moved since.
        self._written_at_stage = ""

    async def flush(self) -> None:
        """Write every entry not written yet. A failed write never stops the run: the entries
        stay in memory and the next flush sends them again."""
        ctx, state = self.ctx, self.ctx.state
        if not state.audit:
            return
        first = state.audit_written + 1
        batch = [
            SequencedEntry(seq=first + offset, entry=entry)
            for offset, entry in enumerate(state.audit)
        ]
        try:
            result = await workflow.execute_local_activity_method(
                LedgerActivities.append_to_ledger,
                AppendToLedgerInput(
                    transaction_id=ctx.transaction_id, run=self.facts(), entries=batch
                ),
                start_to_close_timeout=WRITE_TIMEOUT,
                retry_policy=WRITE_RETRY,
                summary=f"ledger {first}..{batch[-1].seq}",
            )
        except ActivityError as err:
            workflow.logger.warning("ledger write failed; retried at the next flush: %s", err.cause)
            return
        self._written_at_stage = state.stage.value
        written = max(0, min(result.last_seq, batch[-1].seq) - state.audit_written)
        # Another flush (the SLA watch runs beside the main flow) may have written some already.
        del state.audit[:written]
        state.audit_written += written

    async def flush_if_moved(self) -> None:
        """Write when the run changed stage since the last write (a checkpoint between steps)."""
        if self.ctx.state.stage.value != self._written_at_stage:
            await self.flush()

    def facts(self) -> RunFacts:
        """What the report needs about the run that its entries do not carry."""
        state = self.ctx.state
        name, domain = state.customer()
        tier = state.payload.customer.tier.value if state.payload else None
        rules = state.rules.rules if state.rules else None
        return RunFacts(
            customer_name=name,
            customer_domain=domain,
            tier=tier,
            phase=rules.phase_of(tier).value if rules and tier and tier in rules.tiers else None,
            rules_version=state.rules.version if state.rules else None,
            trigger_system=state.source.system,
            trigger_event_type=state.source.event_type,
            trigger_object_id=state.source.object_id,
        )
