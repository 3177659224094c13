"""HubSpot deals (CRM v3 objects), their v4 associations to companies and contacts, and owners.

What the intake reads when HubSpot reports a deal moved to Closed-Won: the deal with the
properties asked for, the deal's companies and contacts (v4 associations, with their type IDs
and labels) and the deal owner. Mounted in front of the ``/hubspot`` mount under HubSpot's own
paths; companies and contacts themselves live in :mod:`onboarding.sandbox.vendors.hubspot`.

Owners cannot be created through HubSpot's API (they are the account's users), so the sandbox
has a fixed set, :data:`OWNERS`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import ApiError, hubspot_error
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors import hubspot
from onboarding.sandbox.vendors.common import iso_ms, json_body, now, route, store_of

DEALS = "hubspot_deals"
DEAL_ASSOCIATIONS = "hubspot_deal_associations"
_FIRST_DEAL_ID = 30_000_000_001
#: HubSpot-defined association types from a deal, by target type: (default, labelled ones).
DEAL_ASSOCIATION_TYPES: dict[str, dict[int, str | None]] = {
    "companies": {341: None, 5: "Primary"},
    "contacts": {3: None},
}
#: Labels a sandbox deal may give a contact association (HubSpot: user-defined labels).
USER_DEFINED_LABELS: dict[int, str] = {1001: "Primary contact", 1002: "Champion"}
_DEFAULT_DEAL_PROPERTIES = (
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "hs_lastmodifieddate",
    "hs_object_id",
    "pipeline",
)
#: The account's users who own records.
OWNERS: dict[str, dict[str, Any]] = {
    "1001": {
        "id": "1001",
        "email": "dana.rep@example.com",
        "firstName": "Dana",
        "lastName": "Rep",
        "userId": 9001,
    },
    "1002": {
        "id": "1002",
        "email": "rep@example.com",
        "firstName": "Robin",
        "lastName": "Rep",
        "userId": 9002,
    },
}


def _invalid(message: str) -> Response:
    return hubspot_error(400, f"Invalid input JSON: {message}", "VALIDATION_ERROR")


def _deal(store: Store, deal_id: str) -> Record:
    record = store.get(DEALS, deal_id)
    if record is None or record["archived"]:
        raise ApiError(hubspot_error(404, hubspot.NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND"))
    return record


def _render(record: Record, requested: list[str] | None) -> dict[str, Any]:
    props: dict[str, Any] = {
        **record["properties"],
        "hs_object_id": record["id"],
        "createdate": record["createdAt"],
        "hs_lastmodifieddate": record["updatedAt"],
    }
    names = requested if requested is not None else list(_DEFAULT_DEAL_PROPERTIES)
    wanted = [*names, *(p for p in ("createdate", "hs_lastmodifieddate", "hs_object_id"))]
    return {
        "id": record["id"],
        "properties": {name: props.get(name) for name in sorted(set(wanted))},
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": record["archived"],
    }


def _requested(request: Request) -> list[str] | None:
    values = request.query_params.getlist("properties")
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return names or None


def _associate(store: Store, deal_id: str, to_type: str, to_id: str, type_id: int) -> None:
    allowed = {**DEAL_ASSOCIATION_TYPES.get(to_type, {})}
    if to_type == "contacts":
        allowed.update(USER_DEFINED_LABELS)
    if type_id not in allowed:
        raise ApiError(hubspot_error(400, "Invalid association type", "VALIDATION_ERROR"))
    if hubspot._live(store, to_type, to_id) is None:
        raise ApiError(hubspot_error(404, hubspot.NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND"))
    key = f"{deal_id}:{to_type}:{to_id}"
    existing = store.get(DEAL_ASSOCIATIONS, key) or {
        "id": key,
        "deal_id": deal_id,
        "to_type": to_type,
        "to_id": to_id,
        "type_ids": [],
    }
    # As in HubSpot, the primary company is also an unlabelled (default) association.
    implied = {type_id, 341} if type_id == 5 else {type_id}
    existing["type_ids"] = sorted({*existing["type_ids"], *implied})
    store.put(DEAL_ASSOCIATIONS, key, existing)


async def create(request: Request) -> Response:
    """``POST /crm/v3/objects/deals`` with ``properties`` and optional ``associations``."""
    body = await json_body(request, _invalid)
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise ApiError(_invalid("`properties` must be an object"))
    properties = {k: "" if v is None else str(v) for k, v in body["properties"].items()}
    store = store_of(request)
    with store.atomic():
        deal_id = str(store.next_id(DEALS, _FIRST_DEAL_ID))
        stamp = iso_ms(now())
        record: Record = {
            "id": deal_id,
            "properties": properties,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        store.put(DEALS, deal_id, record)
        for assoc in body.get("associations") or []:
            if not isinstance(assoc, dict):
                raise ApiError(_invalid("associations must be objects"))
            to_id = str((assoc.get("to") or {}).get("id", ""))
            for spec in assoc.get("types") or []:
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                to_type = next(
                    (t for t, ids in DEAL_ASSOCIATION_TYPES.items() if type_id in ids),
                    "contacts" if type_id in USER_DEFINED_LABELS else None,
                )
                if to_type is None or not isinstance(type_id, int):
                    raise ApiError(
                        hubspot_error(400, "Invalid association type", "VALIDATION_ERROR")
                    )
                _associate(store, deal_id, to_type, to_id, type_id)
    return JSONResponse(_render(record, None), status_code=201)


async def read(request: Request) -> Response:
    """``GET /crm/v3/objects/deals/{dealId}?properties=...``."""
    record = _deal(store_of(request), request.path_params["deal_id"])
    return JSONResponse(_render(record, _requested(request)))


async def update(request: Request) -> Response:
    """``PATCH /crm/v3/objects/deals/{dealId}`` (e.g. a stage change)."""
    body = await json_body(request, _invalid)
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise ApiError(_invalid("`properties` must be an object"))
    store = store_of(request)
    with store.atomic():
        record = _deal(store, request.path_params["deal_id"])
        record["properties"].update(
            {k: "" if v is None else str(v) for k, v in body["properties"].items()}
        )
        record["updatedAt"] = iso_ms(now())
        store.put(DEALS, record["id"], record)
    return JSONResponse(_render(record, None))


async def list_associations(request: Request) -> Response:
    """``GET /crm/v4/objects/deals/{dealId}/associations/{toObjectType}`` (v4 shape)."""
    to_type = request.path_params["to_type"]
    if to_type not in DEAL_ASSOCIATION_TYPES:
        raise ApiError(
            hubspot_error(400, f"Unable to infer object type from: {to_type}", "VALIDATION_ERROR")
        )
    store = store_of(request)
    deal = _deal(store, request.path_params["deal_id"])
    labels = {**DEAL_ASSOCIATION_TYPES[to_type], **USER_DEFINED_LABELS}
    results = []
    for assoc in store.all(DEAL_ASSOCIATIONS):
        if assoc["deal_id"] != deal["id"] or assoc["to_type"] != to_type:
            continue
        if hubspot._live(store, to_type, assoc["to_id"]) is None:
            continue
        results.append(
            {
                "toObjectId": int(assoc["to_id"]),
                "associationTypes": [
                    {
                        "category": "USER_DEFINED"
                        if type_id in USER_DEFINED_LABELS
                        else "HUBSPOT_DEFINED",
                        "typeId": type_id,
                        "label": labels.get(type_id),
                    }
                    for type_id in assoc["type_ids"]
                ],
            }
        )
    return JSONResponse({"results": results})


async def associate_default(request: Request) -> Response:
    """``PUT /crm/v4/objects/deals/{dealId}/associations/default/{toObjectType}/{toObjectId}``."""
    to_type = request.path_params["to_type"]
    store = store_of(request)
    deal = _deal(store, request.path_params["deal_id"])
    if to_type not in DEAL_ASSOCIATION_TYPES:
        raise ApiError(hubspot_error(400, "Invalid association type", "VALIDATION_ERROR"))
    default = next(t for t, label in DEAL_ASSOCIATION_TYPES[to_type].items() if label is None)
    with store.atomic():
        _associate(store, deal["id"], to_type, request.path_params["to_id"], default)
    return JSONResponse({"status": "COMPLETE", "results": []})


async def read_owner(request: Request) -> Response:
    """``GET /crm/v3/owners/{ownerId}``."""
    owner = OWNERS.get(request.path_params["owner_id"])
    if owner is None:
        return hubspot_error(404, "Owner not found", "OBJECT_NOT_FOUND")
    stamp = "2024-01-01T00:00:00.000Z"
    return JSONResponse({**owner, "createdAt": stamp, "updatedAt": stamp, "archived": False})


def routes() -> list[BaseRoute]:
    """Full-path routes to place in front of the ``/hubspot`` mount (HubSpot's own paths)."""
    check = hubspot.check_auth
    deals = "/hubspot/crm/v3/objects/deals"
    associations = "/hubspot/crm/v4/objects/deals/{deal_id}/associations"
    return [
        route(deals, create, ["POST"], check),
        route(f"{deals}/{{deal_id}}", read, ["GET"], check),
        route(f"{deals}/{{deal_id}}", update, ["PATCH"], check),
        route(f"{associations}/default/{{to_type}}/{{to_id}}", associate_default, ["PUT"], check),
        route(f"{associations}/{{to_type}}", list_associations, ["GET"], check),
        route("/hubspot/crm/v3/owners/{owner_id}", read_owner, ["GET"], check),
    ]


def state(store: Store) -> dict[str, Any]:
    """Every deal (archived included) and every deal association (part of HubSpot's state)."""
    return {
        "deals": [_render(r, None) | {"properties": r["properties"]} for r in store.all(DEALS)],
        "deal_associations": list(store.all(DEAL_ASSOCIATIONS)),
    }
