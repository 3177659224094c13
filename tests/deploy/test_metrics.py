"""The worker's Prometheus endpoint: the SDK's metrics and the business ones, scraped while runs
go live, park, are resolved and cancelled, and while SLA clocks run out (time-skipping)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from onboarding.domain.stages import Stage
from onboarding.embedded.devserver import binary
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime import metrics
from onboarding.runtime.client import data_converter
from tests.deploy.processes import (
    Samples,
    free_port,
    scrape,
    total,
    worker_command,
    worker_env,
    worker_process,
)
from tests.deploy.test_manifests import dashboard_metric_names
from tests.support import (
    SandboxAdmin,
    cancel_as_the_cli_does,
    ended_cancelled,
    eventually,
    make_payload,
    result_of,
    run_ended,
    start,
    story,
    twin_companies,
    unique_slug,
    wait_for_exception,
)
from workers.main import build_worker
from workflows import search_attributes as sa
from workflows.messages import CancelRequest, ResolveRequest, SafeAction
from workflows.onboarding import OnboardingWorkflow

#: A worker process scraped while runs move.
pytestmark = pytest.mark.slow

ZENDESK_ORG = "/zendesk/api/v2/organizations.json"
CALENDLY = "/calendly/event_types/sandbox-kickoff"


async def scrape_when_up(url: str) -> Samples:
    async def attempt() -> Samples | None:
        try:
            return await scrape(url)
        except httpx.TransportError:
            return None

    samples = await eventually(attempt, lambda s: s is not None, what=f"{url} to answer")
    assert samples is not None
    return samples


async def test_worker_metrics_move_as_runs_go_live_park_resolve_and_cancel(
    client: Client,
    sandbox: Any,
    admin: SandboxAdmin,
    settings: VendorSettings,
    rules_file: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    task_queue = f"metrics-{uuid.uuid4()}"
    command = worker_command(
        client.service_client.config.target_host,
        client.namespace,
        task_queue,
        "--rules",
        str(rules_file),
    )
    env = worker_env(sandbox.base_url, **{metrics.METRICS_ADDRESS_ENV: f"127.0.0.1:{port}"})
    with worker_process(command, env=env, log=tmp_path / "worker.log"):
        before = await scrape_when_up(url)
        assert total(before, "onboarding_runs_started_total") == 0

        # One run goes live through a 429 that names its Retry-After.
        await admin.fault(method="POST", path=ZENDESK_ORG, status=429, count=1, retry_after=1)
        live = await start(client, task_queue, make_payload(unique_slug("metlive")))
        assert (await result_of(live.handle)).stage == Stage.LIVE

        # One parks on an ambiguous CRM match until a person chooses the company.
        slug = unique_slug("metamb")
        company_ids = await twin_companies(settings, slug)
        ambiguous = await start(client, task_queue, make_payload(slug))
        await wait_for_exception(client, ambiguous.transaction_id)
        await ambiguous.handle.execute_update(
            OnboardingWorkflow.resolve,
            ResolveRequest(
                action=SafeAction.CHOOSE_MATCH,
                actor="cs@example.com",
                company_id=company_ids[0],
                reason="the buyer",
            ),
        )
        assert (await result_of(ambiguous.handle)).stage == Stage.LIVE

        # One meets revoked credentials (an alert at once), then is cancelled.
        await admin.fault(method="GET", path=CALENDLY, status=401, count=1)
        cancelled = await start(client, task_queue, make_payload(unique_slug("metcxl")))
        await wait_for_exception(client, cancelled.transaction_id)
        await cancel_as_the_cli_does(
            cancelled.handle,
            CancelRequest(actor="cs@example.com", reason="deal unwound", rollback=False),
        )
        await ended_cancelled(cancelled.handle)

        after = await eventually(
            lambda: scrape(url),
            lambda s: total(s, "onboarding_runs_cancelled_total") == 1,
            what="the cancelled run to be counted",
        )

    # The SDK's own metrics, through the Temporal runtime's Prometheus exporter; the dashboard
    # charts only series a worker really serves.
    served = {name for name, _ in after}
    charted = {n for n in dashboard_metric_names() if n.startswith("temporal_")}
    assert charted and charted <= served, f"not served: {charted - served}"
    assert total(after, "temporal_workflow_completed_total", task_queue=task_queue) == 2
    assert total(after, "temporal_workflow_canceled_total", task_queue=task_queue) == 1
    assert total(after, "temporal_activity_execution_latency_seconds_count") > 0
    # Runs started, by stage, live, cancelled.
    assert total(after, "onboarding_runs_started_total", task_queue=task_queue) == 3
    assert total(after, "onboarding_stage_entered_total", stage="matching") == 3
    assert total(after, "onboarding_stage_entered_total", stage="live") == 2
    assert total(after, "onboarding_runs_live_total") == 2
    assert total(after, "onboarding_runs_cancelled_total") == 1
    # Exceptions opened and resolved, by category.
    opened = "onboarding_exceptions_opened_total"
    assert total(after, opened, category="ambiguous-match", system="hubspot") == 1
    assert total(after, opened, category="auth-error", system="calendly") == 1
    resolved = "onboarding_exceptions_resolved_total"
    assert total(after, resolved, category="ambiguous-match", action="choose-match") == 1
    # The credential failure alerted its owner at once.
    assert total(after, "onboarding_notices_sent_total", kind="failure", sla="exception") == 1
    # Vendor calls by system and status, from the activities; the 429's retry delay.
    calls = "onboarding_vendor_calls_total"
    assert total(after, calls, system="zendesk", status="429") == 1
    assert total(after, calls, system="calendly", status="401") == 1
    assert total(after, calls, system="hubspot", status="200") > 0
    assert total(after, calls, activity_type="provision_support") >= 2
    delay = "onboarding_vendor_retry_delay_seconds"
    assert total(after, f"{delay}_count", system="zendesk", error_type="RateLimited") == 1
    assert total(after, f"{delay}_sum", system="zendesk") == 1.0
    assert total(after, "onboarding_vendor_call_duration_seconds_count", system="asana") > 0


@pytest.mark.timeskipping
async def test_sla_at_risk_and_breach_are_counted(
    settings: VendorSettings, admin: SandboxAdmin, rules_file: Path
) -> None:
    """Hours pass in seconds; the worker's runtime serves the counters as they move."""
    port = free_port()
    runtime = metrics.prometheus_runtime(f"127.0.0.1:{port}")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(),
        test_server_existing_path=binary("temporal-test-server"),
        runtime=runtime,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
        )
    )
    vendors = Vendors(settings, on_call=metrics.record_vendor_call)
    try:
        worker = build_worker(
            env.client, vendors, task_queue=f"ts-{uuid.uuid4()}", rules_path=rules_file
        )
        async with worker:
            await admin.fault(method="GET", path=CALENDLY, status=401)
            outcome = await start(env.client, worker.task_queue, make_payload(unique_slug("sla")))
            await eventually(  # activities run in real time until the run parks
                lambda: outcome.handle.query(OnboardingWorkflow.status),
                lambda s: s.open_exception is not None,
                unless=run_ended,
                describe=story,
                what="the run to park",
            )
            url = f"http://127.0.0.1:{port}/metrics"
            assert total(await scrape(url), "onboarding_sla_at_risk_total") == 0
            await env.sleep(timedelta(hours=5))  # technical items: 4 hours
            samples = await eventually(
                lambda: scrape(url),
                lambda s: total(s, "onboarding_sla_breached_total", sla="exception") == 1,
                what="the breach to be counted",
            )
            assert total(samples, "onboarding_sla_at_risk_total", sla="exception") == 1
            await outcome.handle.execute_update(
                OnboardingWorkflow.cancel,
                CancelRequest(actor="cs@example.com", reason="test over", rollback=False),
            )
            await result_of(outcome.handle)
    finally:
        await vendors.aclose()
        await env.shutdown()
