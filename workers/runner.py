"""The workflow runner of the onboarding worker: the SDK's sandbox, with the domain's third-party
libraries passed through, and without asking the sandbox for payload contexts nobody reads.

For every payload of every workflow activation (inputs, results, signals, memo, markers, and
three passes per direction), the SDK asks the workflow instance for the payload's serialization
context, so that a codec or an external store that varies by workflow or activity can use it.
Asked of a sandboxed instance, each answer is a compiled ``exec`` inside the sandbox: about 150
of them per onboarding run, some 25 ms of CPU. The answer matters only to a codec or external
storage that implements ``WithSerializationContext``; the project's codec (one key ring for every
payload) does not, and it uses no external storage, so with that converter the runner answers
"no context" at once. Payloads are converted inside the sandbox as before; only the codec's view
of them is context-free, which is what it was already.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WithSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import Info

#: Deterministic libraries the domain uses, shared with the sandbox rather than imported again
#: for each run: they never read the clock, the network or global state from workflow code, and a
#: submodule loaded late (``idna``'s tables) is not re-imported per run.
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types", "idna", "jsonschema")


def payload_contexts_matter(converter: DataConverter) -> bool:
    """Whether the converter's codec or external storage reads serialization contexts."""
    return (
        isinstance(converter.payload_codec, WithSerializationContext)
        or converter.external_storage is not None
    )


class _ContextFreeInstance(WorkflowInstance):
    """A sandboxed workflow instance that answers "no context" without entering the sandbox."""

    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        return None

    def get_external_store_context(self, command_info: Any) -> StorageDriverStoreContext:
        return StorageDriverStoreContext()

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


@dataclasses.dataclass(frozen=True)
class ContextFreeSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    """The SDK's sandbox, for a data converter whose codec reads no serialization context."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """A sandboxed instance that does not enter the sandbox for payload contexts."""
        return _ContextFreeInstance(super().create_instance(det))


def workflow_runner(converter: DataConverter) -> SandboxedWorkflowRunner:
    """The workflow sandbox for a worker using ``converter``.

    Args:
        converter: The client's data converter (its codec decides whether payload contexts
            are needed).
    """
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    if payload_contexts_matter(converter):
        return SandboxedWorkflowRunner(restrictions=restrictions)
    return ContextFreeSandboxedWorkflowRunner(restrictions=restrictions)
