"""One way to reach Temporal, for the worker, the starters, the CLI, the demo and the tests.

Connection settings come from ``temporalio.envconfig``: ``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS_*``, ``TEMPORAL_PROFILE`` and the
TOML profile file (``TEMPORAL_CONFIG_FILE``), the same as the ``temporal`` CLI reads. Without any
of them it is the embedded dev server on ``localhost:7233`` and the ``default`` namespace.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.service import RPCError, RPCStatusCode

#: The task queue every onboarding worker polls.
TASK_QUEUE = os.environ.get("ONBOARDING_TASK_QUEUE", "onboarding")
#: The namespace of the embedded default (created by the demo with 7-day retention).
DEMO_NAMESPACE = "onboarding"


def data_converter() -> DataConverter:
    """The one data converter: pydantic models in, pydantic models out.

    When ``ONBOARDING_CODEC_KEYS`` is set, every payload is also encrypted (AES-256-GCM, see
    :mod:`onboarding.security.codec`); a malformed key ring raises rather than falling back to
    plain text. Failures are not payloads: a vendor's error text that echoes a contact's email
    would sit in the history as plain text (``ActivityTaskFailed``, a pending activity's last
    failure, a failed workflow). So with the codec on, the failure converter moves every
    failure's message and stack trace into an encoded attribute, which the codec encrypts; the
    history keeps ``Encoded failure`` in their place, and the CLI, the UI through the codec
    server and every client with the keys decode them back. Without keys, payloads are written in clear
    and an encrypted one is refused with a message that names the variable to set.
    """
    import dataclasses

    from onboarding.security.codec import NoKeysCodec, codec_from_env

    codec = codec_from_env()
    if codec is None:
        return dataclasses.replace(pydantic_data_converter, payload_codec=NoKeysCodec())
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def connect_config(**overrides: Any) -> dict[str, Any]:
    """Client connect arguments from the environment (envconfig), with explicit overrides."""
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    config.setdefault("target_host", "localhost:7233")
    config.update({k: v for k, v in overrides.items() if v is not None})
    return config


async def connect(
    *, target_host: str | None = None, namespace: str | None = None, **kwargs: Any
) -> Client:
    """Connect with the shared data converter and the tracing interceptor (``interceptors=[]``:
    without it, and without importing OpenTelemetry, for a client that only reads visibility)."""
    config = connect_config(target_host=target_host, namespace=namespace)
    if "interceptors" not in kwargs:
        from onboarding.runtime.tracing import tracing_interceptor

        kwargs["interceptors"] = [tracing_interceptor()]
    return await Client.connect(**config, data_converter=data_converter(), **kwargs)


async def connect_when_ready(
    *,
    target_host: str | None = None,
    namespace: str | None = None,
    on_wait: Callable[[str, int, float], None],
    stop: asyncio.Event | None = None,
    first_delay: float = 1.0,
    max_delay: float = 30.0,
    **kwargs: Any,
) -> Client | None:
    """Connect once Temporal answers and the namespace exists, retrying with backoff.

    A worker started beside its server (compose, Kubernetes) often starts first; it waits
    instead of exiting. Configuration errors (a malformed key ring) are raised at once.

    Args:
        target_host: Temporal host:port (default: envconfig).
        namespace: The namespace (default: envconfig).
        on_wait: Called before each wait with why, the attempt number and the delay in seconds.
        stop: When set, the wait ends and None is returned (a shutdown requested meanwhile).
        first_delay: The first delay; it doubles after every failed attempt.
        max_delay: The longest delay between attempts.
        kwargs: Passed to :func:`connect` (e.g. ``runtime``, a runtime serving metrics).

    Returns:
        The client, or None when ``stop`` was set first.
    """
    stop = stop or asyncio.Event()
    wanted = namespace or connect_config().get("namespace") or "default"
    delay = first_delay
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            client = await connect(target_host=target_host, namespace=namespace, **kwargs)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=client.namespace)
            )
            return client
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                why = f"namespace {wanted!r} does not exist yet"
            else:
                why = f"Temporal answered {exc.status.name}: {exc.message}"
        except RuntimeError as exc:  # the SDK's "Failed client connect: ..." and its kin
            why = f"cannot reach Temporal: {exc}"
        on_wait(why, attempt, delay)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
        delay = min(delay * 2, max_delay)
    return None
