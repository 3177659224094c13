"""Cancelling a run, with the vendors faked: the rollback, a rollback that fails, and a cancel
that comes through Temporal alone."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError

from onboarding.domain.errors import ErrorType
from onboarding.domain.stages import Stage
from tests.support import make_payload, unique_slug
from tests.workflow.conftest import Harness, Run
from tests.workflow.fakes import FakeSystems
from workflows.messages import CancelRequest, SafeAction
from workflows.onboarding import OnboardingWorkflow


async def cancelled_with_a_failing_rollback(harness: Harness, systems: FakeSystems) -> Run:
    """A parked run, cancelled by a person; its rollback meets revoked credentials."""
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    systems.fail("roll_back", ErrorType.AUTH_ERROR, times=1)
    run = await harness.start(make_payload(unique_slug("undo")))
    await harness.parked(run, "auth-error")
    answer = await run.execute_update(
        OnboardingWorkflow.cancel, CancelRequest(actor="cs@example.com", reason="deal unwound")
    )
    assert answer.message == "cancel accepted; rolling back what this run created"
    status = await harness.parked(run, "auth-error")
    item = status.open_exception
    assert item is not None and len(status.exceptions) == 2, "a new item, for the rollback"
    assert (item.step, item.owner) == ("roll_back", "platform@example.com")
    assert item.safe_actions == ["retry", "skip", "reassign"], "no cancel of a cancel"
    assert status.exceptions[0].resolution == "run cancelled by cs@example.com: deal unwound"
    return run


async def test_a_rollback_that_fails_waits_for_a_person_then_retries(
    harness: Harness, systems: FakeSystems
) -> None:
    run = await cancelled_with_a_failing_rollback(harness, systems)
    await harness.resolve(run, SafeAction.RETRY, actor="platform@example.com")
    assert (await harness.ended(run)).stage == Stage.CANCELLED
    assert systems.called("roll_back") == 2
    status = await harness.status(run)
    rollback = [a for a in status.audit if a.action == "rollback"]
    assert [a.detail for a in rollback][-1] == "fake: archived crm_company"
    assert status.open_exception is None


async def test_a_rollback_a_person_skips_is_on_the_record(
    harness: Harness, systems: FakeSystems
) -> None:
    run = await cancelled_with_a_failing_rollback(harness, systems)
    await harness.resolve(run, SafeAction.SKIP, reason="archived by hand")
    assert (await harness.ended(run)).stage == Stage.CANCELLED
    assert systems.called("roll_back") == 1
    status = await harness.status(run)
    rollback = [(a.detail, a.data["outcome"]) for a in status.audit if a.action == "rollback"]
    assert rollback == [("rollback skipped by a person", "skipped")]


async def test_a_cancel_through_temporal_alone_rolls_back_and_ends_canceled(
    harness: Harness, systems: FakeSystems
) -> None:
    """The UI's "Request Cancellation": no update names who, the reason comes with the request."""
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("tcxl")))
    await harness.parked(run, "auth-error")
    await run.cancel(reason="duplicate order")
    with pytest.raises(WorkflowFailureError) as ended:
        await harness.ended(run)
    assert isinstance(ended.value.cause, CancelledError)
    assert systems.called("roll_back") == 1
    status = await harness.status(run)
    assert status.stage == Stage.CANCELLED
    cancelled = next(a for a in status.audit if a.action == "cancelled")
    assert cancelled.data["via"] == "temporal" and "duplicate order" in cancelled.detail


async def test_a_cancel_without_rollback_touches_nothing(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("keep")))
    await harness.parked(run, "auth-error")
    await run.execute_update(
        OnboardingWorkflow.cancel,
        CancelRequest(actor="cs@example.com", reason="keep the records", rollback=False),
    )
    assert (await harness.ended(run)).stage == Stage.CANCELLED
    assert systems.called("roll_back") == 0
    status = await harness.status(run)
    cancelled = next(a for a in status.audit if a.action == "cancelled")
    assert cancelled.detail == "cancelled by cs@example.com: keep the records (no rollback)"
