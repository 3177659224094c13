"""The sandbox Starlette application: every vendor mounted under its prefix, plus admin."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from onboarding.sandbox.errors import ApiError, asana_error
from onboarding.sandbox.faults import FaultMiddleware, FaultRegistry, RequestLog
from onboarding.sandbox.seed import seed
from onboarding.sandbox.store import Store
from onboarding.sandbox.vendors import (
    asana,
    calendly,
    hubspot,
    hubspot_deals,
    resend,
    slack,
    zendesk,
)
from onboarding.sandbox.vendors.common import ALL_METHODS

#: The credentials accepted by default (the Slack entry is the webhook's secret segment).
DEFAULT_TOKENS: dict[str, str] = {
    "hubspot": "sandbox-hubspot-token",
    "asana": "sandbox-asana-token",
    # An Asana OAuth app's access token: the one that may read and write tasks' ``external``.
    "asana_oauth": "sandbox-asana-oauth-token",
    "zendesk": "sandbox-zendesk-token",
    "resend": "re_sandbox_key",
    "calendly": "sandbox-calendly-token",
    "slack": "sandbox-webhook",
}

_STATE: dict[str, Callable[[Store], dict[str, Any]]] = {
    "hubspot": lambda store: {**hubspot.state(store), **hubspot_deals.state(store)},
    "asana": asana.state,
    "zendesk": zendesk.state,
    "resend": resend.state,
    "calendly": calendly.state,
    "slack": slack.state,
}


def resolve_tokens(tokens: dict[str, str] | None = None) -> dict[str, str]:
    """Merge the accepted credentials: defaults, then ``SANDBOX_<VENDOR>_TOKEN``, then ``tokens``.

    Args:
        tokens: Explicit overrides by vendor name.

    Returns:
        The credential accepted for each vendor.

    Raises:
        ValueError: When ``tokens`` names an unknown vendor.
    """
    resolved = dict(DEFAULT_TOKENS)
    for vendor in resolved:
        from_env = os.environ.get(f"SANDBOX_{vendor.upper()}_TOKEN")
        if from_env:
            resolved[vendor] = from_env
    for vendor, token in (tokens or {}).items():
        if vendor not in resolved:
            raise ValueError(f"unknown vendor in tokens: {vendor}")
        resolved[vendor] = token
    return resolved


def _state_of(request: Request) -> tuple[Store, FaultRegistry, RequestLog]:
    app_state = request.app.state
    return app_state.store, app_state.faults, app_state.request_log


def _admin_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _admin_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return await request.json()
    except ValueError as exc:
        raise ApiError(_admin_error(400, f"invalid JSON: {exc}")) from exc


async def health(request: Request) -> Response:
    """``GET /_admin/health``."""
    return JSONResponse({"ok": True})


async def add_fault(request: Request) -> Response:
    """``POST /_admin/faults``."""
    _, faults, _ = _state_of(request)
    try:
        fault = faults.add(await _admin_json(request))
    except ValueError as exc:
        return _admin_error(400, str(exc))
    return JSONResponse(fault.to_json(), status_code=201)


async def list_faults(request: Request) -> Response:
    """``GET /_admin/faults``."""
    _, faults, _ = _state_of(request)
    return JSONResponse({"faults": faults.list()})


async def clear_faults(request: Request) -> Response:
    """``DELETE /_admin/faults``."""
    _, faults, _ = _state_of(request)
    return JSONResponse({"cleared": faults.clear()})


async def delete_fault(request: Request) -> Response:
    """``DELETE /_admin/faults/{id}``."""
    _, faults, _ = _state_of(request)
    if not faults.remove(request.path_params["id"]):
        return _admin_error(404, "no such fault")
    return Response(status_code=204)


async def full_state(request: Request) -> Response:
    """``GET /_admin/state``."""
    store, _, _ = _state_of(request)
    return JSONResponse({vendor: build(store) for vendor, build in _STATE.items()})


async def vendor_state(request: Request) -> Response:
    """``GET /_admin/state/{vendor}``."""
    store, _, _ = _state_of(request)
    build = _STATE.get(request.path_params["vendor"])
    if build is None:
        return _admin_error(404, f"unknown vendor; expected one of {', '.join(_STATE)}")
    return JSONResponse(build(store))


async def requests_log(request: Request) -> Response:
    """``GET /_admin/requests?since=<seq>&vendor=&method=&path=``."""
    _, _, log = _state_of(request)
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        return _admin_error(400, "`since` must be an integer")
    entries = log.since(since)
    for key in ("vendor", "method", "path"):
        wanted = request.query_params.get(key)
        if wanted is not None:
            if key == "method":
                wanted = wanted.upper()
            entries = [entry for entry in entries if entry[key] == wanted]
    return JSONResponse({"requests": entries, "last_seq": log.last_seq})


async def reset(request: Request) -> Response:
    """``POST /_admin/reset``: wipe data, reseed, clear faults and the request log."""
    store, faults, log = _state_of(request)
    with store.atomic():
        store.wipe()
        seed(store)
    faults.reset()
    log.clear()
    request.app.state.hubspot_search_lag = request.app.state.default_search_lag
    return JSONResponse({"ok": True})


def default_search_lag() -> float:
    """The HubSpot search-index lag at start: ``SANDBOX_HUBSPOT_SEARCH_LAG`` seconds, else 0."""
    raw = os.environ.get("SANDBOX_HUBSPOT_SEARCH_LAG", "").strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        return 0.0


async def get_search_lag(request: Request) -> Response:
    """``GET /_admin/hubspot/search-lag``."""
    return JSONResponse({"seconds": request.app.state.hubspot_search_lag})


async def set_search_lag(request: Request) -> Response:
    """``PUT /_admin/hubspot/search-lag`` with ``{"seconds": N}``: search sees writes N seconds
    late (0: at once)."""
    body = await _admin_json(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return _admin_error(400, 'body must be {"seconds": N} with N >= 0')
    request.app.state.hubspot_search_lag = float(seconds)
    return JSONResponse({"seconds": float(seconds)})


async def seed_hubspot_company(request: Request) -> Response:
    """``POST /_admin/seed/hubspot/companies`` with ``{"properties": {...}}``."""
    store, _, _ = _state_of(request)
    body = await _admin_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return _admin_error(400, 'body must be {"properties": {...}}')
    properties = {key: "" if v is None else str(v) for key, v in body["properties"].items()}
    record = hubspot.create_object(store, "companies", properties)
    state = hubspot.state(store)
    rendered = next(c for c in state["companies"] if c["id"] == record["id"])
    return JSONResponse(rendered, status_code=201)


def _admin_routes() -> list[BaseRoute]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{id}", delete_fault, methods=["DELETE"]),
        Route("/state", full_state, methods=["GET"]),
        Route("/state/{vendor}", vendor_state, methods=["GET"]),
        Route("/requests", requests_log, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/seed/hubspot/companies", seed_hubspot_company, methods=["POST"]),
        Route("/hubspot/search-lag", get_search_lag, methods=["GET"]),
        Route("/hubspot/search-lag", set_search_lag, methods=["PUT"]),
    ]


async def _asana_outside_api(request: Request) -> Response:
    return asana_error(404, "Not Found")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response


def create_app(
    db_path: str,
    tokens: dict[str, str] | None = None,
    *,
    hubspot_search_lag: float | None = None,
) -> Starlette:
    """Build the sandbox application.

    The database is opened (and seeded when empty) right away and closed when the
    application's lifespan ends.

    Args:
        db_path: The SQLite file holding the sandbox's data.
        tokens: Credential overrides by vendor (``hubspot``, ``asana``, ``asana_oauth``,
            ``zendesk``, ``resend``, ``calendly``, and ``slack`` for the webhook secret).
        hubspot_search_lag: Seconds HubSpot's search lags writes (None: from the environment,
            else 0); switchable at run time through the admin API.

    Returns:
        The Starlette application.
    """
    accepted = resolve_tokens(tokens)
    store = Store(db_path)
    seed(store)
    faults = FaultRegistry()
    request_log = RequestLog()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = Starlette(
        routes=[
            *hubspot_deals.routes(),  # HubSpot paths too: before the /hubspot mount
            Mount("/hubspot", routes=hubspot.routes()),
            Mount("/asana/api/1.0", routes=asana.routes()),
            Mount(
                "/asana", routes=[Route("/{rest:path}", _asana_outside_api, methods=ALL_METHODS)]
            ),
            Mount("/zendesk", routes=zendesk.routes()),
            Mount("/resend", routes=resend.routes()),
            Mount("/calendly", routes=calendly.routes()),
            Mount("/slack", routes=slack.routes()),
            Mount("/_admin", routes=_admin_routes()),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults, log=request_log)],
        exception_handlers={ApiError: _api_error},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.tokens = accepted
    app.state.faults = faults
    app.state.request_log = request_log
    lag = default_search_lag() if hubspot_search_lag is None else hubspot_search_lag
    app.state.default_search_lag = lag
    app.state.hubspot_search_lag = lag
    return app
