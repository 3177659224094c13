"""The demo as a person runs it: payloads encrypted in the store, readable in the Web UI through
the codec server the demo starts, and the CLI clear about the keys it needs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    QueryWorkflowRequest,
)
from temporalio.client import Client

BIN = Path(sys.executable).parent
GLOBEX = "stripe-in_1QGlobex00000001"  # sample 03: live
ACME = "stripe-in_1QAcme0000000001"  # samples 01 and 02: waiting for QA sign-off
GLOBEX_CONTACT = b"hank@globex.example"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _read_until_ready(stream: asyncio.StreamReader, *, timeout: float) -> dict[str, str]:
    """The demo's printed lines, read until it says how to stop it."""
    printed: dict[str, str] = {}
    lines: list[str] = []

    async def read() -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError("the demo ended early:\n" + "".join(lines))
            line = raw.decode()
            lines.append(line)
            label, _, value = line.partition("  ")
            if value.strip():
                printed.setdefault(label.strip(), value.strip())
            if line.startswith("Press Ctrl-C to stop."):
                printed["_all"] = "".join(lines)
                return

    await asyncio.wait_for(read(), timeout)
    return printed


def _payloads_json(payloads: Any) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


def _plain_json(decoded: dict[str, Any]) -> Any:
    [payload] = decoded["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) in (b"json/plain", b"json/protobuf")
    return json.loads(base64.b64decode(payload["data"]))


async def test_demo_encrypts_and_the_ui_reads_through_its_codec_server(tmp_path: Path) -> None:
    grpc, ui_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "ONBOARDING_"))}
    demo = await asyncio.create_subprocess_exec(
        str(BIN / "onboarding-demo"),
        *("--port", str(grpc), "--ui-port", str(ui_port), "--sandbox-port", "0"),
        *("--codec-port", "0", "--data-dir", str(tmp_path)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        # Its own process group: on a failure, the demo and the dev server it started go
        # together (the dev server shares the demo's stdout, so waiting for the demo alone
        # would wait for the dev server too).
        start_new_session=True,
    )
    try:
        assert demo.stdout is not None
        printed = await _read_until_ready(demo.stdout, timeout=240)
        assert printed["_all"].count("[ok ]") == 7, printed["_all"]
        ui_url = printed["Temporal UI"]
        ui_origin = ui_url.split("/namespaces/")[0]
        assert ui_origin == f"http://127.0.0.1:{ui_port}"
        codec_url = printed["Codec server"].split()[0]
        keys_file = tmp_path / "codec.keys"
        assert printed["Payloads"] == f"encrypted; key ring from {keys_file}"
        assert f'export ONBOARDING_CODEC_KEYS="$(cat {keys_file})"' in printed["_all"]
        assert oct(keys_file.stat().st_mode & 0o777) == "0o600"

        async with httpx.AsyncClient(timeout=10) as http:
            # The dev server's UI is wired to the codec server.
            settings = (await http.get(f"{ui_origin}/api/v1/settings")).json()
            assert settings["Codec"]["Endpoint"] == codec_url
            # A browser on the printed UI address (and on localhost) may call it.
            for origin in (ui_origin, f"http://localhost:{ui_port}"):
                preflight = await http.options(
                    f"{codec_url}/decode",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "content-type,x-namespace",
                    },
                )
                assert preflight.status_code == 200, preflight.text
                assert preflight.headers["access-control-allow-origin"] == origin

            # The store holds ciphertext: history read without keys, and the database files.
            plain = await Client.connect(f"127.0.0.1:{grpc}", namespace="onboarding")
            history = await plain.workflow_service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace="onboarding", execution=WorkflowExecution(workflow_id=GLOBEX)
                )
            )
            started = history.history.events[0].workflow_execution_started_event_attributes
            assert started.input.payloads[0].metadata["encoding"] == b"binary/encrypted"
            assert GLOBEX_CONTACT not in history.history.SerializeToString()
            for stored in tmp_path.glob("temporal.sqlite3*"):
                assert GLOBEX_CONTACT not in stored.read_bytes(), stored.name

            # What the UI shows, it decodes through the codec server: the input, the summary
            # and the current details of a run waiting for a person.
            headers = {"Origin": ui_origin, "X-Namespace": "onboarding"}
            decoded = await http.post(
                f"{codec_url}/decode",
                content=_payloads_json(started.input.payloads),
                headers=headers,
            )
            assert decoded.status_code == 200, decoded.text
            assert decoded.headers["access-control-allow-origin"] == ui_origin
            run_input = _plain_json(decoded.json())
            assert run_input["payload"]["primary_contact"]["email"] == GLOBEX_CONTACT.decode()
            described = await plain.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace="onboarding", execution=WorkflowExecution(workflow_id=GLOBEX)
                )
            )
            summary = described.execution_config.user_metadata.summary
            assert summary.metadata["encoding"] == b"binary/encrypted"
            decoded = await http.post(
                f"{codec_url}/decode", content=_payloads_json([summary]), headers=headers
            )
            assert "Globex Corporation" in _plain_json(decoded.json())
            metadata = await plain.workflow_service.query_workflow(
                QueryWorkflowRequest(
                    namespace="onboarding",
                    execution=WorkflowExecution(workflow_id=ACME),
                    query=WorkflowQuery(query_type="__temporal_workflow_metadata"),
                ),
                timeout=timedelta(seconds=30),
            )
            answer = metadata.query_result.payloads
            assert answer[0].metadata["encoding"] == b"binary/encrypted"
            decoded = await http.post(
                f"{codec_url}/decode", content=_payloads_json(answer), headers=headers
            )
            assert ACME in _plain_json(decoded.json())["currentDetails"]

        # The CLI: without the keys it says what to set; with the printed export it reads.
        cli_env = {
            **env,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{grpc}",
            "TEMPORAL_NAMESPACE": "onboarding",
        }
        no_keys = await asyncio.create_subprocess_exec(
            str(BIN / "onboarding"),
            *("show", GLOBEX),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cli_env,
        )
        out, err = await no_keys.communicate()
        assert no_keys.returncode == 2
        assert err.decode().startswith("onboarding: this run's payloads are encrypted")
        assert "set ONBOARDING_CODEC_KEYS" in err.decode() and b"Traceback" not in err
        with_keys = await asyncio.create_subprocess_exec(
            str(BIN / "onboarding"),
            *("show", GLOBEX),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**cli_env, "ONBOARDING_CODEC_KEYS": keys_file.read_text().strip()},
        )
        out, err = await with_keys.communicate()
        assert with_keys.returncode == 0, err
        assert "Globex Corporation" in out.decode()

        demo.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(demo.wait(), 60) == 0
    finally:
        if demo.returncode is None:
            os.killpg(demo.pid, signal.SIGKILL)
            await asyncio.wait_for(demo.wait(), 30)
