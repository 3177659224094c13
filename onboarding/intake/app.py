"""The webhook intake: a signed paid/signed/closed-won event becomes one durable onboarding run.

Per delivery, in this order:

1. The body is read up to ``max_body_bytes`` (413 beyond).
2. Its signature is verified on the raw bytes, before any parsing (401, or 400 when the header
   is malformed).
3. It is parsed as JSON (400) and mapped (:mod:`onboarding.triggers`): an event the intake does
   not handle is acknowledged ``200 {"status": "ignored"}`` so the sender stops retrying; an
   event that should start a run but cannot be mapped is 422 with the reason.
4. The run is started (workflow ID = transaction ID, so redeliveries reach the same run), or
   the billing signal is sent to it, and only once Temporal has accepted that call does the
   intake answer 2xx. Temporal unreachable is 503 with ``Retry-After``: the sender retries and
   nothing is lost.

Logs are JSON through structlog and carry IDs only: never a secret, a signature, a body, a
name or an email.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from onboarding.domain.triggers import (
    EventError,
    UnhandledEvent,
    from_crm_event,
    from_docusign_event,
    from_stripe_event,
    payment_failed_from_stripe_event,
    payment_succeeded_from_stripe_event,
    stripe_event_kind,
)
from onboarding.runtime.client import TASK_QUEUE
from onboarding.security.redaction import redact
from onboarding.security.signatures import (
    STRIPE_TOLERANCE_SECONDS,
    SignatureError,
    SignatureProblem,
    docusign_signatures,
    verify_crm,
    verify_docusign,
    verify_stripe,
)
from starters.start import start_onboarding

log = structlog.get_logger("onboarding.intake")

#: An async callable returning a connected client; called per request, so an outage is seen.
ClientProvider = Callable[[], Awaitable[Client]]
_Handler = Callable[[Request, bytes, str], Awaitable[Response]]

DEFAULT_MAX_BODY_BYTES = 256 * 1024
#: Statuses that mean "Temporal cannot take this now": the sender should retry later.
UNAVAILABLE_STATUSES = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
    }
)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class IntakeSettings:
    """What the intake needs besides a Temporal client.

    Attributes:
        stripe_webhook_secrets: Stripe endpoint signing secrets (``whsec_...``), any may match.
        docusign_connect_keys: DocuSign Connect HMAC keys, any may match.
        crm_webhook_secrets: CRM webhook shared secrets, any may match.
        max_body_bytes: Largest accepted body; larger is 413.
        task_queue: Task queue of the runs the intake starts.
        stripe_tolerance_seconds: Accepted age of a Stripe signature.
        temporal_timeout_seconds: How long one start or signal may take before the answer is
            503 (the sender retries; the start is idempotent).
        retry_after_seconds: The ``Retry-After`` of a 503.
    """

    stripe_webhook_secrets: tuple[str, ...] = ()
    docusign_connect_keys: tuple[str, ...] = ()
    crm_webhook_secrets: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    task_queue: str = TASK_QUEUE
    stripe_tolerance_seconds: int = STRIPE_TOLERANCE_SECONDS
    temporal_timeout_seconds: float = 10.0
    retry_after_seconds: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IntakeSettings:
        """Settings from ``STRIPE_WEBHOOK_SECRETS``, ``DOCUSIGN_CONNECT_KEYS``,
        ``CRM_WEBHOOK_SECRET`` (all comma-separated), ``INTAKE_MAX_BODY_BYTES``,
        ``INTAKE_TEMPORAL_TIMEOUT_SECONDS`` and ``ONBOARDING_TASK_QUEUE``.

        Raises:
            ValueError: a number that does not parse.
        """
        env = os.environ if environ is None else environ
        return cls(
            stripe_webhook_secrets=_split(env.get("STRIPE_WEBHOOK_SECRETS")),
            docusign_connect_keys=_split(env.get("DOCUSIGN_CONNECT_KEYS")),
            crm_webhook_secrets=_split(env.get("CRM_WEBHOOK_SECRET")),
            max_body_bytes=int(env.get("INTAKE_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES),
            task_queue=env.get("ONBOARDING_TASK_QUEUE") or TASK_QUEUE,
            temporal_timeout_seconds=float(env.get("INTAKE_TEMPORAL_TIMEOUT_SECONDS") or 10.0),
        )

    def configured(self) -> dict[str, bool]:
        """Which endpoints have a secret (an endpoint without one answers 503)."""
        return {
            "stripe": bool(self.stripe_webhook_secrets),
            "docusign": bool(self.docusign_connect_keys),
            "crm": bool(self.crm_webhook_secrets),
        }


class CachedClientProvider:
    """A :data:`ClientProvider` that connects on first use and keeps the client.

    A failed connect is retried on the next request; once connected, the client reconnects by
    itself after an outage.
    """

    def __init__(self, connect: Callable[[], Awaitable[Client]]) -> None:
        """Wrap ``connect`` (e.g. ``runtime.client.connect``)."""
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> Client:
        """The connected client, connecting first if needed."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await self._connect()
            return self._client


