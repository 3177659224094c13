"""Replay: a workflow change that would break a run in flight fails here.

Runs wait for days: parked in front of a person, waiting for a QA sign-off, held for a payment.
A new worker version must pick up every one of them where it stands. The corpus under
``tests/histories/<version>/`` holds real histories of every shape a run can wait or end in,
recorded from released code by ``python -m tests.histories.record``: each waiting shape saved
while it waits and again once resolved. This test replays all of them with the worker's own data
converter, and fails when a shape the code can produce has no history, judging that from the
histories' events, never from INDEX.json.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from onboarding.domain.errors import Category
from onboarding.runtime.client import data_converter
from tests.histories.corpus import (
    HISTORIES,
    INDEX,
    NAMED_SHAPES,
    Facts,
    history_files,
    load,
    read_facts,
)
from workflows.messages import SafeAction
from workflows.onboarding import OnboardingWorkflow

FILES = history_files()

#: Categories no run of this code can park in, each with the reason. Every other category needs a
#: history that waits in it and one that got past it. Empty: the recorder reaches all nine (a
#: missing field, two CRM matches, 429, 5xx, 401, 400, a payment_failed signal, a scope change,
#: a record deleted before QA).
UNREACHABLE: dict[Category, str] = {}

#: Named shapes every corpus must show (see ``NAMED_SHAPES`` for what each means).
REQUIRED_SHAPES = {
    "happy-path",
    "waiting-for-qa-sign-off",
    "signed-off",
    "manual-step",
    "step-off",
    "payment-hold",
    "cancelled-with-rollback",
    "cancelled-no-rollback",
    "cancelled-while-parked",
    "alerted-at-once",
    "sla-at-risk",
    "sla-breached",
    "sla-escalated",
    "nudge",
    "cancelled-through-temporal",
    "late-event-merged",
    "failed",
}


def name_of(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.fixture(scope="module")
def histories() -> list[WorkflowHistory]:
    """Every history file, loaded once, in the order of :data:`FILES`."""
    return [load(path) for path in FILES]


@pytest.fixture(scope="module")
def corpus(histories: list[WorkflowHistory]) -> dict[str, Facts]:
    """What each history shows, read from its events, by ``version/name``."""
    return {name_of(path): read_facts(h) for path, h in zip(FILES, histories, strict=True)}


async def test_every_history_replays(histories: list[WorkflowHistory]) -> None:
    assert FILES, "no recorded histories"
    replayer = Replayer(workflows=[OnboardingWorkflow], data_converter=data_converter())
    failures: list[str] = []
    replayed = 0

    async def feed() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    # One replayer for the lot, one history at a time, results in the order fed.
    async with replayer.workflow_replay_iterator(feed()) as results:
        async for result in results:
            assert result.history is histories[replayed]
            if result.replay_failure is not None:
                failures.append(f"{name_of(FILES[replayed])}: {result.replay_failure}")
            replayed += 1
    assert replayed == len(FILES)
    assert not failures, "histories that no longer replay:\n" + "\n".join(failures)


def test_every_category_has_a_parked_and_a_resolved_history(corpus: dict[str, Facts]) -> None:
    assert not set(UNREACHABLE) - set(Category)
    missing: list[str] = []
    for category in sorted(set(Category) - set(UNREACHABLE)):
        if not any(f.waiting and f.parked_in == category for f in corpus.values()):
            missing.append(f"{category.value}: no history of a run parked in it")
        if not any(not f.waiting and category in f.categories for f in corpus.values()):
            missing.append(f"{category.value}: no history of a run that got past it")
    assert not missing, "record these shapes (python -m tests.histories.record):\n" + "\n".join(
        missing
    )


def test_every_safe_action_has_a_history(corpus: dict[str, Facts]) -> None:
    taken = {action for f in corpus.values() for action in f.actions}
    missing = sorted(a.value for a in SafeAction if a.value not in taken)
    assert not missing, f"no history of a person taking: {', '.join(missing)}"


def test_every_named_shape_has_a_history(corpus: dict[str, Facts]) -> None:
    assert REQUIRED_SHAPES <= set(NAMED_SHAPES)
    shown = {shape for f in corpus.values() for shape in f.shapes()}
    missing = sorted(REQUIRED_SHAPES - shown)
    assert not missing, f"no history shows: {', '.join(missing)}"


def test_every_history_is_indexed_and_the_index_names_real_files() -> None:
    for index_path in sorted(HISTORIES.glob(f"v*/{INDEX}")):
        index = json.loads(index_path.read_text())
        listed = {entry["file"] for entry in index.values()}
        on_disk = {p.name for p in FILES if p.parent == index_path.parent}
        assert listed == on_disk, (
            f"{index_path.parent.name}: unindexed {sorted(on_disk - listed)}, "
            f"missing {sorted(listed - on_disk)}"
        )
