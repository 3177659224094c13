"""HubSpot CRM v3 objects and v4 associations (companies and contacts).

Mounted under ``/hubspot``; paths below it are HubSpot's own (``/crm/v3/...``).

As in HubSpot: reads by ID or by a unique property (``idProperty``) see every write at once,
while search sees the index, which lags writes by a switchable number of seconds
(``PUT /_admin/hubspot/search-lag``, ``SANDBOX_HUBSPOT_SEARCH_LAG``; 0 by default). Contacts'
``email`` and the properties in :data:`UNIQUE_PROPERTIES` take unique values.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import HUBSPOT_AUTH_MESSAGE, ApiError, hubspot_error
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors.common import (
    bearer_token,
    catch_all,
    iso_ms,
    json_body,
    now,
    route,
    store_of,
)
from onboarding.sandbox.vendors.common import token_for as _token_for

#: Canonical object type -> (store kind, id counter start, default properties).
OBJECT_TYPES: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "companies": (
        "hubspot_companies",
        10_000_000_001,
        ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    ),
    "contacts": (
        "hubspot_contacts",
        20_000_000_001,
        ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    ),
}
_ALIASES = {
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
}
#: HubSpot-defined default association type ids, by (from, to).
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
}
_SYSTEM_PROPERTIES = ("hs_object_id", "createdate", "hs_lastmodifieddate")
#: Custom properties defined with unique values ("hasUniqueValue"), by object type.
UNIQUE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("onboarding_created_by_transaction",),
    "contacts": ("onboarding_created_by_transaction",),
}
#: How many past versions of a record the search index keeps to answer from.
_VERSIONS_KEPT = 8
NOT_FOUND_MESSAGE = "Object not found. objectId are usually numeric."


def check_auth(request: Request) -> Response | None:
    """HubSpot's auth check (private-app token as a bearer token).

    Args:
        request: The request.

    Returns:
        A 401 response, or ``None`` when authorised.
    """
    if bearer_token(request) == _token_for(request, "hubspot"):
        return None
    return hubspot_error(401, HUBSPOT_AUTH_MESSAGE, "INVALID_AUTHENTICATION")


def _invalid_json(message: str) -> Response:
    return hubspot_error(400, f"Invalid input JSON: {message}", "VALIDATION_ERROR")


def _object_type(raw: str) -> str:
    canonical = _ALIASES.get(raw.lower())
    if canonical is None:
        raise ApiError(
            hubspot_error(400, f"Unable to infer object type from: {raw}", "VALIDATION_ERROR")
        )
    return canonical


def _not_found() -> Response:
    return hubspot_error(404, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND")


def _validation_error(problems: list[tuple[str, str, str]]) -> Response:
    """Build HubSpot's ``Property values were not valid`` error.

    Args:
        problems: ``(property name, message, error code)`` triples.

    Returns:
        The 400 response.
    """
    summary = json.dumps(
        [
            {"isValid": False, "message": message, "error": code, "name": name}
            for name, message, code in problems
        ],
        separators=(",", ":"),
    )
    return hubspot_error(
        400,
        f"Property values were not valid: {summary}",
        "VALIDATION_ERROR",
        errors=[
            {"message": message, "code": code, "context": {"propertyName": [name]}}
            for name, message, code in problems
        ],
    )


def _stringify(properties: dict[str, Any]) -> dict[str, str]:
    """HubSpot stores every property value as a string."""
    out: dict[str, str] = {}
    for key, value in properties.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def _read_properties(body: Any) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise ApiError(
            hubspot_error(
                400,
                "Invalid input JSON on line 1, column 1: `properties` must be an object",
                "VALIDATION_ERROR",
            )
        )
    return _stringify(body["properties"])


def _validate(object_type: str, properties: dict[str, str], *, creating: bool) -> None:
    problems: list[tuple[str, str, str]] = []
    if object_type == "contacts" and "email" in properties:
        email = properties["email"]
        if email and "@" not in email:
            problems.append(("email", f"Email address {email} is invalid", "INVALID_EMAIL"))
    if object_type == "companies" and creating and not properties.get("name", "").strip():
        problems.append(("name", 'Property "name" is required', "REQUIRED_PROPERTY"))
    if object_type == "companies" and not creating and properties.get("name") == "":
        problems.append(("name", 'Property "name" cannot be empty', "REQUIRED_PROPERTY"))
    if problems:
        raise ApiError(_validation_error(problems))


def all_properties(object_type: str, record: Record) -> dict[str, str | None]:
    """Return the stored properties plus HubSpot's system properties.

    Args:
        object_type: ``companies`` or ``contacts``.
        record: The stored record.

    Returns:
        Every property of the object.
    """
    props: dict[str, str | None] = dict(record["properties"])
    props["hs_object_id"] = record["id"]
    props["createdate"] = record["createdAt"]
    props["hs_lastmodifieddate"] = record["updatedAt"]
    if object_type == "contacts":
        props["lastmodifieddate"] = record["updatedAt"]
    return props


def _render(object_type: str, record: Record, requested: list[str] | None) -> dict[str, Any]:
    """Render an object the way HubSpot returns it.

    Args:
        object_type: ``companies`` or ``contacts``.
        record: The stored record.
        requested: The requested properties; ``None`` returns the stored ones.

    Returns:
        The object.
    """
    props = all_properties(object_type, record)
    if requested is not None:
        wanted = list(requested) + [p for p in _SYSTEM_PROPERTIES if p not in requested]
        if object_type == "contacts":
            wanted.append("lastmodifieddate")
        # HubSpot's document promises a string for each property: unset ones are left out.
        props = {name: props[name] for name in wanted if props.get(name) is not None}
    body: dict[str, Any] = {
        "id": record["id"],
        "properties": dict(sorted(props.items())),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": record["archived"],
    }
    if record["archived"]:
        body["archivedAt"] = record.get("archivedAt")
    return body


def _requested_from_query(request: Request, object_type: str) -> list[str]:
    values = request.query_params.getlist("properties")
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if names:
        return names
    return [p for p in OBJECT_TYPES[object_type][2] if p not in _SYSTEM_PROPERTIES]


def _live(store: Store, object_type: str, object_id: str) -> Record | None:
    record = store.get(OBJECT_TYPES[object_type][0], object_id)
    if record is None or record["archived"]:
        return None
    return record


def _find_contact_by_email(store: Store, email: str, exclude: str | None = None) -> Record | None:
    wanted = email.strip().lower()
    for record in store.all("hubspot_contacts"):
        if record["archived"] or record["id"] == exclude:
            continue
        if record["properties"].get("email", "").strip().lower() == wanted:
            return record
    return None


def _conflict(existing_id: str) -> ApiError:
    return ApiError(
        hubspot_error(409, f"Contact already exists. Existing ID: {existing_id}", "CONFLICT")
    )


def _find_unique(
    store: Store, object_type: str, name: str, value: str, exclude: str | None = None
) -> Record | None:
    """The live record whose unique property ``name`` equals ``value``."""
    for record in store.all(OBJECT_TYPES[object_type][0]):
        if record["archived"] or record["id"] == exclude:
            continue
        if value and record["properties"].get(name) == value:
            return record
    return None


def _check_unique(
    store: Store, object_type: str, properties: dict[str, str], exclude: str | None = None
) -> None:
    """Refuse a value of a unique property that another record holds (409, like a duplicate
    contact email)."""
    for name in UNIQUE_PROPERTIES.get(object_type, ()):
        value = properties.get(name, "")
        holder = _find_unique(store, object_type, name, value, exclude) if value else None
        if holder is not None:
            raise ApiError(
                hubspot_error(
                    409,
                    f"{name}: {value} is already the value of {object_type} {holder['id']}; "
                    "this property takes unique values",
                    "CONFLICT",
                )
            )


def _remember_version(record: Record) -> None:
    """Append the record as it is now to what the search index may answer from."""
    versions = list(record.get("_versions") or [])
    versions.append([now().timestamp(), dict(record["properties"]), bool(record["archived"])])
    record["_versions"] = versions[-_VERSIONS_KEPT:]


def _indexed(record: Record, lag: float) -> Record | None:
    """The record as the search index sees it ``lag`` seconds behind (None: not indexed yet)."""
    if lag <= 0 or not record.get("_versions"):
        return record
    horizon = now().timestamp() - lag
    seen = [v for v in record["_versions"] if v[0] <= horizon]
    if not seen:
        return None
    _, properties, archived = seen[-1]
    return {**record, "properties": properties, "archived": archived}


def search_lag(request: Request) -> float:
    """The seconds the search index lags writes, as switched on the app."""
    return float(getattr(request.app.state, "hubspot_search_lag", 0.0))


def create_object(store: Store, object_type: str, properties: dict[str, str]) -> Record:
    """Create and persist a CRM object (no validation beyond the contact-email rule).

    Args:
        store: The store.
        object_type: ``companies`` or ``contacts``.
        properties: The (string) property values.

    Returns:
        The stored record.

    Raises:
        ApiError: 409 when a contact with the same email already exists.
    """
    kind, start, _ = OBJECT_TYPES[object_type]
    with store.atomic():
        if object_type == "contacts" and properties.get("email"):
            existing = _find_contact_by_email(store, properties["email"])
            if existing is not None:
                raise _conflict(existing["id"])
        _check_unique(store, object_type, properties)
        object_id = str(store.next_id(kind, start))
        stamp = iso_ms(now())
        record: Record = {
            "id": object_id,
            "properties": properties,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        _remember_version(record)
        store.put(kind, object_id, record)
    return record


def _associate(store: Store, from_type: str, from_id: str, to_type: str, to_id: str) -> int:
    """Store one association (idempotently) and return its type id."""
    if (from_type, to_type) not in ASSOCIATION_TYPE_IDS:
        raise ApiError(
            hubspot_error(
                400,
                f"No default association type between {from_type} and {to_type}",
                "VALIDATION_ERROR",
            )
        )
    if _live(store, from_type, from_id) is None or _live(store, to_type, to_id) is None:
        raise ApiError(_not_found())
    pair = sorted([(from_type, from_id), (to_type, to_id)])
    key = f"{pair[0][0]}:{pair[0][1]}:{pair[1][0]}:{pair[1][1]}"
    with store.atomic():
        existing = store.get("hubspot_associations", key)
        if existing is None or existing["archived"]:
            store.put(
                "hubspot_associations",
                key,
                {
                    "id": key,
                    "from_type": from_type,
                    "from_id": from_id,
                    "to_type": to_type,
                    "to_id": to_id,
                    "association_category": "HUBSPOT_DEFINED",
                    "created_at": iso_ms(now()),
                    "archived": False,
                },
            )
    return ASSOCIATION_TYPE_IDS[(from_type, to_type)]


def _associated_ids(store: Store, from_type: str, from_id: str, to_type: str) -> list[str]:
    found: list[str] = []
    for assoc in store.all("hubspot_associations"):
        if assoc["archived"]:
            continue
        ends = [(assoc["from_type"], assoc["from_id"]), (assoc["to_type"], assoc["to_id"])]
        if (from_type, from_id) not in ends:
            continue
        other = ends[1] if ends[0] == (from_type, from_id) else ends[0]
        if other[0] == to_type and _live(store, to_type, other[1]) is not None:
            found.append(other[1])
    return found


# --- search -----------------------------------------------------------------------------


def _tokens(value: str) -> list[str]:
    return [token for token in re.split(r"[^\w*]+", value.lower()) if token]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(actual: str, expected: Any) -> int:
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    left, right = actual.lower(), str(expected).lower()
    return (left > right) - (left < right)


def _filter_matches(props: dict[str, str | None], flt: dict[str, Any]) -> bool:
    name = flt.get("propertyName")
    operator = str(flt.get("operator", "EQ")).upper()
    if not isinstance(name, str):
        raise ApiError(hubspot_error(400, "propertyName is required", "VALIDATION_ERROR"))
    actual = props.get(name)
    present = actual not in (None, "")
    value = flt.get("value")
    text = "" if actual is None else str(actual)
    if operator == "HAS_PROPERTY":
        return present
    if operator == "NOT_HAS_PROPERTY":
        return not present
    if operator in ("EQ", "NEQ"):
        equal = present and text.strip().lower() == str(value).strip().lower()
        return equal if operator == "EQ" else not equal
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        needle = str(value).strip().lower()
        if "*" in needle:
            hit = fnmatch.fnmatchcase(text.lower(), needle) or any(
                fnmatch.fnmatchcase(token, needle) for token in _tokens(text)
            )
        else:
            have, want = _tokens(text), _tokens(needle)
            hit = bool(want) and any(
                have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1)
            )
        return hit if operator == "CONTAINS_TOKEN" else not hit
    if operator in ("IN", "NOT_IN"):
        values = flt.get("values") or []
        inside = present and text.lower() in {str(v).lower() for v in values}
        return inside if operator == "IN" else not inside
    if operator in ("GT", "GTE", "LT", "LTE"):
        if not present:
            return False
        cmp = _compare(text, value)
        return {"GT": cmp > 0, "GTE": cmp >= 0, "LT": cmp < 0, "LTE": cmp <= 0}[operator]
    if operator == "BETWEEN":
        if not present:
            return False
        return _compare(text, value) >= 0 and _compare(text, flt.get("highValue")) <= 0
    raise ApiError(
        hubspot_error(
            400,
            f"Invalid input JSON: Cannot deserialize value of type `FilterOperatorEnum` "
            f'from String "{operator}"',
            "VALIDATION_ERROR",
        )
    )


def _query_matches(props: dict[str, str | None], query: str) -> bool:
    needle = query.strip().lower()
    return any(needle in str(value).lower() for value in props.values() if value)


async def search(request: Request) -> Response:
    """``POST /crm/v3/objects/{objectType}/search``."""
    object_type = _object_type(request.path_params["object_type"])
    body = await json_body(request, _invalid_json) or {}
    if not isinstance(body, dict):
        raise ApiError(_invalid_json("the body must be an object"))
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > 5:
        raise ApiError(
            hubspot_error(400, "filterGroups: at most 5 filter groups", "VALIDATION_ERROR")
        )
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= 200:
        raise ApiError(hubspot_error(400, "limit: must be between 1 and 200", "VALIDATION_ERROR"))
    try:
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise ApiError(hubspot_error(400, "after: must be numeric", "VALIDATION_ERROR")) from None
    requested = body.get("properties") or None
    if requested is None:
        requested = [p for p in OBJECT_TYPES[object_type][2] if p not in _SYSTEM_PROPERTIES]
    store = store_of(request)
    lag = search_lag(request)
    matches: list[Record] = []
    for stored in store.all(OBJECT_TYPES[object_type][0]):
        record = _indexed(stored, lag)
        if record is None or record["archived"]:
            continue
        props = all_properties(object_type, record)
        if groups and not any(
            all(_filter_matches(props, flt) for flt in group.get("filters") or [])
            for group in groups
        ):
            continue
        if body.get("query") and not _query_matches(props, str(body["query"])):
            continue
        matches.append(record)
    for sort in reversed(body.get("sorts") or []):
        if isinstance(sort, dict) and sort.get("propertyName"):
            name = str(sort["propertyName"])

            def sort_key(record: Record, name: str = name) -> str:
                return str(all_properties(object_type, record).get(name) or "")

            matches.sort(
                key=sort_key,
                reverse=str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING",
            )
    page = matches[offset : offset + limit]
    result: dict[str, Any] = {
        "total": len(matches),
        "results": [_render(object_type, record, requested) for record in page],
    }
    if offset + limit < len(matches):
        result["paging"] = {"next": {"after": str(offset + limit)}}
    return JSONResponse(result)


# --- objects ----------------------------------------------------------------------------


async def create(request: Request) -> Response:
    """``POST /crm/v3/objects/{objectType}``."""
    object_type = _object_type(request.path_params["object_type"])
    body = await json_body(request, _invalid_json)
    properties = _read_properties(body)
    _validate(object_type, properties, creating=True)
    store = store_of(request)
    associations = body.get("associations") or []
    with store.atomic():
        record = create_object(store, object_type, properties)
        for assoc in associations:
            if not isinstance(assoc, dict):
                raise ApiError(_invalid_json("associations must be objects"))
            to_id = str((assoc.get("to") or {}).get("id", ""))
            to_type = None
            for spec in assoc.get("types") or []:
                type_id = spec.get("associationTypeId")
                for (src, dst), known in ASSOCIATION_TYPE_IDS.items():
                    if src == object_type and known == type_id:
                        to_type = dst
            if to_type is None:
                raise ApiError(hubspot_error(400, "Invalid association type", "VALIDATION_ERROR"))
            _associate(store, object_type, record["id"], to_type, to_id)
    return JSONResponse(_render(object_type, record, None), status_code=201)


async def list_objects(request: Request) -> Response:
    """``GET /crm/v3/objects/{objectType}``."""
    object_type = _object_type(request.path_params["object_type"])
    try:
        limit = max(1, min(100, int(request.query_params.get("limit", "10"))))
        offset = int(request.query_params.get("after", "0") or 0)
    except ValueError:
        raise ApiError(hubspot_error(400, "Invalid paging", "VALIDATION_ERROR")) from None
    archived = request.query_params.get("archived", "false").lower() == "true"
    records = [
        r for r in store_of(request).all(OBJECT_TYPES[object_type][0]) if r["archived"] == archived
    ]
    requested = _requested_from_query(request, object_type)
    page = records[offset : offset + limit]
    result: dict[str, Any] = {"results": [_render(object_type, r, requested) for r in page]}
    if offset + limit < len(records):
        after = str(offset + limit)
        result["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return JSONResponse(result)


async def read(request: Request) -> Response:
    """``GET /crm/v3/objects/{objectType}/{objectId}``."""
    object_type = _object_type(request.path_params["object_type"])
    object_id = request.path_params["object_id"]
    store = store_of(request)
    id_property = request.query_params.get("idProperty")
    record: Record | None
    if id_property in (None, "", "hs_object_id"):
        record = _live(store, object_type, object_id)
    elif id_property == "email" and object_type == "contacts":
        record = _find_contact_by_email(store, object_id)
    elif id_property in UNIQUE_PROPERTIES.get(object_type, ()):
        record = _find_unique(store, object_type, id_property, object_id)
    else:
        return hubspot_error(
            400,
            f"Unable to perform read by non-unique {object_type} property {id_property}",
            "VALIDATION_ERROR",
        )
    if record is None:
        return _not_found()
    return JSONResponse(_render(object_type, record, _requested_from_query(request, object_type)))


async def update(request: Request) -> Response:
    """``PATCH /crm/v3/objects/{objectType}/{objectId}``."""
    object_type = _object_type(request.path_params["object_type"])
    object_id = request.path_params["object_id"]
    properties = _read_properties(await json_body(request, _invalid_json))
    _validate(object_type, properties, creating=False)
    store = store_of(request)
    with store.atomic():
        record = _live(store, object_type, object_id)
        if record is None:
            return _not_found()
        if object_type == "contacts" and properties.get("email"):
            existing = _find_contact_by_email(store, properties["email"], exclude=object_id)
            if existing is not None:
                raise _conflict(existing["id"])
        _check_unique(store, object_type, properties, exclude=object_id)
        record["properties"].update(properties)
        record["updatedAt"] = iso_ms(now())
        _remember_version(record)
        store.put(OBJECT_TYPES[object_type][0], object_id, record)
    return JSONResponse(_render(object_type, record, None))


async def archive(request: Request) -> Response:
    """``DELETE /crm/v3/objects/{objectType}/{objectId}`` (archives; 204 even if missing)."""
    object_type = _object_type(request.path_params["object_type"])
    object_id = request.path_params["object_id"]
    store = store_of(request)
    with store.atomic():
        record = _live(store, object_type, object_id)
        if record is not None:
            stamp = iso_ms(now())
            record["archived"] = True
            record["archivedAt"] = stamp
            record["updatedAt"] = stamp
            _remember_version(record)
            store.put(OBJECT_TYPES[object_type][0], object_id, record)
    return Response(status_code=204)


# --- associations v4 --------------------------------------------------------------------


async def associate_default(request: Request) -> Response:
    """``PUT /crm/v4/objects/{fromType}/{fromId}/associations/default/{toType}/{toId}``."""
    from_type = _object_type(request.path_params["from_type"])
    to_type = _object_type(request.path_params["to_type"])
    from_id = request.path_params["from_id"]
    to_id = request.path_params["to_id"]
    started = iso_ms(now())
    type_id = _associate(store_of(request), from_type, from_id, to_type, to_id)
    return JSONResponse(
        {
            "status": "COMPLETE",
            "results": [
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "associationSpec": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": type_id,
                    },
                }
            ],
            "startedAt": started,
            "completedAt": iso_ms(now()),
        }
    )


async def list_associations(request: Request) -> Response:
    """``GET /crm/v4/objects/{fromType}/{fromId}/associations/{toType}``."""
    from_type = _object_type(request.path_params["from_type"])
    to_type = _object_type(request.path_params["to_type"])
    from_id = request.path_params["from_id"]
    type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type))
    ids = _associated_ids(store_of(request), from_type, from_id, to_type)
    results = [
        {
            "toObjectId": int(to_id) if to_id.isdigit() else to_id,
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
        }
        for to_id in ids
    ]
    return JSONResponse({"results": results})


async def remove_association(request: Request) -> Response:
    """``DELETE /crm/v4/objects/{fromType}/{fromId}/associations/{toType}/{toId}``."""
    from_type = _object_type(request.path_params["from_type"])
    to_type = _object_type(request.path_params["to_type"])
    pair = sorted(
        [(from_type, request.path_params["from_id"]), (to_type, request.path_params["to_id"])]
    )
    key = f"{pair[0][0]}:{pair[0][1]}:{pair[1][0]}:{pair[1][1]}"
    store = store_of(request)
    with store.atomic():
        existing = store.get("hubspot_associations", key)
        if existing is not None and not existing["archived"]:
            existing["archived"] = True
            existing["archived_at"] = iso_ms(now())
            store.put("hubspot_associations", key, existing)
    return Response(status_code=204)


def _not_found_route(request: Request) -> Response:
    return hubspot_error(
        404, f"Unable to find a route for {request.method} {request.url.path}", "NOT_FOUND"
    )


def routes() -> list[BaseRoute]:
    """Return HubSpot's routes (relative to the ``/hubspot`` mount).

    Returns:
        The routes.
    """
    c = check_auth
    objects = "/crm/v3/objects/{object_type}"
    assoc = "/crm/v4/objects/{from_type}/{from_id}/associations"
    return [
        route(f"{objects}/search", search, ["POST"], c),
        route(objects, create, ["POST"], c),
        route(objects, list_objects, ["GET"], c),
        route(f"{objects}/{{object_id}}", read, ["GET"], c),
        route(f"{objects}/{{object_id}}", update, ["PATCH"], c),
        route(f"{objects}/{{object_id}}", archive, ["DELETE"], c),
        route(f"{assoc}/default/{{to_type}}/{{to_id}}", associate_default, ["PUT"], c),
        route(f"{assoc}/{{to_type}}", list_associations, ["GET"], c),
        route(f"{assoc}/{{to_type}}/{{to_id}}", remove_association, ["DELETE"], c),
        catch_all(c, _not_found_route),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything HubSpot holds, archived records included.

    Args:
        store: The store.

    Returns:
        ``{"companies": [...], "contacts": [...], "associations": [...]}``.
    """
    out: dict[str, Any] = {}
    for object_type, (kind, _, _) in OBJECT_TYPES.items():
        out[object_type] = [
            {**_render(object_type, r, None), "archived": r["archived"]} for r in store.all(kind)
        ]
    out["associations"] = [
        {
            **assoc,
            "association_type_id": ASSOCIATION_TYPE_IDS[(assoc["from_type"], assoc["to_type"])],
        }
        for assoc in store.all("hubspot_associations")
    ]
    return out
