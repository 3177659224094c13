"""What a prankster types as a company name reaches no person raw: not a terminal, a chat
channel or an email header; and the gate refuses it with its field path."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import uuid

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from onboarding.cli.main import main as onboarding_cli
from onboarding.domain.payload import name_problem
from onboarding.domain.text import escape_chat, header_text, printable
from onboarding.domain.validation import find_problems, normalisation_notes
from onboarding.integrations.resend import ResendClient
from onboarding.integrations.settings import VendorSettings
from onboarding.integrations.slack import SlackWebhook
from tests.support import (
    SandboxAdmin,
    make_payload,
    start,
    unique_slug,
    wait_for_exception,
    wait_for_stage,
)

#: Retitles the terminal (OSC), erases the line (CSI), returns to its start (CR), rings (BEL).
HOSTILE_NAME = "Evil\x1b]0;pwned\x07 Corp\r\x1b[2KLegit Corp \u202eknab"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def test_the_escaping_helpers() -> None:
    assert printable("Acme\x1b[2K\r\u202e GmbH") == "Acme\\x1b[2K\\x0d\\u202e GmbH"
    assert printable("Müller & Söhne 東京 \u200d") == "Müller & Söhne 東京 \u200d"
    chat = escape_chat("<!channel> <https://evil.example|Reset> & co\n\x1b")
    assert chat == "&lt;!channel&gt; &lt;https://evil.example|Reset&gt; &amp; co\n\\x1b"
    assert header_text("Welcome Acme\r\nBcc: x@evil.example\x00\u2028!") == (
        "Welcome Acme Bcc: x@evil.example !"
    )
    assert header_text("x" * 300).endswith("…") and len(header_text("x" * 300)) == 200


async def cli(*argv: str) -> str:
    """Run ``onboarding`` as in a terminal (its own event loop); its standard output."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return onboarding_cli(list(argv))

    code = await asyncio.to_thread(run)
    assert code == 0, out.getvalue()
    return out.getvalue()


async def test_a_hostile_name_parks_at_the_gate_and_prints_escaped_in_show_and_queue(
    client: Client, worker: Worker
) -> None:
    slug = unique_slug("prank")
    txn = f"test-{uuid.uuid4().hex[:8]}-\x1b[31m"
    payload = make_payload(slug, customer={"legal_name": HOSTILE_NAME})
    payload["primary_contact"]["name"] = "Pat\x00 Null"
    await start(client, worker.task_queue, payload, transaction_id=txn)
    status = await wait_for_exception(client, txn)
    assert status.stage.value == "awaiting-data"
    problems = {p.path: p.problem for p in status.open_exception.missing_fields}  # type: ignore[union-attr]
    assert problems["customer.legal_name"].startswith("may contain letters, marks, digits")
    assert problems["primary_contact.name"].startswith("may contain letters, marks, digits")

    target = client.service_client.config.target_host
    common = ["--address", target, "--namespace", client.namespace]
    shown = await cli(*common, "show", txn)
    queued = await cli(*common, "queue")
    for out in (shown, queued):
        assert not RAW.search(out), repr(RAW.search(out))
    assert "Evil\\x1b]0;pwned\\x07 Corp\\x0d\\x1b[2KLegit Corp \\u202eknab" in shown
    assert "field customer.legal_name: may contain letters" in shown
    assert printable(txn) in queued
    await client.get_workflow_handle(txn).terminate(reason="test done")


async def test_a_look_alike_domain_is_normalised_with_idna(client: Client, worker: Worker) -> None:
    slug = unique_slug("kelvin")
    # KELVIN SIGN, fullwidth letters: what they look like, in ASCII (UTS #46).
    payload = make_payload(
        slug, customer={"domain": f"\u212a{slug[1:]}.\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25"}
    )
    outcome = await start(client, worker.task_queue, payload)
    status = await wait_for_stage(client, outcome.transaction_id, "live", timeout=60)
    assert status.customer_domain == f"k{slug[1:]}.example"


async def test_chat_text_cannot_ping_link_or_format(
    settings: VendorSettings, admin: SandboxAdmin
) -> None:
    marker = unique_slug("chat")
    chat = SlackWebhook(settings.slack_webhook_url)
    try:
        await chat.post(
            f"At risk: <!channel> *{marker}* <https://evil.example/login|Reset your password>"
            " & more\x1b]0;x\x07"
        )
    finally:
        await chat.aclose()
    [message] = [m for m in (await admin.state())["slack"]["messages"] if marker in str(m)]
    text: str = message["text"]
    assert "<" not in text and ">" not in text and not RAW.search(text)
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example/login|Reset" in text
    assert message["payload"]["mrkdwn"] is False  # nothing in the text formats itself


async def test_email_subjects_are_one_line(settings: VendorSettings, admin: SandboxAdmin) -> None:
    marker = unique_slug("mail")
    email = ResendClient(settings.resend_base_url, settings.resend_api_key)
    try:
        await email.send(
            idempotency_key=f"subject-{marker}",
            sender=settings.resend_from,
            to="pat@acme.example",
            subject=f"Welcome {marker}\r\nBcc: victim@evil.example\x00",
            text="hello",
            tags={"step": "test"},
        )
    finally:
        await email.aclose()
    [sent] = [e for e in (await admin.state())["resend"]["emails"] if marker in e["subject"]]
    assert sent["subject"] == f"Welcome {marker} Bcc: victim@evil.example"


def test_the_audit_note_shows_a_domain_normalised_beyond_letter_case() -> None:
    kelvin = make_payload("x", customer={"domain": "\u212aelvin.example"})
    assert normalisation_notes(kelvin) == [
        "customer.domain '\u212aelvin.example' normalised to kelvin.example (IDNA, UTS #46)"
    ]
    assert normalisation_notes(make_payload("x", customer={"domain": "Acme.Example"})) == []
    assert find_problems(make_payload("x", customer={"domain": "a_b..example"}))[0].path == (
        "customer.domain"
    )


@pytest.mark.parametrize(
    "name", ["Müller & Söhne GmbH", "東京海上 株式会社", "O'Brien-Smith (UK) Ltd.", "AT&T", "Acme+"]
)
def test_real_names_pass_the_gate(name: str) -> None:
    assert name_problem(name) is None
