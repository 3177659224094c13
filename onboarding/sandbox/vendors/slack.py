"""Slack incoming webhooks.

Mounted under ``/slack``; a webhook URL is ``/slack/services/{T}/{B}/{secret}``.
Responses are Slack's plain-text bodies: ``ok`` or an error code such as ``no_text``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from onboarding.sandbox.errors import slack_error
from onboarding.sandbox.store import Store
from onboarding.sandbox.vendors.common import ALL_METHODS, iso_ms, now, store_of, token_for


def _parse(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8")
    if content_type.startswith("application/x-www-form-urlencoded"):
        payload = parse_qs(text).get("payload")
        if not payload:
            return None
        text = payload[0]
    return json.loads(text)


async def post_message(request: Request) -> Response:
    """``POST /services/{team}/{bot}/{secret}``."""
    if request.path_params["secret"] != token_for(request, "slack"):
        return slack_error(403, "invalid_token")
    raw = await request.body()
    try:
        payload = _parse(raw, request.headers.get("content-type", ""))
    except (ValueError, UnicodeDecodeError):
        return slack_error(400, "invalid_payload")
    if not isinstance(payload, dict):
        return slack_error(400, "invalid_payload")
    text = payload.get("text")
    blocks = payload.get("blocks")
    attachments = payload.get("attachments")
    if not text and not blocks and not attachments:
        return slack_error(400, "no_text")
    if blocks is not None and not isinstance(blocks, list):
        return slack_error(400, "invalid_blocks")
    store = store_of(request)
    message_id = store.next_id("slack_messages", 1)
    store.put(
        "slack_messages",
        str(message_id),
        {
            "id": message_id,
            "team": request.path_params["team"],
            "bot": request.path_params["bot"],
            "text": text,
            "blocks": blocks,
            "attachments": attachments,
            "payload": payload,
            "received_at": iso_ms(now()),
        },
    )
    return PlainTextResponse("ok")


async def no_service(request: Request) -> Response:
    """Any other path or method: Slack's ``no_service``."""
    return slack_error(404, "no_service")


def routes() -> list[BaseRoute]:
    """Return Slack's routes (relative to the ``/slack`` mount).

    Returns:
        The routes.
    """
    return [
        Route("/services/{team}/{bot}/{secret}", post_message, methods=["POST"]),
        Route("/{rest:path}", no_service, methods=ALL_METHODS),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything Slack holds.

    Args:
        store: The store.

    Returns:
        ``{"messages": [...]}``.
    """
    return {"messages": store.all("slack_messages")}
