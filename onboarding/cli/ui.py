"""``onboarding ui``: the queue in the Temporal UI, without adding its columns by hand.

The UI keeps its column choices and saved queries in the browser (local storage), per
namespace. This command prints the link of each queue (the UI's workflow list with the queue's
visibility query) and a bookmarklet that, clicked once on a page of the UI, adds the queue's
columns (customer, stage, category, owner, SLA due) and saves the queues as named views.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any
from urllib.parse import quote

from onboarding.cli.common import EXIT_OK

#: The queues an operator opens, by name: each a visibility query.
QUEUES: dict[str, str] = {
    "Onboarding: waiting for a person": (
        "ExecutionStatus = 'Running' AND ExceptionCategory IS NOT NULL"
    ),
    "Onboarding: SLA breached": ("ExecutionStatus = 'Running' AND SlaState = 'breached'"),
    "Onboarding: missing data": (
        "ExecutionStatus = 'Running' AND ExceptionCategory = 'missing-data'"
    ),
    "Onboarding: waiting for QA sign-off": (
        "ExecutionStatus = 'Running' AND ExceptionCategory = 'qa-sign-off'"
    ),
    "Onboarding: cancelled": "OnboardingStage = 'cancelled'",
}

#: The columns of the queue, after the UI's own Status and Workflow ID (the transaction).
COLUMNS = [
    "Status",
    "Workflow ID",
    "CustomerName",
    "OnboardingStage",
    "ExceptionCategory",
    "ExceptionOwner",
    "SlaDueAt",
    "Start",
]


def queue_link(ui_url: str, namespace: str, query: str) -> str:
    """The UI's workflow list for ``namespace``, filtered by ``query``."""
    return f"{ui_url.rstrip('/')}/namespaces/{namespace}/workflows?query={quote(query)}"


def bookmarklet(namespace: str) -> str:
    """A ``javascript:`` link that adds the queue's columns and saved views to the UI."""
    columns = [{"label": label, "pinned": label in ("Status", "Workflow ID")} for label in COLUMNS]
    saved = [
        {"id": f"onboarding-{index}", "name": name, "query": query}
        for index, (name, query) in enumerate(QUEUES.items(), start=1)
    ]
    script = (
        "(function(){"
        f"var ns={json.dumps(namespace)};"
        "function put(k,v){var s={};try{s=JSON.parse(localStorage.getItem(k))||{}}catch(e){}"
        "s[ns]=v;localStorage.setItem(k,JSON.stringify(s));}"
        f"put('namespace-workflow-table-columns',{json.dumps(columns)});"
        "var q={};try{q=JSON.parse(localStorage.getItem('saved-workflow-queries'))||{}}"
        "catch(e){}"
        f"var mine={json.dumps(saved)};"
        "q[ns]=(q[ns]||[]).filter(function(x){return x.id.indexOf('onboarding-')!==0})"
        ".concat(mine);localStorage.setItem('saved-workflow-queries',JSON.stringify(q));"
        "location.reload();})()"
    )
    return "javascript:" + quote(script, safe="(){};,:='!*")


async def cmd_ui(_: Any, args: argparse.Namespace) -> int:
    """Print the queue links and the bookmarklet."""
    namespace = args.namespace or os.environ.get("TEMPORAL_NAMESPACE") or "default"
    print(f"Queues in the Temporal UI ({args.ui_url}, namespace {namespace}):")
    for name, query in QUEUES.items():
        print(f"  {name}\n    {queue_link(args.ui_url, namespace, query)}")
    print(
        "\nTo see the queue's columns and these views in the UI's list, add this link as a "
        "bookmark,\nopen any page of the UI, and click the bookmark once (it writes the UI's "
        "column\nand saved-view settings in this browser, then reloads):\n"
    )
    print(bookmarklet(namespace))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the ``ui`` command."""
    ui = sub.add_parser("ui", help="the queue in the Temporal UI: links and column set-up")
    ui.add_argument(
        "--ui-url",
        default=os.environ.get("TEMPORAL_UI_URL", "http://127.0.0.1:8233"),
        help="the Temporal UI's address (default: TEMPORAL_UI_URL or http://127.0.0.1:8233)",
    )
    ui.set_defaults(func=cmd_ui, needs_temporal=False)
