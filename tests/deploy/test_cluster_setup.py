"""``deploy/setup-namespace.sh``, which compose and the Kubernetes Job run in the admin-tools
image, run here with the ``temporal`` CLI against a fresh dev server: the namespace and every
search attribute of the run exist afterwards, and a second run changes nothing and succeeds."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from onboarding.embedded.devserver import binary
from workflows import search_attributes as sa

#: The namespace script against dev servers of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "setup-namespace.sh"


@pytest.fixture(scope="module")
async def bare_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server with nothing of ours registered."""
    env = await WorkflowEnvironment.start_local(
        ip="127.0.0.1", ui=False, dev_server_existing_path=binary("temporal")
    )
    async with env:
        yield env


def run_script(address: str, namespace: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(
        PATH=f"{Path(binary('temporal')).parent}{os.pathsep}{env.get('PATH', '')}",
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE=namespace,
        ONBOARDING_RETENTION="72h",
        TEMPORAL_WAIT_SECONDS="30",
    )
    return subprocess.run(
        ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_setup_script_creates_the_namespace_and_registers_every_search_attribute(
    bare_server: WorkflowEnvironment,
) -> None:
    client = bare_server.client
    address = client.service_client.config.target_host
    namespace = f"onb-{uuid.uuid4().hex[:8]}"
    first = run_script(address, namespace)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"namespace {namespace} ready (retention 72h, setup create)" in first.stdout

    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    assert described.config.workflow_execution_retention_ttl.seconds == 72 * 3600
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    for key in sa.ALL:
        assert listed.custom_attributes.get(key.name) == key.indexed_value_type, key.name

    again = run_script(address, namespace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already registered") == len(sa.ALL)


def test_setup_script_says_when_the_cluster_never_answers() -> None:
    env_address = "127.0.0.1:9"  # nothing listens on the discard port
    done = subprocess.run(
        ["sh", str(SCRIPT)],
        env={
            "PATH": f"{Path(binary('temporal')).parent}{os.pathsep}{os.environ['PATH']}",
            "TEMPORAL_ADDRESS": env_address,
            "TEMPORAL_WAIT_SECONDS": "3",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"Temporal at {env_address} is not serving after 3s" in done.stderr
