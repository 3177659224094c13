"""Through a real uvicorn server on the real dev server: one run per event, whatever happens.

Fifty concurrent deliveries start one workflow; with Temporal down the intake answers 503 with
``Retry-After`` and the sender's retry starts the run once Temporal is back; a delivery after
the run finished starts nothing.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import httpx
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from onboarding.domain.run import OnboardingResult
from onboarding.domain.stages import Stage
from onboarding.embedded.devserver import dev_server
from onboarding.intake import CachedClientProvider, create_app
from onboarding.runtime.client import data_converter
from tests.intake.conftest import intake_settings, provider_of
from tests.intake.events import body_of, invoice_paid, serve, sign_stripe
from tests.support import eventually, unique_slug


async def workflow_ids(client: Client, workflow_id: str) -> list[str]:
    return [e.id async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]


async def test_fifty_concurrent_deliveries_start_exactly_one_run(
    client: Client, cleanup: list[str]
) -> None:
    event = invoice_paid(unique_slug("burst"))
    txn = f"stripe-{event['data']['object']['id']}"
    body = body_of(event)
    headers = sign_stripe(body)
    app = create_app(client_provider=provider_of(client), settings=intake_settings(f"idle-{txn}"))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        responses = await asyncio.gather(
            *(http.post("/webhooks/stripe", content=body, headers=headers) for _ in range(50))
        )
    cleanup.append(txn)
    assert {r.status_code for r in responses} <= {200, 201}, [
        r.text for r in responses if r.status_code not in (200, 201)
    ]
    assert [r.status_code for r in responses].count(201) == 1
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("started") == 1 and statuses.count("running") == 49
    assert len({r.json()["run_id"] for r in responses}) == 1
    found = await eventually(
        lambda: workflow_ids(client, txn), lambda ids: len(ids) >= 1, what=f"{txn} listed"
    )
    assert found == [txn]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    address: str


async def test_temporal_down_is_503_and_the_retry_starts_the_run_once_it_is_back(
    client: Client, worker: Worker
) -> None:
    target = Target(f"127.0.0.1:{unused_port()}")  # nothing listens: Temporal is down

    async def connect() -> Client:
        return await Client.connect(
            target.address, namespace=client.namespace, data_converter=data_converter()
        )

    app = create_app(
        client_provider=CachedClientProvider(connect),
        settings=intake_settings(worker.task_queue, temporal_timeout_seconds=3.0),
    )
    event = invoice_paid(unique_slug("outage"))
    txn = f"stripe-{event['data']['object']['id']}"
    body = body_of(event)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        down = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "30"
        assert down.json()["error"].startswith("Temporal is unavailable")
        assert (await http.get("/readyz")).status_code == 503

        # Temporal is back (the shared dev server, where the worker polls): Stripe retries.
        target.address = client.service_client.config.target_host
        retry = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
        assert retry.status_code == 201, retry.text
        assert retry.json()["status"] == "started"
        handle = client.get_workflow_handle(txn, result_type=OnboardingResult)
        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result.stage == Stage.LIVE

        # A late redelivery after the run finished starts nothing.
        late = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
        assert late.status_code == 200, late.text
        assert late.json() == {
            "status": "already-finished",
            "transaction_id": txn,
            "run_id": retry.json()["run_id"],
        }
    ids = await eventually(
        lambda: workflow_ids(client, txn), lambda ids: len(ids) >= 1, what=f"{txn} listed"
    )
    assert ids == [txn]
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_server_that_stops_after_connecting_is_503_too() -> None:
    async with dev_server(namespace="default", ui=False) as env:
        app = create_app(
            client_provider=provider_of(env.client),
            settings=intake_settings("never-polled", temporal_timeout_seconds=2.0),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            event = invoice_paid(unique_slug("stopped"))
            body = body_of(event)
            up = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
            assert up.status_code == 201, up.text
            await env.shutdown()
            again = invoice_paid(unique_slug("stopped"))
            body = body_of(again)
            down = await http.post("/webhooks/stripe", content=body, headers=sign_stripe(body))
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"] == "30"
