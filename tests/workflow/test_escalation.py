"""SLA alerts and escalation with the vendors faked: hours pass on the time-skipping server in
milliseconds, and each alert is one call of the ``notify`` activity."""

from __future__ import annotations

from datetime import timedelta

from onboarding.domain.errors import ErrorType
from tests.support import make_payload, unique_slug
from tests.workflow.conftest import Harness
from tests.workflow.fakes import FakeSystems


async def test_a_technical_item_alerts_its_owner_then_climbs_the_chain(
    harness: Harness, systems: FakeSystems
) -> None:
    systems.fail("create_kickoff_link", ErrorType.AUTH_ERROR)
    run = await harness.start(make_payload(unique_slug("esc")))
    item = (await harness.parked(run, "auth-error")).open_exception
    assert item is not None
    clock = f"exception:{item.id}"

    # Credentials no retry can fix: the system owner hears at once.
    first = await harness.status(run)
    assert [(n.kind, n.recipients) for n in first.notices if n.clock == clock] == [
        ("failure", ["platform@example.com"])
    ]
    assert [n.recipients for n in systems.calls["notify"]] == [["platform@example.com"]]
    await harness.env.sleep(timedelta(hours=29))
    status = await harness.status(run)
    assert [(n.kind, n.recipients) for n in status.notices if n.clock == clock] == [
        ("failure", ["platform@example.com"]),
        ("at-risk", ["platform@example.com"]),  # at 75% of the 4 technical hours
        ("breached", ["platform@example.com"]),
        ("escalated", ["cs-lead@example.com"]),  # the team's escalation owner, at the breach
        ("escalated", ["revops@example.com"]),  # the process owner, 24 hours later
    ]
    escalations = [
        n for n in systems.calls["notify"] if n.subject.endswith(f"exception {item.id} is overdue")
    ]
    assert [n.recipients for n in escalations] == [["cs-lead@example.com"], ["revops@example.com"]]
