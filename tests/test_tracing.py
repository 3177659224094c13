"""One trace per run: the start, the workflow and every activity, through OpenTelemetry."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from onboarding.domain.stages import Stage
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime.tracing import tracing_interceptor
from tests.support import make_payload, start, unique_slug
from workers.main import build_worker


async def test_a_run_is_one_trace_with_a_span_per_activity(
    client: Client, settings: VendorSettings, rules_file: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = client.config()
    config["interceptors"] = [tracing_interceptor(provider.get_tracer("test"))]
    traced = Client(**config)
    vendors = Vendors(settings)
    queue = f"tq-{uuid.uuid4()}"
    try:
        async with build_worker(traced, vendors, task_queue=queue, rules_path=rules_file):
            outcome = await start(traced, queue, make_payload(unique_slug("trace")))
            # The bare result: result_of's status queries would each be a trace of their own.
            result = await asyncio.wait_for(outcome.handle.result(), timeout=60)
            assert result.stage == Stage.LIVE
    finally:
        await vendors.aclose()
    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert "SignalWithStartWorkflow:OnboardingWorkflow" in names
    assert "RunWorkflow:OnboardingWorkflow" in names
    for activity in ("resolve_crm_identity", "create_delivery_project", "provision_support"):
        assert f"RunActivity:{activity}" in names
    assert len({span.context.trace_id for span in spans}) == 1, "one trace for the whole run"
