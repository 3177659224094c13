"""With the codec on, the Temporal store holds no contact email or name, even after failures.

A dev server on its own SQLite file runs onboardings whose vendor errors echo the contact's
email and name: one that fails and retries before it goes live, one parked by a validation
error, one parked by a credential error, one parked for missing data. Then the whole file is
scanned. Only the documented search attributes (customer name and domain, owners, stage...)
may be read in it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from onboarding.embedded.devserver import dev_server
from onboarding.integrations.settings import Vendors
from onboarding.runtime.client import data_converter
from onboarding.security.codec import generate_key_spec
from tests.support import (
    SandboxAdmin,
    make_payload,
    start,
    unique_slug,
    wait_for_exception,
    wait_for_stage,
)
from workers.main import build_worker

#: A dev server of its own (on a file, to read its store), the worker and the sandbox.
pytestmark = pytest.mark.e2e

CONTACTS = "/hubspot/crm/v3/objects/contacts"


def contact_of(payload: dict[str, object]) -> tuple[str, str]:
    person = payload["primary_contact"]
    assert isinstance(person, dict)
    return str(person["email"]), str(person["name"])


async def test_failing_retrying_and_parked_runs_leave_no_contact_in_the_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vendors: Vendors,
    admin: SandboxAdmin,
    rules_file: Path,
) -> None:
    monkeypatch.setenv("ONBOARDING_CODEC_KEYS", generate_key_spec("store-test"))
    db = tmp_path / "temporal.sqlite3"
    secrets: list[str] = []
    domains: list[str] = []
    async with dev_server(db_file=db, namespace="default", ui=False) as env:
        target = env.client.service_client.config.target_host
        # The one converter workers, starters and the CLI use: codec and failure converter on.
        client = await Client.connect(target, namespace="default", data_converter=data_converter())
        task_queue = f"store-{uuid.uuid4()}"
        async with build_worker(client, vendors, task_queue=task_queue, rules_path=rules_file):

            async def run(slug: str, **overrides: object) -> str:
                payload = make_payload(slug, **overrides)
                email, name = contact_of(payload)
                secrets.extend([email, name])
                if not overrides:  # it passes the gate: its domain becomes a search attribute
                    domains.append(f"{slug}.example")
                return (await start(client, task_queue, payload)).transaction_id

            def echo(slug: str) -> dict[str, str]:
                email, name = f"pat@{slug}.example", f"Pat {slug.title()}"
                return {"message": f"contact {email} ({name}) cannot be saved"}

            # Fails twice with a server error that echoes the contact, retries, goes live.
            slug = unique_slug("retry")
            await admin.fault(path=CONTACTS, method="POST", status=500, count=2, body=echo(slug))
            await wait_for_stage(client, await run(slug), "live", timeout=90)

            # A validation error that echoes the contact: parked in front of a person.
            slug = unique_slug("invalid")
            await admin.fault(path=CONTACTS, method="POST", status=400, count=1, body=echo(slug))
            status = await wait_for_exception(client, await run(slug), timeout=60)
            assert status.open_exception is not None
            assert status.open_exception.category.value == "validation-error"
            assert f"pat@{slug}.example" in status.open_exception.message  # readable with keys

            # A credential error that echoes the contact: parked for the system owner.
            slug = unique_slug("auth")
            await admin.fault(path=CONTACTS, method="POST", status=401, count=1, body=echo(slug))
            status = await wait_for_exception(client, await run(slug), timeout=60)
            assert status.open_exception is not None
            assert status.open_exception.category.value == "auth-error"

            # Missing data: parked at the gate.
            slug = unique_slug("missing")
            txn = await run(slug, crm_owner=None, plan={"billing_term": None})
            await wait_for_exception(client, txn, timeout=60)
            await admin.clear_faults()
    # The server is stopped: everything it wrote is in these files.
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(db.name))
    for domain in domains:  # a documented search attribute: the scan does read the store
        assert domain.encode() in stored
    leaked = [s for s in secrets if s.encode() in stored or s.encode("utf-16-le") in stored]
    assert leaked == [], f"readable in the Temporal store: {leaked}"
