"""Every side effect of an onboarding run, one module per system or concern, each replay-safe.

Every create is a get-or-create keyed by the transaction ID and the step (search before create,
external IDs, idempotency keys), so an activity retried after a lost response, or replayed,
never creates a second record.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from activities.alerts import AlertActivities
from activities.crm import CrmActivities
from activities.customer import CustomerActivities
from activities.delivery import DeliveryActivities
from activities.ledger import LedgerActivities
from activities.qa import QaActivities
from activities.rollback import RollbackActivities
from activities.setup import RunSetupActivities
from activities.support import SupportActivities
from onboarding.integrations.settings import Vendors
from onboarding.ledger.store import Ledger

__all__ = [
    "AlertActivities",
    "CrmActivities",
    "CustomerActivities",
    "DeliveryActivities",
    "LedgerActivities",
    "QaActivities",
    "RollbackActivities",
    "RunSetupActivities",
    "SupportActivities",
    "onboarding_activities",
]


def onboarding_activities(
    vendors: Vendors,
    *,
    rules_path: Path | Traversable | None = None,
    ledger: Ledger | None = None,
) -> list[Callable[..., Any]]:
    """Every activity of the onboarding workflow, bound to one worker's vendor clients and
    ledger (default: the one ``ONBOARDING_LEDGER_URL`` names, else ``var/ledger.sqlite3``; the
    database is opened at its first write)."""
    ledger = ledger or Ledger.from_env()
    setup = RunSetupActivities(rules_path=rules_path)
    crm = CrmActivities(vendors, ledger=ledger)
    delivery = DeliveryActivities(vendors, ledger=ledger)
    support = SupportActivities(vendors, ledger=ledger)
    customer = CustomerActivities(vendors, ledger=ledger)
    alerts = AlertActivities(vendors, ledger=ledger)
    qa = QaActivities(vendors, ledger=ledger)
    rollback = RollbackActivities(vendors, ledger=ledger)
    return [
        LedgerActivities(ledger).append_to_ledger,
        setup.load_rules,
        setup.validate_payload,
        setup.assign_owner,
        crm.resolve_crm_identity,
        crm.update_crm_onboarding,
        delivery.create_delivery_project,
        delivery.create_change_order_tasks,
        support.provision_support,
        customer.create_kickoff_link,
        customer.send_email,
        alerts.notify,
        qa.verify_linked_records,
        rollback.roll_back,
    ]
