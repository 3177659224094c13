"""Hostile deliveries: signed ones that can never be accepted, and the HTTP edges.

What a sender holding a signing secret (or none) can try: numbers in odd digits, numbers of
thousands of digits, lone surrogates, 10,000-character IDs, smuggled framing, a Host header to
redirect through, a 60 kB query line to stall the event loop. Each gets a 4xx (never a 5xx)
and an audit line; nothing starts; the intake keeps answering.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from structlog.testing import capture_logs
from temporalio.client import Client

from onboarding.intake import create_app
from onboarding.runtime.logging import configure_logging
from tests.intake.conftest import Intake, intake_settings, provider_of
from tests.intake.events import (
    SIGNERS,
    body_of,
    deal_closed_won,
    deal_stage_changed,
    envelope_completed,
    invoice_paid,
)

LONG_ID = "x" * 10_000


def stripe_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = invoice_paid("hostile")
    change(event["data"]["object"])
    return event


def docusign_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = envelope_completed("hostile")
    change(event["data"])
    return event


#: (source, body, the start of the 422 reason): every one a field out of its type or bounds.
HOSTILE: list[tuple[str, bytes, str]] = [
    (
        "stripe",
        body_of(stripe_with(lambda o: o["metadata"].update(first_value_days="²"))),
        "data.object.metadata.first_value_days: expected a whole number",
    ),
    (
        "stripe",
        body_of(stripe_with(lambda o: o["metadata"].update(first_value_days="9" * 5000))),
        "data.object.metadata.first_value_days: longer than 500 characters",
    ),
    (
        "stripe",
        body_of(stripe_with(lambda o: o.update(amount_paid="1" * 5000))),
        "data.object.amount_paid: expected a whole number",
    ),
    (
        "stripe",
        body_of(stripe_with(lambda o: o.update(id=LONG_ID))),
        "data.object.id is not a plausible ID",
    ),
    (
        "stripe",
        body_of(invoice_paid("hostile")).replace(b'"Pat Hostile"', b'"Pat \\ud800"'),
        "data.object.customer_name: not valid Unicode (a lone surrogate)",
    ),
    (
        "stripe",
        body_of(stripe_with(lambda o: o.update(customer_email=["pat@x.example"]))),
        "data.object.customer_email: expected a string, got an array",
    ),
    (
        "docusign",
        body_of(docusign_with(lambda d: d.update(envelopeId=LONG_ID))),
        "DocuSign envelope ID (data.envelopeId) is not a plausible ID",
    ),
    (
        "docusign",
        body_of(
            docusign_with(
                lambda d: d["envelopeSummary"]["recipients"]["signers"][0].update(
                    routingOrder="\u0661"
                )
            )
        ),
        "data.envelopeSummary.recipients.signers.0.routingOrder: expected a whole number",
    ),
    (
        "crm",
        body_of({**deal_closed_won("hostile"), "deal": {"id": LONG_ID}}),
        "CRM deal ID (deal.id) is not a plausible ID",
    ),
    (
        "hubspot",
        b'[{"eventId": 1, "objectId": "' + b"9" * 10_000 + b'", "subscriptionType": "x"}]',
        "0.objectId: expected a whole number of at most 20 ASCII digits",
    ),
    (
        "hubspot",
        json.dumps([deal_stage_changed(1)] * 101).encode(),
        "(events): more than 100 entries",
    ),
]


@pytest.mark.parametrize(("source", "body", "reason"), HOSTILE)
async def test_signed_hostile_values_are_4xx_with_an_audit_line_and_start_nothing(
    client: Client, source: str, body: bytes, reason: str
) -> None:
    calls: list[str] = []

    async def provider() -> Client:
        calls.append(source)
        return client

    app = create_app(client_provider=provider, settings=intake_settings("never-polled"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as http:
        with capture_logs() as logs:
            response = await http.post(
                f"/webhooks/{source}", content=body, headers=SIGNERS[source](body)
            )
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(reason), response.text
    assert calls == []  # Temporal was never asked
    [line] = [entry for entry in logs if entry.get("audit") == "intake"]
    assert line["event"] == "delivery refused" and line["http_status"] == 422
    assert line["reason"].startswith(reason) and line["source"] == source


async def test_a_number_too_long_for_json_itself_is_400(intake: Intake) -> None:
    body = b'{"object": "event", "type": "invoice.paid", "data": {"object": {"amount_paid": '
    body += b"1" * 5000 + b"}}}"
    response = await intake.http.post(
        "/webhooks/stripe", content=body, headers=SIGNERS["stripe"](body)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "body is not JSON this service can read"


async def test_paths_are_exact_and_health_needs_no_signature(intake: Intake) -> None:
    body = body_of(invoice_paid("slash"))
    response = await intake.http.post(
        "/webhooks/stripe/",
        content=body,
        headers={**SIGNERS["stripe"](body), "Host": "evil.example"},
    )
    assert response.status_code == 404 and "location" not in response.headers
    assert (await intake.http.post("/webhooks/STRIPE", content=body)).status_code == 404
    assert (await intake.http.get("/healthz")).status_code == 200
    assert (await intake.http.get("/readyz")).json()["status"] == "ready"


@asynccontextmanager
async def served(client: Client, *, access_log: bool = False) -> AsyncIterator[int]:
    """The intake on uvicorn with h11 (as ``onboarding-intake`` runs it); yields the port."""
    app = create_app(client_provider=provider_of(client), settings=intake_settings("never-polled"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_config=None,
        log_level="info",
        access_log=access_log,
        h11_max_incomplete_event_size=128 * 1024,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


async def raw_exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
    writer.close()
    return answer


async def test_content_length_with_transfer_encoding_is_refused_and_nothing_rides_along(
    client: Client,
) -> None:
    smuggled = (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: intake\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n"
    )
    async with served(client) as port:
        answer = await raw_exchange(port, smuggled)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"both Content-Length and Transfer-Encoding: refused" in answer
    assert answer.count(b"HTTP/1.1 ") == 1  # the connection closed: no second answer


async def test_a_long_query_line_does_not_stall_a_concurrent_health_check(
    client: Client,
) -> None:
    """Three unauthenticated 60 kB request lines, logged by the access log through the
    redaction, while /healthz is asked: it answers well within a second (budget: 10 s)."""
    stream = io.StringIO()
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    saved_access = access.handlers[:], access.propagate, access.disabled
    configure_logging("INFO", stream=stream)  # as onboarding-intake logs, into this stream
    # Loggers cached on first use would keep this configuration after the test restores the old
    # one, and the later tests that capture logs would see nothing.
    structlog.configure(cache_logger_on_first_use=False)
    # Earlier servers in this process may have re-plumbed uvicorn's loggers: hand the access
    # log to the handler configure_logging installed, directly.
    access.handlers[:], access.propagate, access.disabled = root.handlers[:], False, False
    try:
        async with served(client, access_log=True) as port:
            line = b"/webhooks/stripe?" + b"a." * 30_000
            heavy = b"POST " + line + b" HTTP/1.1\r\nHost: i\r\nContent-Length: 0\r\n"
            heavy += b"Connection: close\r\n\r\n"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                attacks = [asyncio.create_task(raw_exchange(port, heavy)) for _ in range(3)]
                await asyncio.sleep(0)  # the attacks are on the wire first
                started = time.monotonic()
                health = await http.get("/healthz")
                elapsed = time.monotonic() - started
                answers = await asyncio.gather(*attacks)
        assert health.status_code == 200
        assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s behind three long query lines"
        assert all(a.startswith(b"HTTP/1.1 401 ") for a in answers), answers[0][:200]
        logged = stream.getvalue()
        assert "characters dropped" in logged  # the long lines went through the redaction
        assert max(len(x) for x in logged.splitlines()) < 8_000
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        access.handlers[:], access.propagate, access.disabled = saved_access
        structlog.configure(**saved_structlog)
