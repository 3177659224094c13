"""Each safe action on an exception item, with the vendors faked: what the run does next, what
it refuses, and who is on the record."""

from __future__ import annotations

from onboarding.domain.errors import ErrorType
from onboarding.domain.run import MatchCandidate
from onboarding.domain.stages import Stage
from tests.support import make_payload, unique_slug
from tests.workflow.conftest import Harness, actions_on_record
from tests.workflow.fakes import FakeSystems
from workflows import search_attributes as sa
from workflows.messages import SafeAction

EVERY_ACTION = ["retry", "replay-from", "skip", "reassign", "cancel"]


async def test_retry_runs_the_failed_step_again(harness: Harness, systems: FakeSystems) -> None:
    systems.fail("provision_support", ErrorType.AUTH_ERROR, times=1)
    run = await harness.start(make_payload(unique_slug("retry")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None
    assert (item.step, item.system, item.http_status) == ("provision_support", "zendesk", 401)
    assert item.owner == "platform@example.com" and item.safe_actions == EVERY_ACTION
    assert systems.called("provision_support") == 1, "credentials are never retried"

    done = await harness.resolve(run, SafeAction.RETRY, reason="token rotated")
    assert done.message == f"{item.id}: retry accepted; the run resumes"
    assert (await harness.ended(run)).stage == Stage.LIVE
    assert systems.called("provision_support") == 2
    status = await harness.status(run)
    assert actions_on_record(status.audit) == [("ops@example.com", "retry")]
    assert status.exceptions[0].resolution == "retry by ops@example.com: token rotated"


async def test_replay_from_reruns_the_stages_from_there_and_sends_nothing_twice(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.qa_failing["support-organization"] = 1
    run = await harness.start(make_payload(unique_slug("replay")))
    item = (await harness.parked(run, "qa-failed")).open_exception
    assert item is not None and item.message == "support-organization: gone"
    assert item.safe_actions == EVERY_ACTION

    refused = await harness.refused(run, SafeAction.REPLAY_FROM, stage="live")
    assert refused == (
        "replay-from needs a stage the run has reached: one of "
        "matching, provisioning, kickoff, welcome, qa"
    )
    await harness.resolve(run, SafeAction.REPLAY_FROM, stage="provisioning")
    assert (await harness.ended(run)).stage == Stage.LIVE
    assert systems.called("create_delivery_project") == 2
    assert systems.called("provision_support") == 2
    assert systems.called("resolve_crm_identity") == 1, "stages before it are not rerun"
    assert systems.called("create_kickoff_link") == 1, "the kickoff link is reused"
    assert systems.called("send_email") == 1, "the welcome email is not sent twice"
    assert systems.called("verify_linked_records") == 2
    status = await harness.status(run)
    assert [a.detail for a in status.audit if a.action == "replay"] == [
        "rerunning from provisioning"
    ]


async def test_supply_data_completes_the_payload_field_by_field(
    harness: Harness, systems: FakeSystems
) -> None:
    slug = unique_slug("supply")
    payload = make_payload(slug)
    del payload["crm_owner"]
    del payload["customer"]["domain"]
    run = await harness.start(payload)
    status = await harness.parked(run, "missing-data")
    item = status.open_exception
    assert item is not None and status.stage == Stage.AWAITING_DATA
    assert [p.path for p in item.missing_fields] == ["crm_owner", "customer.domain"]
    assert item.owner == "sales-ops@example.com", "no deal owner on the payload: sales ops"
    assert item.safe_actions == ["supply-data", "reassign", "cancel"]

    refused = await harness.refused(
        run, SafeAction.SUPPLY_DATA, data={"customer": {"domain": "Not A Domain"}}
    )
    assert refused.startswith("supplied data is not valid: customer.domain")
    partial = await harness.resolve(
        run, SafeAction.SUPPLY_DATA, data={"customer": {"domain": f"{slug}.example"}}
    )
    assert partial.message.endswith("data accepted; still missing or invalid: crm_owner")
    again = (await harness.parked(run, "missing-data")).open_exception
    assert again is not None and [p.path for p in again.missing_fields] == ["crm_owner"]
    assert systems.called("resolve_crm_identity") == 0, "nothing runs on an incomplete payload"

    await harness.resolve(run, SafeAction.SUPPLY_DATA, data={"crm_owner": "rep@example.com"})
    assert (await harness.ended(run)).stage == Stage.LIVE
    identity = systems.calls["resolve_crm_identity"][0]
    assert (identity.domain, identity.crm_owner) == (f"{slug}.example", "rep@example.com")


async def test_choose_match_sends_the_chosen_company_and_never_auto_picks(
    harness: Harness, systems: FakeSystems
) -> None:
    slug = unique_slug("choose")
    systems.companies = [
        MatchCandidate(id="501", name=f"{slug} East", domain=f"{slug}.example"),
        MatchCandidate(id="502", name=f"{slug} West", domain=f"{slug}.example"),
    ]
    run = await harness.start(make_payload(slug))
    status = await harness.parked(run, "ambiguous-match")
    item = status.open_exception
    assert item is not None and [c.id for c in item.candidates] == ["501", "502"]
    assert item.owner == status.case_owner
    assert item.safe_actions == ["choose-match", "retry", "reassign", "cancel"]
    assert systems.called("create_delivery_project") == 0, "nothing before a confirmed company"

    refused = await harness.refused(run, SafeAction.CHOOSE_MATCH, company_id="999")
    assert refused == "company '999' is not a candidate; candidates: 501, 502"
    await harness.resolve(run, SafeAction.CHOOSE_MATCH, company_id="502", reason="the buyer")
    assert (await harness.ended(run)).stage == Stage.LIVE
    first, second = systems.calls["resolve_crm_identity"]
    assert (first.chosen_company_id, second.chosen_company_id) == (None, "502")
    status = await harness.status(run)
    assert status.linked.crm_company_id == "502"
    assert "crm_company" not in status.linked.created, "a chosen company is matched, not created"
    assert systems.calls["create_delivery_project"][0].crm_company_id == "502"


async def test_skip_needs_a_reason_and_the_run_goes_on_without_the_step(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("send_email", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("skip")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None and item.step == "send_email:welcome"

    assert await harness.refused(run, SafeAction.SKIP) == "skip needs a justification (reason)"
    await harness.resolve(run, SafeAction.SKIP, reason="welcomed by phone")
    assert (await harness.ended(run)).stage == Stage.LIVE
    status = await harness.status(run)
    assert status.linked.email_ids == {}
    assert actions_on_record(status.audit) == [("ops@example.com", "skip")]


async def test_a_crm_step_cannot_be_skipped(harness: Harness, systems: FakeSystems) -> None:
    systems.fail("resolve_crm_identity", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("noskip")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None and item.safe_actions == ["retry", "reassign", "cancel"]
    refused = await harness.refused(run, SafeAction.SKIP, reason="no CRM today")
    assert refused == (
        "skip is not a safe action for this auth-error item; choose one of: retry, reassign, cancel"
    )
    systems.heal("resolve_crm_identity")
    await harness.resolve(run, SafeAction.RETRY)
    assert (await harness.ended(run)).stage == Stage.LIVE


async def test_reassign_hands_the_item_over_and_the_run_keeps_waiting(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("hand")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None and item.owner == "platform@example.com"

    refused = await harness.refused(run, SafeAction.REASSIGN, reason="calendly admin")
    assert refused == "reassign needs the new owner"
    done = await harness.resolve(
        run, SafeAction.REASSIGN, owner="integrations@example.com", reason="calendly admin"
    )
    assert (
        done.message
        == f"{item.id} reassigned from platform@example.com to integrations@example.com"
    )
    status = await harness.status(run)
    assert status.open_exception is not None
    assert status.open_exception.owner == "integrations@example.com"
    description = await run.describe()
    assert description.typed_search_attributes.get(sa.EXCEPTION_OWNER) == (
        "integrations@example.com"
    )
    assert systems.called("create_kickoff_link") == 1, "a reassign does not retry"

    systems.heal("create_kickoff_link")
    await harness.resolve(run, SafeAction.RETRY, actor="integrations@example.com")
    assert (await harness.ended(run)).stage == Stage.LIVE
    reassigned = [
        a for a in (await harness.status(run)).audit if a.action == "exception-reassigned"
    ]
    assert [(a.actor, a.data["owner"]) for a in reassigned] == [
        ("ops@example.com", "integrations@example.com")
    ]


async def test_cancel_on_an_item_rolls_back_what_the_run_created(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("cxl")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None

    assert await harness.refused(run, SafeAction.CANCEL) == "cancel needs a justification (reason)"
    await harness.resolve(run, SafeAction.CANCEL, actor="cs@example.com", reason="deal unwound")
    # Without Temporal's cancellation after the update, the run completes, its stage cancelled
    # (the time-skipping server lets the confirmation window pass at once).
    assert (await harness.ended(run)).stage == Stage.CANCELLED
    [rollback] = systems.calls["roll_back"]
    assert rollback.linked.created == [
        "crm_company",
        "crm_contact",
        "project",
        "support_org",
        "support_user",
    ]
    status = await harness.status(run)
    assert status.exceptions[0].resolution == "cancel by cs@example.com: deal unwound"
    assert next(a.detail for a in status.audit if a.action == "rollback") == (
        "fake: archived support_user"
    )
    ended = next(a for a in status.audit if a.action == "cancelled")
    assert (ended.actor, ended.data["via"]) == ("cs@example.com", "cli")
