"""Prometheus metrics of the onboarding worker: the Temporal SDK's own and the business ones.

Both are served by the Temporal runtime's telemetry (``Runtime`` with ``PrometheusConfig``) on
``ONBOARDING_METRICS_ADDRESS`` (``host:port``, e.g. ``0.0.0.0:9464``), path ``/metrics``. Unset,
no endpoint is served. Counters end in ``_total``, durations are seconds (``_seconds``), as the
Temporal SDK dashboards expect.

Where each business metric is recorded:

- Workflow side, through ``workflow.metric_meter()``: it records nothing while a history is
  replayed and adds nothing to the history, so a run that is replayed on another worker (after a
  restart, a cache eviction) is not counted twice. Every series carries ``namespace``,
  ``task_queue`` and ``workflow_type``.
- Activity side, through ``activity.metric_meter()``: every vendor HTTP call, observed by the
  HTTP layer (:class:`onboarding.integrations.http.VendorCall`), and the retry delay each failed
  attempt leads to. Every series carries ``activity_type``.

A worker restart resets its counters; Prometheus' ``rate``/``increase`` handle that. How many runs
wait in each stage *now* is a visibility query (``OnboardingStage``), not a metric: counters from
N workers cannot say it.
"""

from __future__ import annotations

import os
from datetime import timedelta

from temporalio import activity
from temporalio.common import MetricMeter, RetryPolicy
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from onboarding.integrations.http import VendorCall

#: ``host:port`` the worker serves ``/metrics`` on; unset, no endpoint.
METRICS_ADDRESS_ENV = "ONBOARDING_METRICS_ADDRESS"
#: The port the deployment files use (Dockerfile, compose, Kubernetes, Prometheus).
DEFAULT_METRICS_PORT = 9464

# Metric names as created here; Prometheus shows counters with ``_total`` appended (see
# :func:`prometheus_runtime`).
RUNS_STARTED = "onboarding_runs_started"
STAGE_ENTERED = "onboarding_stage_entered"
RUNS_LIVE = "onboarding_runs_live"
RUNS_CANCELLED = "onboarding_runs_cancelled"
EXCEPTIONS_OPENED = "onboarding_exceptions_opened"
EXCEPTIONS_RESOLVED = "onboarding_exceptions_resolved"
SLA_AT_RISK = "onboarding_sla_at_risk"
SLA_BREACHED = "onboarding_sla_breached"
NOTICES_SENT = "onboarding_notices_sent"
VENDOR_CALLS = "onboarding_vendor_calls"
# Histograms of seconds carry the unit in their name (the exporter would append ``_s``).
VENDOR_CALL_DURATION = "onboarding_vendor_call_duration_seconds"
VENDOR_RETRY_DELAY = "onboarding_vendor_retry_delay_seconds"

#: Every business counter, by its Prometheus name.
PROMETHEUS_COUNTERS = tuple(
    f"{name}_total"
    for name in (
        RUNS_STARTED,
        STAGE_ENTERED,
        RUNS_LIVE,
        RUNS_CANCELLED,
        EXCEPTIONS_OPENED,
        EXCEPTIONS_RESOLVED,
        SLA_AT_RISK,
        SLA_BREACHED,
        NOTICES_SENT,
        VENDOR_CALLS,
    )
)
#: Every business histogram, by its Prometheus name (``_bucket``, ``_sum``, ``_count`` follow).
PROMETHEUS_HISTOGRAMS = (VENDOR_CALL_DURATION, VENDOR_RETRY_DELAY)


