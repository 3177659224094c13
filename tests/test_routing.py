"""Routing customers to teams and assigning an owner within the team."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from onboarding.domain.routing import (
    Assignment,
    RouteRule,
    RoutingError,
    Team,
    assign,
    route_team,
    validate_routing,
)

ROUTES = [
    RouteRule(when={"tier": "enterprise", "region": "EMEA"}, team="enterprise-emea"),
    RouteRule(when={"tier": "enterprise"}, team="enterprise"),
    RouteRule(when={"segment": "partner"}, team="partners"),
    RouteRule(team="pool"),
]

RR = Team(members=["alice@x.com", "bob@x.com", "carol@x.com"], escalation_owner="lead@x.com")
CAP = Team(
    members=["alice@x.com", "bob@x.com", "carol@x.com"],
    assignment="capacity",
    capacity=5,
    escalation_owner="lead@x.com",
)


@pytest.mark.parametrize(
    ("tier", "region", "segment", "team"),
    [
        ("enterprise", "EMEA", None, "enterprise-emea"),
        ("Enterprise", "emea", "smb", "enterprise-emea"),  # case-insensitive
        ("enterprise", "NA", None, "enterprise"),
        ("enterprise", None, "partner", "enterprise"),  # first match wins
        ("smb", None, "PARTNER", "partners"),
        ("smb", "EMEA", None, "pool"),
        ("mid-market", None, None, "pool"),
    ],
)
def test_route_team(tier: str, region: str | None, segment: str | None, team: str) -> None:
    assert route_team(ROUTES, tier=tier, region=region, segment=segment) == team


def test_route_team_without_match_names_the_customer() -> None:
    with pytest.raises(RoutingError, match=r"tier='smb', region='NA', segment=None") as info:
        route_team(ROUTES[:3], tier="smb", region="NA", segment=None)
    assert isinstance(info.value, ValueError)


def test_round_robin_cycles() -> None:
    owners = [assign("pool", RR, assigned_so_far=n, open_counts={}).owner for n in range(7)]
    assert owners == [
        "alice@x.com",
        "bob@x.com",
        "carol@x.com",
        "alice@x.com",
        "bob@x.com",
        "carol@x.com",
        "alice@x.com",
    ]
    seventh = assign("pool", RR, assigned_so_far=6, open_counts={"alice@x.com": 99})
    assert seventh == Assignment(
        team="pool",
        owner="alice@x.com",
        escalation_owner="lead@x.com",
        reason="round-robin: 7th run of the team, member 1 of 3",
    )
    assert "12th run" in assign("pool", RR, assigned_so_far=11, open_counts={}).reason
    assert "22nd run" in assign("pool", RR, assigned_so_far=21, open_counts={}).reason


def test_capacity_picks_least_loaded_under_capacity() -> None:
    a = assign(
        "pool",
        CAP,
        assigned_so_far=0,
        open_counts={"alice@x.com": 3, "bob@x.com": 2, "carol@x.com": 4},
    )
    assert a.owner == "bob@x.com"
    assert a.reason == "capacity: bob@x.com has 2 of 5 open runs"
    assert not a.over_capacity
    assert a.escalation_owner == "lead@x.com"


def test_capacity_ties_follow_member_order_and_missing_counts_are_zero() -> None:
    a = assign("pool", CAP, assigned_so_far=0, open_counts={"alice@x.com": 1})
    assert a.owner == "bob@x.com"
    b = assign("pool", CAP, assigned_so_far=0, open_counts={m: 2 for m in CAP.members})
    assert b.owner == "alice@x.com"


def test_capacity_skips_members_at_capacity() -> None:
    a = assign(
        "pool",
        CAP,
        assigned_so_far=0,
        open_counts={"alice@x.com": 5, "bob@x.com": 4, "carol@x.com": 4},
    )
    assert a.owner == "bob@x.com" and not a.over_capacity


def test_over_capacity_takes_least_loaded() -> None:
    a = assign(
        "pool",
        CAP,
        assigned_so_far=0,
        open_counts={"alice@x.com": 7, "bob@x.com": 5, "carol@x.com": 6},
    )
    assert a.owner == "bob@x.com"
    assert a.over_capacity
    assert "at or over capacity" in a.reason and "bob@x.com" in a.reason


def test_assign_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError, match="assigned_so_far"):
        assign("pool", RR, assigned_so_far=-1, open_counts={})
    with pytest.raises(ValueError, match="open run counts"):
        assign("pool", CAP, assigned_so_far=0, open_counts={"bob@x.com": -1})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"members": [], "escalation_owner": "l@x.com"}, "at least 1"),
        ({"members": ["a@x.com", "a@x.com"], "escalation_owner": "l@x.com"}, "unique"),
        ({"members": ["alice"], "escalation_owner": "l@x.com"}, "email"),
        ({"members": ["a@x.com"], "escalation_owner": "lead"}, "email"),
        (
            {"members": ["a@x.com"], "assignment": "capacity", "escalation_owner": "l@x.com"},
            "capacity",
        ),
        (
            {
                "members": ["a@x.com"],
                "assignment": "capacity",
                "capacity": 0,
                "escalation_owner": "l@x.com",
            },
            "greater than or equal to 1",
        ),
        (
            {"members": ["a@x.com"], "assignment": "random", "escalation_owner": "l@x.com"},
            "round-robin",
        ),
        ({"members": ["a@x.com"], "escalation_owner": "l@x.com", "size": 3}, "Extra inputs"),
    ],
)
def test_team_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Team(**kwargs)  # type: ignore[arg-type]


def test_route_rule_validation() -> None:
    with pytest.raises(ValidationError):
        RouteRule(when={"country": "FR"}, team="pool")  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        RouteRule(team="")


TEAMS = {"enterprise-emea": RR, "enterprise": RR, "partners": CAP, "pool": RR}


def test_validate_routing_accepts_good_config() -> None:
    validate_routing(TEAMS, ROUTES)


def test_validate_routing_unknown_team() -> None:
    routes = [RouteRule(when={"tier": "smb"}, team="smb-squad"), RouteRule(team="pool")]
    with pytest.raises(ValueError, match=r"route 0 names unknown team 'smb-squad'"):
        validate_routing(TEAMS, routes)


def test_validate_routing_needs_a_final_catch_all() -> None:
    with pytest.raises(ValueError, match=r"last route \(route 2\) must be a catch-all"):
        validate_routing(TEAMS, ROUTES[:3])
    with pytest.raises(ValueError, match="at least one route"):
        validate_routing(TEAMS, [])
