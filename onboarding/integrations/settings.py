"""Where each vendor lives and how to authenticate: base URLs and tokens from the environment.

Defaults point at the bundled sandbox; pointing a base URL and a token at the real vendor is the
only change needed to run against it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TypeVar

import httpx

from onboarding.integrations.asana import AsanaClient
from onboarding.integrations.calendly import CalendlyClient
from onboarding.integrations.http import CallObserver, VendorClient
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.resend import ResendClient
from onboarding.integrations.slack import SlackWebhook
from onboarding.integrations.zendesk import ZendeskClient

ClientT = TypeVar("ClientT", bound=VendorClient)

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8765"


@dataclass(frozen=True)
class VendorSettings:
    """Vendor endpoints and credentials. Each field has an environment variable of its name in
    upper case (``HUBSPOT_BASE_URL``, ``HUBSPOT_TOKEN``, ...)."""

    hubspot_base_url: str
    hubspot_token: str
    asana_base_url: str
    asana_token: str
    asana_workspace_gid: str
    asana_team_gid: str
    zendesk_base_url: str
    zendesk_token: str
    resend_base_url: str
    resend_api_key: str
    resend_from: str
    calendly_base_url: str
    calendly_token: str
    calendly_event_type_uri: str
    slack_webhook_url: str
    http_timeout_seconds: float = 15.0

    @classmethod
    def for_sandbox(cls, root: str = DEFAULT_SANDBOX_URL) -> VendorSettings:
        """Settings for the bundled sandbox at ``root``."""
        root = root.rstrip("/")
        return cls(
            hubspot_base_url=f"{root}/hubspot",
            hubspot_token="sandbox-hubspot-token",
            asana_base_url=f"{root}/asana/api/1.0",
            asana_token="sandbox-asana-token",
            asana_workspace_gid="1100000000000001",
            asana_team_gid="1100000000000002",
            zendesk_base_url=f"{root}/zendesk",
            zendesk_token="sandbox-zendesk-token",
            resend_base_url=f"{root}/resend",
            resend_api_key="re_sandbox_key",
            resend_from="Onboarding <onboarding@example.com>",
            calendly_base_url=f"{root}/calendly",
            calendly_token="sandbox-calendly-token",
            calendly_event_type_uri="https://api.calendly.com/event_types/sandbox-kickoff",
            slack_webhook_url=f"{root}/slack/services/T0000/B0000/sandbox-webhook",
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VendorSettings:
        """Sandbox defaults (at ``SANDBOX_URL``), overridden field by field from the environment."""
        env = os.environ if env is None else env
        base = cls.for_sandbox(env.get("SANDBOX_URL", DEFAULT_SANDBOX_URL))
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw is None or raw == "":
                values[f.name] = getattr(base, f.name)
            elif f.name == "http_timeout_seconds":
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]


class Vendors:
    """One client per vendor, sharing nothing but settings. Close with :meth:`aclose`.

    Args:
        settings: Endpoints and credentials.
        transport: An httpx transport for every vendor client (tests record the exchanges
            with one); None: httpx's own.
        on_call: Told of every vendor call once it is over (the worker counts them by system and
            status for its metrics).
    """

    def __init__(
        self,
        settings: VendorSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self.settings = settings
        t, http = settings.http_timeout_seconds, transport

        def client(kind: type[ClientT], base_url: str, token: str) -> ClientT:
            return kind(base_url, token, timeout=t, transport=http, on_call=on_call)

        self.crm = client(HubSpotClient, settings.hubspot_base_url, settings.hubspot_token)
        self.projects = client(AsanaClient, settings.asana_base_url, settings.asana_token)
        self.support = client(ZendeskClient, settings.zendesk_base_url, settings.zendesk_token)
        self.email = client(ResendClient, settings.resend_base_url, settings.resend_api_key)
        self.scheduling = client(
            CalendlyClient, settings.calendly_base_url, settings.calendly_token
        )
        self.chat = SlackWebhook(settings.slack_webhook_url, timeout=t, on_call=on_call)

    async def aclose(self) -> None:
        """Close every client's connection pool."""
        for client in (self.crm, self.projects, self.support, self.email, self.scheduling):
            await client.aclose()
        await self.chat.aclose()
