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
from activities.qa import QaActivities
from activities.rollback import RollbackActivities
from activities.setup import RunSetupActivities
from activities.support import SupportActivities
from onboarding.integrations.settings import Vendors

__all__ = [
    "AlertActivities",
    "CrmActivities",
    "CustomerActivities",
    "DeliveryActivities",
    "QaActivities",
    "RollbackActivities",
    "RunSetupActivities",
    "SupportActivities",
    "onboarding_activities",
]


def onboarding_activities(
    vendors: Vendors, *, rules_path: Path | Traversable | None = None
) -> list[Callable[..., Any]]:
    """Every activity of the onboarding workflow, bound to one worker's vendor clients."""
    setup = RunSetupActivities(rules_path=rules_path)
    crm = CrmActivities(vendors)
    delivery = DeliveryActivities(vendors)
    support = SupportActivities(vendors)
    customer = CustomerActivities(vendors)
    alerts = AlertActivities(vendors)
    qa = QaActivities(vendors)
    rollback = RollbackActivities(vendors)
    return [
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
