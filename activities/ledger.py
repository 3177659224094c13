"""The ledger: each run's audit trail written outside Temporal, so it outlives retention."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import AppendToLedgerInput
from onboarding.ledger.models import AppendResult
from onboarding.ledger.store import Ledger, LedgerGap

#: The ``ApplicationError`` type of a write that would leave a hole in a run's trail.
LEDGER_GAP = "LedgerGap"


class LedgerActivities:
    """Writes to the ledger of one worker process.

    Args:
        ledger: The ledger database (its connection pool is shared by every run).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @activity.defn
    async def append_to_ledger(self, request: AppendToLedgerInput) -> AppendResult:
        """Write a batch of one run's entries, idempotently (key: transaction + position).

        Meant to run as a local activity at stage changes, before parking and at the end. The
        answer's ``last_seq`` is what the ledger holds; the next call sends what follows it.
        Database errors are raised as they are and retried; a batch that would leave a hole
        fails without retry (``LedgerGap``), naming the position to start from.
        """
        try:
            result = await asyncio.to_thread(
                self.ledger.append,
                request.transaction_id,
                request.run,
                [(e.seq, e.entry) for e in request.entries],
            )
        except LedgerGap as exc:
            raise ApplicationError(str(exc), type=LEDGER_GAP, non_retryable=True) from None
        if result.conflicts:
            # A reset run may write other content at positions it already wrote: the ledger
            # keeps the first write and says so, without failing the run.
            activity.logger.warning(
                "ledger kept its rows where the run sent other content",
                extra={"transaction_id": request.transaction_id, "positions": result.conflicts},
            )
        return result
