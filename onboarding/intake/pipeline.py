"""The one pipeline every source shares: read, verify, map, then start or signal, then answer.

1. **Read** the body, at most ``max_body_bytes`` (413 beyond).
2. **Verify** its signature on the raw bytes before anything parses it (401; 400 for a
   malformed header; 503 when the endpoint has no secret).
3. **Map** the parsed JSON to intents (:mod:`onboarding.domain.triggers`): every field is read
   through a bounded reader, so a delivery that can never be accepted is 422 with the field's
   path, and an event that starts nothing is ``200 ignored``. Verify, parse and map run in a
   worker thread: the event loop never spends time proportional to what a sender sent.
4. **Start or signal**: the run is started (workflow ID = transaction ID, so redeliveries reach
   the same run) or sent its billing signal, and only once Temporal has accepted that call is
   the answer 2xx.

Answers (the README's table):

======================  =======================================================================
``201 started``          a new run is durable in Temporal
``200 running``          the run exists and is open: the event was delivered to it
``200 already-finished`` the run has closed: acknowledged, nothing started
``200 signalled``        the run received its billing signal
``200 no-run``           a billing signal for a transaction without an open run
``200 ignored``          an event the intake does not act on (type, state, renewal)
``400`` / ``401``        malformed body or header, smuggled framing / bad or stale signature
``404`` / ``405``        not a webhook path (paths are exact) / not POST
``413``                  body larger than the limit
``422``                  signed, but never acceptable: a field out of its type or bounds
``503`` + Retry-After    Temporal unreachable or refusing, the endpoint not configured, or
                         (HubSpot) the CRM API unreachable: the sender retries, nothing is lost
======================  =======================================================================

Nothing else answers 5xx. Every refusal and every ignored event writes one audit line (JSON,
``audit="intake"``) with the reason and IDs, never a secret, a signature, a body, a name or an
email.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from onboarding.domain.triggers import EventError, Intent, SignalRun, UnhandledEvent
from onboarding.intake.settings import IntakeSettings
from onboarding.security.redaction import redact
from onboarding.security.signatures import SignatureError, SignatureProblem
from starters.start import start_onboarding

log = structlog.get_logger("onboarding.intake")

T = TypeVar("T")
#: An async callable returning a connected client; called per request, so an outage is seen.
ClientProvider = Callable[[], Awaitable[Client]]

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
#: How many HubSpot deals of one delivery are read at once.
DEAL_READS_AT_ONCE = 4


def audit(level: str, event: str, **fields: Any) -> None:
    """One log line about a delivery, redacted (the intake's audit trail)."""
    getattr(log, level)(event, audit="intake", **redact(fields))


class Refusal(Exception):
    """Stop a delivery and answer this (a 4xx, or a 503 the sender retries)."""

    def __init__(self, status: int, error: str, *, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.retry_after = retry_after

    def response(self) -> Response:
        """The JSON answer."""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse({"error": self.error}, status_code=self.status, headers=headers)


class Ignored(Exception):
    """A well-formed event the intake does not act on: acknowledged ``200 ignored``."""


@dataclass(frozen=True)
class Delivery:
    """One request to a webhook endpoint, its body read."""

    source: str
    method: str
    url: str
    headers: Headers
    body: bytes
    request_id: str

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive), or None."""
        return self.headers.get(name)


@dataclass(frozen=True)
class Outcome:
    """What became of one event: its part of the answer."""

    status: str
    transaction_id: str | None = None
    run_id: str | None = None
    signal: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The answer's body for this event (absent fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_json(body: bytes) -> Any:
    """The body as JSON.

    Raises:
        Refusal: 400, not UTF-8 or not JSON (numbers of more than 4,300 digits included).
    """
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refusal(400, "body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Refusal(400, f"body is not JSON: {exc.msg} at line {exc.lineno}") from None
    except (ValueError, RecursionError):
        raise Refusal(400, "body is not JSON this service can read") from None


class Pipeline:
    """The shared steps; the handlers of :mod:`onboarding.intake.sources` compose them.

    Args:
        settings: Secrets, limits and the task queue.
        client_provider: Returns a connected Temporal client; called per delivery.
    """

    def __init__(self, *, settings: IntakeSettings, client_provider: ClientProvider) -> None:
        self.settings = settings
        self._client_provider = client_provider

    # ------------------------------------------------------------------------------ read

    async def read(self, request: Request, source: str) -> Delivery:
        """The request with its body, at most ``max_body_bytes``.

        Raises:
            Refusal: 400 for a malformed ``Content-Length``, 413 for a body over the limit.
        """
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.strip().isdigit()):
                raise Refusal(400, "malformed Content-Length header")
            if len(declared.strip()) > 15 or int(declared) > limit:
                raise Refusal(413, f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refusal(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
        return Delivery(
            source=source,
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            body=b"".join(chunks),
            request_id=uuid.uuid4().hex[:16],
        )

    # ---------------------------------------------------------------------- verify and map

    def refusal(self, exc: SignatureError, source: str) -> Refusal:
        """The answer to a signature that cannot be accepted."""
        if exc.problem is SignatureProblem.NOT_CONFIGURED:
            return Refusal(
                503,
                f"the {source} endpoint is not configured: {exc.reason}",
                retry_after=self.settings.retry_after_seconds,
            )
        return Refusal(400 if exc.problem is SignatureProblem.MALFORMED else 401, exc.reason)

    async def verified(
        self,
        delivery: Delivery,
        verify: Callable[[Delivery], object],
        mapping: Callable[[Any], T],
    ) -> T:
        """Verify the signature, parse the body and map it, in a worker thread.

        Raises:
            Refusal: the signature (401/400/503), the body (400) or a field (422).
            Ignored: an event the intake does not act on.
        """

        def work() -> T:
            try:
                verify(delivery)
            except SignatureError as exc:
                raise self.refusal(exc, delivery.source) from None
            event = parse_json(delivery.body)
            try:
                return mapping(event)
            except UnhandledEvent as exc:
                raise Ignored(str(exc)) from None
            except EventError as exc:
                raise Refusal(422, str(exc)) from None
            except RecursionError:
                raise Refusal(422, "the event is nested too deeply to read") from None

        return await asyncio.to_thread(work)

    # --------------------------------------------------------------------- start or signal

    def _unavailable(self, why: str) -> Refusal:
        return Refusal(
            503,
            f"Temporal is unavailable ({why}); retry later",
            retry_after=self.settings.retry_after_seconds,
        )

    def _temporal_failure(self, exc: BaseException, action: str, source: str) -> Refusal:
        if isinstance(exc, TimeoutError):
            return self._unavailable(f"{action} timed out")
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.INVALID_ARGUMENT:
            # The request itself is what Temporal refuses: retrying it cannot help.
            return Refusal(422, f"Temporal refused {action}: {exc.message[:200]}")
        if isinstance(exc, RPCError) and exc.status not in UNAVAILABLE_STATUSES:
            audit("error", "temporal refused", action=action, status=exc.status.name, source=source)
            return self._unavailable(f"it refused {action}: {exc.status.name}")
        if isinstance(exc, RPCError):
            return self._unavailable(exc.status.name)
        audit("error", "temporal call failed", action=action, error_type=type(exc).__name__)
        return self._unavailable(type(exc).__name__)

    async def client(self) -> Client:
        """The Temporal client, within the timeout.

        Raises:
            Refusal: 503 when Temporal cannot be reached.
        """
        try:
            return await asyncio.wait_for(
                self._client_provider(), timeout=self.settings.temporal_timeout_seconds
            )
        except TimeoutError:
            raise self._unavailable("connect timed out") from None
        except Exception as exc:
            audit("warning", "temporal connect failed", error_type=type(exc).__name__)
            raise self._unavailable("cannot connect") from None

    async def deliver(self, delivery: Delivery, intent: Intent) -> Outcome:
        """Start (or reach) the run of a :class:`StartRun`, or send a :class:`SignalRun`.

        Raises:
            Refusal: 503 when Temporal cannot take it now (the sender retries: both the start
                and the signal are idempotent), 422 when Temporal refuses the request itself.
        """
        if isinstance(intent, SignalRun):
            return await self._signal(delivery, intent)
        temporal = await self.client()
        try:
            started = await asyncio.wait_for(
                start_onboarding(
                    temporal,
                    intent.transaction_id,
                    intent.source,
                    intent.payload,
                    task_queue=self.settings.task_queue,
                ),
                timeout=self.settings.temporal_timeout_seconds,
            )
        except Exception as exc:
            raise self._temporal_failure(exc, "the start", delivery.source) from None
        state = started.state
        audit(
            "info",
            f"run {state}",
            source=delivery.source,
            event_type=intent.source.event_type,
            event_id=intent.source.event_id,
            transaction_id=intent.transaction_id,
            run_id=started.run_id,
            request_id=delivery.request_id,
        )
        if state == "running" and intent.then_signal is not None:
            await self._signal(delivery, intent.then_signal)
        return Outcome(state, transaction_id=intent.transaction_id, run_id=started.run_id)

    async def _signal(self, delivery: Delivery, signal: SignalRun) -> Outcome:
        temporal = await self.client()
        timeout = self.settings.temporal_timeout_seconds
        try:
            payloads = await temporal.data_converter.encode([signal.event])
            await asyncio.wait_for(
                temporal.workflow_service.signal_workflow_execution(
                    SignalWorkflowExecutionRequest(
                        namespace=temporal.namespace,
                        workflow_execution=WorkflowExecution(workflow_id=signal.transaction_id),
                        signal_name=signal.name,
                        input=Payloads(payloads=payloads),
                        identity=temporal.identity,
                        # The same event delivered twice is one signal (the server dedupes).
                        request_id=f"{signal.name}:{signal.event_id}"
                        if signal.event_id
                        else str(uuid.uuid4()),
                    ),
                    retry=True,
                    timeout=timedelta(seconds=timeout),
                ),
                timeout=timeout,
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise self._temporal_failure(exc, "the signal", delivery.source) from None
            audit(
                "info",
                "no run to signal",
                source=delivery.source,
                signal=signal.name,
                transaction_id=signal.transaction_id,
                request_id=delivery.request_id,
            )
            return Outcome(
                "no-run",
                transaction_id=signal.transaction_id,
                signal=signal.name,
                reason=f"no open run {signal.transaction_id} to signal {signal.name}",
            )
        except Exception as exc:
            raise self._temporal_failure(exc, "the signal", delivery.source) from None
        audit(
            "info",
            "run signalled",
            source=delivery.source,
            signal=signal.name,
            event_id=signal.event_id,
            transaction_id=signal.transaction_id,
            request_id=delivery.request_id,
        )
        return Outcome("signalled", transaction_id=signal.transaction_id, signal=signal.name)

    async def deliver_each(
        self,
        delivery: Delivery,
        items: Sequence[T],
        intent_of: Callable[[T], Awaitable[Intent]],
    ) -> list[Outcome]:
        """Turn each item into an intent (e.g. read a deal) and deliver it; a few at a time.

        An item that is ignored or refused is that item's outcome (with an audit line); the
        others go on. A :class:`Refusal` of the whole delivery (Temporal or the CRM unavailable)
        stops it: the sender retries all of it, and every start is idempotent.
        """
        gate = asyncio.Semaphore(DEAL_READS_AT_ONCE)

        async def one(item: T) -> Outcome:
            async with gate:
                try:
                    intent = await intent_of(item)
                except Ignored as exc:
                    self.note_ignored(delivery, str(exc))
                    return Outcome("ignored", reason=str(exc))
                except EventError as exc:
                    self.note_refused(delivery, 422, str(exc))
                    return Outcome("refused", reason=str(exc))
                return await self.deliver(delivery, intent)

        return list(await asyncio.gather(*(one(item) for item in items)))

    # ---------------------------------------------------------------------------- answer

    def note_ignored(self, delivery: Delivery, reason: str) -> None:
        """The audit line of an event acknowledged and not acted on."""
        audit(
            "info",
            "event ignored",
            source=delivery.source,
            reason=reason,
            request_id=delivery.request_id,
        )

    def note_refused(self, delivery: Delivery | None, status: int, reason: str, **ids: Any) -> None:
        """The audit line of a refused delivery (or event)."""
        audit(
            "warning" if status < 500 else "error",
            "delivery refused",
            http_status=status,
            reason=reason,
            **({"source": delivery.source, "request_id": delivery.request_id} if delivery else {}),
            **ids,
        )

    @staticmethod
    def answer(outcomes: Sequence[Outcome]) -> Response:
        """201 when a run started, 422 when every event was refused, else 200."""
        statuses = {o.status for o in outcomes}
        code = 201 if "started" in statuses else 422 if statuses == {"refused"} else 200
        if len(outcomes) == 1:
            body = outcomes[0].as_json()
            if code == 422:
                body = {"error": outcomes[0].reason}
            return JSONResponse(body, status_code=code)
        results = [o.as_json() for o in outcomes]
        return JSONResponse({"status": "delivered", "results": results}, status_code=code)
