"""A local HTTP server speaking the real APIs of the project's SaaS vendors.

Vendors are mounted under prefixes (``/hubspot``, ``/asana/api/1.0``, ``/zendesk``,
``/resend``, ``/calendly``, ``/slack``); ``/_admin`` offers fault injection, state
inspection and the request log.
"""

from __future__ import annotations

from onboarding.sandbox.app import DEFAULT_TOKENS, create_app
from onboarding.sandbox.server import RunningSandbox, run_in_thread

__all__ = ["DEFAULT_TOKENS", "RunningSandbox", "create_app", "run_in_thread"]
