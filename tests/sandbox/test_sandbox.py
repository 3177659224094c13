"""End-to-end tests of the sandbox server over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from onboarding.sandbox import RunningSandbox, run_in_thread
from onboarding.sandbox.__main__ import main

HUBSPOT = {"Authorization": "Bearer sandbox-hubspot-token"}
ASANA = {"Authorization": "Bearer sandbox-asana-token"}
ASANA_OAUTH = {"Authorization": "Bearer sandbox-asana-oauth-token"}
ZENDESK = {"Authorization": "Bearer sandbox-zendesk-token"}
RESEND = {"Authorization": "Bearer re_sandbox_key"}
CALENDLY = {"Authorization": "Bearer sandbox-calendly-token"}
SLACK_HOOK = "/slack/services/T000/B000/sandbox-webhook"
TEAM = "1100000000000002"
ENTERPRISE_TASKS = [
    "Kickoff prep",
    "Security review",
    "SSO setup",
    "Data migration plan",
    "Admin training",
    "Success plan sign-off",
]
EVENT_TYPE = "https://api.calendly.com/event_types/2f0f8d5e-6a8b-4c1e-9d7a-0e5b8c1d2a3f"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    sandbox = run_in_thread(str(tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"))
    yield sandbox
    sandbox.stop()


@pytest.fixture()
def client(server: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.post("/_admin/reset").status_code == 200
        yield http


def _company(client: httpx.Client, **properties: str) -> dict[str, Any]:
    response = client.post(
        "/hubspot/crm/v3/objects/companies", json={"properties": properties}, headers=HUBSPOT
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _fault(client: httpx.Client, **spec: Any) -> dict[str, Any]:
    response = client.post("/_admin/faults", json=spec)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _requests(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get("/_admin/requests", params=params).json()["requests"]
    return entries


# --- admin -------------------------------------------------------------------------------


def test_health_and_seeded_templates(client: httpx.Client) -> None:
    assert client.get("/_admin/health").json() == {"ok": True}
    response = client.get("/asana/api/1.0/project_templates/1200000000000004", headers=ASANA)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["gid"] == "1200000000000004"
    assert data["name"] == "Partner-led onboarding"
    assert data["resource_type"] == "project_template"


def test_state_lists_every_vendor(client: httpx.Client) -> None:
    state = client.get("/_admin/state").json()
    assert set(state) == {"hubspot", "asana", "zendesk", "resend", "calendly", "slack"}
    assert set(state["hubspot"]) >= {"companies", "contacts", "associations"}
    assert set(state["asana"]) >= {"projects", "tasks"}
    assert client.get("/_admin/state/resend").json() == {"emails": []}
    assert client.get("/_admin/state/nope").status_code == 404


def test_admin_seed_company_and_fault_management(client: httpx.Client) -> None:
    seeded = client.post(
        "/_admin/seed/hubspot/companies", json={"properties": {"name": "Seeded", "domain": "s.io"}}
    )
    assert seeded.status_code == 201
    assert seeded.json()["properties"]["domain"] == "s.io"
    first = _fault(client, path="/hubspot/crm/v3/objects/companies/search", status=502, count=1)
    second = _fault(client, path="/hubspot/crm/v3/objects/companies/search", status=503)
    search = {
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "s.io"}]}
        ]
    }
    url = "/hubspot/crm/v3/objects/companies/search"
    assert client.post(url, json=search, headers=HUBSPOT).status_code == 502
    unavailable = client.post(url, json=search, headers=HUBSPOT)
    assert unavailable.status_code == 503
    assert unavailable.json()["category"] == "INTERNAL_ERROR"
    assert client.delete(f"/_admin/faults/{second['id']}").status_code == 204
    assert client.post(url, json=search, headers=HUBSPOT).json()["total"] == 1
    assert [f["id"] for f in client.get("/_admin/faults").json()["faults"]] == [first["id"]]


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "expected"),
    [
        (
            "POST",
            "/hubspot/crm/v3/objects/companies/search",
            401,
            {"status": "error", "category": "INVALID_AUTHENTICATION"},
        ),
        ("GET", "/asana/api/1.0/projects/1", 401, {}),
        ("GET", "/zendesk/api/v2/users/1.json", 401, {"error": "Couldn't authenticate you"}),
        ("GET", "/resend/emails/x", 401, {"statusCode": 401, "name": "missing_api_key"}),
        (
            "POST",
            "/calendly/scheduling_links",
            401,
            {"title": "Unauthenticated", "message": "The access token is invalid"},
        ),
    ],
)
def test_missing_credentials_use_vendor_error_shape(
    client: httpx.Client, method: str, path: str, status: int, expected: dict[str, Any]
) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == status
    body = response.json()
    for key, value in expected.items():
        assert body[key] == value
    if path.startswith("/hubspot"):
        assert body["message"].startswith("Authentication credentials not found.")
        assert body["correlationId"]
    if path.startswith("/asana"):
        assert body["errors"][0]["message"] == "Not Authorized"
        assert "developers.asana.com/docs/errors" in body["errors"][0]["help"]


def test_wrong_credentials(client: httpx.Client) -> None:
    wrong = {"Authorization": "Bearer nope"}
    hubspot = client.get("/hubspot/crm/v3/objects/companies/1", headers=wrong)
    assert hubspot.status_code == 401
    resend = client.post("/resend/emails", json={}, headers=wrong)
    assert resend.status_code == 403
    assert resend.json() == {
        "statusCode": 403,
        "message": "API key is invalid",
        "name": "invalid_api_key",
    }
    slack = client.post("/slack/services/T000/B000/wrong", json={"text": "hi"})
    assert (slack.status_code, slack.text) == (403, "invalid_token")
    unknown = client.post("/slack/services/T000", json={"text": "hi"})
    assert (unknown.status_code, unknown.text) == (404, "no_service")


def test_token_overrides(tmp_path: Path) -> None:
    db = str(tmp_path / "tokens.sqlite3")
    with (
        run_in_thread(db, tokens={"zendesk": "other"}) as sandbox,
        httpx.Client(base_url=sandbox.base_url) as http,
    ):
        ok = http.get("/zendesk/api/v2/users/1.json", headers={"Authorization": "Bearer other"})
        assert ok.status_code == 404
        assert ok.json() == {"error": "RecordNotFound", "description": "Not found"}
        assert http.get("/zendesk/api/v2/users/1.json", headers=ZENDESK).status_code == 401


# --- HubSpot -----------------------------------------------------------------------------


def test_hubspot_company_lifecycle(client: httpx.Client) -> None:
    company = _company(client, name="Acme", domain="acme.com")
    assert company["id"].isdigit()
    assert company["archived"] is False
    assert company["properties"]["hs_object_id"] == company["id"]
    assert {"createdate", "hs_lastmodifieddate"} <= set(company["properties"])
    url = f"/hubspot/crm/v3/objects/companies/{company['id']}"
    got = client.get(url, params={"properties": "name,domain"}, headers=HUBSPOT).json()
    assert got["properties"]["domain"] == "acme.com"
    patched = client.patch(url, json={"properties": {"industry": "SOFTWARE"}}, headers=HUBSPOT)
    assert patched.status_code == 200
    assert patched.json()["properties"]["industry"] == "SOFTWARE"
    assert client.delete(url, headers=HUBSPOT).status_code == 204
    missing = client.get(url, headers=HUBSPOT)
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"
    stored = client.get("/_admin/state/hubspot").json()["companies"]
    assert [(c["id"], c["archived"]) for c in stored] == [(company["id"], True)]


def test_hubspot_search_returns_duplicates_and_skips_archived(client: httpx.Client) -> None:
    first = _company(client, name="Acme Inc", domain="acme.com")
    second = _company(client, name="ACME Holdings", domain="Acme.com")
    other = _company(client, name="Globex", domain="globex.com")
    search = "/hubspot/crm/v3/objects/companies/search"
    query = {
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "acme.com"}]}
        ],
        "properties": ["name", "domain"],
        "limit": 10,
    }
    body = client.post(search, json=query, headers=HUBSPOT).json()
    assert body["total"] == 2
    assert {r["id"] for r in body["results"]} == {first["id"], second["id"]}
    result = body["results"][0]
    assert set(result) >= {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert result["properties"]["hs_object_id"] == result["id"]

    token = {
        "filterGroups": [
            {"filters": [{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "acme"}]},
            {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "globex.com"}]},
        ]
    }
    assert client.post(search, json=token, headers=HUBSPOT).json()["total"] == 3
    both = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "domain", "operator": "EQ", "value": "acme.com"},
                    {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "holdings"},
                ]
            }
        ]
    }
    assert [r["id"] for r in client.post(search, json=both, headers=HUBSPOT).json()["results"]] == [
        second["id"]
    ]
    client.delete(f"/hubspot/crm/v3/objects/companies/{first['id']}", headers=HUBSPOT)
    assert client.post(search, json=query, headers=HUBSPOT).json()["total"] == 1
    assert other["id"]


def test_hubspot_contact_conflict_and_validation(client: httpx.Client) -> None:
    url = "/hubspot/crm/v3/objects/contacts"
    created = client.post(
        url, json={"properties": {"email": "Jane@Acme.com", "firstname": "Jane"}}, headers=HUBSPOT
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    again = client.post(url, json={"properties": {"email": "jane@acme.com"}}, headers=HUBSPOT)
    assert again.status_code == 409
    body = again.json()
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {contact_id}"
    assert body["status"] == "error" and body["correlationId"]

    search = client.post(
        f"{url}/search",
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": "JANE@acme.com"}]}
            ]
        },
        headers=HUBSPOT,
    ).json()
    assert [r["id"] for r in search["results"]] == [contact_id]

    bad = client.post(url, json={"properties": {"email": "not-an-email"}}, headers=HUBSPOT)
    assert bad.status_code == 400
    error = bad.json()
    assert error["category"] == "VALIDATION_ERROR"
    assert error["message"].startswith("Property values were not valid")
    assert error["errors"][0]["code"] == "INVALID_EMAIL"
    assert error["errors"][0]["context"] == {"propertyName": ["email"]}
    nameless = client.post(
        "/hubspot/crm/v3/objects/companies",
        json={"properties": {"domain": "x.com"}},
        headers=HUBSPOT,
    )
    assert nameless.status_code == 400
    assert nameless.json()["category"] == "VALIDATION_ERROR"


def test_hubspot_associations_are_idempotent(client: httpx.Client) -> None:
    company = _company(client, name="Acme", domain="acme.com")
    contact = client.post(
        "/hubspot/crm/v3/objects/contacts",
        json={"properties": {"email": "ops@acme.com"}},
        headers=HUBSPOT,
    ).json()
    url = (
        f"/hubspot/crm/v4/objects/contacts/{contact['id']}/associations/default/"
        f"companies/{company['id']}"
    )
    for _ in range(2):
        response = client.put(url, headers=HUBSPOT)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "COMPLETE"
        assert body["results"][0]["from"] == {"id": contact["id"]}
        assert body["results"][0]["to"] == {"id": company["id"]}
        assert body["results"][0]["associationSpec"] == {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": 279,
        }
    assert len(client.get("/_admin/state/hubspot").json()["associations"]) == 1
    listed = client.get(
        f"/hubspot/crm/v4/objects/companies/{company['id']}/associations/contacts",
        headers=HUBSPOT,
    ).json()
    assert [r["toObjectId"] for r in listed["results"]] == [int(contact["id"])]
    missing = client.put(
        f"/hubspot/crm/v4/objects/contacts/{contact['id']}/associations/default/companies/1",
        headers=HUBSPOT,
    )
    assert missing.status_code == 404


def test_hubspot_inline_association_on_create(client: httpx.Client) -> None:
    company = _company(client, name="Acme", domain="acme.com")
    contact = client.post(
        "/hubspot/crm/v3/objects/contacts",
        json={
            "properties": {"email": "cto@acme.com"},
            "associations": [
                {
                    "to": {"id": company["id"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
            ],
        },
        headers=HUBSPOT,
    )
    assert contact.status_code == 201
    listed = client.get(
        f"/hubspot/crm/v4/objects/contacts/{contact.json()['id']}/associations/companies",
        headers=HUBSPOT,
    ).json()
    assert listed["results"][0]["toObjectId"] == int(company["id"])
    assert listed["results"][0]["associationTypes"][0]["typeId"] == 279


# --- Asana -------------------------------------------------------------------------------


def test_asana_template_instantiation_creates_tasks(client: httpx.Client) -> None:
    response = client.post(
        "/asana/api/1.0/project_templates/1200000000000001/instantiateProject",
        json={"data": {"name": "Acme onboarding", "team": TEAM, "public": False}},
        headers=ASANA,
    )
    assert response.status_code == 201
    job = response.json()["data"]
    assert job["resource_type"] == "job"
    assert job["status"] == "in_progress"
    assert "new_task" not in job, "never null where Asana's document promises an object"
    project = job["new_project"]
    assert project["name"] == "Acme onboarding" and project["resource_type"] == "project"
    done = client.get(f"/asana/api/1.0/jobs/{job['gid']}", headers=ASANA).json()["data"]
    assert done == {**job, "status": "succeeded"}

    tasks = client.get(f"/asana/api/1.0/projects/{project['gid']}/tasks", headers=ASANA).json()
    assert [t["name"] for t in tasks["data"]] == ENTERPRISE_TASKS
    details = client.get(f"/asana/api/1.0/projects/{project['gid']}", headers=ASANA).json()["data"]
    assert details["team"]["gid"] == TEAM and details["archived"] is False
    assert details["workspace"]["gid"] == "1100000000000001"

    listing = "/asana/api/1.0/projects"
    params = {"workspace": "1100000000000001", "archived": "false"}
    assert [p["gid"] for p in client.get(listing, params=params, headers=ASANA).json()["data"]] == [
        project["gid"]
    ]
    archived = client.put(
        f"/asana/api/1.0/projects/{project['gid']}",
        json={"data": {"archived": True, "notes": "closed"}},
        headers=ASANA,
    ).json()["data"]
    assert archived["archived"] is True and archived["notes"] == "closed"
    assert client.get(listing, params=params, headers=ASANA).json()["data"] == []

    unknown = client.post(
        "/asana/api/1.0/project_templates/999/instantiateProject",
        json={"data": {"name": "x"}},
        headers=ASANA,
    )
    assert unknown.status_code == 404
    assert "errors" in unknown.json()


def test_asana_external_gid_needs_an_oauth_app(client: httpx.Client) -> None:
    job = client.post(
        "/asana/api/1.0/project_templates/1200000000000003/instantiateProject",
        json={"data": {"name": "Beta", "team": TEAM}},
        headers=ASANA,
    ).json()["data"]
    project_gid = job["new_project"]["gid"]
    payload = {
        "data": {
            "name": "Kickoff call",
            "projects": [project_gid],
            "notes": "Agenda",
            "due_on": "2030-01-15",
            "external": {"gid": "txn_1.kickoff", "data": '{"step": 1}'},
        }
    }
    # A personal access token may neither write nor read ``external``, as in Asana.
    refused = client.post("/asana/api/1.0/tasks", json=payload, headers=ASANA)
    assert refused.status_code == 400
    assert "OAuth application" in refused.json()["errors"][0]["message"]
    lookup = client.get("/asana/api/1.0/tasks/external:txn_1.kickoff", headers=ASANA)
    assert lookup.status_code == 400

    created = client.post("/asana/api/1.0/tasks", json=payload, headers=ASANA_OAUTH)
    assert created.status_code == 201
    task = created.json()["data"]
    assert task["external"] == {"gid": "txn_1.kickoff", "data": '{"step": 1}'}
    assert task["due_on"] == "2030-01-15" and task["completed"] is False
    assert (
        "external"
        not in client.get(f"/asana/api/1.0/tasks/{task['gid']}", headers=ASANA).json()["data"]
    ), "a personal access token never sees external data"

    by_external = client.get("/asana/api/1.0/tasks/external:txn_1.kickoff", headers=ASANA_OAUTH)
    assert by_external.status_code == 200
    assert by_external.json()["data"]["gid"] == task["gid"]

    duplicate = client.post("/asana/api/1.0/tasks", json=payload, headers=ASANA_OAUTH)
    assert duplicate.status_code == 400
    assert "Duplicate external gid" in duplicate.json()["errors"][0]["message"]

    missing = client.get("/asana/api/1.0/tasks/external:nope", headers=ASANA_OAUTH)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["message"] == "task: Unknown object: external:nope"

    done = client.put(
        f"/asana/api/1.0/tasks/{task['gid']}", json={"data": {"completed": True}}, headers=ASANA
    ).json()["data"]
    assert done["completed"] is True and done["completed_at"]


def test_asana_listings_paginate_and_refuse_results_too_large(client: httpx.Client) -> None:
    for n in range(105):
        created = client.post(
            "/asana/api/1.0/projects",
            json={"data": {"name": f"P{n:03d}", "team": TEAM}},
            headers=ASANA,
        )
        assert created.status_code == 201
    unpaged = client.get("/asana/api/1.0/projects", params={"team": TEAM}, headers=ASANA)
    assert unpaged.status_code == 400
    assert "The result is too large" in unpaged.json()["errors"][0]["message"]
    names: list[str] = []
    params: dict[str, Any] = {"team": TEAM, "limit": 50, "opt_fields": "name,archived"}
    while True:
        page = client.get("/asana/api/1.0/projects", params=params, headers=ASANA).json()
        names += [p["name"] for p in page["data"]]
        assert all("archived" in p for p in page["data"]), "opt_fields are honoured"
        if not page["next_page"]:
            break
        params["offset"] = page["next_page"]["offset"]
    assert names == [f"P{n:03d}" for n in range(105)]


# --- Zendesk -----------------------------------------------------------------------------


def test_zendesk_create_or_update(client: httpx.Client) -> None:
    url = "/zendesk/api/v2/organizations/create_or_update.json"
    org = {"name": "Acme", "external_id": "acme-1", "domain_names": ["acme.com"]}
    first = client.post(url, json={"organization": org}, headers=ZENDESK)
    assert first.status_code == 201
    created = first.json()["organization"]
    assert isinstance(created["id"], int)
    assert created["url"].endswith(f"/zendesk/api/v2/organizations/{created['id']}.json")
    second = client.post(url, json={"organization": {**org, "notes": "updated"}}, headers=ZENDESK)
    assert second.status_code == 200
    assert second.json()["organization"]["id"] == created["id"]
    assert second.json()["organization"]["notes"] == "updated"

    clash = client.post(
        url, json={"organization": {"name": "acme", "external_id": "other"}}, headers=ZENDESK
    )
    assert clash.status_code == 422
    assert clash.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {
            "name": [{"description": "Name: has already been taken", "error": "DuplicateValue"}]
        },
    }
    found = client.get(
        "/zendesk/api/v2/organizations/search.json",
        params={"external_id": "acme-1"},
        headers=ZENDESK,
    ).json()
    assert found["count"] == 1 and found["organizations"][0]["id"] == created["id"]

    users = "/zendesk/api/v2/users/create_or_update.json"
    user = {
        "name": "Jane",
        "email": "jane@acme.com",
        "external_id": "u-1",
        "organization_id": created["id"],
        "role": "end-user",
    }
    new_user = client.post(users, json={"user": user}, headers=ZENDESK)
    assert new_user.status_code == 201
    user_id = new_user.json()["user"]["id"]
    same = client.post(users, json={"user": {**user, "name": "Jane D"}}, headers=ZENDESK)
    assert (same.status_code, same.json()["user"]["id"]) == (200, user_id)

    deleted = client.delete(f"/zendesk/api/v2/users/{user_id}.json", headers=ZENDESK)
    assert deleted.status_code == 200 and deleted.json()["user"]["active"] is False
    assert (
        client.delete(
            f"/zendesk/api/v2/organizations/{created['id']}.json", headers=ZENDESK
        ).status_code
        == 204
    )
    gone = client.get(f"/zendesk/api/v2/organizations/{created['id']}.json", headers=ZENDESK)
    assert gone.status_code == 404
    assert gone.json() == {"error": "RecordNotFound", "description": "Not found"}
    state = client.get("/_admin/state/zendesk").json()
    assert state["organizations"][0]["deleted"] is True


# --- Resend ------------------------------------------------------------------------------


def test_resend_idempotency(client: httpx.Client) -> None:
    email = {
        "from": "Onboarding <onboarding@example.com>",
        "to": ["jane@acme.com"],
        "subject": "Welcome",
        "html": "<p>Hi</p>",
        "tags": [{"name": "run", "value": "txn_1"}],
    }
    key = {**RESEND, "Idempotency-Key": "txn_1/welcome"}
    first = client.post("/resend/emails", json=email, headers=key)
    assert first.status_code == 200
    email_id = first.json()["id"]
    again = client.post("/resend/emails", json=email, headers=key)
    assert again.status_code == 200 and again.json() == {"id": email_id}
    assert len(client.get("/_admin/state/resend").json()["emails"]) == 1

    changed = client.post("/resend/emails", json={**email, "subject": "Other"}, headers=key)
    assert changed.status_code == 409
    assert changed.json() == {
        "statusCode": 409,
        "message": "Same idempotency key used with a different request payload",
        "name": "invalid_idempotent_request",
    }
    missing = client.post("/resend/emails", json={**email, "to": []}, headers=RESEND)
    assert missing.status_code == 422
    assert missing.json() == {
        "statusCode": 422,
        "message": "Missing `to` field.",
        "name": "missing_required_field",
    }
    got = client.get(f"/resend/emails/{email_id}", headers=RESEND).json()
    assert got["object"] == "email" and got["last_event"] == "delivered"
    assert got["to"] == ["jane@acme.com"] and got["tags"] == email["tags"]

    scheduled = client.post(
        "/resend/emails", json={**email, "scheduled_at": "2030-01-01T09:00:00Z"}, headers=RESEND
    ).json()
    assert (
        client.get(f"/resend/emails/{scheduled['id']}", headers=RESEND).json()["last_event"]
        == "scheduled"
    )
    cancel = client.post(f"/resend/emails/{scheduled['id']}/cancel", headers=RESEND)
    assert cancel.json() == {"object": "email", "id": scheduled["id"]}
    assert (
        client.get(f"/resend/emails/{scheduled['id']}", headers=RESEND).json()["last_event"]
        == "canceled"
    )


# --- Calendly and Slack ------------------------------------------------------------------


def test_calendly_scheduling_link(client: httpx.Client) -> None:
    body = {"max_event_count": 1, "owner": EVENT_TYPE, "owner_type": "EventType"}
    created = client.post("/calendly/scheduling_links", json=body, headers=CALENDLY)
    assert created.status_code == 201
    resource = created.json()["resource"]
    assert resource["booking_url"].startswith("https://calendly.com/d/")
    assert resource["owner"] == EVENT_TYPE and resource["owner_type"] == "EventType"
    bad = client.post(
        "/calendly/scheduling_links", json={**body, "owner_type": "User"}, headers=CALENDLY
    )
    assert bad.status_code == 400
    error = bad.json()
    assert error["title"] == "Invalid Argument"
    assert error["details"][0]["parameter"] == "owner_type"
    no_owner = client.post(
        "/calendly/scheduling_links",
        json={"max_event_count": 1, "owner_type": "EventType"},
        headers=CALENDLY,
    )
    assert no_owner.json()["details"][0]["parameter"] == "owner"


def test_slack_webhook(client: httpx.Client) -> None:
    ok = client.post(SLACK_HOOK, json={"text": "Onboarding started for Acme"})
    assert (ok.status_code, ok.text) == (200, "ok")
    blocks = client.post(SLACK_HOOK, json={"blocks": [{"type": "section"}]})
    assert blocks.status_code == 200
    empty = client.post(SLACK_HOOK, json={"username": "bot"})
    assert (empty.status_code, empty.text) == (400, "no_text")
    messages = client.get("/_admin/state/slack").json()["messages"]
    assert [m["text"] for m in messages] == ["Onboarding started for Acme", None]


# --- faults ------------------------------------------------------------------------------


def test_rate_limit_fault_then_success(client: httpx.Client) -> None:
    fault = _fault(
        client,
        method="POST",
        path="/hubspot/crm/v3/objects/companies",
        status=429,
        count=2,
        retry_after=3,
    )
    assert fault["id"] == "f1"
    since = client.get("/_admin/requests").json()["last_seq"]
    statuses = []
    for _ in range(3):
        response = client.post(
            "/hubspot/crm/v3/objects/companies",
            json={"properties": {"name": "Acme"}},
            headers=HUBSPOT,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "3"
            body = response.json()
            assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY"
    assert statuses == [429, 429, 201]
    assert len(client.get("/_admin/state/hubspot").json()["companies"]) == 1
    log = _requests(client, since=since)
    assert [(e["status"], e["fault_id"]) for e in log] == [(429, "f1"), (429, "f1"), (201, None)]
    listed = client.get("/_admin/faults").json()["faults"]
    assert listed[0]["remaining"] == 0 and listed[0]["hits"] == 2


def test_fault_uses_each_vendors_error_shape(client: httpx.Client) -> None:
    _fault(client, path="/zendesk/api/v2/", match="prefix", status=429, count=1)
    _fault(client, path=r"/resend/emails/[^/]+", match="regex", status=503, count=1)
    _fault(client, path=SLACK_HOOK, status=500, count=1, body="custom failure")
    zendesk = client.get("/zendesk/api/v2/users/1.json", headers=ZENDESK)
    assert zendesk.status_code == 429
    assert zendesk.json()["error"] == "APIRateLimitExceeded"
    resend = client.get("/resend/emails/abc", headers=RESEND)
    assert resend.status_code == 503
    assert resend.json()["name"] == "internal_server_error"
    slack = client.post(SLACK_HOOK, json={"text": "x"})
    assert (slack.status_code, slack.text) == (500, "custom failure")
    assert client.delete("/_admin/faults").json() == {"cleared": 3}
    assert client.get("/_admin/faults").json() == {"faults": []}
    invalid = client.post("/_admin/faults", json={"path": "/x", "match": "glob", "status": 500})
    assert invalid.status_code == 400


def test_fail_after_commit_persists_but_answers_500(client: httpx.Client) -> None:
    url = "/zendesk/api/v2/organizations/create_or_update.json"
    _fault(client, method="POST", path=url, status=500, count=1, fail_after_commit=True)
    org = {"organization": {"name": "Acme", "external_id": "acme-1"}}
    failed = client.post(url, json=org, headers=ZENDESK)
    assert failed.status_code == 500
    assert failed.json() == {"error": "InternalError"}
    stored = client.get("/_admin/state/zendesk").json()["organizations"]
    assert [o["external_id"] for o in stored] == ["acme-1"]
    retry = client.post(url, json=org, headers=ZENDESK)
    assert retry.status_code == 200
    assert retry.json()["organization"]["id"] == stored[0]["id"]


def test_latency_fault_slows_real_response(client: httpx.Client) -> None:
    _fault(client, method="GET", path="/asana/api/1.0/users/me", latency_ms=300, count=1)
    started = time.perf_counter()
    response = client.get("/asana/api/1.0/users/me", headers=ASANA)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    client.get("/asana/api/1.0/users/me", headers=ASANA)
    assert time.perf_counter() - started < 0.3


def test_request_log(client: httpx.Client) -> None:
    email = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
    headers = {**RESEND, "Idempotency-Key": "k-1"}
    client.post("/resend/emails", json=email, headers=headers)
    client.post("/resend/emails", json=email, headers=headers)
    client.get("/_admin/state")
    log = _requests(client)
    assert [e["seq"] for e in log] == [1, 2]
    assert all(e["idempotency_key"] == "k-1" and e["status"] == 200 for e in log)
    assert all(e["method"] == "POST" and e["path"] == "/resend/emails" for e in log)
    first, second = (datetime.fromisoformat(e["at"]) for e in log)
    assert second >= first
    assert "." in log[0]["at"]
    assert _requests(client, since=1) == [log[1]]


# --- persistence and CLI -----------------------------------------------------------------


def test_state_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "restart.sqlite3")
    with run_in_thread(db) as first, httpx.Client(base_url=first.base_url) as http:
        company_id = _company(http, name="Persisted", domain="p.com")["id"]
        http.post(SLACK_HOOK, json={"text": "hello"})
    with run_in_thread(db) as second, httpx.Client(base_url=second.base_url) as http:
        got = http.get(f"/hubspot/crm/v3/objects/companies/{company_id}", headers=HUBSPOT)
        assert got.status_code == 200
        assert got.json()["properties"]["name"] == "Persisted"
        assert int(_company(http, name="Next")["id"]) > int(company_id)
        assert http.get("/_admin/state/slack").json()["messages"][0]["text"] == "hello"
        templates = http.get("/_admin/state").json()
        assert templates["asana"]["projects"] == []


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--port", "not-a-port"])
    assert exc.value.code == 2
    assert "invalid port" in capsys.readouterr().err


def test_cli_announces_readiness(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "onboarding.sandbox",
            "--port",
            "0",
            "--db",
            str(tmp_path / "cli.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        url = line.removeprefix("sandbox listening on ")
        assert httpx.get(f"{url}/_admin/health").json() == {"ok": True}
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


# --- what the sandbox must tell as truthfully as the vendors ----------------------------------


def _search_domain(client: httpx.Client, domain: str) -> list[str]:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "EQ", "value": domain}]}
        ]
    }
    found = client.post("/hubspot/crm/v3/objects/companies/search", json=body, headers=HUBSPOT)
    assert found.status_code == 200, found.text
    return [r["id"] for r in found.json()["results"]]


def test_hubspot_search_lags_while_reads_by_unique_value_do_not(client: httpx.Client) -> None:
    assert client.put("/_admin/hubspot/search-lag", json={"seconds": 30}).status_code == 200
    try:
        company = _company(
            client, name="Lag", domain="lag.example", onboarding_created_by_transaction="txn-lag"
        )
        assert _search_domain(client, "lag.example") == [], "search has not indexed it yet"
        by_stamp = client.get(
            "/hubspot/crm/v3/objects/companies/txn-lag",
            params={"idProperty": "onboarding_created_by_transaction"},
            headers=HUBSPOT,
        )
        assert by_stamp.status_code == 200 and by_stamp.json()["id"] == company["id"]
    finally:
        assert client.put("/_admin/hubspot/search-lag", json={"seconds": 0}).status_code == 200
    assert _search_domain(client, "lag.example") == [company["id"]]
    assert client.get("/_admin/hubspot/search-lag").json() == {"seconds": 0.0}
    assert client.put("/_admin/hubspot/search-lag", json={"seconds": -1}).status_code == 400


def test_hubspot_unique_property_refuses_a_second_record(client: httpx.Client) -> None:
    _company(client, name="One", domain="one.example", onboarding_created_by_transaction="t-1")
    second = client.post(
        "/hubspot/crm/v3/objects/companies",
        json={"properties": {"name": "Two", "onboarding_created_by_transaction": "t-1"}},
        headers=HUBSPOT,
    )
    assert second.status_code == 409 and second.json()["category"] == "CONFLICT"
    not_unique = client.get(
        "/hubspot/crm/v3/objects/companies/One", params={"idProperty": "name"}, headers=HUBSPOT
    )
    assert not_unique.status_code == 400
    missing = client.get(
        "/hubspot/crm/v3/objects/companies/t-9",
        params={"idProperty": "onboarding_created_by_transaction"},
        headers=HUBSPOT,
    )
    assert missing.status_code == 404


def test_hubspot_never_answers_null_for_a_property(client: httpx.Client) -> None:
    company = _company(client, name="Sparse")
    read = client.get(
        f"/hubspot/crm/v3/objects/companies/{company['id']}",
        params={"properties": "name,domain,industry"},
        headers=HUBSPOT,
    ).json()
    assert read["properties"]["name"] == "Sparse"
    assert None not in read["properties"].values()
    assert "industry" not in read["properties"]


def test_zendesk_serves_paths_with_and_without_json(client: httpx.Client) -> None:
    created = client.post(
        "/zendesk/api/v2/organizations",
        json={"organization": {"name": "Plain", "external_id": "p-1", "notes": "n"}},
        headers=ZENDESK,
    )
    assert created.status_code == 201
    org_id = created.json()["organization"]["id"]
    for path in (
        f"/zendesk/api/v2/organizations/{org_id}",
        f"/zendesk/api/v2/organizations/{org_id}.json",
    ):
        shown = client.get(path, headers=ZENDESK)
        assert shown.status_code == 200 and shown.json()["organization"]["notes"] == "n"
    for path in (
        "/zendesk/api/v2/organizations/search",
        "/zendesk/api/v2/organizations/search.json",
    ):
        found = client.get(path, params={"external_id": "p-1"}, headers=ZENDESK).json()
        assert [o["id"] for o in found["organizations"]] == [org_id]
    taken = client.post(
        "/zendesk/api/v2/organizations.json",
        json={"organization": {"name": "plain"}},
        headers=ZENDESK,
    )
    assert (
        taken.status_code == 422 and taken.json()["details"]["name"][0]["error"] == "DuplicateValue"
    )

    user = {"name": "Uma", "email": "uma@plain.example", "external_id": "u-9"}
    assert (
        client.post("/zendesk/api/v2/users", json={"user": user}, headers=ZENDESK).status_code
        == 201
    )
    again = client.post("/zendesk/api/v2/users.json", json={"user": user}, headers=ZENDESK)
    assert again.status_code == 422 and "already being used" in again.text
    assert (
        client.delete(f"/zendesk/api/v2/organizations/{org_id}", headers=ZENDESK).status_code == 204
    )
    assert (
        client.get(f"/zendesk/api/v2/organizations/{org_id}.json", headers=ZENDESK).status_code
        == 404
    )


def test_resend_lists_newest_first_without_nulls(client: httpx.Client) -> None:
    for n in range(3):
        body = {"from": "a@example.com", "to": "b@example.com", "subject": f"S{n}", "text": "t"}
        assert client.post("/resend/emails", json=body, headers=RESEND).status_code == 200
    first = client.get("/resend/emails", params={"limit": 2}, headers=RESEND).json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [e["subject"] for e in first["data"]] == ["S2", "S1"]
    rest = client.get(
        "/resend/emails", params={"limit": 2, "after": first["data"][-1]["id"]}, headers=RESEND
    ).json()
    assert [e["subject"] for e in rest["data"]] == ["S0"] and rest["has_more"] is False
    one = client.get(f"/resend/emails/{rest['data'][0]['id']}", headers=RESEND).json()
    assert one["bcc"] == [] and one["cc"] == [] and one["reply_to"] == []
    assert "html" not in one and None not in one.values()


def test_calendly_event_types(client: httpx.Client) -> None:
    active = client.get("/calendly/event_types/sandbox-kickoff", headers=CALENDLY).json()
    assert active["resource"]["active"] is True
    assert active["resource"]["scheduling_url"] == "https://calendly.com/sandbox-success/kickoff"
    retired = client.get("/calendly/event_types/sandbox-retired", headers=CALENDLY).json()
    assert retired["resource"]["active"] is False
    assert client.get("/calendly/event_types/nope", headers=CALENDLY).status_code == 404


def test_fault_probability_spares_some_requests_reproducibly(client: httpx.Client) -> None:
    spec = {"method": "GET", "path": "/resend/emails", "status": 503, "probability": 0.5, "seed": 7}
    _fault(client, **spec)
    statuses = [client.get("/resend/emails", headers=RESEND).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) == 40 - statuses.count(503)
    client.delete("/_admin/faults")
    _fault(client, **spec)
    again = [client.get("/resend/emails", headers=RESEND).status_code for _ in range(40)]
    assert again == statuses, "the same seed draws the same sequence"
    refused = client.post("/_admin/faults", json={**spec, "probability": 0})
    assert refused.status_code == 400
