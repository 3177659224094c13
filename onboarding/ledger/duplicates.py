"""The duplicate audit: what the vendor systems hold twice, or hold for no run.

It reads the vendors themselves, through the same clients the activities use (so it works
against the sandbox and the real vendors alike), and the ledger for what the runs hold:

- delivery projects of a run (``[transaction]`` in the name) whose run has no live CRM company:
  no company carries the transaction, and the company the run recorded is gone;
- several support organisations for one domain;
- several CRM companies for one domain, several CRM contacts for one email.

Kickoff links need no check: a run's link is its event type's booking page, prefilled, so no
run creates a scheduling link that could be left behind.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field

from onboarding.domain.audit import AuditAction
from onboarding.integrations.settings import Vendors
from onboarding.ledger.store import Ledger

_TRANSACTION = re.compile(r"\[([^\]]+)\]")


class Finding(BaseModel):
    """One duplicated or orphaned thing."""

    check: str = Field(
        description="project-without-crm-company, several-support-organizations, "
        "duplicate-crm-company or duplicate-crm-contact"
    )
    key: str = Field(description="What the records share: a transaction, domain, email or URL.")
    system: str
    records: list[str]
    detail: str


class Findings(BaseModel):
    """Everything the audit found, and the checks it could not run."""

    findings: list[Finding]
    skipped: list[str] = Field(default_factory=list)

    @property
    def count(self) -> int:
        """How many findings."""
        return len(self.findings)


def _held_by_runs(ledger: Ledger) -> dict[str, str]:
    """From the ledger: each run's CRM company."""
    companies: dict[str, str] = {}
    for row in ledger.rows():
        if row["action"] != AuditAction.STEP_DONE:
            continue
        data = row["data"]
        if data.get("kind") == "crm_company":
            companies[row["transaction_id"]] = data.get("record", "")
    return companies


def _groups(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, record in items:
        if key:
            grouped[key.strip().lower()].append(record)
    return {k: v for k, v in grouped.items() if len(v) > 1}


async def find_duplicates(vendors: Vendors, ledger: Ledger) -> Findings:
    """Run every check; a vendor that cannot answer a check skips it, with the reason."""
    findings: list[Finding] = []
    skipped: list[str] = []
    companies_of_runs = await asyncio.to_thread(_held_by_runs, ledger)

    companies: list[dict[str, Any]] = await vendors.crm.list_objects(
        "companies", ["name", "domain", "onboarding_transaction_id"]
    )
    contacts = await vendors.crm.list_objects("contacts", ["email", "firstname", "lastname"])
    live_company_ids = {str(c["id"]) for c in companies}
    for domain, ids in sorted(
        _groups(
            [((c.get("properties") or {}).get("domain") or "", str(c["id"])) for c in companies]
        ).items()
    ):
        findings.append(
            Finding(
                check="duplicate-crm-company",
                key=domain,
                system="hubspot",
                records=ids,
                detail=f"{len(ids)} CRM companies share the domain {domain}",
            )
        )
    for email, ids in sorted(
        _groups(
            [((c.get("properties") or {}).get("email") or "", str(c["id"])) for c in contacts]
        ).items()
    ):
        findings.append(
            Finding(
                check="duplicate-crm-contact",
                key=email,
                system="hubspot",
                records=ids,
                detail=f"{len(ids)} CRM contacts share the email {email}",
            )
        )

    transactions_in_crm = {
        (c.get("properties") or {}).get("onboarding_transaction_id") for c in companies
    }
    projects = await vendors.projects.list_projects(vendors.settings.asana_workspace_gid)
    for project in projects:
        match = _TRANSACTION.search(project.get("name") or "")
        if match is None:
            continue  # not a project a run made
        transaction = match.group(1)
        recorded = companies_of_runs.get(transaction)
        if transaction in transactions_in_crm or (recorded and recorded in live_company_ids):
            continue
        findings.append(
            Finding(
                check="project-without-crm-company",
                key=transaction,
                system="asana",
                records=[str(project["gid"])],
                detail=f"project {project.get('name')!r} has no live CRM company"
                + (f" (its run recorded {recorded}, now gone)" if recorded else ""),
            )
        )

    organizations = await vendors.support.list_organizations()
    by_domain = [
        (domain, str(o["id"])) for o in organizations for domain in o.get("domain_names") or []
    ]
    for domain, ids in sorted(_groups(by_domain).items()):
        findings.append(
            Finding(
                check="several-support-organizations",
                key=domain,
                system="zendesk",
                records=ids,
                detail=f"{len(ids)} support organizations for the domain {domain}",
            )
        )

    return Findings(findings=findings, skipped=skipped)


def render_findings(findings: Findings) -> str:
    """The findings as a person reads them."""
    if not findings.findings:
        lines = ["No duplicates: every vendor record checked belongs to one run."]
    else:
        lines = [f"{findings.count} finding(s):"]
        for check in dict.fromkeys(f.check for f in findings.findings):
            group = [f for f in findings.findings if f.check == check]
            lines.append(f"\n{check.upper()} ({len(group)})")
            lines += [f"  {f.key}: {f.detail} [{f.system} {', '.join(f.records)}]" for f in group]
    lines += [f"skipped: {s}" for s in findings.skipped]
    return "\n".join(lines) + "\n"