class _Reply(Exception):
    """Stop handling a request and answer this."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("error") or body.get("status"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _log(level: str, event: str, **fields: Any) -> None:
    getattr(log, level)(event, **redact(fields))


def create_app(*, client_provider: ClientProvider, settings: IntakeSettings) -> Starlette:
    """The intake ASGI app.

    Args:
        client_provider: Async callable returning a connected Temporal client; it is called per
            request, and whatever it raises is answered 503.
        settings: Secrets, limits and the task queue.
    """

    def unavailable(why: str) -> _Reply:
        return _Reply(
            503,
            {"error": f"Temporal is unavailable ({why}); retry later"},
            {"Retry-After": str(settings.retry_after_seconds)},
        )

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise _Reply(400, {"error": "malformed Content-Length header"})
            if int(declared) > settings.max_body_bytes:
                raise _Reply(413, {"error": f"body larger than {settings.max_body_bytes} bytes"})
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise _Reply(413, {"error": f"body larger than {settings.max_body_bytes} bytes"})
            chunks.append(chunk)
        return b"".join(chunks)

    def parse(body: bytes) -> Any:
        try:
            return json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Reply(400, {"error": "body is not UTF-8"}) from None
        except json.JSONDecodeError as exc:
            raise _Reply(
                400, {"error": f"body is not JSON: {exc.msg} at line {exc.lineno}"}
            ) from None
        except (ValueError, RecursionError):
            raise _Reply(400, {"error": "body is not JSON this service can read"}) from None

    def refuse(exc: SignatureError, source: str) -> _Reply:
        if exc.problem is SignatureProblem.NOT_CONFIGURED:
            return _Reply(
                503,
                {"error": f"the {source} endpoint is not configured: {exc.reason}"},
                {"Retry-After": str(settings.retry_after_seconds)},
            )
        status = 400 if exc.problem is SignatureProblem.MALFORMED else 401
        return _Reply(status, {"error": exc.reason})

    async def client() -> Client:
        try:
            return await asyncio.wait_for(
                client_provider(), timeout=settings.temporal_timeout_seconds
            )
        except TimeoutError:
            raise unavailable("connect timed out") from None
        except Exception as exc:
            _log("warning", "temporal connect failed", error_type=type(exc).__name__)
            raise unavailable("cannot connect") from None

    def temporal_failure(exc: BaseException, action: str) -> _Reply:
        if isinstance(exc, TimeoutError):
            return unavailable(f"{action} timed out")
        if isinstance(exc, RPCError) and exc.status not in UNAVAILABLE_STATUSES:
            _log("error", f"temporal refused {action}", status=exc.status.name)
            return _Reply(500, {"error": f"Temporal refused {action} ({exc.status.name})"})
        if isinstance(exc, RPCError):
            return unavailable(exc.status.name)
        return unavailable(type(exc).__name__)

    async def start(
        system: str, mapped: tuple[str, Any, dict[str, Any]], request_id: str
    ) -> Response:
        transaction_id, source, payload = mapped
        temporal = await client()
        try:
            outcome = await asyncio.wait_for(
                start_onboarding(
                    temporal, transaction_id, source, payload, task_queue=settings.task_queue
                ),
                timeout=settings.temporal_timeout_seconds,
            )
        except (TimeoutError, RPCError, RuntimeError, OSError) as exc:
            raise temporal_failure(exc, "the start") from None
        if outcome.state == "closed":
            _log(
                "info",
                "late delivery: run already finished",
                system=system,
                transaction_id=transaction_id,
                request_id=request_id,
            )
            return JSONResponse(
                {
                    "status": "already-finished",
                    "transaction_id": transaction_id,
                    "run_id": outcome.run_id,
                },
                status_code=200,
            )
        response = getattr(outcome.handle, "_start_workflow_response", None)
        started = getattr(response, "started", None)
        status = "started" if started is True else "running"
        _log(
            "info",
            f"run {status}",
            system=system,
            event_type=source.event_type,
            event_id=source.event_id,
            transaction_id=transaction_id,
            run_id=outcome.run_id,
            request_id=request_id,
        )
        return JSONResponse(
            {"status": status, "transaction_id": transaction_id, "run_id": outcome.run_id},
            status_code=201,
        )

    async def signal(
        transaction_id: str, name: str, arg: Any, event_id: str | None, request_id: str
    ) -> Response:
        temporal = await client()
        try:
            payloads = await temporal.data_converter.encode([arg])
            await temporal.workflow_service.signal_workflow_execution(
                SignalWorkflowExecutionRequest(
                    namespace=temporal.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=transaction_id),
                    signal_name=name,
                    input=Payloads(payloads=payloads),
                    identity=temporal.identity,
                    # The same event delivered twice is one signal (the server dedupes).
                    request_id=f"{name}:{event_id}" if event_id else str(uuid.uuid4()),
                ),
                retry=True,
                timeout=timedelta(seconds=settings.temporal_timeout_seconds),
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                _log(
                    "info",
                    "no run to signal",
                    signal=name,
                    transaction_id=transaction_id,
                    request_id=request_id,
                )
                return JSONResponse(
                    {
                        "status": "no-run",
                        "transaction_id": transaction_id,
                        "reason": f"no open run {transaction_id!r} to signal {name}",
                    },
                    status_code=202,
                )
            raise temporal_failure(exc, "the signal") from None
        except (TimeoutError, RuntimeError, OSError) as exc:
            raise temporal_failure(exc, "the signal") from None
        _log(
            "info",
            "run signalled",
            signal=name,
            event_id=event_id,
            transaction_id=transaction_id,
            request_id=request_id,
        )
        return JSONResponse(
            {"status": "signalled", "signal": name, "transaction_id": transaction_id},
            status_code=200,
        )

    def ignored(system: str, exc: UnhandledEvent, request_id: str) -> Response:
        _log("info", "event ignored", system=system, reason=str(exc), request_id=request_id)
        return JSONResponse({"status": "ignored", "reason": str(exc)}, status_code=200)

    def unprocessable(system: str, exc: EventError, request_id: str) -> _Reply:
        _log("warning", "event refused", system=system, reason=str(exc), request_id=request_id)
        return _Reply(422, {"error": str(exc)})

    async def handle_stripe(request: Request, body: bytes, request_id: str) -> Response:
        try:
            verify_stripe(
                body,
                request.headers.get("stripe-signature"),
                settings.stripe_webhook_secrets,
                tolerance=settings.stripe_tolerance_seconds,
            )
        except SignatureError as exc:
            raise refuse(exc, "stripe") from None
        event = parse(body)
        try:
            kind = stripe_event_kind(event)
            if kind == "start":
                return await start("stripe", from_stripe_event(event), request_id)
            if kind == "payment_failed":
                txn, failed = payment_failed_from_stripe_event(event)
                return await signal(txn, kind, failed, failed.event_id, request_id)
            txn, succeeded = payment_succeeded_from_stripe_event(event)
            return await signal(txn, kind, succeeded, succeeded.event_id, request_id)
        except UnhandledEvent as exc:
            return ignored("stripe", exc, request_id)
        except EventError as exc:
            raise unprocessable("stripe", exc, request_id) from None

    async def handle_docusign(request: Request, body: bytes, request_id: str) -> Response:
        try:
            verify_docusign(
                body, docusign_signatures(request.headers.items()), settings.docusign_connect_keys
            )
        except SignatureError as exc:
            raise refuse(exc, "docusign") from None
        event = parse(body)
        try:
            mapped = from_docusign_event(event)
        except UnhandledEvent as exc:
            return ignored("docusign", exc, request_id)
        except EventError as exc:
            raise unprocessable("docusign", exc, request_id) from None
        return await start("docusign", mapped, request_id)

    async def handle_crm(request: Request, body: bytes, request_id: str) -> Response:
        try:
            verify_crm(body, request.headers.get("x-signature"), settings.crm_webhook_secrets)
        except SignatureError as exc:
            raise refuse(exc, "crm") from None
        event = parse(body)
        try:
            mapped = from_crm_event(event)
        except UnhandledEvent as exc:
            return ignored("crm", exc, request_id)
        except EventError as exc:
            raise unprocessable("crm", exc, request_id) from None
        return await start("crm", mapped, request_id)

    def endpoint(system: str, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            request_id = uuid.uuid4().hex[:16]
            try:
                body = await read_body(request)
                return await handler(request, body, request_id)
            except _Reply as reply:
                if reply.status >= 400:
                    _log(
                        "warning" if reply.status < 500 else "error",
                        "delivery refused",
                        system=system,
                        http_status=reply.status,
                        reason=reply.body.get("error"),
                        request_id=request_id,
                    )
                return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

        return run

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "endpoints": settings.configured()})

    async def readyz(_: Request) -> Response:
        try:
            temporal = await client()
            healthy = await asyncio.wait_for(
                temporal.service_client.check_health(), settings.temporal_timeout_seconds
            )
        except _Reply as reply:
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
        except Exception as exc:
            return JSONResponse(
                temporal_failure(exc, "the health check").body,
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        if not healthy:
            return JSONResponse({"error": "Temporal reports unhealthy"}, status_code=503)
        return JSONResponse({"status": "ready", "task_queue": settings.task_queue})

    return Starlette(
        routes=[
            Route("/webhooks/stripe", endpoint("stripe", handle_stripe), methods=["POST"]),
            Route("/webhooks/docusign", endpoint("docusign", handle_docusign), methods=["POST"]),
            Route("/webhooks/crm", endpoint("crm", handle_crm), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )
