"""``onboarding report``: the Monday report, from the audit ledger (not from Temporal)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from onboarding.cli.common import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from onboarding.domain.rules import RulesError, load_rules
from onboarding.integrations.settings import VendorSettings
from onboarding.integrations.slack import SlackWebhook
from onboarding.ledger.render import render_chat, render_html, render_text
from onboarding.ledger.report import parse_week, week_of, weekly_report
from onboarding.ledger.store import Ledger


def open_ledger(args: argparse.Namespace) -> Ledger:
    """The ledger ``--ledger`` names, else ``ONBOARDING_LEDGER_URL``, else ``var/``."""
    return Ledger(args.ledger) if args.ledger else Ledger.from_env()


def write_out(text: str, out: str | None) -> None:
    """Print, or write to a file."""
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


async def cmd_report(_client: Any, args: argparse.Namespace) -> int:
    """Compute and print (or write) one week's report."""
    try:
        week = parse_week(args.week) if args.week else week_of(datetime.now(UTC))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        calendar = load_rules().rules.calendar
    except RulesError:
        calendar = None  # working days Monday to Friday, UTC
    ledger = open_ledger(args)
    try:
        report = await asyncio.to_thread(weekly_report, ledger, week, calendar=calendar)
    finally:
        ledger.close()
    if args.format == "json":
        write_out(report.model_dump_json(indent=2) + "\n", args.out)
    elif args.format == "html":
        write_out(render_html(report), args.out)
    else:
        write_out(render_text(report), args.out)
    if args.post:
        chat = SlackWebhook(VendorSettings.from_env().slack_webhook_url)
        try:
            await chat.post(render_chat(report))
        except Exception as exc:
            raise CliError(
                f"the chat webhook refused the summary: {exc}", EXIT_UNAVAILABLE
            ) from None
        finally:
            await chat.aclose()
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``report`` command."""
    report = sub.add_parser("report", help="the Monday report of one week, from the ledger")
    report.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the current week)")
    report.add_argument("--format", choices=["table", "json", "html"], default="table")
    report.add_argument("--out", help="write to this file instead of printing")
    report.add_argument(
        "--post", action="store_true", help="also post a short summary to SLACK_WEBHOOK_URL"
    )
    report.add_argument("--ledger", help="ledger URL (default: ONBOARDING_LEDGER_URL or var/)")
    report.set_defaults(func=cmd_report, needs_temporal=False)
