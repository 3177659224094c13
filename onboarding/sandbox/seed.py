"""Seed data inserted into an empty sandbox database.

Only Asana needs seeding: the project reads a workspace, a team and four project
templates by fixed gids, exactly as it would in a real Asana organisation.
"""

from __future__ import annotations

from typing import Any

from onboarding.sandbox.store import Store

WORKSPACE_GID = "1100000000000001"
TEAM_GID = "1100000000000002"
USER_GID = "1100000000000003"

#: gid -> (name, task names) for every seeded project template.
PROJECT_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "1200000000000001": (
        "Enterprise onboarding",
        (
            "Kickoff prep",
            "Security review",
            "SSO setup",
            "Data migration plan",
            "Admin training",
            "Success plan sign-off",
        ),
    ),
    "1200000000000002": (
        "Mid-market onboarding",
        (
            "Kickoff prep",
            "Workspace configuration",
            "Data import",
            "Team training",
            "Success plan review",
        ),
    ),
    "1200000000000003": (
        "SMB onboarding",
        ("Kickoff prep", "Guided setup", "First value check"),
    ),
    "1200000000000004": (
        "Partner-led onboarding",
        ("Partner handoff", "Kickoff prep", "Partner enablement", "First value check"),
    ),
}

SEED_TIMESTAMP = "2024-01-02T09:00:00.000Z"
_SEEDED_KEY = "seeded"


def _workspace() -> dict[str, Any]:
    return {
        "gid": WORKSPACE_GID,
        "resource_type": "workspace",
        "name": "Sandbox Workspace",
        "is_organization": True,
        "email_domains": ["example.com"],
    }


def _team() -> dict[str, Any]:
    return {
        "gid": TEAM_GID,
        "resource_type": "team",
        "name": "Customer Success",
        "description": "Sandbox team that owns onboarding projects.",
        "organization": {
            "gid": WORKSPACE_GID,
            "resource_type": "workspace",
            "name": "Sandbox Workspace",
        },
    }


def _user() -> dict[str, Any]:
    return {
        "gid": USER_GID,
        "resource_type": "user",
        "name": "Sandbox Bot",
        "email": "sandbox-bot@example.com",
        "workspaces": [
            {"gid": WORKSPACE_GID, "resource_type": "workspace", "name": "Sandbox Workspace"}
        ],
    }


def _template(gid: str, name: str, tasks: tuple[str, ...]) -> dict[str, Any]:
    return {
        "gid": gid,
        "resource_type": "project_template",
        "name": name,
        "description": f"{name} playbook ({len(tasks)} tasks).",
        "html_description": f"<body>{name} playbook ({len(tasks)} tasks).</body>",
        "public": False,
        "color": "light-green",
        "owner": {"gid": USER_GID, "resource_type": "user", "name": "Sandbox Bot"},
        "team": {"gid": TEAM_GID, "resource_type": "team", "name": "Customer Success"},
        "requested_dates": [],
        "requested_roles": [],
        # Not part of Asana's response: the task names each instantiation creates.
        "_task_names": list(tasks),
    }


def seed(store: Store) -> bool:
    """Insert the seed records unless the database was seeded already.

    Args:
        store: The store to fill.

    Returns:
        Whether anything was inserted.
    """
    with store.atomic():
        if store.get_meta(_SEEDED_KEY) is not None:
            return False
        store.put("asana_workspaces", WORKSPACE_GID, _workspace())
        store.put("asana_teams", TEAM_GID, _team())
        store.put("asana_users", USER_GID, _user())
        for gid, (name, tasks) in PROJECT_TEMPLATES.items():
            store.put("asana_project_templates", gid, _template(gid, name, tasks))
        store.set_meta(_SEEDED_KEY, SEED_TIMESTAMP)
    return True
