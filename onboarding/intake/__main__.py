"""``onboarding-intake``: serve the webhook intake with uvicorn.

    onboarding-intake [--host 127.0.0.1] [--port 8080] [--address HOST:PORT] [--namespace NS]

Secrets and limits come from the environment (see :class:`onboarding.intake.IntakeSettings`),
Temporal from ``temporalio.envconfig`` as everywhere else, the HubSpot API (to read deals) from
``HUBSPOT_BASE_URL`` / ``HUBSPOT_TOKEN``; the intake connects on the first delivery, so it
starts (and answers 503 with ``Retry-After``) while Temporal is down.

It is meant to sit behind a TLS-terminating proxy. The server settings that matter there are
flags: ``--forwarded-allow-ips`` (whose ``X-Forwarded-For``/``-Proto`` to trust; default
127.0.0.1), ``--timeout-keep-alive`` (longer than the proxy's idle timeout),
``--max-header-bytes`` and ``--limit-concurrency``. The body limit is
``INTAKE_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import NoReturn

from temporalio.client import Client

from onboarding.intake import CachedClientProvider, IntakeSettings, create_app
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import VendorSettings
from onboarding.runtime.client import connect, data_converter
from onboarding.runtime.logging import configure_logging
from onboarding.runtime.process import run_console_script, sigterm_ends_quietly
from onboarding.security.codec import CodecKeyError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the intake until interrupted.

    Returns:
        0 after a clean shutdown (SIGINT or SIGTERM), 2 on a configuration error.
    """
    parser = argparse.ArgumentParser(
        prog="onboarding-intake",
        description="Receive signed Stripe, DocuSign, HubSpot and CRM webhooks and start "
        "onboarding runs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--address", help="Temporal frontend host:port (default: envconfig)")
    parser.add_argument("--namespace", help="Temporal namespace (default: envconfig)")
    parser.add_argument("--task-queue", help="task queue of the runs (ONBOARDING_TASK_QUEUE)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-* headers are trusted (comma-separated, '*' for all; "
        "default: FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=75,
        help="seconds an idle keep-alive connection stays open (keep it above the proxy's "
        "idle timeout; default 75)",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        default=16 * 1024,
        help="largest request line plus headers; larger is refused (default 16384)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=200,
        help="connections served at once; more are answered 503 (default 200)",
    )
    args = parser.parse_args(argv)

    try:
        settings = IntakeSettings.from_env()
    except ValueError as exc:
        print(f"onboarding-intake: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.task_queue:
        settings = dataclasses.replace(settings, task_queue=args.task_queue)
    if not any(settings.configured().values()):
        print(
            "onboarding-intake: no endpoint is configured; set STRIPE_WEBHOOK_SECRETS, "
            "DOCUSIGN_CONNECT_KEYS, HUBSPOT_APP_SECRETS or CRM_WEBHOOK_SECRET",
            file=sys.stderr,
        )
        return 2
    try:
        data_converter()  # a malformed ONBOARDING_CODEC_KEYS fails here, not per delivery
    except CodecKeyError as exc:
        print(f"onboarding-intake: {exc}", file=sys.stderr)
        return 2

    async def connect_client() -> Client:
        return await connect(target_host=args.address, namespace=args.namespace)

    configure_logging(args.log_level)
    hubspot = None
    if settings.hubspot_app_secrets:
        vendors = VendorSettings.from_env()
        hubspot = HubSpotClient(
            vendors.hubspot_base_url, vendors.hubspot_token, timeout=settings.crm_timeout_seconds
        )
    app = create_app(
        client_provider=CachedClientProvider(connect_client), settings=settings, hubspot=hubspot
    )

    import uvicorn

    with sigterm_ends_quietly():
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            http="h11",  # one known parser: it refuses malformed framing before the app sees it
            log_config=None,  # keep the JSON logging configured above
            server_header=False,
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            timeout_keep_alive=args.timeout_keep_alive,
            h11_max_incomplete_event_size=args.max_header_bytes,
            limit_concurrency=args.limit_concurrency,
        )
    return 0


def script() -> NoReturn:
    """The installed ``onboarding-intake`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
