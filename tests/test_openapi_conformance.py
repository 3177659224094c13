"""Our clients and the sandbox against the vendors' own OpenAPI documents (HubSpot, Asana, Resend).

Every request the clients make during real runs (happy path, rollback, the retry paths) is
recorded on the wire and checked against the vendor's document: the operation exists (method
and path), its required parameters are there, the body has the required fields and types. Every
answer the sandbox gave to those requests, at a status the document describes, must validate
against the document's response schema (no ``null`` where a string or a list is promised).

The documents are trimmed excerpts under ``tests/fixtures/openapi/`` (see its README).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from temporalio.client import Client
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from onboarding.domain.stages import Stage
from onboarding.integrations.asana import AsanaClient
from onboarding.integrations.settings import Vendors, VendorSettings
from tests.support import (
    cancel_as_the_cli_does,
    ended_cancelled,
    make_payload,
    result_of,
    start,
    unique_slug,
    wait_for_sign_off_gate,
)
from workers.main import build_worker
from workflows.messages import CancelRequest

SPECS = Path(__file__).parent / "fixtures" / "openapi"


@dataclass
class Exchange:
    """One request a client made and the answer it got."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]
    content: bytes


class Recorder(httpx.AsyncBaseTransport):
    """An httpx transport that records every exchange on the wire."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}
        self.exchanges.append(
            Exchange(
                request.method,
                str(request.url),
                dict(request.headers),
                body,
                response.status_code,
                headers,
                content,
            )
        )
        return httpx.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _specs(settings: VendorSettings) -> list[tuple[str, str, str, OpenAPI, dict[str, Any]]]:
    """``(sandbox base, vendor server, path prefix, validator, raw document)`` per document."""
    out = []
    for name, base, prefix in (
        ("hubspot-companies", settings.hubspot_base_url, "/crm/v3/objects/companies"),
        ("hubspot-contacts", settings.hubspot_base_url, "/crm/v3/objects/contacts"),
        ("hubspot-associations", settings.hubspot_base_url, "/crm/v4/"),
        ("asana", settings.asana_base_url, "/"),
        ("resend", settings.resend_base_url, "/"),
    ):
        text = (SPECS / f"{name}.json").read_text()
        # HubSpot documents its JSON error bodies as ``*/*``, which a validator cannot decode.
        raw = json.loads(text.replace('"*/*"', '"application/json"'))
        out.append((base, raw["servers"][0]["url"], prefix, OpenAPI.from_dict(raw), raw))
    return out


def _template(raw: dict[str, Any], method: str, path: str) -> str | None:
    """The document's path template that ``method path`` is an operation of."""
    for template, item in raw["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template
    return None


@pytest.fixture
async def recorded(settings: VendorSettings) -> AsyncIterator[tuple[Recorder, Vendors]]:
    recorder = Recorder()
    vendors = Vendors(settings, transport=recorder)
    yield recorder, vendors
    await vendors.aclose()


async def test_every_request_and_answer_matches_the_vendors_documents(
    client: Client,
    recorded: tuple[Recorder, Vendors],
    settings: VendorSettings,
    rules_file: Path,
) -> None:
    recorder, vendors = recorded
    task_queue = f"tq-{uuid.uuid4()}"
    async with build_worker(client, vendors, task_queue=task_queue, rules_path=rules_file):
        happy = await start(
            client, task_queue, make_payload(unique_slug("oas"), customer={"tier": "mid-market"})
        )
        assert (await result_of(happy.handle)).stage == Stage.LIVE
        undone = await start(
            client,
            task_queue,
            make_payload(unique_slug("oas"), customer={"tier": "enterprise", "region": "amer"}),
        )
        await wait_for_sign_off_gate(client, undone.transaction_id)
        await cancel_as_the_cli_does(
            undone.handle, CancelRequest(actor="cs@example.com", reason="oas")
        )
        await ended_cancelled(undone.handle)

    # The paths only retries take: a lost create read back, a duplicate contact, an earlier
    # email adopted, a listing longer than a page.
    slug = unique_slug("retry")
    stamp = f"stripe-in_{slug}"
    await vendors.crm.create_stamped("companies", {"name": slug}, transaction_id=stamp)
    assert (await vendors.crm.create_stamped("companies", {"name": slug}, transaction_id=stamp))[1]
    await vendors.crm.create_stamped("contacts", {"email": f"a@{slug}.example"}, transaction_id="x")
    await vendors.crm.create_stamped("contacts", {"email": f"a@{slug}.example"}, transaction_id="y")
    for text in ("first", "second"):
        await vendors.email.send(
            idempotency_key=f"{stamp}:email:welcome",
            sender="Onboarding <onboarding@example.com>",
            to=f"a@{slug}.example",
            subject="Welcome",
            text=text,
            tags={"transaction": "t"},
        )
    filler = AsanaClient(settings.asana_base_url, settings.asana_token)
    try:
        for n in range(101):
            await filler.request(
                "POST", "/projects", json={"data": {"name": f"F{n}", "team": "1100000000000002"}}
            )
    finally:
        await filler.aclose()
    assert await vendors.projects.find_project(settings.asana_workspace_gid, "[nowhere]") is None
    assert not await vendors.projects.archive_project("1219999999999999")

    specs = _specs(settings)
    covered: set[tuple[str, str, str]] = set()
    problems: list[str] = []
    checked = 0
    for exchange in recorder.exchanges:
        url = urlsplit(exchange.url)
        for base, server, prefix, openapi, raw in specs:
            base_path = urlsplit(base).path
            if not url.path.startswith(base_path + prefix.rstrip("/")):
                continue
            path = url.path[len(base_path) :]
            server_url = urlsplit(server)
            environ = EnvironBuilder(
                method=exchange.method,
                base_url=f"{server_url.scheme}://{server_url.netloc}",
                path=server_url.path + path,
                query_string=url.query,
                headers={k: v for k, v in exchange.headers.items() if k.lower() != "host"},
                data=exchange.body,
            ).get_environ()
            request = WerkzeugOpenAPIRequest(WerkzeugRequest(environ))
            what = f"{exchange.method} {path}?{url.query} -> {exchange.status}"
            template = _template(raw, exchange.method, path)
            if template is None:
                problems.append(f"{what}: no such operation in {server}")
                break
            covered.add((server, exchange.method.lower(), template))
            try:
                openapi.validate_request(request)
            except Exception as exc:
                problems.append(f"{what}: request: {_reason(exc)}")
            responses = raw["paths"][template][exchange.method.lower()]["responses"]
            documented = responses.get(str(exchange.status)) or responses.get("default")
            if documented is not None and not documented.get("content") and not exchange.content:
                pass  # documented without a body (204), and none was sent
            elif documented is not None:
                response = WerkzeugOpenAPIResponse(
                    WerkzeugResponse(
                        exchange.content,
                        status=exchange.status,
                        headers=exchange.response_headers,
                    )
                )
                try:
                    openapi.validate_response(request, response)
                except Exception as exc:
                    problems.append(f"{what}: response: {_reason(exc)}")
            checked += 1
            break
    assert checked > 50
    assert problems == [], "\n".join(problems)
    documented = {
        (raw["servers"][0]["url"], method, template)
        for _, _, _, _, raw in specs
        for template, item in raw["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert documented - covered == set(), "every operation in the excerpts is exercised"


def _reason(exc: Exception) -> str:
    """The innermost reason of an openapi-core validation error."""
    details = [str(exc)]
    cause: BaseException | None = exc
    while cause is not None:
        for error in getattr(cause, "schema_errors", []) or []:
            details.append(f"{list(error.absolute_path)}: {error.message}")
        cause = cause.__cause__
    return "; ".join(details)[:600]
