"""Intake fixtures: the app over ASGI against the shared dev server, on a queue nobody polls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.client import Client

from onboarding.intake import ClientProvider, IntakeSettings, create_app
from tests.intake.events import (
    CRM_SECRET,
    DOCUSIGN_KEY,
    HUBSPOT_SECRET,
    HUBSPOT_URL,
    STRIPE_SECRET,
)


def intake_settings(task_queue: str, **overrides: object) -> IntakeSettings:
    """Settings with the test secrets, for runs on ``task_queue``."""
    values: dict[str, object] = {
        "stripe_webhook_secrets": (STRIPE_SECRET,),
        "docusign_connect_keys": (DOCUSIGN_KEY,),
        "crm_webhook_secrets": (CRM_SECRET,),
        "hubspot_app_secrets": (HUBSPOT_SECRET,),
        "hubspot_webhook_url": HUBSPOT_URL,
        "task_queue": task_queue,
        "temporal_timeout_seconds": 5.0,
        **overrides,
    }
    return IntakeSettings(**values)  # type: ignore[arg-type]


def provider_of(client: Client) -> ClientProvider:
    async def provide() -> Client:
        return client

    return provide


@dataclass
class Intake:
    """The intake app over ASGI, and the queue its runs go to (no worker polls it)."""

    http: httpx.AsyncClient
    task_queue: str


@pytest.fixture
async def intake(client: Client) -> AsyncIterator[Intake]:
    task_queue = f"intake-idle-{uuid.uuid4()}"
    app = create_app(client_provider=provider_of(client), settings=intake_settings(task_queue))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield Intake(http, task_queue)


@pytest.fixture
async def cleanup(client: Client) -> AsyncIterator[list[str]]:
    """Workflow IDs appended here are terminated after the test (their queue has no worker)."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        try:
            await client.get_workflow_handle(workflow_id).terminate(reason="intake test done")
        except Exception:  # already closed
            pass
