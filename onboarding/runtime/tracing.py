"""OpenTelemetry traces of every run: the start, the workflow and each activity, one trace.

The SDK's ``TracingInterceptor`` is on every client made by :func:`onboarding.runtime.client.connect` (and so
on the worker it polls for). Where spans go is standard OpenTelemetry configuration:
``ONBOARDING_TRACES=console`` prints them as JSON lines on stderr; anything else (an OTLP
exporter, a collector) is set up by the process's own TracerProvider.
"""

from __future__ import annotations

import os
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor


def tracing_interceptor(tracer: trace.Tracer | None = None) -> TracingInterceptor:
    """The interceptor that traces starts, workflows, signals, updates and activities."""
    return TracingInterceptor(tracer)


def configure_tracing(
    service: str, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install a TracerProvider for ``service`` when asked to (``ONBOARDING_TRACES=console``, or
    an explicit exporter); otherwise leave OpenTelemetry as the process configured it."""
    if exporter is None and os.environ.get("ONBOARDING_TRACES") == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
