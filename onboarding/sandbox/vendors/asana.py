"""Asana REST API 1.0: workspaces, teams, project templates, jobs, projects and tasks.

Mounted under ``/asana/api/1.0``. Every body is wrapped in ``{"data": ...}``.

Two credentials are accepted, as in Asana: a personal access token and an OAuth app's token.
Only the OAuth app may read or write a task's ``external`` data (a custom gid to find the task
by); with a personal access token Asana refuses it, and so does the sandbox. Listings honour
``limit``/``offset`` and ``opt_fields``; without ``limit`` a listing longer than a page is
refused, as Asana refuses results that are too large.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from onboarding.sandbox.errors import ApiError, asana_error
from onboarding.sandbox.seed import TEAM_GID, USER_GID, WORKSPACE_GID
from onboarding.sandbox.store import Record, Store
from onboarding.sandbox.vendors.common import (
    bearer_token,
    catch_all,
    iso_ms,
    json_body,
    now,
    public,
    route,
    store_of,
    token_for,
)

_PROJECT_START = 1_210_000_000_000_001
_TASK_START = 1_220_000_000_000_001
_JOB_START = 1_230_000_000_000_001
_USER_START = 1_240_000_000_000_001
_HIDDEN = ("deleted", "deleted_at")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PAGE_MAX = 100
EXTERNAL_NEEDS_OAUTH = (
    "external: Custom external data can only be read or written by an OAuth application, "
    "not with a personal access token"
)


def check_auth(request: Request) -> Response | None:
    """Asana's auth check (personal access token as a bearer token).

    Args:
        request: The request.

    Returns:
        A 401 response, or ``None`` when authorised.
    """
    token = bearer_token(request)
    if token == token_for(request, "asana"):
        request.state.asana_oauth = False
        return None
    if token == token_for(request, "asana_oauth"):
        request.state.asana_oauth = True
        return None
    return asana_error(401, "Not Authorized")


def _require_oauth(request: Request) -> None:
    """Refuse ``external`` data to a personal access token, as Asana does."""
    if not getattr(request.state, "asana_oauth", False):
        raise _bad(EXTERNAL_NEEDS_OAUTH)


def _bad(message: str) -> ApiError:
    return ApiError(asana_error(400, message))


def _unknown(resource: str, gid: str) -> ApiError:
    return ApiError(asana_error(404, f"{resource}: Unknown object: {gid}"))


def _ok(data: Any, status: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"data": data, **extra}, status_code=status)


async def _data(request: Request) -> dict[str, Any]:
    body = await json_body(request, lambda message: asana_error(400, message))
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise _bad("data: Missing input")
    data: dict[str, Any] = body["data"]
    return data


def _compact(record: Record) -> dict[str, Any]:
    return {
        "gid": record["gid"],
        "resource_type": record["resource_type"],
        "name": record.get("name"),
    }


def _compact_task(record: Record) -> dict[str, Any]:
    return {
        "gid": record["gid"],
        "name": record["name"],
        "resource_type": "task",
        "resource_subtype": record.get("resource_subtype", "default_task"),
    }


def _permalink(*gids: str) -> str:
    return "https://app.asana.com/0/" + "/".join(gids)


def _live(store: Store, kind: str, gid: str) -> Record | None:
    record = store.get(kind, gid)
    if record is None or record.get("deleted"):
        return None
    return record


def _opt_fields(request: Request) -> list[str]:
    raw = request.query_params.get("opt_fields") or ""
    return [name.strip() for name in raw.split(",") if name.strip()]


def _with_fields(request: Request, compact: dict[str, Any], record: Record) -> dict[str, Any]:
    """A compact record plus the ``opt_fields`` asked for (never ``external`` for a PAT)."""
    extra = {}
    for name in _opt_fields(request):
        if name == "external" and not getattr(request.state, "asana_oauth", False):
            continue
        if name in record and not name.startswith("_") and name not in _HIDDEN:
            extra[name] = record[name]
    return {**compact, **extra}


def _paginate(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    raw_limit = request.query_params.get("limit")
    if raw_limit is None:
        if len(items) > _PAGE_MAX:
            raise _bad(
                "The result is too large. You should use pagination (may require specifying "
                "a workspace)!"
            )
        return _ok(items)
    try:
        limit = int(raw_limit)
        offset = int(request.query_params.get("offset") or 0)
    except ValueError:
        raise _bad("limit: Not a valid integer") from None
    if not 1 <= limit <= 100:
        raise _bad("limit: Must be between 1 and 100")
    page = items[offset : offset + limit]
    next_page = None
    if offset + limit < len(items):
        token = str(offset + limit)
        uri = f"{request.url.replace(query=None)}?limit={limit}&offset={token}"
        next_page = {"offset": token, "path": f"{request.url.path}?offset={token}", "uri": uri}
    return _ok(page, next_page=next_page)


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return raw.lower() in ("true", "1", "yes")


# --- users, workspaces, teams ------------------------------------------------------------


def _resolve_user(store: Store, value: Any) -> dict[str, Any] | None:
    """Resolve an assignee (``me``, a user gid or an email) to a compact user."""
    if value is None:
        return None
    text = str(value).strip()
    if text == "me":
        text = USER_GID
    for user in store.all("asana_users"):
        if user["gid"] == text or user.get("email", "").lower() == text.lower():
            return _compact(user)
    if text.isdigit():
        user = {"gid": text, "resource_type": "user", "name": f"User {text}", "email": ""}
    elif _EMAIL.match(text):
        gid = str(store.next_id("asana_users", _USER_START))
        user = {
            "gid": gid,
            "resource_type": "user",
            "name": text.split("@", 1)[0],
            "email": text,
        }
    else:
        raise _bad(f"assignee: Not a recognized ID: {text}")
    store.put("asana_users", user["gid"], user)
    return _compact(user)


async def me(request: Request) -> Response:
    """``GET /users/me``."""
    user = store_of(request).get("asana_users", USER_GID)
    return _ok(user)


async def list_workspaces(request: Request) -> Response:
    """``GET /workspaces``."""
    return _paginate(request, [_compact(w) for w in store_of(request).all("asana_workspaces")])


async def get_workspace(request: Request) -> Response:
    """``GET /workspaces/{workspace_gid}``."""
    gid = request.path_params["gid"]
    workspace = store_of(request).get("asana_workspaces", gid)
    if workspace is None:
        raise _unknown("workspace", gid)
    return _ok(workspace)


async def get_team(request: Request) -> Response:
    """``GET /teams/{team_gid}``."""
    gid = request.path_params["gid"]
    team = store_of(request).get("asana_teams", gid)
    if team is None:
        raise _unknown("team", gid)
    return _ok(team)


# --- project templates and jobs ----------------------------------------------------------


async def list_templates(request: Request) -> Response:
    """``GET /project_templates?workspace=...|team=...``."""
    team = request.query_params.get("team")
    templates = [
        _compact(t)
        for t in store_of(request).all("asana_project_templates")
        if team is None or t["team"]["gid"] == team
    ]
    return _paginate(request, templates)


async def get_template(request: Request) -> Response:
    """``GET /project_templates/{project_template_gid}``."""
    gid = request.path_params["gid"]
    template = store_of(request).get("asana_project_templates", gid)
    if template is None:
        raise _unknown("project_template", gid)
    return _ok(public(template))


def _new_project(
    store: Store, name: str, team_gid: str | None, notes: str, public_flag: bool
) -> Record:
    workspace = store.get("asana_workspaces", WORKSPACE_GID)
    assert workspace is not None
    team = None
    if team_gid is not None:
        team_record = store.get("asana_teams", team_gid)
        if team_record is None:
            raise _bad(f"team: Not a recognized ID: {team_gid}")
        team = _compact(team_record)
    gid = str(store.next_id("asana_projects", _PROJECT_START))
    stamp = iso_ms(now())
    owner = store.get("asana_users", USER_GID)
    project: Record = {
        "gid": gid,
        "resource_type": "project",
        "name": name,
        "archived": False,
        "notes": notes,
        "color": None,
        "completed": False,
        "completed_at": None,
        "created_at": stamp,
        "modified_at": stamp,
        "due_on": None,
        "start_on": None,
        "public": public_flag,
        "owner": None if owner is None else _compact(owner),
        "workspace": _compact(workspace),
        "team": team,
        "permalink_url": _permalink(gid, gid),
        "deleted": False,
    }
    store.put("asana_projects", gid, project)
    return project


async def instantiate(request: Request) -> Response:
    """``POST /project_templates/{project_template_gid}/instantiateProject``."""
    gid = request.path_params["gid"]
    store = store_of(request)
    template = store.get("asana_project_templates", gid)
    if template is None:
        raise _unknown("project_template", gid)
    data = await _data(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad("name: Missing input")
    team_gid = data.get("team")
    workspace_gid = data.get("workspace")
    if workspace_gid is not None and str(workspace_gid) != WORKSPACE_GID:
        raise _bad(f"workspace: Not a recognized ID: {workspace_gid}")
    if team_gid is None:
        team_gid = template["team"]["gid"] if template.get("team") else TEAM_GID
    with store.atomic():
        project = _new_project(
            store, name, str(team_gid), "", bool(data.get("public", template["public"]))
        )
        for task_name in template["_task_names"]:
            _new_task(store, {"name": task_name}, [project])
        job_gid = str(store.next_id("asana_jobs", _JOB_START))
        job: Record = {
            "gid": job_gid,
            "resource_type": "job",
            "resource_subtype": "duplicate_project",
            # As in Asana, the job is still running when instantiation answers; the first read
            # of the job finds it done.
            "status": "in_progress",
            "new_project": {"gid": project["gid"], "name": name, "resource_type": "project"},
        }
        store.put("asana_jobs", job_gid, job)
    return _ok(job, status=201)


async def get_job(request: Request) -> Response:
    """``GET /jobs/{job_gid}``."""
    gid = request.path_params["gid"]
    store = store_of(request)
    with store.atomic():
        job = store.get("asana_jobs", gid)
        if job is None:
            raise _unknown("job", gid)
        if job["status"] == "in_progress":
            job["status"] = "succeeded"
            store.put("asana_jobs", gid, job)
    return _ok(job)


# --- projects ----------------------------------------------------------------------------


async def list_projects(request: Request) -> Response:
    """``GET /projects?workspace=...&team=...&archived=...``."""
    workspace = request.query_params.get("workspace")
    team = request.query_params.get("team")
    archived = _bool_param(request, "archived")
    projects = []
    for project in store_of(request).all("asana_projects"):
        if project.get("deleted"):
            continue
        if workspace is not None and project["workspace"]["gid"] != workspace:
            continue
        if team is not None and (project.get("team") or {}).get("gid") != team:
            continue
        if archived is not None and project["archived"] != archived:
            continue
        projects.append(_with_fields(request, _compact(project), project))
    return _paginate(request, projects)


async def create_project(request: Request) -> Response:
    """``POST /projects``."""
    data = await _data(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad("name: Missing input")
    team = data.get("team")
    if team is None and data.get("workspace") is None:
        raise _bad("workspace: Missing input")
    store = store_of(request)
    with store.atomic():
        project = _new_project(
            store,
            name,
            None if team is None else str(team),
            str(data.get("notes") or ""),
            bool(data.get("public", False)),
        )
    return _ok(public(project, _HIDDEN), status=201)


async def get_project(request: Request) -> Response:
    """``GET /projects/{project_gid}``."""
    gid = request.path_params["gid"]
    project = _live(store_of(request), "asana_projects", gid)
    if project is None:
        raise _unknown("project", gid)
    return _ok(public(project, _HIDDEN))


async def update_project(request: Request) -> Response:
    """``PUT /projects/{project_gid}``."""
    gid = request.path_params["gid"]
    data = await _data(request)
    store = store_of(request)
    with store.atomic():
        project = _live(store, "asana_projects", gid)
        if project is None:
            raise _unknown("project", gid)
        for key in ("name", "notes", "color", "due_on", "start_on"):
            if key in data:
                project[key] = data[key]
        for key in ("archived", "public", "completed"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise _bad(f"{key}: Not a boolean: {data[key]}")
                project[key] = data[key]
        if "completed" in data:
            project["completed_at"] = iso_ms(now()) if data["completed"] else None
        project["modified_at"] = iso_ms(now())
        store.put("asana_projects", gid, project)
    return _ok(public(project, _HIDDEN))


async def delete_project(request: Request) -> Response:
    """``DELETE /projects/{project_gid}`` (its single-homed tasks go too)."""
    gid = request.path_params["gid"]
    store = store_of(request)
    with store.atomic():
        project = _live(store, "asana_projects", gid)
        if project is None:
            raise _unknown("project", gid)
        stamp = iso_ms(now())
        project.update(deleted=True, deleted_at=stamp)
        store.put("asana_projects", gid, project)
        for task in store.all("asana_tasks"):
            homes = [p["gid"] for p in task["projects"]]
            if not task.get("deleted") and homes == [gid]:
                task.update(deleted=True, deleted_at=stamp)
                store.put("asana_tasks", task["gid"], task)
    return _ok({})


async def project_tasks(request: Request) -> Response:
    """``GET /projects/{project_gid}/tasks``."""
    gid = request.path_params["gid"]
    store = store_of(request)
    if _live(store, "asana_projects", gid) is None:
        raise _unknown("project", gid)
    tasks = [
        _with_fields(request, _compact_task(task), task)
        for task in store.all("asana_tasks")
        if not task.get("deleted") and gid in [p["gid"] for p in task["projects"]]
    ]
    return _paginate(request, tasks)


# --- tasks -------------------------------------------------------------------------------


def _find_by_external(store: Store, external_gid: str) -> Record | None:
    for task in store.all("asana_tasks"):
        if task.get("deleted"):
            continue
        if (task.get("external") or {}).get("gid") == external_gid:
            return task
    return None


def _read_external(store: Store, value: Any, exclude: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("external: Not an object")
    external_gid = value.get("gid")
    data = value.get("data")
    if external_gid is not None:
        if not isinstance(external_gid, str) or not external_gid:
            raise _bad("external.gid: Not a string")
        if len(external_gid) > 1024:
            raise _bad("external.gid: Too long (max 1024 characters)")
        existing = _find_by_external(store, external_gid)
        if existing is not None and existing["gid"] != exclude:
            raise _bad(f"external.gid: Duplicate external gid: {external_gid}")
    if data is not None and not isinstance(data, str):
        raise _bad("external.data: Not a string")
    if data is not None and len(data) > 32_768:
        raise _bad("external.data: Too long (max 32768 characters)")
    return {"gid": external_gid, "data": data}


def _read_date(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise _bad(f"{field}: Invalid date: {value}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{field}: Invalid date: {value}") from None
    return value


def _new_task(store: Store, data: dict[str, Any], projects: list[Record]) -> Record:
    workspace = store.get("asana_workspaces", WORKSPACE_GID)
    assert workspace is not None
    gid = str(store.next_id("asana_tasks", _TASK_START))
    stamp = iso_ms(now())
    completed = bool(data.get("completed", False))
    compact_projects = [_compact(p) for p in projects]
    task: Record = {
        "gid": gid,
        "resource_type": "task",
        "resource_subtype": str(data.get("resource_subtype") or "default_task"),
        "name": str(data.get("name") or ""),
        "notes": str(data.get("notes") or ""),
        "completed": completed,
        "completed_at": stamp if completed else None,
        "due_on": _read_date(data.get("due_on"), "due_on"),
        "due_at": data.get("due_at"),
        "start_on": _read_date(data.get("start_on"), "start_on"),
        "assignee": _resolve_user(store, data.get("assignee")),
        "projects": compact_projects,
        "memberships": [{"project": p, "section": None} for p in compact_projects],
        "workspace": _compact(workspace),
        "parent": None,
        "tags": [],
        "external": _read_external(store, data.get("external"), None),
        "created_at": stamp,
        "modified_at": stamp,
        "permalink_url": _permalink(compact_projects[0]["gid"] if projects else "0", gid),
        "deleted": False,
    }
    store.put("asana_tasks", gid, task)
    return task


def _task_by_path(store: Store, raw_gid: str, request: Request | None = None) -> Record:
    if raw_gid.startswith("external:"):
        if request is not None:
            _require_oauth(request)
        task = _find_by_external(store, raw_gid[len("external:") :])
    else:
        task = _live(store, "asana_tasks", raw_gid)
    if task is None:
        raise _unknown("task", raw_gid)
    return task


def _task_view(request: Request, task: Record) -> dict[str, Any]:
    """A task as Asana returns it: ``external`` only to an OAuth app, and only when set."""
    view = public(task, _HIDDEN)
    if view.get("external") is None or not getattr(request.state, "asana_oauth", False):
        view.pop("external", None)
    # Asana's document promises objects here, not null: what is unset is left out.
    for key in ("assignee", "parent"):
        if view.get(key) is None:
            view.pop(key, None)
    view["memberships"] = [
        {k: v for k, v in m.items() if v is not None} for m in view.get("memberships") or []
    ]
    return view


async def create_task(request: Request) -> Response:
    """``POST /tasks``."""
    data = await _data(request)
    if data.get("external") is not None:
        _require_oauth(request)
    store = store_of(request)
    project_gids = data.get("projects") or []
    if isinstance(project_gids, str):
        project_gids = [project_gids]
    if not project_gids and not data.get("workspace") and not data.get("parent"):
        raise _bad("workspace: Missing input")
    workspace = data.get("workspace")
    if workspace is not None and str(workspace) != WORKSPACE_GID:
        raise _bad(f"workspace: Not a recognized ID: {workspace}")
    with store.atomic():
        projects = []
        for index, gid in enumerate(project_gids):
            project = _live(store, "asana_projects", str(gid))
            if project is None:
                raise _bad(f"projects: [{index}]: Not a recognized ID: {gid}")
            projects.append(project)
        task = _new_task(store, data, projects)
    return _ok(_task_view(request, task), status=201)


async def list_tasks(request: Request) -> Response:
    """``GET /tasks?project=...``."""
    project = request.query_params.get("project")
    if project is None and request.query_params.get("workspace") is None:
        raise _bad("project: Missing input")
    tasks = [
        _with_fields(request, _compact_task(task), task)
        for task in store_of(request).all("asana_tasks")
        if not task.get("deleted")
        and (project is None or project in [p["gid"] for p in task["projects"]])
    ]
    return _paginate(request, tasks)


async def get_task(request: Request) -> Response:
    """``GET /tasks/{task_gid}`` (also ``/tasks/external:{external_gid}``)."""
    task = _task_by_path(store_of(request), request.path_params["gid"], request)
    return _ok(_task_view(request, task))


async def update_task(request: Request) -> Response:
    """``PUT /tasks/{task_gid}`` (also ``/tasks/external:{external_gid}``)."""
    data = await _data(request)
    if data.get("external") is not None:
        _require_oauth(request)
    store = store_of(request)
    with store.atomic():
        task = _task_by_path(store, request.path_params["gid"], request)
        for key in ("name", "notes"):
            if key in data:
                task[key] = str(data[key] or "")
        if "completed" in data:
            if not isinstance(data["completed"], bool):
                raise _bad(f"completed: Not a boolean: {data['completed']}")
            if data["completed"] != task["completed"]:
                task["completed_at"] = iso_ms(now()) if data["completed"] else None
            task["completed"] = data["completed"]
        if "due_on" in data:
            task["due_on"] = _read_date(data["due_on"], "due_on")
        if "start_on" in data:
            task["start_on"] = _read_date(data["start_on"], "start_on")
        if "due_at" in data:
            task["due_at"] = data["due_at"]
        if "assignee" in data:
            task["assignee"] = _resolve_user(store, data["assignee"])
        if "external" in data:
            task["external"] = _read_external(store, data["external"], task["gid"])
        task["modified_at"] = iso_ms(now())
        store.put("asana_tasks", task["gid"], task)
    return _ok(_task_view(request, task))


async def delete_task(request: Request) -> Response:
    """``DELETE /tasks/{task_gid}``."""
    store = store_of(request)
    with store.atomic():
        task = _task_by_path(store, request.path_params["gid"], request)
        task.update(deleted=True, deleted_at=iso_ms(now()))
        store.put("asana_tasks", task["gid"], task)
    return _ok({})


def _not_found_route(request: Request) -> Response:
    return asana_error(404, f"No matching route for request: {request.method} {request.url.path}")


def routes() -> list[BaseRoute]:
    """Return Asana's routes (relative to the ``/asana/api/1.0`` mount).

    Returns:
        The routes.
    """
    c = check_auth
    return [
        route("/users/me", me, ["GET"], c),
        route("/workspaces", list_workspaces, ["GET"], c),
        route("/workspaces/{gid}", get_workspace, ["GET"], c),
        route("/teams/{gid}", get_team, ["GET"], c),
        route("/project_templates", list_templates, ["GET"], c),
        route("/project_templates/{gid}", get_template, ["GET"], c),
        route("/project_templates/{gid}/instantiateProject", instantiate, ["POST"], c),
        route("/jobs/{gid}", get_job, ["GET"], c),
        route("/projects", list_projects, ["GET"], c),
        route("/projects", create_project, ["POST"], c),
        route("/projects/{gid}", get_project, ["GET"], c),
        route("/projects/{gid}", update_project, ["PUT"], c),
        route("/projects/{gid}", delete_project, ["DELETE"], c),
        route("/projects/{gid}/tasks", project_tasks, ["GET"], c),
        route("/tasks", create_task, ["POST"], c),
        route("/tasks", list_tasks, ["GET"], c),
        route("/tasks/{gid}", get_task, ["GET"], c),
        route("/tasks/{gid}", update_task, ["PUT"], c),
        route("/tasks/{gid}", delete_task, ["DELETE"], c),
        catch_all(c, _not_found_route),
    ]


def state(store: Store) -> dict[str, Any]:
    """Everything Asana holds, deleted records included (``deleted: true``).

    Args:
        store: The store.

    Returns:
        ``{"projects": [...], "tasks": [...], "jobs": [...], "users": [...]}``.
    """
    return {
        "projects": [public(p) for p in store.all("asana_projects")],
        "tasks": [public(t) for t in store.all("asana_tasks")],
        "jobs": store.all("asana_jobs"),
        "users": store.all("asana_users"),
    }