def prometheus_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime serving Prometheus metrics on ``bind_address`` (``host:port``).

    Pass it to ``Client.connect(runtime=...)``; a worker on that client reports through it.

    Raises:
        RuntimeError: When the address cannot be bound (the port is taken).
    """
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            )
        )
    )


def metrics_address(value: str | None = None) -> str | None:
    """The metrics bind address: ``value``, else ``ONBOARDING_METRICS_ADDRESS``, else None."""
    address = value if value is not None else os.environ.get(METRICS_ADDRESS_ENV, "")
    return address.strip() or None


# ---------------------------------------------------------------- workflow side


def run_started(meter: MetricMeter) -> None:
    """A run started (its first workflow task)."""
    meter.create_counter(RUNS_STARTED, "Onboarding runs started").add(1)


def stage_entered(meter: MetricMeter, stage: str) -> None:
    """A run entered ``stage``."""
    meter.create_counter(STAGE_ENTERED, "Runs entering each stage").add(1, {"stage": stage})


def run_ended(meter: MetricMeter, stage: str) -> None:
    """A run ended in ``stage``: ``live`` or ``cancelled`` are counted."""
    if stage == "live":
        meter.create_counter(RUNS_LIVE, "Runs that went live").add(1)
    elif stage == "cancelled":
        meter.create_counter(RUNS_CANCELLED, "Runs cancelled").add(1)


def exception_opened(meter: MetricMeter, category: str, system: str) -> None:
    """An exception item opened (the run parks in front of a person)."""
    meter.create_counter(EXCEPTIONS_OPENED, "Exception items opened").add(
        1, {"category": category, "system": system}
    )


def exception_resolved(meter: MetricMeter, category: str, action: str) -> None:
    """A person resolved an exception item with a safe action (``reassign`` is not counted)."""
    meter.create_counter(EXCEPTIONS_RESOLVED, "Exception items resolved by a person").add(
        1, {"category": category, "action": action}
    )


def sla_name(clock: str) -> str:
    """The ``sla`` label of a clock: ``stage:provisioning`` stays, an exception's clock (one per
    item) becomes ``exception``, anything else its first part (``manual``...)."""
    kind, _, rest = clock.partition(":")
    return clock if kind == "stage" and rest else kind


def notice_sent(meter: MetricMeter, kind: str, clock: str) -> None:
    """A notice went out: SLA ``at-risk``, ``breached``, ``escalated``, ``nudge``, ``failure``,
    ``manual-task``. At-risk and breached are also counted on their own."""
    sla = sla_name(clock)
    meter.create_counter(NOTICES_SENT, "Alerts and nudges sent").add(1, {"kind": kind, "sla": sla})
    if kind == "at-risk":
        meter.create_counter(SLA_AT_RISK, "SLA clocks at risk").add(1, {"sla": sla})
    elif kind == "breached":
        meter.create_counter(SLA_BREACHED, "SLA clocks breached").add(1, {"sla": sla})


# ---------------------------------------------------------------- activity side


def record_vendor_call(call: VendorCall) -> None:
    """Count one vendor call by system and status, and time it (an HTTP-layer observer).

    Outside an activity (the demo seeding its CRM) nothing is recorded.
    """
    if not activity.in_activity():
        return
    meter = activity.metric_meter()
    meter.create_counter(VENDOR_CALLS, "Vendor HTTP calls by system and status").add(
        1, {"system": call.system, "status": call.status}
    )
    meter.create_histogram_float(
        VENDOR_CALL_DURATION, "Vendor HTTP call duration in seconds"
    ).record(call.seconds, {"system": call.system})


def retry_delay(
    policy: RetryPolicy | None, attempt: int, retry_after: float | None
) -> timedelta | None:
    """The delay Temporal waits before retrying attempt ``attempt`` of an activity.

    ``Retry-After`` (sent as the failure's ``next_retry_delay``) wins; otherwise the policy's
    backoff: ``initial * coefficient ** (attempt - 1)``, capped at its maximum. None when the
    attempts are used up (a person takes over).
    """
    if policy is None:
        return None
    if policy.maximum_attempts and attempt >= policy.maximum_attempts:
        return None
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    delay = policy.initial_interval * (policy.backoff_coefficient ** (attempt - 1))
    if policy.maximum_interval is not None:
        delay = min(delay, policy.maximum_interval)
    return delay


def record_retry_delay(system: str, error_type: str, retry_after: float | None) -> None:
    """Record the delay before the current activity's next attempt, after a retryable failure."""
    if not activity.in_activity():
        return
    info = activity.info()
    delay = retry_delay(info.retry_policy, info.attempt, retry_after)
    if delay is None:
        return
    activity.metric_meter().create_histogram_float(
        VENDOR_RETRY_DELAY, "Delay in seconds before a failed vendor step is retried"
    ).record(delay.total_seconds(), {"system": system, "error_type": error_type})
