"""Idempotency keys, external IDs and the marks a run leaves on what it creates.

Everything here derives from the transaction ID and the step, never a clock, so that a retried
activity, a replayed stage or a run re-created from scratch (the same event again after the
Temporal store was lost) computes the same keys and finds what an earlier attempt made.

Keys use the transaction ID (the workflow ID), not the run ID, which changes on reset and
continue-as-new.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")

#: The first words of the note a run writes on every record it creates (Zendesk ``notes``).
CREATED_BY_PREFIX = "Created by onboarding"
#: The first words of the line that names a delivery task's key in its notes (Asana).
TASK_KEY_PREFIX = "Onboarding key:"


def idempotency_key(transaction_id: str, step: str, *parts: str) -> str:
    """The idempotency key of one side-effecting step of one transaction."""
    return ":".join(_UNSAFE.sub("-", p) for p in (transaction_id, step, *parts) if p)


def project_name(legal_name: str, transaction_id: str) -> str:
    """Delivery project name; the transaction ID in brackets is what get-or-create searches for."""
    return f"{legal_name} onboarding [{transaction_id}]"


def project_marker(transaction_id: str) -> str:
    """The part of a delivery project's name that names its transaction."""
    return f"[{transaction_id}]"


def task_external_gid(transaction_id: str, task_key: str) -> str:
    """The key of one standard task of this transaction (written in the task's notes)."""
    return idempotency_key(transaction_id, "task", task_key)


def task_key_line(task_key: str) -> str:
    """The notes line that names a delivery task's key: how a retry finds the task again."""
    return f"{TASK_KEY_PREFIX} {task_key}"


def has_line(text: str | None, line: str) -> bool:
    """Whether ``text`` holds ``line`` as a whole line (``txn-1`` never matches ``txn-10``)."""
    return line in (text or "").splitlines()


def created_by_note(transaction_id: str) -> str:
    """The note stamped on a record a run creates: what tells *created* from *matched*."""
    return f"{CREATED_BY_PREFIX} {transaction_id}"


def was_created_by(text: str | None, transaction_id: str) -> bool:
    """Whether a record's notes say this transaction created it."""
    return has_line(text, created_by_note(transaction_id))


def support_org_external_id(crm_company_id: str) -> str:
    """Zendesk organization ``external_id``: one organization per confirmed CRM company."""
    return f"hubspot-company-{crm_company_id}"


def support_user_external_id(crm_contact_id: str) -> str:
    """Zendesk user ``external_id``: one user per confirmed CRM contact."""
    return f"hubspot-contact-{crm_contact_id}"


def tag_value(value: str) -> str:
    """A value safe for vendor tags that allow only letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def kickoff_link(
    scheduling_url: str,
    transaction_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
) -> str:
    """The kickoff booking link of one transaction: the event type's own scheduling page, with
    the invitee prefilled and UTM parameters that carry the transaction ID.

    Nothing is created at the scheduling vendor, so there is nothing to create twice: the same
    transaction always gets the same link, and a booking made through it carries the transaction
    ID in its tracking (``utm_content``).
    """
    parts = urlsplit(scheduling_url)
    query = [
        *((k, v) for k, v in (("name", name), ("email", email)) if v),
        ("utm_source", "onboarding"),
        ("utm_medium", "email"),
        ("utm_campaign", "kickoff"),
        ("utm_content", transaction_id),
    ]
    existing = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=existing + urlencode(query)))
