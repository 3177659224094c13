"""Properties over hostile input (hypothesis): what a signed sender or a prankster can send.

- A validly signed delivery with hostile values in any field answers 2xx or 4xx, never 5xx.
- Chat text, terminal output and email subjects carry no raw control sequence, and chat text no
  raw ``<``, ``>`` or ``&`` (no mention, link or entity a value did not mean).
- Redaction masks exactly what the old pattern masked (it is now linear in the length of the
  text: ``tests/intake/test_hostile.py`` shows a long line no longer stalls a health check).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client

from onboarding.domain.payload import name_problem
from onboarding.domain.text import escape_chat, header_text, is_steering, printable
from onboarding.intake import create_app
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import VendorSettings
from onboarding.security.redaction import mask_emails
from tests.intake.conftest import intake_settings, provider_of
from tests.intake.events import (
    SIGNERS,
    deal_closed_won,
    deal_stage_changed,
    envelope_completed,
    invoice_paid,
)

#: Values a hostile sender puts where a string, a number or an ID is expected.
hostile_values = st.one_of(
    st.text(max_size=40),  # any code point: controls, bidi, surrogates, emoji
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]), max_size=20),
    st.text(alphabet="²³¹⁰٣۴߅０１", min_size=1, max_size=8),  # digits, but not ASCII ones
    st.integers(min_value=1, max_value=5).map(lambda n: "9" * (10**n)),  # up to 100,000 digits
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.just("x" * 10_000),
    st.just("\ud800"),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a leaf (or a container) inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


TEMPLATES: dict[str, Any] = {
    "stripe": invoice_paid("property"),
    "docusign": envelope_completed("property"),
    "crm": deal_closed_won("property"),
    "hubspot": [deal_stage_changed(30000000001)],
}


@st.composite
def hostile_deliveries(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real event of one source with one to three fields replaced by hostile values."""
    source = draw(st.sampled_from(sorted(TEMPLATES)))
    event = copy.deepcopy(TEMPLATES[source])
    paths = _paths(event)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
        try:
            _set(event, path, draw(hostile_values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    # json.dumps escapes lone surrogates as \ud800, as a hostile sender would write them.
    return source, json.dumps(event).encode()


@pytest.fixture(scope="module")
def property_queue() -> str:
    return f"hostile-property-{uuid.uuid4()}"


@pytest.fixture
async def crm(settings: VendorSettings) -> AsyncIterator[HubSpotClient]:
    client = HubSpotClient(settings.hubspot_base_url, settings.hubspot_token)
    yield client
    await client.aclose()


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=hostile_deliveries())
async def test_signed_hostile_deliveries_answer_2xx_or_4xx_never_5xx(
    client: Client, crm: HubSpotClient, property_queue: str, delivery: tuple[str, bytes]
) -> None:
    source, body = delivery
    app = create_app(
        client_provider=provider_of(client),
        settings=intake_settings(property_queue),
        hubspot=crm,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as http:
        response = await http.post(
            f"/webhooks/{source}", content=body, headers=SIGNERS[source](body)
        )
    assert response.status_code < 500, (source, response.text)
    assert isinstance(response.json(), dict)


async def test_and_the_runs_they_started_are_cleaned_up(
    client: Client, property_queue: str
) -> None:
    """Some hostile values are only content (a name with a NUL): they start a run, which the
    gate then parks. None of them is left running."""
    async for execution in client.list_workflows(f"TaskQueue = '{property_queue}'"):
        await client.get_workflow_handle(execution.id).terminate(reason="property test done")


RAW_CHAT = re.compile(r"[<>]|&(?!amp;|lt;|gt;)")


@given(st.text())
def test_chat_terminal_and_subject_text_carry_nothing_that_steers(text: str) -> None:
    chat = escape_chat(text)
    assert not RAW_CHAT.search(chat)
    assert not any(is_steering(c) and c not in "\n\t" for c in chat)
    terminal = printable(text)
    assert not any(is_steering(c) for c in terminal)
    subject = header_text(text)
    assert "\r" not in subject and "\n" not in subject
    assert not any(is_steering(c) for c in subject)
    assert len(subject) <= 200


@given(st.text(max_size=250))
def test_a_name_the_gate_accepts_is_bounded_and_steers_nothing(name: str) -> None:
    if name_problem(name) is None:
        assert 0 < len(name) <= 200
        assert not any(is_steering(c) for c in name if c not in "\u200c\u200d")
        assert not set(name) & set("<>|`~=\r\n\x00\x1b")


OLD_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)"
)


@given(st.text(alphabet="ab.@-_+ Z9/é", max_size=40))
def test_redaction_masks_what_the_old_pattern_masked(text: str) -> None:
    expected = OLD_EMAIL.sub(lambda m: f"***@{m.group(1)}", text)
    assert mask_emails(text) == expected
