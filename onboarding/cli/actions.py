"""The commands that act on a run: ``resolve ACTION``, ``cancel``, ``sign-off``, ``scope-change``.

Each sends one update; the run's validator refuses what does not fit, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from onboarding.cli.common import (
    EXIT_ENDED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    run_status,
)
from workflows import search_attributes as sa
from workflows.messages import (
    CancelRequest,
    ResolveRequest,
    SafeAction,
    ScopeChangeRequest,
    SignOffRequest,
)
from workflows.onboarding import REPLAYABLE_STAGES, OnboardingWorkflow


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise CliError(f"--set {path}: {part} is not an object", EXIT_USAGE)
    target[parts[-1]] = value


def supplied_data(args: argparse.Namespace) -> dict[str, Any]:
    """The merge patch of ``supply-data`` from ``--data JSON`` and ``--set path=value``."""
    data: dict[str, Any] = {}
    if args.data:
        try:
            loaded = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise CliError(f"--data is not valid JSON: {exc.msg}", EXIT_USAGE) from None
        if not isinstance(loaded, dict):
            raise CliError("--data must be a JSON object", EXIT_USAGE)
        data.update(loaded)
    for item in args.set or []:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"--set {item!r}: expected path=value", EXIT_USAGE)
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        _set_path(data, path.strip(), value)
    if not data:
        raise CliError("supply-data needs --set path=value (or --data JSON)", EXIT_USAGE)
    return data


async def cmd_resolve(client: Client, args: argparse.Namespace) -> int:
    """Send the resolve update for one action."""
    action = SafeAction(args.action)
    request = ResolveRequest(
        action=action,
        actor=args.actor,
        reason=args.reason or "",
        exception_id=args.exception,
        company_id=getattr(args, "company", None),
        data=supplied_data(args) if action == SafeAction.SUPPLY_DATA else None,
        stage=getattr(args, "stage", None),
        owner=getattr(args, "owner", None),
    )
    code = await _send(client, args.transaction, OnboardingWorkflow.resolve, request)
    if action == SafeAction.CANCEL:
        await confirm_cancel(client, args.transaction, request.actor, request.reason)
    return code


async def cmd_cancel(client: Client, args: argparse.Namespace) -> int:
    """Send the cancel update (who, why, rollback or not), then Temporal's cancellation."""
    request = CancelRequest(actor=args.actor, reason=args.reason, rollback=not args.no_rollback)
    code = await _send(client, args.transaction, OnboardingWorkflow.cancel, request)
    await confirm_cancel(client, args.transaction, request.actor, request.reason)
    return code


async def confirm_cancel(client: Client, transaction_id: str, actor: str, reason: str) -> None:
    """Temporal's own cancellation, after the update recorded who and why: the run rolls back
    once, and ends with the status Canceled, which the Temporal UI's list shows at a glance."""
    handle = client.get_workflow_handle(transaction_id)
    try:
        await handle.cancel(reason=f"cancelled by {actor}: {reason}")
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # already ended: nothing left to confirm
            raise


async def cmd_sign_off(client: Client, args: argparse.Namespace) -> int:
    """Send the QA sign-off."""
    request = SignOffRequest(actor=args.actor, note=args.note or "")
    return await _send(client, args.transaction, OnboardingWorkflow.sign_off, request)


async def cmd_scope_change(client: Client, args: argparse.Namespace) -> int:
    """Request a change of scope."""
    request = ScopeChangeRequest(actor=args.actor, reason=args.reason, items=args.item)
    return await _send(client, args.transaction, OnboardingWorkflow.request_scope_change, request)


