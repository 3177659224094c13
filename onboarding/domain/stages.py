"""The stages of an onboarding run, in the order a run goes through them."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where a run is. Every transition is timestamped and owned."""

    RECEIVED = "received"
    VALIDATING = "validating"
    AWAITING_DATA = "awaiting-data"
    MATCHING = "matching"
    PROVISIONING = "provisioning"
    KICKOFF = "kickoff"
    WELCOME = "welcome"
    QA = "qa"
    LIVE = "live"
    CANCELLED = "cancelled"
    FAILED = "failed"
    """Ended by a defect or a configuration no person can fix inside the run (rare: every
    failure a person can resolve parks the run instead)."""


TERMINAL_STAGES = frozenset({Stage.LIVE, Stage.CANCELLED, Stage.FAILED})

#: The stages in the order a run goes through them (``cancelled`` can follow any of them).
STAGE_ORDER: tuple[Stage, ...] = (
    Stage.RECEIVED,
    Stage.VALIDATING,
    Stage.AWAITING_DATA,
    Stage.MATCHING,
    Stage.PROVISIONING,
    Stage.KICKOFF,
    Stage.WELCOME,
    Stage.QA,
    Stage.LIVE,
)
