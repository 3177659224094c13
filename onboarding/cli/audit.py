"""``onboarding audit``: export the ledger, verify an export offline, audit vendors for
duplicates.

    onboarding audit export TRANSACTION | --since DATE [--out FILE]
    onboarding audit verify FILE
    onboarding audit duplicates [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from onboarding.cli.common import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CliError
from onboarding.cli.report import open_ledger, write_out
from onboarding.ledger.chain import verify_lines

#: Exit status when verify finds a broken row, or duplicates finds duplicates.
EXIT_FOUND = 1


def _since(text: str) -> datetime:
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--since: not a date: {text!r} (write 2026-11-16)", EXIT_USAGE) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}", EXIT_USAGE) from None


async def cmd_export(_client: Any, args: argparse.Namespace) -> int:
    """Write ledger rows as JSON Lines: one run, or every row since a date."""
    if bool(args.transaction) == bool(args.since):
        raise CliError("give a TRANSACTION or --since DATE (one of them)", EXIT_USAGE)
    ledger = open_ledger(args)
    try:
        rows = await asyncio.to_thread(
            lambda: list(
                ledger.rows(transaction_id=args.transaction)
                if args.transaction
                else ledger.rows(since=_since(args.since))
            )
        )
    finally:
        ledger.close()
    if args.transaction and not rows:
        raise CliError(f"the ledger holds nothing for {args.transaction}", EXIT_NOT_FOUND)
    write_out(
        "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows), args.out
    )
    return EXIT_OK


async def cmd_verify(_client: Any, args: argparse.Namespace) -> int:
    """Check an export's hash chain offline; name the first broken row."""
    result = verify_lines(_read_lines(args.file))
    if result.broken is not None:
        print(f"{args.file}: BROKEN at {result.broken}")
        return EXIT_FOUND
    note = ""
    if result.partial_runs:
        note = f" ({len(result.partial_runs)} run(s) exported from a date: chained from there)"
    print(f"{args.file}: OK, {result.rows} rows of {result.runs} run(s), chain intact{note}")
    return EXIT_OK


async def cmd_duplicates(_client: Any, args: argparse.Namespace) -> int:
    """Read the vendor systems and list what is duplicated or orphaned."""
    from onboarding.integrations.settings import Vendors, VendorSettings
    from onboarding.ledger.duplicates import find_duplicates, render_findings

    ledger = open_ledger(args)
    vendors = Vendors(VendorSettings.from_env())
    try:
        findings = await find_duplicates(vendors, ledger)
    finally:
        await vendors.aclose()
        ledger.close()
    if args.json:
        print(findings.model_dump_json(indent=2))
    else:
        print(render_findings(findings), end="")
    return EXIT_FOUND if findings.count else EXIT_OK


def register(sub: Any) -> None:
    """Add ``audit export``, ``audit verify`` and ``audit duplicates``."""
    audit = sub.add_parser("audit", help="export and verify the ledger; find duplicates")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    export = commands.add_parser("export", help="ledger rows as JSON Lines, hashes included")
    export.add_argument("transaction", nargs="?", help="one run's transaction ID")
    export.add_argument("--since", help="every row from this date (or ISO time, UTC) on")
    export.add_argument("--out", help="write to this file instead of printing")
    export.add_argument("--ledger", help="ledger URL (default: ONBOARDING_LEDGER_URL or var/)")
    export.set_defaults(func=cmd_export, needs_temporal=False)
    verify = commands.add_parser("verify", help="check an export's hash chain, offline")
    verify.add_argument("file")
    verify.set_defaults(func=cmd_verify, needs_temporal=False)
    duplicates = commands.add_parser(
        "duplicates", help="vendor records duplicated or not held by any run (exit 1 if any)"
    )
    duplicates.add_argument("--json", action="store_true", help="machine-readable output")
    duplicates.add_argument("--ledger", help="ledger URL (default: ONBOARDING_LEDGER_URL or var/)")
    duplicates.set_defaults(func=cmd_duplicates, needs_temporal=False)
