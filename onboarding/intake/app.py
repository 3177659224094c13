"""The webhook intake: a small app of one handler per source over one shared pipeline.

``POST /webhooks/stripe``, ``/webhooks/docusign``, ``/webhooks/hubspot`` and ``/webhooks/crm``
(see :mod:`onboarding.intake.sources`), plus ``GET /healthz`` (the process is up; which
endpoints have a secret) and ``GET /readyz`` (Temporal answers). Health checks carry no
signature and reveal nothing but that.

At the HTTP edge: paths answer exactly (no trailing-slash redirect, whose ``Location`` would
be built from the request's ``Host``), and a request whose framing is ambiguous (both
``Content-Length`` and ``Transfer-Encoding``, two different lengths, a transfer coding other
than ``chunked``) is refused with 400 and the connection closed, so nothing can be smuggled
behind it to the next request on the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client

from onboarding.intake.pipeline import ClientProvider, Ignored, Outcome, Pipeline, Refusal
from onboarding.intake.settings import IntakeSettings
from onboarding.intake.sources import Handler, sources
from onboarding.integrations.hubspot import HubSpotClient

__all__ = ["CachedClientProvider", "ClientProvider", "IntakeSettings", "create_app"]


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


def framing_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why a request's body framing is ambiguous, or None.

    A front proxy and this server must agree where a body ends; when a request says it two
    ways, one of them may read the rest as a second, smuggled request.
    """
    lengths = {v.strip() for k, v in headers if k.lower() == b"content-length"}
    codings = [v.strip().lower() for k, v in headers if k.lower() == b"transfer-encoding"]
    if lengths and codings:
        return "both Content-Length and Transfer-Encoding: refused"
    if len(lengths) > 1:
        return "several different Content-Length headers: refused"
    if codings and codings != [b"chunked"]:
        return "a Transfer-Encoding other than chunked: refused"
    return None


class FramingGuard:
    """ASGI middleware: refuse ambiguous framing with 400 and ``Connection: close``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = framing_problem(list(scope["headers"]))
            if problem is not None:
                response = JSONResponse(
                    {"error": problem}, status_code=400, headers={"Connection": "close"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    *,
    client_provider: ClientProvider,
    settings: IntakeSettings,
    hubspot: HubSpotClient | None = None,
) -> Starlette:
    """The intake ASGI app.

    Args:
        client_provider: Async callable returning a connected Temporal client; it is called per
            delivery, and whatever it raises is answered 503.
        settings: Secrets, limits and the task queue.
        hubspot: The CRM API client HubSpot deliveries read deals with (None: the HubSpot
            endpoint answers 503, not configured).
    """
    pipe = Pipeline(settings=settings, client_provider=client_provider)

    def endpoint(source: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            delivery = None
            try:
                delivery = await pipe.read(request, source)
                outcomes = await handler(delivery, pipe)
            except Ignored as exc:
                if delivery is not None:
                    pipe.note_ignored(delivery, str(exc))
                outcomes = [Outcome("ignored", reason=str(exc))]
            except Refusal as refusal:
                pipe.note_refused(
                    delivery,
                    refusal.status,
                    refusal.error,
                    **({} if delivery else {"source": source}),
                )
                return refusal.response()
            return pipe.answer(outcomes)

        return receive

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "endpoints": settings.configured()})

    async def readyz(_: Request) -> Response:
        try:
            temporal = await pipe.client()
            healthy = await asyncio.wait_for(
                temporal.service_client.check_health(), settings.temporal_timeout_seconds
            )
        except Refusal as refusal:
            return refusal.response()
        except Exception as exc:
            return Refusal(
                503,
                f"Temporal is unavailable ({type(exc).__name__}); retry later",
                retry_after=settings.retry_after_seconds,
            ).response()
        if not healthy:
            return JSONResponse({"error": "Temporal reports unhealthy"}, status_code=503)
        return JSONResponse({"status": "ready", "task_queue": settings.task_queue})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    routes = [
        Route(f"/webhooks/{source}", endpoint(source, handler), methods=["POST"])
        for source, handler in sources(hubspot).items()
    ]
    app = Starlette(
        routes=[
            *routes,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    # Exact paths: Starlette would otherwise redirect "/webhooks/stripe/" to a URL built from
    # the request's Host header.
    app.router.redirect_slashes = False
    app.add_middleware(FramingGuard)
    return app
