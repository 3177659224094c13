"""What a real run writes to the ledger is what the report reads: one enterprise run, signed off,
counted from its own rows."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.domain.stages import Stage
from onboarding.ledger.report import compute_report, week_of
from tests.support import ledger, make_payload, result_of, start, unique_slug, wait_for_stage
from workflows.messages import SignOffRequest
from workflows.onboarding import OnboardingWorkflow


async def test_a_signed_off_run_is_touchless_and_its_trail_is_whole_and_chained(
    client: Client, worker: Worker
) -> None:
    payload = make_payload(unique_slug("trail"), customer={"tier": "enterprise", "region": "amer"})
    outcome = await start(client, worker.task_queue, payload)
    await wait_for_stage(client, outcome.transaction_id, "qa")
    await outcome.handle.execute_update(
        OnboardingWorkflow.sign_off, SignOffRequest(actor="qa@example.com", note="checked")
    )
    assert (await result_of(outcome.handle)).stage == Stage.LIVE

    rows = list(ledger().rows(transaction_id=outcome.transaction_id))
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), "no gap, no double"
    assert all(r["prev_hash"] == p["hash"] for p, r in pairwise(rows))
    actions = [r["action"] for r in rows]
    assert actions[-1] == "live" and "qa-signed-off" in actions
    sign_off = next(r for r in rows if r["action"] == "qa-signed-off")
    assert sign_off["actor"] == "qa@example.com"

    report = compute_report(
        rows,
        week=week_of(datetime.now(UTC)),
        runs={k: v for k, v in ledger().runs().items() if k == outcome.transaction_id},
        vendor_failures=[],
    )
    # The QA sign-off is a planned wait for a person, in the queue while it lasts, but never
    # counted as an exception.
    assert report.runs_live == 1 and report.completed_without_exception_share == 1.0
    assert report.exceptions_opened == 0 and report.exceptions_per_10_onboardings == 0
    assert report.qa_first_pass_rate == 1.0 and report.qa_runs_checked == 1
    assert report.not_in_expected_state == [] and report.unowned_steps == []
    assert not [o for o in report.overrides if o.action == "sign-off"]
