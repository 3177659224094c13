"""Zendesk Support API v2: organizations and users.

Mounted under ``/zendesk``; paths below it are Zendesk's own (``/api/v2/...``), each with and
without the ``.json`` suffix, as Zendesk serves them.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import ApiError, zendesk_error
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors.common import (
    Endpoint,
    basic_credentials,
    bearer_token,
    catch_all,
    iso_s,
    json_body,
    now,
    public,
    route,
    store_of,
    token_for,
)

_ORG_START = 360_000_000_001
_USER_START = 370_000_000_001
_ROLES = ("end-user", "agent", "admin")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HIDDEN = ("deleted", "deleted_at")
_ORG_FIELDS = (
    "name",
    "external_id",
    "domain_names",
    "notes",
    "details",
    "tags",
    "organization_fields",
    "group_id",
    "shared_tickets",
    "shared_comments",
)
_USER_FIELDS = (
    "name",
    "email",
    "external_id",
    "organization_id",
    "role",
    "phone",
    "time_zone",
    "locale",
    "tags",
    "user_fields",
    "notes",
    "details",
    "verified",
    "alias",
)


def check_auth(request: Request) -> Response | None:
    """Zendesk's auth check: ``Bearer <token>`` or Basic ``{email}/token:{token}``.

    Args:
        request: The request.

    Returns:
        A 401 response, or ``None`` when authorised.
    """
    expected = token_for(request, "zendesk")
    if bearer_token(request) == expected:
        return None
    basic = basic_credentials(request)
    if basic is not None and basic[0].endswith("/token") and basic[1] == expected:
        return None
    return zendesk_error(401, "Couldn't authenticate you")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/zendesk/api/v2"


def _not_found() -> ApiError:
    return ApiError(zendesk_error(404, "RecordNotFound", "Not found"))


def _invalid(field: str, description: str, error: str) -> ApiError:
    return ApiError(
        zendesk_error(
            422,
            "RecordInvalid",
            "Record validation errors",
            details={field: [{"description": description, "error": error}]},
        )
    )


async def _payload(request: Request, key: str) -> dict[str, Any]:
    body = await json_body(request, lambda message: zendesk_error(400, "InvalidJSON", message))
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ApiError(
            zendesk_error(400, "ParameterMissing", f"param is missing or the value is empty: {key}")
        )
    payload: dict[str, Any] = body[key]
    return payload


def _render_org(request: Request, org: Record) -> dict[str, Any]:
    return {**public(org, _HIDDEN), "url": f"{_base(request)}/organizations/{org['id']}.json"}


def _render_user(request: Request, user: Record) -> dict[str, Any]:
    return {**public(user, _HIDDEN), "url": f"{_base(request)}/users/{user['id']}.json"}


def _numeric_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise _not_found() from None


def _live_orgs(store: Store) -> list[Record]:
    return [o for o in store.all("zendesk_organizations") if not o.get("deleted")]


def _active_users(store: Store) -> list[Record]:
    return [u for u in store.all("zendesk_users") if u.get("active") and not u.get("deleted")]


# --- organizations ----------------------------------------------------------------------


async def org_create_or_update(request: Request) -> Response:
    """``POST /api/v2/organizations/create_or_update.json``."""
    data = await _payload(request, "organization")
    store = store_of(request)
    name = data.get("name")
    external_id = data.get("external_id")
    if external_id is not None:
        external_id = str(external_id)
    with store.atomic():
        orgs = _live_orgs(store)
        match: Record | None = None
        if data.get("id") is not None:
            match = next((o for o in orgs if o["id"] == data["id"]), None)
            if match is None:
                raise _not_found()
        if match is None and external_id is not None:
            match = next((o for o in orgs if o.get("external_id") == external_id), None)
        if match is None and isinstance(name, str):
            by_name = next((o for o in orgs if o["name"].lower() == name.strip().lower()), None)
            if by_name is not None:
                other_ext = by_name.get("external_id")
                if external_id is not None and other_ext is not None and other_ext != external_id:
                    raise _invalid("name", "Name: has already been taken", "DuplicateValue")
                match = by_name
        if match is None and (not isinstance(name, str) or not name.strip()):
            raise _invalid("name", "Name: cannot be blank", "BlankValue")
        if match is not None and isinstance(name, str):
            clash = next(
                (
                    o
                    for o in orgs
                    if o["id"] != match["id"] and o["name"].lower() == name.strip().lower()
                ),
                None,
            )
            if clash is not None:
                raise _invalid("name", "Name: has already been taken", "DuplicateValue")
        stamp = iso_s(now())
        if match is None:
            org_id = store.next_id("zendesk_organizations", _ORG_START)
            org: Record = {
                "id": org_id,
                "name": str(name).strip(),
                "shared_tickets": False,
                "shared_comments": False,
                "external_id": external_id,
                "created_at": stamp,
                "updated_at": stamp,
                "domain_names": [],
                "details": "",
                "notes": "",
                "group_id": None,
                "tags": [],
                "organization_fields": {},
                "deleted": False,
            }
            status = 201
        else:
            org = match
            status = 200
        for key in _ORG_FIELDS:
            if key in data:
                org[key] = data[key]
        org["external_id"] = None if org.get("external_id") is None else str(org["external_id"])
        org["name"] = str(org["name"]).strip()
        org["updated_at"] = stamp
        store.put("zendesk_organizations", str(org["id"]), org)
    return JSONResponse({"organization": _render_org(request, org)}, status_code=status)


async def org_create(request: Request) -> Response:
    """``POST /api/v2/organizations``: names are unique (422 ``DuplicateValue``)."""
    data = await _payload(request, "organization")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "Name: cannot be blank", "BlankValue")
    store = store_of(request)
    with store.atomic():
        if any(o["name"].lower() == name.strip().lower() for o in _live_orgs(store)):
            raise _invalid("name", "Name: has already been taken", "DuplicateValue")
        stamp = iso_s(now())
        org: Record = {
            "id": store.next_id("zendesk_organizations", _ORG_START),
            "name": name.strip(),
            "shared_tickets": False,
            "shared_comments": False,
            "external_id": None,
            "created_at": stamp,
            "updated_at": stamp,
            "domain_names": [],
            "details": "",
            "notes": "",
            "group_id": None,
            "tags": [],
            "organization_fields": {},
            "deleted": False,
        }
        for key in _ORG_FIELDS:
            if key in data and key != "name":
                org[key] = data[key]
        org["external_id"] = None if org.get("external_id") is None else str(org["external_id"])
        store.put("zendesk_organizations", str(org["id"]), org)
    return JSONResponse({"organization": _render_org(request, org)}, status_code=201)


async def org_show(request: Request) -> Response:
    """``GET /api/v2/organizations/{id}.json``."""
    org = store_of(request).get(
        "zendesk_organizations", str(_numeric_id(request.path_params["id"]))
    )
    if org is None or org.get("deleted"):
        raise _not_found()
    return JSONResponse({"organization": _render_org(request, org)})


async def org_delete(request: Request) -> Response:
    """``DELETE /api/v2/organizations/{id}.json``."""
    store = store_of(request)
    key = str(_numeric_id(request.path_params["id"]))
    with store.atomic():
        org = store.get("zendesk_organizations", key)
        if org is None or org.get("deleted"):
            raise _not_found()
        org.update(deleted=True, deleted_at=iso_s(now()))
        store.put("zendesk_organizations", key, org)
    return Response(status_code=204)


async def org_search(request: Request) -> Response:
    """``GET /api/v2/organizations/search.json?external_id=...|name=...``."""
    external_id = request.query_params.get("external_id")
    name = request.query_params.get("name")
    if external_id is None and name is None:
        raise ApiError(
            zendesk_error(400, "InvalidEndpoint", "external_id or name parameter is required")
        )
    orgs = [
        _render_org(request, o)
        for o in _live_orgs(store_of(request))
        if (external_id is None or o.get("external_id") == external_id)
        and (name is None or o["name"].lower() == name.lower())
    ]
    return JSONResponse(
        {"organizations": orgs, "next_page": None, "previous_page": None, "count": len(orgs)}
    )


async def org_list(request: Request) -> Response:
    """``GET /api/v2/organizations.json`` (offset pagination: ``page``, ``per_page``)."""
    try:
        page = max(1, int(request.query_params.get("page", "1")))
        per_page = max(1, min(100, int(request.query_params.get("per_page", "100"))))
    except ValueError:
        raise ApiError(zendesk_error(400, "InvalidPaginationParameter", "page")) from None
    orgs = _live_orgs(store_of(request))
    chunk = orgs[(page - 1) * per_page : page * per_page]
    url = f"{_base(request)}/organizations.json?per_page={per_page}&page="
    return JSONResponse(
        {
            "organizations": [_render_org(request, o) for o in chunk],
            "next_page": f"{url}{page + 1}" if page * per_page < len(orgs) else None,
            "previous_page": f"{url}{page - 1}" if page > 1 else None,
            "count": len(orgs),
        }
    )


# --- users ------------------------------------------------------------------------------


async def user_create_or_update(request: Request) -> Response:
    """``POST /api/v2/users/create_or_update.json``."""
    data = await _payload(request, "user")
    store = store_of(request)
    external_id = data.get("external_id")
    if external_id is not None:
        external_id = str(external_id)
    email = data.get("email")
    if email is not None:
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise _invalid("email", f"Email: {email} is not properly formatted", "InvalidValue")
        email = email.strip().lower()
    if "role" in data and data["role"] not in _ROLES:
        raise _invalid("role", f"Role: {data['role']} is not a valid role", "InvalidValue")
    with store.atomic():
        if data.get("organization_id") is not None:
            org = store.get("zendesk_organizations", str(data["organization_id"]))
            if org is None or org.get("deleted"):
                raise _invalid(
                    "organization_id",
                    "Organization: is invalid",
                    "InvalidValue",
                )
        users = _active_users(store)
        match: Record | None = None
        if external_id is not None:
            match = next((u for u in users if u.get("external_id") == external_id), None)
        if match is None and email is not None:
            match = next((u for u in users if (u.get("email") or "") == email), None)
        stamp = iso_s(now())
        if match is None:
            name = data.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _invalid(
                    "name", "Name:  is too short (minimum is 1 characters)", "InvalidValue"
                )
            user_id = store.next_id("zendesk_users", _USER_START)
            user: Record = {
                "id": user_id,
                "name": name.strip(),
                "email": email,
                "created_at": stamp,
                "updated_at": stamp,
                "time_zone": "Etc/UTC",
                "iana_time_zone": "Etc/UTC",
                "phone": None,
                "locale": "en-US",
                "locale_id": 1,
                "organization_id": None,
                "role": "end-user",
                "verified": False,
                "external_id": external_id,
                "tags": [],
                "alias": "",
                "active": True,
                "suspended": False,
                "notes": "",
                "details": "",
                "user_fields": {},
                "deleted": False,
            }
            status = 201
        else:
            user = match
            status = 200
        for key in _USER_FIELDS:
            if key in data:
                user[key] = data[key]
        if email is not None:
            user["email"] = email
        user["external_id"] = None if user.get("external_id") is None else str(user["external_id"])
        user["updated_at"] = stamp
        store.put("zendesk_users", str(user["id"]), user)
    return JSONResponse({"user": _render_user(request, user)}, status_code=status)


async def user_create(request: Request) -> Response:
    """``POST /api/v2/users``: an email belongs to one user (422 ``DuplicateValue``)."""
    data = await _payload(request, "user")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "Name:  is too short (minimum is 1 characters)", "InvalidValue")
    email = data.get("email")
    if email is not None:
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise _invalid("email", f"Email: {email} is not properly formatted", "InvalidValue")
        email = email.strip().lower()
    if "role" in data and data["role"] not in _ROLES:
        raise _invalid("role", f"Role: {data['role']} is not a valid role", "InvalidValue")
    store = store_of(request)
    with store.atomic():
        if email is not None and any((u.get("email") or "") == email for u in _active_users(store)):
            raise _invalid(
                "email", f"Email: {email} is already being used by another user", "DuplicateValue"
            )
        if data.get("organization_id") is not None:
            org = store.get("zendesk_organizations", str(data["organization_id"]))
            if org is None or org.get("deleted"):
                raise _invalid("organization_id", "Organization: is invalid", "InvalidValue")
        stamp = iso_s(now())
        user: Record = {
            "id": store.next_id("zendesk_users", _USER_START),
            "name": name.strip(),
            "email": email,
            "created_at": stamp,
            "updated_at": stamp,
            "time_zone": "Etc/UTC",
            "iana_time_zone": "Etc/UTC",
            "phone": None,
            "locale": "en-US",
            "locale_id": 1,
            "organization_id": None,
            "role": "end-user",
            "verified": False,
            "external_id": None,
            "tags": [],
            "alias": "",
            "active": True,
            "suspended": False,
            "notes": "",
            "details": "",
            "user_fields": {},
            "deleted": False,
        }
        for key in _USER_FIELDS:
            if key in data and key not in ("name", "email"):
                user[key] = data[key]
        user["external_id"] = None if user.get("external_id") is None else str(user["external_id"])
        store.put("zendesk_users", str(user["id"]), user)
    return JSONResponse({"user": _render_user(request, user)}, status_code=201)


async def user_show(request: Request) -> Response:
    """``GET /api/v2/users/{id}.json`` (deleted users show ``active: false``)."""
    user = store_of(request).get("zendesk_users", str(_numeric_id(request.path_params["id"])))
    if user is None:
        raise _not_found()
    return JSONResponse({"user": _render_user(request, user)})


async def user_delete(request: Request) -> Response:
    """``DELETE /api/v2/users/{id}.json`` (soft delete: 200 with ``active: false``)."""
    store = store_of(request)
    key = str(_numeric_id(request.path_params["id"]))
    with store.atomic():
        user = store.get("zendesk_users", key)
        if user is None or user.get("deleted"):
            raise _not_found()
        stamp = iso_s(now())
        user.update(active=False, deleted=True, deleted_at=stamp, updated_at=stamp)
        store.put("zendesk_users", key, user)
    return JSONResponse({"user": _render_user(request, user)})


async def user_search(request: Request) -> Response:
    """``GET /api/v2/users/search.json?external_id=...|query=...``."""
    external_id = request.query_params.get("external_id")
    query = (request.query_params.get("query") or "").strip().lower()
    if query.startswith("email:"):
        query = query[len("email:") :]
    if external_id is None and not query:
        raise ApiError(
            zendesk_error(400, "InvalidEndpoint", "external_id or query parameter is required")
        )
    users = [
        _render_user(request, u)
        for u in _active_users(store_of(request))
        if (external_id is None or u.get("external_id") == external_id)
        and (
            not query or (u.get("email") or "") == query or query in str(u.get("name", "")).lower()
        )
    ]
    return JSONResponse(
        {"users": users, "next_page": None, "previous_page": None, "count": len(users)}
    )


def _not_found_route(request: Request) -> Response:
    return zendesk_error(404, "InvalidEndpoint", "Not found")


def routes() -> list[BaseRoute]:
    """Return Zendesk's routes (relative to the ``/zendesk`` mount).

    Returns:
        The routes.
    """
    c = check_auth
    base = "/api/v2"
    endpoints: list[tuple[str, Endpoint, str]] = [
        ("/organizations", org_create, "POST"),
        ("/organizations", org_list, "GET"),
        ("/organizations/create_or_update", org_create_or_update, "POST"),
        ("/organizations/search", org_search, "GET"),
        ("/organizations/{id}", org_show, "GET"),
        ("/organizations/{id}", org_delete, "DELETE"),
        ("/users", user_create, "POST"),
        ("/users/create_or_update", user_create_or_update, "POST"),
        ("/users/search", user_search, "GET"),
        ("/users/{id}", user_show, "GET"),
        ("/users/{id}", user_delete, "DELETE"),
    ]
    # Every path with and without ``.json``; the suffixed form first, so that ``{id}`` never
    # swallows it.
    return [
        *(route(f"{base}{path}.json", fn, [method], c) for path, fn, method in endpoints),
        *(route(f"{base}{path}", fn, [method], c) for path, fn, method in endpoints),
        catch_all(c, _not_found_route),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything Zendesk holds, deleted records included (``deleted: true``).

    Args:
        store: The store.

    Returns:
        ``{"organizations": [...], "users": [...]}``.
    """
    return {
        "organizations": store.all("zendesk_organizations"),
        "users": store.all("zendesk_users"),
    }
