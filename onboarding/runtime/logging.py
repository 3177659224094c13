"""JSON logs through structlog, with the transaction and run IDs of Temporal's context bound, and
personal data (emails, names) and secrets redacted from every line.

``workflow.logger`` and ``activity.logger`` are stdlib loggers that attach the workflow or
activity info under ``temporal_workflow`` / ``temporal_activity``; the processor below lifts the
transaction ID (the workflow ID) and the run ID out of them onto every line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from temporalio import activity, workflow

from onboarding.security.redaction import redact_personal_data


def merge_temporal_context(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Bind ``transaction_id``, ``run_id`` and the activity or workflow type from Temporal."""
    record = event.get("_record")
    workflow_info = getattr(record, "temporal_workflow", None) or event.pop(
        "temporal_workflow", None
    )
    activity_info = getattr(record, "temporal_activity", None) or event.pop(
        "temporal_activity", None
    )
    if isinstance(workflow_info, dict):
        event.setdefault("transaction_id", workflow_info.get("workflow_id"))
        event.setdefault("run_id", workflow_info.get("run_id"))
        event.setdefault("workflow_type", workflow_info.get("workflow_type"))
    if isinstance(activity_info, dict):
        event.setdefault("transaction_id", activity_info.get("workflow_id"))
        event.setdefault("run_id", activity_info.get("workflow_run_id"))
        event.setdefault("activity_type", activity_info.get("activity_type"))
        event.setdefault("attempt", activity_info.get("attempt"))
    return event


def _extra_from_record(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key in ("system", "error_type", "http_status", "attempt", "category", "step", "owner"):
            if hasattr(record, key):
                event.setdefault(key, getattr(record, key))
    return event


def configure_logging(level: str = "INFO", *, stream: Any = None) -> None:
    """Render every log line, ours and the SDK's, as one JSON object (stderr by default)."""
    # The context goes into fields (merge_temporal_context), not into the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            merge_temporal_context,
            _extra_from_record,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per vendor request is noise; failures are logged by the activities themselves.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
