"""What every ``onboarding`` command shares: the exit codes, the error a person reads, and
reading one run's status."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

if TYPE_CHECKING:
    from onboarding.domain.run import RunStatus

QUERY_TIMEOUT = timedelta(seconds=5)

#: The exit codes of ``onboarding``, for scripts: done.
EXIT_OK = 0
#: Wrong arguments, input or configuration (payloads encrypted and no key ring, for instance).
EXIT_USAGE = 2
#: The run refused the action; the message says why. Nothing changed.
EXIT_REFUSED = 3
#: No run has this transaction ID.
EXIT_NOT_FOUND = 4
#: Temporal cannot be reached; try again later.
EXIT_UNAVAILABLE = 5
#: The run has ended (live, cancelled or failed): too late for this action. Nothing changed.
EXIT_ENDED = 6


class CliError(Exception):
    """A failure with the message a person reads and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def run_status(client: Client, transaction_id: str) -> RunStatus:
    """One run's ``status`` query (imported here: ``onboarding queue`` never loads the workflow)."""
    from workflows.onboarding import OnboardingWorkflow

    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    try:
        return await handle.query(OnboardingWorkflow.status)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no onboarding run for transaction {transaction_id}", EXIT_NOT_FOUND
            ) from None
        raise
