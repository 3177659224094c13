"""``onboarding-intake``: serve the webhook intake with uvicorn.

    onboarding-intake [--host 127.0.0.1] [--port 8080] [--address HOST:PORT] [--namespace NS]

Secrets and limits come from the environment (see :class:`intake.app.IntakeSettings`),
Temporal from ``temporalio.envconfig`` as everywhere else; the intake connects on the first
delivery, so it starts (and answers 503 with ``Retry-After``) while Temporal is down.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import NoReturn

from temporalio.client import Client

from onboarding.intake.app import CachedClientProvider, IntakeSettings, create_app
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
        description="Receive signed Stripe, DocuSign and CRM webhooks and start onboarding runs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--address", help="Temporal frontend host:port (default: envconfig)")
    parser.add_argument("--namespace", help="Temporal namespace (default: envconfig)")
    parser.add_argument("--task-queue", help="task queue of the runs (ONBOARDING_TASK_QUEUE)")
    parser.add_argument("--log-level", default="INFO")
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
            "DOCUSIGN_CONNECT_KEYS or CRM_WEBHOOK_SECRET",
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
    app = create_app(client_provider=CachedClientProvider(connect_client), settings=settings)

    import uvicorn

    with sigterm_ends_quietly():
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,  # keep the JSON logging configured above
            server_header=False,
        )
    return 0


def script() -> NoReturn:
    """The installed ``onboarding-intake`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
