"""Routing: which team implements a customer's onboarding, and which member owns it.

Routes and teams are configuration; this module only evaluates them. Pure and deterministic
(the caller passes the counts in), so it is safe in workflow code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RouteKey = Literal["tier", "region", "segment"]


def _check_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and local and domain) or any(ch.isspace() for ch in value):
        raise ValueError(f"expected an email address, got {value!r}")
    return value


class Team(BaseModel):
    """An implementation team.

    Attributes:
        members: The members' email addresses, in assignment order.
        assignment: ``"round-robin"`` cycles through the members; ``"capacity"`` picks the
            least loaded member under ``capacity``.
        capacity: Open runs per member; required (at least 1) for ``"capacity"`` teams.
        escalation_owner: Who is above the team's members.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: list[str] = Field(min_length=1)
    assignment: Literal["round-robin", "capacity"] = "round-robin"
    capacity: int | None = Field(default=None, ge=1)
    escalation_owner: str

    @field_validator("members")
    @classmethod
    def _unique_emails(cls, value: list[str]) -> list[str]:
        for member in value:
            _check_email(member)
        duplicates = sorted({member for member in value if value.count(member) > 1})
        if duplicates:
            raise ValueError(f"team members must be unique, repeated: {', '.join(duplicates)}")
        return value

    @field_validator("escalation_owner")
    @classmethod
    def _escalation_email(cls, value: str) -> str:
        return _check_email(value)

    @model_validator(mode="after")
    def _capacity_when_needed(self) -> Team:
        if self.assignment == "capacity" and self.capacity is None:
            raise ValueError("a team with capacity assignment needs a capacity (>= 1)")
        return self


class RouteRule(BaseModel):
    """A routing rule: customers matching every ``when`` value go to ``team``.

    Attributes:
        when: Values to match (case-insensitive); empty matches every customer.
        team: The team's name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[RouteKey, str] = Field(default_factory=dict)
    team: str = Field(min_length=1)


class RoutingError(ValueError):
    """No route matches a customer."""


def _same(expected: str, actual: str | None) -> bool:
    return actual is not None and expected.casefold() == actual.casefold()


def route_team(
    routes: list[RouteRule], *, tier: str, region: str | None, segment: str | None
) -> str:
    """The team of the first route whose ``when`` values all equal the customer's.

    Args:
        routes: The routes, in priority order.
        tier: The customer's tier.
        region: The customer's region, if known; a route on region never matches ``None``.
        segment: The customer's segment, if known; a route on segment never matches ``None``.

    Returns:
        The team's name.

    Raises:
        RoutingError: When no route matches.
    """
    customer: dict[RouteKey, str | None] = {"tier": tier, "region": region, "segment": segment}
    for route in routes:
        if all(_same(expected, customer[key]) for key, expected in route.when.items()):
            return route.team
    raise RoutingError(f"no route matches tier={tier!r}, region={region!r}, segment={segment!r}")


class Assignment(BaseModel):
    """Who owns a run, and why.

    Attributes:
        team: The team's name.
        owner: The member who owns the run.
        escalation_owner: The team's escalation owner.
        reason: Why this member, for the audit trail.
        over_capacity: True when every member was at or over capacity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str
    owner: str
    escalation_owner: str
    reason: str
    over_capacity: bool = False


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def assign(
    team_name: str, team: Team, *, assigned_so_far: int, open_counts: dict[str, int]
) -> Assignment:
    """Pick the owner of a new run in ``team``.

    Round-robin teams take ``members[assigned_so_far % len(members)]``. Capacity teams take
    the member with the fewest open runs among those under capacity (ties go to the earlier
    member); when every member is at or over capacity, the least loaded member is taken anyway
    and the assignment is flagged ``over_capacity``.

    Args:
        team_name: The team's name.
        team: The team.
        assigned_so_far: How many runs the team was assigned before this one.
        open_counts: Open runs per member; a missing member has none.

    Returns:
        The assignment, with its reason.

    Raises:
        ValueError: When ``assigned_so_far`` or a count is negative.
    """
    if assigned_so_far < 0:
        raise ValueError(f"assigned_so_far must be >= 0, got {assigned_so_far}")
    negative = {member: count for member, count in open_counts.items() if count < 0}
    if negative:
        raise ValueError(f"open run counts must be >= 0, got {negative}")

    def result(owner: str, reason: str, *, over_capacity: bool = False) -> Assignment:
        return Assignment(
            team=team_name,
            owner=owner,
            escalation_owner=team.escalation_owner,
            reason=reason,
            over_capacity=over_capacity,
        )

    members = team.members
    if team.assignment == "round-robin":
        index = assigned_so_far % len(members)
        return result(
            members[index],
            f"round-robin: {_ordinal(assigned_so_far + 1)} run of the team, "
            f"member {index + 1} of {len(members)}",
        )

    capacity = team.capacity
    assert capacity is not None  # guaranteed by Team's validation
    counts = {member: open_counts.get(member, 0) for member in members}
    # min() keeps the first of equal counts, so ties follow the member order.
    under = [member for member in members if counts[member] < capacity]
    if under:
        owner = min(under, key=counts.__getitem__)
        return result(owner, f"capacity: {owner} has {counts[owner]} of {capacity} open runs")
    owner = min(members, key=counts.__getitem__)
    return result(
        owner,
        f"capacity: every member is at or over capacity ({capacity}); {owner} is the least "
        f"loaded with {counts[owner]} open runs",
        over_capacity=True,
    )


def validate_routing(teams: dict[str, Team], routes: list[RouteRule]) -> None:
    """Check that routes name known teams and that every customer routes somewhere.

    Args:
        teams: The teams by name.
        routes: The routes, in priority order.

    Raises:
        ValueError: When a route names an unknown team, or the last route is not a catch-all
            (an empty ``when``), or there are no routes.
    """
    for index, route in enumerate(routes):
        if route.team not in teams:
            known = ", ".join(sorted(teams)) or "none"
            raise ValueError(f"route {index} names unknown team {route.team!r} (known: {known})")
    if not routes:
        raise ValueError("routing needs at least one route, the last one a catch-all")
    if routes[-1].when:
        raise ValueError(
            f"the last route (route {len(routes) - 1}) must be a catch-all with an empty "
            f"`when`, so every customer routes somewhere; it has when={dict(routes[-1].when)}"
        )
