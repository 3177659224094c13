"""Idempotency keys and external IDs: derived from the transaction ID and the step, never a clock.

Keys use the transaction ID (the workflow ID), not the run ID, which changes on reset and
continue-as-new.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def idempotency_key(transaction_id: str, step: str, *parts: str) -> str:
    """The idempotency key of one side-effecting step of one transaction."""
    return ":".join(_UNSAFE.sub("-", p) for p in (transaction_id, step, *parts) if p)


def project_name(legal_name: str, transaction_id: str) -> str:
    """Delivery project name; the transaction ID in brackets is what get-or-create searches for."""
    return f"{legal_name} onboarding [{transaction_id}]"


def task_external_gid(transaction_id: str, task_key: str) -> str:
    """Asana ``external.gid`` of a standard task of this transaction."""
    return idempotency_key(transaction_id, "task", task_key)


def support_org_external_id(crm_company_id: str) -> str:
    """Zendesk organization ``external_id``: one organization per confirmed CRM company."""
    return f"hubspot-company-{crm_company_id}"


def support_user_external_id(crm_contact_id: str) -> str:
    """Zendesk user ``external_id``: one user per confirmed CRM contact."""
    return f"hubspot-contact-{crm_contact_id}"


def tag_value(value: str) -> str:
    """A value safe for vendor tags that allow only letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)
