"""Whatever is thrown at the endpoints, the answer is 2xx or 4xx and no run starts."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client

from onboarding.intake import create_app
from onboarding.security.signatures import stripe_signature_header
from tests.intake.conftest import intake_settings
from tests.intake.events import SIGNERS, STRIPE_SECRET

SYSTEMS = ("stripe", "docusign", "hubspot", "crm")
MAX_BODY = 4096

header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Objects that never carry an ID, so no event below can be a valid start.
no_id_objects = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in ("id", "envelopeId")), json_values, max_size=5
)


@st.composite
def event_shaped(draw: st.DrawFn, system: str) -> Any:
    """JSON shaped like the system's events, of handled types, but without the object ID."""
    obj = draw(no_id_objects)
    if system == "stripe":
        kind = draw(
            st.sampled_from(
                ["invoice.paid", "checkout.session.completed", "invoice.payment_failed", "x.y"]
            )
        )
        return {
            "object": "event",
            "type": kind,
            "data": draw(st.sampled_from([obj, {"object": obj}])),
        }
    if system == "docusign":
        return {"event": "envelope-completed", "data": obj}
    return {"event": "deal.closed_won", "deal": obj}


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    system = draw(st.sampled_from(SYSTEMS))
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=200).map(str.encode),
            json_values.map(lambda v: json.dumps(v).encode()),
            event_shaped(system).map(lambda v: json.dumps(v).encode()),
            st.integers(MAX_BODY + 1, MAX_BODY * 2).map(lambda n: b"x" * n),
        )
    )
    signing = draw(st.sampled_from(["valid", "garbage", "wrong-secret", "stale", "none"]))
    headers: dict[str, str] = {}
    if signing == "valid":
        if system == "stripe":
            headers = {
                "Stripe-Signature": stripe_signature_header(body, [STRIPE_SECRET], int(time.time()))
            }
        else:
            headers = SIGNERS[system](body)
    elif signing == "wrong-secret" and system != "stripe":
        headers = SIGNERS[system](body, "some other secret")
    elif signing in ("wrong-secret", "stale") and system == "stripe":
        secret = STRIPE_SECRET if signing == "stale" else "whsec_other"
        stamp = int(time.time()) - (10_000 if signing == "stale" else 0)
        headers = {"Stripe-Signature": stripe_signature_header(body, [secret], stamp)}
    elif signing == "garbage":
        name = draw(
            st.sampled_from(
                ["Stripe-Signature", "X-DocuSign-Signature-1", "X-Signature", "X-Whatever"]
            )
        )
        headers = {name: draw(header_text)}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/xml", "x/y"]))
    return system, body, headers


@pytest.fixture(scope="module")
def idle_queue() -> str:
    return f"property-{uuid.uuid4()}"


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
async def test_malformed_deliveries_answer_4xx_or_2xx_and_start_nothing(
    client: Client, idle_queue: str, delivery: tuple[str, bytes, dict[str, str]]
) -> None:
    system, body, headers = delivery
    calls: list[str] = []

    async def provider() -> Client:
        calls.append(system)
        return client

    app = create_app(
        client_provider=provider,
        settings=intake_settings(idle_queue, max_body_bytes=MAX_BODY),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as http:
        response = await http.post(f"/webhooks/{system}", content=body, headers=headers)
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500, response.text
    assert response.status_code != 201, response.text
    assert isinstance(response.json(), dict)
    if response.status_code >= 400:
        assert response.json()["error"]
    # Temporal was never even asked: nothing here can start a run or signal one.
    assert calls == [], response.text


async def test_and_afterwards_no_workflow_exists_on_the_queue(
    client: Client, idle_queue: str
) -> None:
    count = await client.count_workflows(f"TaskQueue = '{idle_queue}'")
    assert count.count == 0
