"""On the real dev server: with the codec, the history holds no contact name or email."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from onboarding.domain.run import OnboardingInput, TriggerSource
from onboarding.security.codec import CodecKeyError, EncryptionCodec
from onboarding.security.codec_server import create_codec_app
from starters.start import start_onboarding
from tests.support import make_payload, unique_slug

TOKEN = "history-test-token"


async def test_history_holds_only_ciphertext_and_the_codec_reads_it(client: Client) -> None:
    codec = EncryptionCodec([("k2026", os.urandom(32))])
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec)
    encrypted_client = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=converter,
    )
    slug = unique_slug("codec")
    payload = make_payload(slug)
    name = payload["primary_contact"]["name"]
    email = payload["primary_contact"]["email"]
    transaction_id = f"codec-{uuid.uuid4().hex[:12]}"
    source = TriggerSource(system="crm", event_type="deal.closed_won", object_id=transaction_id)
    # No worker polls this queue: the started event's input is all this test needs.
    outcome = await start_onboarding(
        encrypted_client, transaction_id, source, payload, task_queue=f"codec-{uuid.uuid4()}"
    )
    try:
        # The test's client holds no keys: it reads the raw history from the server.
        assert not isinstance(client.data_converter.payload_codec, EncryptionCodec)
        raw = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=transaction_id),
            )
        )
        history_bytes = raw.history.SerializeToString()
        for secret in (email, name, f"pat@{slug}"):
            assert secret.encode() not in history_bytes
        started = raw.history.events[0]
        assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        stored = started.workflow_execution_started_event_attributes.input.payloads
        assert stored[0].metadata["encoding"] == b"binary/encrypted"
        assert stored[0].metadata["encryption-key-id"] == b"k2026"

        # Without keys, what is encrypted is refused with what to do about it.
        with pytest.raises(CodecKeyError, match="set ONBOARDING_CODEC_KEYS"):
            await client.data_converter.decode(stored, [OnboardingInput])

        # A client with the codec decodes the input.
        [decoded] = await encrypted_client.data_converter.decode(stored, [OnboardingInput])
        assert decoded.payload["primary_contact"] == {"name": name, "email": email}

        # So does the codec server's /decode, for holders of its token.
        app = create_codec_app(codec, tokens=[TOKEN])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://codec"
        ) as http:
            body = json_format.MessageToJson(Payloads(payloads=stored))
            response = await http.post(
                "/decode",
                content=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert response.status_code == 200
            [plain] = response.json()["payloads"]
            assert base64.b64decode(plain["metadata"]["encoding"]) == b"json/plain"
            text = base64.b64decode(plain["data"]).decode()
            assert email in text and name in text
            refused = await http.post("/decode", content=body)
            assert refused.status_code == 401
    finally:
        await outcome.handle.terminate(reason="codec test done")
