"""What the intake needs besides a Temporal client: secrets, limits, the task queue."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from onboarding.domain.triggers import HUBSPOT_CLOSED_WON_STAGE
from onboarding.runtime.client import TASK_QUEUE
from onboarding.security.signatures import HUBSPOT_TOLERANCE_SECONDS, STRIPE_TOLERANCE_SECONDS

DEFAULT_MAX_BODY_BYTES = 256 * 1024


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class IntakeSettings:
    """Secrets, limits and the task queue of the intake.

    Attributes:
        stripe_webhook_secrets: Stripe endpoint signing secrets (``whsec_...``), any may match.
        docusign_connect_keys: DocuSign Connect HMAC keys, any may match.
        hubspot_app_secrets: The HubSpot app's client secret(s), for ``X-HubSpot-Signature-v3``.
        hubspot_webhook_url: The target URL exactly as configured in the HubSpot app (HubSpot
            signs it); empty means the URL the request arrived at, which is only right when
            no proxy rewrites scheme, host or path.
        hubspot_closed_won_stages: Deal stage IDs that mean Closed-Won (one per pipeline).
        crm_webhook_secrets: Shared secrets of the generic signed CRM webhook, any may match.
        max_body_bytes: Largest accepted body; larger is 413.
        task_queue: Task queue of the runs the intake starts.
        stripe_tolerance_seconds: Accepted age of a Stripe signature.
        hubspot_tolerance_seconds: Accepted age of a HubSpot request timestamp.
        temporal_timeout_seconds: How long one start or signal may take before the answer is
            503 (the sender retries; the start is idempotent).
        crm_timeout_seconds: How long reading one HubSpot deal may take (HubSpot waits 5 s).
        retry_after_seconds: The ``Retry-After`` of a 503.
    """

    stripe_webhook_secrets: tuple[str, ...] = ()
    docusign_connect_keys: tuple[str, ...] = ()
    hubspot_app_secrets: tuple[str, ...] = ()
    hubspot_webhook_url: str = ""
    hubspot_closed_won_stages: tuple[str, ...] = (HUBSPOT_CLOSED_WON_STAGE,)
    crm_webhook_secrets: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    task_queue: str = TASK_QUEUE
    stripe_tolerance_seconds: int = STRIPE_TOLERANCE_SECONDS
    hubspot_tolerance_seconds: int = HUBSPOT_TOLERANCE_SECONDS
    temporal_timeout_seconds: float = 10.0
    crm_timeout_seconds: float = 4.0
    retry_after_seconds: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IntakeSettings:
        """Settings from the environment.

        ``STRIPE_WEBHOOK_SECRETS``, ``DOCUSIGN_CONNECT_KEYS``, ``HUBSPOT_APP_SECRETS`` and
        ``CRM_WEBHOOK_SECRET`` (all comma-separated), ``HUBSPOT_WEBHOOK_URL``,
        ``HUBSPOT_CLOSED_WON_STAGES`` (comma-separated, default ``closedwon``),
        ``INTAKE_MAX_BODY_BYTES``, ``INTAKE_TEMPORAL_TIMEOUT_SECONDS`` and
        ``ONBOARDING_TASK_QUEUE``.

        Raises:
            ValueError: a number that does not parse.
        """
        env = os.environ if environ is None else environ
        return cls(
            stripe_webhook_secrets=_split(env.get("STRIPE_WEBHOOK_SECRETS")),
            docusign_connect_keys=_split(env.get("DOCUSIGN_CONNECT_KEYS")),
            hubspot_app_secrets=_split(env.get("HUBSPOT_APP_SECRETS")),
            hubspot_webhook_url=(env.get("HUBSPOT_WEBHOOK_URL") or "").strip(),
            hubspot_closed_won_stages=_split(env.get("HUBSPOT_CLOSED_WON_STAGES"))
            or (HUBSPOT_CLOSED_WON_STAGE,),
            crm_webhook_secrets=_split(env.get("CRM_WEBHOOK_SECRET")),
            max_body_bytes=int(env.get("INTAKE_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES),
            task_queue=env.get("ONBOARDING_TASK_QUEUE") or TASK_QUEUE,
            temporal_timeout_seconds=float(env.get("INTAKE_TEMPORAL_TIMEOUT_SECONDS") or 10.0),
        )

    def configured(self) -> dict[str, bool]:
        """Which endpoints have a secret (an endpoint without one answers 503)."""
        return {
            "stripe": bool(self.stripe_webhook_secrets),
            "docusign": bool(self.docusign_connect_keys),
            "hubspot": bool(self.hubspot_app_secrets),
            "crm": bool(self.crm_webhook_secrets),
        }
