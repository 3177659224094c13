"""Before the work: the rules a run keeps for its whole life, the required-fields gate (a run
with missing or invalid fields waits in awaiting-data for the deal owner), and the routing of
the run to a team and a case owner.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities import RunSetupActivities
    from activities.models import AssignOwnerInput, LoadRulesInput, ValidatePayloadInput
    from onboarding.domain.actions import safe_actions
    from onboarding.domain.audit import AuditAction
    from onboarding.domain.document import fill_missing
    from onboarding.domain.errors import Category
    from onboarding.domain.payload import OnboardingPayload
    from onboarding.domain.routing import RoutingError, route_team
    from onboarding.domain.rules import TierRules
    from onboarding.domain.run import EventReceived
    from onboarding.domain.stages import Stage
    from onboarding.domain.validation import missing_paths, normalisation_notes
    from workflows import search_attributes as sa
    from workflows.context import ACTIVITY_TIMEOUT, OWN_CALL_RETRY, STEP_DEADLINE, RunContext
    from workflows.desk import ExceptionDesk


class RunSetup:
    """Loads the rules, validates the payload, assigns the case owner."""

    def __init__(self, ctx: RunContext, desk: ExceptionDesk) -> None:
        self.ctx = ctx
        self.desk = desk

    async def load_rules(self) -> None:
        """Load the rules the run keeps for its whole life, and record which."""
        ctx = self.ctx
        snapshot = await workflow.execute_activity_method(
            RunSetupActivities.load_rules,
            LoadRulesInput(),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            schedule_to_close_timeout=STEP_DEADLINE,
            retry_policy=OWN_CALL_RETRY,
        )
        ctx.state.rules = snapshot
        ctx.state.case_owner = snapshot.rules.owners.process_owner
        ctx.enter(Stage.RECEIVED, ctx.state.case_owner, at=ctx.input.received_at)
        ctx.record(
            AuditAction.RULES_LOADED,
            f"rules {snapshot.version} ({snapshot.source}, sha256 {snapshot.sha256[:12]})",
            version=snapshot.version,
            sha256=snapshot.sha256,
        )

    async def validate(self) -> None:
        """The required-fields gate: park in awaiting-data with the field list until complete."""
        ctx, state = self.ctx, self.ctx.state
        rules = ctx.rules
        ctx.enter(Stage.VALIDATING, rules.owners.sales_ops)
        while True:
            self.desk.check_cancel()
            outcome = await workflow.execute_activity_method(
                RunSetupActivities.validate_payload,
                ValidatePayloadInput(payload=state.document),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=OWN_CALL_RETRY,
            )
            problems = outcome.problems
            if outcome.payload is not None:
                tier_name = str(outcome.payload["customer"]["tier"])
                tier = rules.tiers.get(tier_name)
                problems = missing_paths(
                    outcome.payload,
                    tier.required_inputs if tier else [],
                    f"required for the {tier_name} tier",
                )
                if not problems:
                    state.payload = OnboardingPayload.model_validate(outcome.payload)
                    customer = state.payload.customer
                    notes = normalisation_notes(state.document)
                    ctx.record(
                        AuditAction.PAYLOAD_VALID,
                        "every required field present and valid"
                        + "".join(f"; {note}" for note in notes),
                        tier=customer.tier.value,
                        customer=customer.legal_name,
                        domain=customer.domain,
                        phase=(
                            rules.phase_of(tier_name).value
                            if tier is not None
                            else rules.phase.value
                        ),
                    )
                    ctx.upsert_customer()
                    return
            fields = [p.path for p in problems]
            ctx.record(
                AuditAction.PAYLOAD_INCOMPLETE,
                "missing or invalid: " + ", ".join(fields),
                fields=",".join(fields),
            )
            owner = ctx.deal_owner()
            ctx.enter(Stage.AWAITING_DATA, owner)
            item = self.desk.open(
                step="validate_payload",
                system="intake",
                category=Category.MISSING_DATA,
                message=f"{len(problems)} required field(s) missing or invalid",
                owner=owner,
                missing_fields=problems,
                actions=safe_actions(Category.MISSING_DATA),
            )
            version = state.document_version
            await self.desk.wait(
                item,
                unless=lambda version=version: state.document_version != version,  # type: ignore[misc]
                unless_reason="a later event of the transaction supplied data",
            )
            ctx.enter(Stage.VALIDATING, rules.owners.sales_ops)

    async def assign_case_owner(self, tier: TierRules) -> None:
        """Route the run to a team and a case owner (rules), or the tier's owner (old rules)."""
        ctx, state = self.ctx, self.ctx.state
        rules, payload = ctx.rules, ctx.payload
        if rules.routing and (ctx.release4 or workflow.patched("owner-routing")):
            try:
                team_name = route_team(
                    rules.routing,
                    tier=payload.customer.tier.value,
                    region=payload.customer.region,
                    segment=payload.customer.segment,
                )
            except RoutingError as exc:
                raise ApplicationError(str(exc), non_retryable=True) from None
            assignment = await workflow.execute_activity_method(
                RunSetupActivities.assign_owner,
                AssignOwnerInput(
                    transaction_id=ctx.transaction_id,
                    team_name=team_name,
                    team=rules.teams[team_name],
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=OWN_CALL_RETRY,
            )
            state.team = assignment.team
            state.case_owner = assignment.owner
            state.escalation_owner = assignment.escalation_owner
            reason = assignment.reason
            ctx.upsert([sa.TEAM.value_set(assignment.team)])
        else:
            state.case_owner = str(tier.implementation_owner)
            state.escalation_owner = tier.escalation_owner
            reason = f"tier {payload.customer.tier.value}"
        ctx.record(
            AuditAction.CASE_OWNER_ASSIGNED,
            f"case owner {state.case_owner}, escalation owner {state.escalation_owner} ({reason})",
            owner=state.case_owner,
            escalation_owner=state.escalation_owner or "",
            team=state.team or "",
            reason=reason,
        )
        # From here on the run reads only its own tier of the rules: keep no other.
        state.rules = ctx.snapshot.for_tier(payload.customer.tier.value)

    def merge_event(self, event: EventReceived) -> None:
        """Keep what a later event of the transaction adds; record what it would have changed.

        A run waiting for missing data resumes by itself when this supplies something (see
        :meth:`validate`); a validated payload takes the new optional fields too.
        """
        ctx, state = self.ctx, self.ctx.state
        if event.source == state.source and event.payload == ctx.input.payload:
            return  # the starting event itself, delivered with the start
        merged, supplied, conflicts = fill_missing(state.document, event.payload)
        if supplied:
            state.document = merged
            state.document_version += 1
            if state.payload is not None:
                try:
                    state.payload = OnboardingPayload.model_validate(merged)
                except ValidationError:
                    conflicts.extend(supplied)
        source = event.source
        ctx.record(
            AuditAction.EVENT_MERGED,
            f"{source.system} {source.event_type} {source.object_id}: "
            + (f"added {', '.join(supplied)}" if supplied else "nothing new")
            + (f"; kept the run's {', '.join(conflicts)} (the event differs)" if conflicts else ""),
            event_type=source.event_type,
            event_id=source.event_id or "",
            fields=",".join(supplied),
            conflicts=",".join(conflicts),
        )
        ctx.sla_changed()
