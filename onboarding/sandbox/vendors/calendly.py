"""Calendly API v2: event types and single-use scheduling links.

Mounted under ``/calendly``; paths below it are Calendly's own (``/event_types/{uuid}``,
``/scheduling_links``). Two event types exist: ``sandbox-kickoff`` (active) and
``sandbox-retired`` (inactive).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import ApiError, calendly_error
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors.common import (
    bearer_token,
    catch_all,
    iso_s,
    json_body,
    now,
    route,
    store_of,
    token_for,
)

_OWNER = re.compile(r"^https?://[^/\s]+(?:/[^/\s]+)*/event_types/[A-Za-z0-9-]+$")
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
BOOKING_SLUG = "onboarding-call"
API_ROOT = "https://api.calendly.com"
_OWNER_URI = f"{API_ROOT}/users/SANDBOXUSER0000001"
_CREATED = "2024-01-02T09:00:00.000000Z"


def _event_type(uuid: str, name: str, slug: str, *, active: bool) -> dict[str, Any]:
    return {
        "uri": f"{API_ROOT}/event_types/{uuid}",
        "name": name,
        "active": active,
        "booking_method": "instant",
        "slug": slug,
        "scheduling_url": f"https://calendly.com/sandbox-success/{slug}",
        "duration": 45,
        "duration_options": [45],
        "kind": "solo",
        "pooling_type": None,
        "type": "StandardEventType",
        "color": "#0069ff",
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "internal_note": None,
        "description_plain": f"{name}: meet your onboarding lead.",
        "description_html": f"<p>{name}: meet your onboarding lead.</p>",
        "profile": {"type": "User", "name": "Sandbox Success", "owner": _OWNER_URI},
        "secret": False,
        "deleted_at": None,
        "admin_managed": False,
        "locations": None,
        "position": 0,
        "custom_questions": [],
        "locale": "en",
    }


#: The event types of the sandbox's Calendly organization, by UUID.
EVENT_TYPES: dict[str, dict[str, Any]] = {
    "sandbox-kickoff": _event_type("sandbox-kickoff", "Onboarding kickoff", "kickoff", active=True),
    "sandbox-retired": _event_type("sandbox-retired", "Old kickoff", "old-kickoff", active=False),
}


def check_auth(request: Request) -> Response | None:
    """Calendly's auth check (personal access token as a bearer token).

    Args:
        request: The request.

    Returns:
        A 401 response, or ``None`` when authorised.
    """
    if bearer_token(request) == token_for(request, "calendly"):
        return None
    return calendly_error(401, "Unauthenticated", "The access token is invalid")


def _invalid(parameter: str, message: str) -> ApiError:
    return ApiError(
        calendly_error(
            400,
            "Invalid Argument",
            "The supplied parameters are invalid.",
            details=[{"parameter": parameter, "message": message}],
        )
    )


def _code() -> str:
    parts = (4, 3, 3)
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(n)) for n in parts)


async def create_link(request: Request) -> Response:
    """``POST /scheduling_links``."""
    body = await json_body(
        request,
        lambda message: calendly_error(400, "Invalid Argument", message),
    )
    if not isinstance(body, dict):
        raise _invalid("owner", "can't be blank")
    owner = body.get("owner")
    if owner is None or owner == "":
        raise _invalid("owner", "can't be blank")
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise _invalid("owner", "must be a valid event type URI")
    owner_type = body.get("owner_type")
    if owner_type != "EventType":
        raise _invalid("owner_type", "must be EventType")
    max_count = body.get("max_event_count")
    if max_count != 1 or isinstance(max_count, bool):
        raise _invalid("max_event_count", "must be equal to 1")
    store = store_of(request)
    code = _code()
    link: Record = {
        "booking_url": f"https://calendly.com/d/{code}/{BOOKING_SLUG}",
        "owner": owner,
        "owner_type": owner_type,
    }
    store.put(
        "calendly_scheduling_links",
        code,
        {**link, "max_event_count": max_count, "created_at": iso_s(now())},
    )
    return JSONResponse({"resource": link}, status_code=201)


async def get_event_type(request: Request) -> Response:
    """``GET /event_types/{uuid}``."""
    event_type = EVENT_TYPES.get(request.path_params["uuid"])
    if event_type is None:
        return _not_found_route(request)
    return JSONResponse({"resource": event_type})


def _not_found_route(request: Request) -> Response:
    return calendly_error(
        404, "Resource Not Found", "The server could not find the requested resource."
    )


def routes() -> list[BaseRoute]:
    """Return Calendly's routes (relative to the ``/calendly`` mount).

    Returns:
        The routes.
    """
    c = check_auth
    return [
        route("/event_types/{uuid}", get_event_type, ["GET"], c),
        route("/scheduling_links", create_link, ["POST"], c),
        catch_all(c, _not_found_route),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything Calendly holds.

    Args:
        store: The store.

    Returns:
        ``{"scheduling_links": [...]}``.
    """
    return {"scheduling_links": store.all("calendly_scheduling_links")}
