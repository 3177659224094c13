"""The webhook intake: signed billing, signature and CRM events become onboarding runs."""

from onboarding.intake.app import CachedClientProvider, create_app
from onboarding.intake.pipeline import ClientProvider
from onboarding.intake.settings import IntakeSettings

__all__ = ["CachedClientProvider", "ClientProvider", "IntakeSettings", "create_app"]