async def _send(client: Client, transaction_id: str, update: Any, request: Any) -> int:
    """Send one update to a run and print its answer; refusals, ended and missing runs are clear."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    await _still_running(handle, transaction_id)
    # Reading the run first also refuses to act on an encrypted run without its keys, before
    # anything is written to its history in clear.
    await run_status(client, transaction_id)
    try:
        result = await handle.execute_update(update, request)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise CliError(f"refused: {message}", EXIT_REFUSED) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # it ended while the update was on its way
            await _still_running(handle, transaction_id)
        raise
    print(result.message)
    return EXIT_OK


async def _still_running(handle: WorkflowHandle[Any, Any], transaction_id: str) -> None:
    """Raise the error a person reads when the run does not exist or has ended."""
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no onboarding run for transaction {transaction_id}", EXIT_NOT_FOUND
            ) from None
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        return
    status = description.status.name.lower() if description.status else "closed"
    stage = description.typed_search_attributes.get(sa.STAGE)
    ended = f" at {description.close_time:%Y-%m-%d %H:%M} UTC" if description.close_time else ""
    raise CliError(
        f"the run is no longer running: it ended {status}{ended}"
        f"{f' in stage {stage}' if stage else ''}; nothing was changed",
        EXIT_ENDED,
    )


def _actor_default() -> str | None:
    return os.environ.get("ONBOARDING_ACTOR") or None


def register(sub: Any) -> None:
    """Add ``resolve``, ``cancel``, ``sign-off`` and ``scope-change``."""
    resolve = sub.add_parser("resolve", help="act on a run's open exception item")
    actions = resolve.add_subparsers(dest="action", required=True, metavar="ACTION")
    helps = {
        SafeAction.RETRY: "run the failed step again",
        SafeAction.REPLAY_FROM: "rerun the stages from an earlier one (--stage)",
        SafeAction.SUPPLY_DATA: "set missing or wrong payload fields (--set path=value)",
        SafeAction.CHOOSE_MATCH: "pick the CRM company of an ambiguous match (--company)",
        SafeAction.SKIP: "skip the step (a --reason is required)",
        SafeAction.REASSIGN: "hand the item to another owner (--owner, --reason)",
        SafeAction.APPROVE: "approve a scope change (scope approvers only)",
        SafeAction.CANCEL: "cancel the run and roll back what it created (--reason)",
    }
    for action, text in helps.items():
        p = actions.add_parser(action.value, help=text)
        p.add_argument("transaction")
        p.add_argument(
            "--actor",
            default=_actor_default(),
            required=_actor_default() is None,
            help="who is acting (default: ONBOARDING_ACTOR)",
        )
        p.add_argument("--reason", help="why (required for skip, reassign and cancel)")
        p.add_argument("--exception", help="the exception item ID, to be sure it is that one")
        if action == SafeAction.CHOOSE_MATCH:
            p.add_argument("--company", required=True, help="the chosen CRM company ID")
        if action == SafeAction.SUPPLY_DATA:
            p.add_argument(
                "--set",
                action="append",
                metavar="PATH=VALUE",
                help="a payload field, e.g. customer.domain=hooli.example",
            )
            p.add_argument(
                "--data",
                metavar="JSON",
                help="several fields at once: a JSON merge patch of the payload (objects merge, "
                "null removes a field), e.g. "
                '\'{"customer": {"domain": "hooli.example"}, "plan": {"billing_term": "annual"}}\'; '
                "--set is applied after it",
            )
        if action == SafeAction.REPLAY_FROM:
            p.add_argument("--stage", required=True, choices=[s.value for s in REPLAYABLE_STAGES])
        if action == SafeAction.REASSIGN:
            p.add_argument("--owner", required=True, help="the new owner")

    resolve.set_defaults(func=cmd_resolve)

    cancel = sub.add_parser("cancel", help="cancel a run (with rollback unless --no-rollback)")
    cancel.add_argument("transaction")
    cancel.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--no-rollback", action="store_true", help="keep what the run created")

    cancel.set_defaults(func=cmd_cancel)

    sign_off = sub.add_parser("sign-off", help="QA sign-off before live (permitted roles only)")
    sign_off.add_argument("transaction")
    sign_off.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    sign_off.add_argument("--note", help="what was checked")

    sign_off.set_defaults(func=cmd_sign_off)

    scope = sub.add_parser("scope-change", help="freeze a run for a change of scope")
    scope.add_argument("transaction")
    scope.add_argument("--actor", default=_actor_default(), required=_actor_default() is None)
    scope.add_argument("--reason", required=True)
    scope.add_argument(
        "--item", action="append", required=True, help="one change-order item (repeat for several)"
    )
    scope.set_defaults(func=cmd_scope_change)
