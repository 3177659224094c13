"""Resend emails API (send, retrieve, cancel) with idempotency keys.

Mounted under ``/resend``; paths below it are Resend's own (``/emails``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import RESEND_MISSING_KEY_MESSAGE, ApiError, resend_error
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors.common import (
    bearer_token,
    catch_all,
    has_authorization,
    json_body,
    route,
    store_of,
    token_for,
)

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAMED = re.compile(r"^\s*[^<>]*<\s*([^<>]+)\s*>\s*$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MAX_RECIPIENTS = 50


def check_auth(request: Request) -> Response | None:
    """Resend's auth check: 401 without a key, 403 with a wrong one.

    Args:
        request: The request.

    Returns:
        An error response, or ``None`` when authorised.
    """
    if not has_authorization(request):
        return resend_error(401, RESEND_MISSING_KEY_MESSAGE, "missing_api_key")
    if bearer_token(request) == token_for(request, "resend"):
        return None
    return resend_error(403, "API key is invalid", "invalid_api_key")


def _validation(message: str) -> ApiError:
    return ApiError(resend_error(422, message, "validation_error"))


def _address_ok(value: str) -> bool:
    named = _NAMED.match(value)
    return bool(_EMAIL.match(named.group(1).strip() if named else value.strip()))


def _recipients(body: dict[str, Any], field: str, required: bool) -> list[str] | None:
    value = body.get(field)
    if value is None or value == [] or value == "":
        if required:
            raise ApiError(resend_error(422, f"Missing `{field}` field.", "missing_required_field"))
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _validation(f"Invalid `{field}` field. It must be a string or an array of strings.")
    if len(values) > _MAX_RECIPIENTS:
        raise _validation(f"Invalid `{field}` field. The maximum is 50 recipients.")
    for address in values:
        if not _address_ok(address):
            raise _validation(
                f"Invalid `{field}` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format."
            )
    return values


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _validation("The request body is missing or is not valid JSON.")
    to = _recipients(body, "to", True)
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject:
        raise ApiError(resend_error(422, "Missing `subject` field.", "missing_required_field"))
    sender = body.get("from")
    if not isinstance(sender, str) or not sender:
        raise ApiError(resend_error(422, "Missing `from` field.", "missing_required_field"))
    if not _address_ok(sender):
        raise _validation(
            "Invalid `from` field. The email address needs to follow the "
            "`email@example.com` or `Name <email@example.com>` format."
        )
    tags = body.get("tags") or []
    if not isinstance(tags, list):
        raise _validation("Invalid `tags` field. It must be an array of objects.")
    for tag in tags:
        if (
            not isinstance(tag, dict)
            or not isinstance(tag.get("name"), str)
            or not isinstance(tag.get("value"), str)
            or not _TAG.match(tag["name"])
            or not _TAG.match(tag["value"])
        ):
            raise _validation(
                "Invalid `tags` field. Tags should only contain ASCII letters, numbers, "
                "underscores, or dashes."
            )
    return {
        "to": to,
        "from": sender,
        "subject": subject,
        "cc": _recipients(body, "cc", False),
        "bcc": _recipients(body, "bcc", False),
        "reply_to": _recipients(body, "reply_to", False),
        "html": body.get("html"),
        "text": body.get("text"),
        "tags": tags,
        "headers": body.get("headers"),
        "scheduled_at": body.get("scheduled_at"),
    }


def _created_at() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


async def send_email(request: Request) -> Response:
    """``POST /emails`` (honours the ``Idempotency-Key`` header)."""
    body = await json_body(request, lambda message: resend_error(400, message, "validation_error"))
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 256:
        raise ApiError(
            resend_error(400, "The key must be between 1-256 chars.", "invalid_idempotency_key")
        )
    fields = _validate(body)
    store = store_of(request)
    fingerprint = _fingerprint(body)
    with store.atomic():
        if key is not None:
            seen = store.get("resend_idempotency", key)
            if seen is not None:
                if seen["fingerprint"] != fingerprint:
                    raise ApiError(
                        resend_error(
                            409,
                            "Same idempotency key used with a different request payload",
                            "invalid_idempotent_request",
                        )
                    )
                return JSONResponse({"id": seen["email_id"]})
        email_id = str(uuid.uuid4())
        created_at = _created_at()
        email: Record = {
            "object": "email",
            "id": email_id,
            **fields,
            "created_at": created_at,
            "last_event": "scheduled" if fields["scheduled_at"] else "delivered",
            "idempotency_key": key,
        }
        store.put("resend_emails", email_id, email)
        if key is not None:
            store.put(
                "resend_idempotency",
                key,
                {
                    "key": key,
                    "fingerprint": fingerprint,
                    "email_id": email_id,
                    "created_at": created_at,
                },
            )
    return JSONResponse({"id": email_id})


def _render(email: Record) -> dict[str, Any]:
    """An email as Resend's document describes it: lists are lists (empty, never null), absent
    strings are left out."""
    body: dict[str, Any] = {
        "object": "email",
        "id": email["id"],
        "to": email["to"],
        "from": email["from"],
        "created_at": email["created_at"],
        "subject": email["subject"],
        "bcc": email["bcc"] or [],
        "cc": email["cc"] or [],
        "reply_to": email["reply_to"] or [],
        "last_event": email["last_event"],
        "tags": email["tags"],
    }
    for key in ("html", "text", "scheduled_at"):
        if email.get(key) is not None:
            body[key] = email[key]
    return body


async def list_emails(request: Request) -> Response:
    """``GET /emails``: newest first, ``limit`` (1 to 100, default 20) and an ``after`` cursor
    (the ID of the last email of the previous page)."""
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise _validation("The `limit` parameter must be between 1 and 100.")
    emails = list(reversed(store_of(request).all("resend_emails")))
    after = request.query_params.get("after")
    if after:
        ids = [e["id"] for e in emails]
        if after not in ids:
            raise _validation("The `after` cursor is not valid.")
        emails = emails[ids.index(after) + 1 :]
    page = emails[:limit]
    summary = ("bcc", "cc", "reply_to", "text", "html", "tags")
    return JSONResponse(
        {
            "object": "list",
            "has_more": len(emails) > limit,
            "data": [{k: v for k, v in _render(e).items() if k not in summary} for e in page],
        }
    )


def _not_found() -> ApiError:
    return ApiError(resend_error(404, "Email not found", "not_found"))


async def get_email(request: Request) -> Response:
    """``GET /emails/{id}``."""
    email = store_of(request).get("resend_emails", request.path_params["id"])
    if email is None:
        raise _not_found()
    return JSONResponse(_render(email))


async def cancel_email(request: Request) -> Response:
    """``POST /emails/{id}/cancel`` (scheduled emails only)."""
    store = store_of(request)
    with store.atomic():
        email = store.get("resend_emails", request.path_params["id"])
        if email is None:
            raise _not_found()
        if email["last_event"] != "scheduled":
            raise _validation("Email cannot be canceled because it is not scheduled.")
        email["last_event"] = "canceled"
        store.put("resend_emails", email["id"], email)
    return JSONResponse({"object": "email", "id": email["id"]})


def _not_found_route(request: Request) -> Response:
    return resend_error(404, "The requested endpoint does not exist.", "not_found")


def routes() -> list[BaseRoute]:
    """Return Resend's routes (relative to the ``/resend`` mount).

    Returns:
        The routes.
    """
    c = check_auth
    return [
        route("/emails", send_email, ["POST"], c),
        route("/emails", list_emails, ["GET"], c),
        route("/emails/{id}", get_email, ["GET"], c),
        route("/emails/{id}/cancel", cancel_email, ["POST"], c),
        catch_all(c, _not_found_route),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything Resend holds.

    Args:
        store: The store.

    Returns:
        ``{"emails": [...]}`` (each with its ``idempotency_key``).
    """
    return {"emails": store.all("resend_emails")}
