"""The start of a run: the rules it keeps, the required-fields gate, the case owner."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.models import (
    AssignOwnerInput,
    LoadRulesInput,
    ValidatePayloadInput,
    ValidatePayloadOutput,
)
from onboarding.domain.errors import ErrorType
from onboarding.domain.payload import OnboardingPayload
from onboarding.domain.routing import Assignment, assign
from onboarding.domain.rules import RulesError, RulesSnapshot, load_rules
from onboarding.domain.validation import find_problems


class RunSetupActivities:
    """Loading rules, validating the payload and routing the run to its case owner.

    Args:
        rules_path: The rules file; None means the configured one.
    """

    def __init__(self, *, rules_path: Path | Traversable | None = None) -> None:
        self.rules_path = rules_path

    @activity.defn
    async def load_rules(self, request: LoadRulesInput) -> RulesSnapshot:
        """Load and validate the rules file the run will keep for its whole life."""
        path = Path(request.path) if request.path else self.rules_path
        try:
            return load_rules(path)
        except RulesError as exc:
            raise ApplicationError(str(exc), type=ErrorType.VALIDATION_ERROR.value) from None

    @activity.defn
    async def validate_payload(self, request: ValidatePayloadInput) -> ValidatePayloadOutput:
        """The required-fields gate: all problems by path, or the normalised payload."""
        problems = find_problems(request.payload)
        if problems:
            return ValidatePayloadOutput(problems=problems)
        payload = OnboardingPayload.model_validate(request.payload)
        return ValidatePayloadOutput(problems=[], payload=payload.model_dump(mode="json"))

    @activity.defn
    async def assign_owner(self, request: AssignOwnerInput) -> Assignment:
        """Pick the case owner within a team: round-robin over the team's runs so far, or the
        member with the fewest open runs under capacity (counted in Temporal's visibility)."""
        client = activity.client()
        members = request.team.members
        note = ""
        try:
            assigned = (
                await client.count_workflows(f"OnboardingTeam = '{request.team_name}'")
            ).count
            open_counts: dict[str, int] = {}
            if request.team.assignment == "capacity":
                for member in members:
                    query = f"CaseOwner = '{member}' AND ExecutionStatus = 'Running'"
                    open_counts[member] = (await client.count_workflows(query)).count
        except RPCError as exc:
            # Visibility cannot count here: spread by the transaction ID instead, and say so.
            digest = request.transaction_id.encode()
            assigned = sum(digest) % len(members)
            open_counts = {}
            note = f" (visibility count unavailable: {exc.message})"
        result = assign(
            request.team_name, request.team, assigned_so_far=assigned, open_counts=open_counts
        )
        return result.model_copy(update={"reason": result.reason + note})
