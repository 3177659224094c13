"""Where a run waits on something other than a failed step, with the vendors faked: the payment
hold before scheduling, the QA sign-off before live, a scope change between steps."""

from __future__ import annotations

from onboarding.domain.errors import ErrorType
from onboarding.domain.stages import Stage
from tests.support import make_payload, unique_slug
from tests.workflow.conftest import Harness, Run, actions_on_record
from tests.workflow.fakes import FakeSystems
from workflows.messages import (
    PaymentFailed,
    PaymentSucceeded,
    SafeAction,
    ScopeChangeRequest,
    SignOffRequest,
)
from workflows.onboarding import OnboardingWorkflow


async def held_for_payment(harness: Harness, systems: FakeSystems) -> Run:
    """A run whose payment failed before scheduling: it waits in front of revenue operations."""
    # Park it at provisioning, so the payment failure surely arrives before the kickoff.
    systems.fail("provision_support", ErrorType.AUTH_ERROR, times=1)
    run = await harness.start(make_payload(unique_slug("pay")))
    await harness.parked(run, "auth-error")
    await run.signal(
        OnboardingWorkflow.payment_failed,
        PaymentFailed(invoice_id="in_1", event_id="evt_1", reason="card_declined"),
    )
    await harness.resolve(run, SafeAction.RETRY)
    status = await harness.parked(run, "payment-failed")
    item = status.open_exception
    assert item is not None
    assert (item.owner, item.step, item.system) == ("revops@example.com", "payment", "stripe")
    assert item.message == "payment failed for invoice in_1: card_declined"
    assert item.safe_actions == ["skip", "reassign", "cancel"]
    assert systems.called("create_kickoff_link") == 0, "no scheduling while payment has failed"
    return run


async def test_a_payment_hold_clears_itself_when_billing_reports_the_payment(
    harness: Harness, systems: FakeSystems
) -> None:
    run = await held_for_payment(harness, systems)
    await run.signal(OnboardingWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_1"))
    assert (await harness.ended(run)).stage == Stage.LIVE
    assert systems.called("create_kickoff_link") == 1
    status = await harness.status(run)
    assert status.exceptions[-1].resolution == "cleared automatically: payment succeeded"
    payments = [a.data["event"] for a in status.audit if a.action == "payment"]
    assert payments == ["failed", "succeeded"]


async def test_a_person_may_skip_a_payment_hold(harness: Harness, systems: FakeSystems) -> None:
    run = await held_for_payment(harness, systems)
    await harness.resolve(run, SafeAction.SKIP, actor="cfo@example.com", reason="paid by wire")
    assert (await harness.ended(run)).stage == Stage.LIVE
    assert systems.called("create_kickoff_link") == 1
    status = await harness.status(run)
    assert ("cfo@example.com", "skip") in actions_on_record(status.audit)


async def test_qa_sign_off_only_by_a_member_of_the_tiers_roles(
    harness: Harness, systems: FakeSystems
) -> None:
    run = await harness.start(
        make_payload(unique_slug("ent"), customer={"tier": "enterprise", "region": "amer"})
    )
    status = await harness.parked(run, "qa-sign-off")
    item = status.open_exception
    assert item is not None and status.stage == Stage.QA
    assert status.awaiting == "QA sign-off by a member of: qa-reviewer, cs-lead"
    assert item.safe_actions == ["sign-off", "reassign", "cancel"]
    assert all(c.ok for c in status.qa), "the automated checks passed first"

    refused = await harness.refused(run, SafeAction.SIGN_OFF, actor="qa@example.com")
    assert refused.startswith(f"a QA sign-off is given with: onboarding sign-off {run.id}")
    refused = await harness.refusal(
        run, OnboardingWorkflow.sign_off, SignOffRequest(actor="intern@example.com")
    )
    assert refused == "intern@example.com may not sign off: only members of qa-reviewer, cs-lead"
    assert (await harness.status(run)).open_exception is not None, "a refusal changes nothing"

    signed = await run.execute_update(
        OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com", note="checked")
    )
    assert (signed.role, signed.message) == (
        "qa-reviewer",
        "signed off by qa@example.com as qa-reviewer",
    )
    assert (await harness.ended(run)).stage == Stage.LIVE
    status = await harness.status(run)
    assert status.sign_off is not None and status.sign_off.actor == "qa@example.com"
    assert status.exceptions[-1].resolution == "cleared automatically: signed off"
    assert systems.called("update_crm_onboarding") == 2, "marked onboarding, then live"


async def test_a_scope_change_freezes_the_run_until_a_scope_approver_approves(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR, times=1)
    run = await harness.start(make_payload(unique_slug("scope")))
    await harness.parked(run, "auth-error")

    refused = await harness.refusal(
        run,
        OnboardingWorkflow.request_scope_change,
        ScopeChangeRequest(actor="am@example.com", reason="adds SSO", items=[" "]),
    )
    assert refused == "a scope change needs at least one change-order item"
    change = await run.execute_update(
        OnboardingWorkflow.request_scope_change,
        ScopeChangeRequest(
            actor="am@example.com", reason="adds SSO", items=["Configure SSO", "Admin training"]
        ),
    )
    assert change.id == "SC1"
    await harness.resolve(run, SafeAction.RETRY)

    status = await harness.parked(run, "scope-change")
    item = status.open_exception
    assert item is not None and item.owner == status.case_owner
    assert item.safe_actions == ["approve", "reassign", "cancel"]
    [order] = systems.calls["create_change_order_tasks"]
    assert (order.request_id, order.items) == ("SC1", ["Configure SSO", "Admin training"])
    assert order.project_gid == status.linked.project_gid
    assert status.scope_changes[0].task_gids == ["SC1-1", "SC1-2"]
    assert systems.called("create_kickoff_link") == 1, "frozen: the step was not retried yet"
    hold = [n for n in systems.calls["notify"] if n.key == "scope:SC1"]
    assert hold and hold[0].subject.startswith("Hold billing: scope change on")
    assert set(hold[0].recipients) == {"revops@example.com", item.owner}

    refused = await harness.refused(run, SafeAction.APPROVE, actor="am@example.com")
    assert refused == (
        "am@example.com may not approve a scope change: only scope approvers "
        "(revops@example.com, head-of-cs@example.com)"
    )
    await harness.resolve(run, SafeAction.APPROVE, actor="revops@example.com", reason="signed CO")
    assert (await harness.ended(run)).stage == Stage.LIVE
    assert systems.called("create_kickoff_link") == 2
    status = await harness.status(run)
    assert status.scope_changes[0].decision == "approve by revops@example.com: signed CO"
