"""Tasks (F1-F4) and the teams whose queues they sit in: read-only roles see them, operators create and work
them, admins manage the teams (docs/PERMISSIONS.md)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.auth.keys import Principal
from chalicelib.domain import tasks as rules
from chalicelib.errors import InvalidInput
from chalicelib.services import tasks

bp = Blueprint(__name__)

LINK = {"type": "object", "required": ["conversation_id"], "properties": {
    "conversation_id": {"type": "string"},
    "message_id": {"type": "string", "description": "a message of that conversation: it is quoted in the task"},
    "quote": {"type": "string", "readOnly": True}}}
TASK = {"type": "object", "properties": {
    "id": {"type": "string"}, "number": {"type": "integer", "description": "per workspace: 1, 2, 3... no gaps"},
    "title": {"type": "string"}, "description": {"type": "string", "description": "Markdown"},
    "status": {"enum": list(rules.STATUSES)}, "priority": {"enum": list(rules.PRIORITIES)},
    "deadline": {"type": ["string", "null"], "format": "date-time", "description": "UTC"},
    "timezone": {"type": ["string", "null"], "description": "the zone it was set in (IANA name or offset)"},
    "remind_minutes": {"type": "integer"}, "assignee_id": {"type": ["string", "null"]},
    "watchers": {"type": "array", "items": {"type": "string"}}, "tags": {"type": "array", "items": {"type": "string"}},
    "team_id": {"type": ["string", "null"]}, "links": {"type": "array", "items": LINK},
    "escalation": {"type": ["object", "null"]}, "escalated_by": {"type": ["string", "null"]},
    "overdue": {"type": "boolean"}, "revision": {"type": "integer"},
    "done_note": {"type": ["string", "null"], "description": "e.g. 'Engineering fixed it: tell the customer'"}}}
TASK_WRITE = {"type": "object", "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": rules.MAX_TITLE},
    "description": {"type": "string", "maxLength": rules.MAX_DESCRIPTION},
    "status": {"enum": list(rules.STATUSES)}, "priority": {"enum": list(rules.PRIORITIES)},
    "deadline": {"type": ["string", "null"], "format": "date-time", "description": "with an offset, or a local "
                 "time with `timezone`; in the future"},
    "timezone": {"type": ["string", "null"], "examples": ["Europe/Moscow"]},
    "remind_minutes": {"type": "integer", "minimum": 0, "maximum": rules.MAX_REMIND_MINUTES,
                       "default": rules.DEFAULT_REMIND_MINUTES, "description": "remind this long before the deadline"},
    "assignee_id": {"type": ["string", "null"]}, "watchers": {"type": "array", "items": {"type": "string"}},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": rules.MAX_TAGS},
    "team_id": {"type": ["string", "null"]}, "links": {"type": "array", "items": LINK, "maxItems": rules.MAX_LINKS},
    "revision": {"type": "integer", "description": "PATCH: the revision it was read at (409 stale otherwise)"}}}
TASK_CREATE = {**TASK_WRITE, "required": ["title"]}
DETAIL = {"type": "object", "properties": {**TASK["properties"],  # type: ignore[dict-item]
                                           "timeline": {"type": "array", "items": {"type": "object"}},
                                           "conversations": {"type": "array", "items": {"type": "object"}}}}
PAGE = {"type": "object", "properties": {"items": {"type": "array", "items": TASK},
                                         "next_cursor": {"type": ["string", "null"]}, "sort": {"type": "string"},
                                         "team_id": {"type": ["string", "null"]}}}
LIST_QUERY = {
    "view": {"enum": list(rules.VIEWS), "default": "current", "description": "current: open / in progress / "
             "waiting; overdue: current past the deadline; done: done and cancelled"},
    "scope": {"enum": list(rules.SCOPES), "default": "all", "description": "mine: assigned to me; team: a team's "
              "queue (`team`, default my first team)"},
    "team": {"type": "string"}, "assignee": {"type": "string", "description": "someone's tasks (a member id)"},
    "sort": {"enum": list(rules.SORTS), "description": "default: deadline (current, overdue), created (done)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": tasks.MAX_LIMIT, "default": 25},
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
}
COMMENT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string",
                                                                          "maxLength": rules.MAX_COMMENT}}}
ESCALATE = {"type": "object", "required": ["team_id"], "properties": {
    "team_id": {"type": "string"}, "note": {"type": "string", "maxLength": rules.MAX_NOTE},
    "assignee_id": {"type": ["string", "null"], "description": "someone of that team, or nobody yet"}}}
TEAM = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                         "member_ids": {"type": "array", "items": {"type": "string"}}}}
TEAM_WRITE = {"type": "object", "properties": {"name": {"type": "string", "maxLength": tasks.MAX_TEAM_NAME},
                                               "member_ids": {"type": "array", "items": {"type": "string"}}}}


def _principal(ctx: Ctx) -> Principal:
    assert ctx.principal is not None
    return ctx.principal


def _cursor(raw: str | None, view: str, sort: str | None) -> list[Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error) as err:
        raise InvalidInput("invalid cursor", code="invalid_cursor") from err
    order = sort or rules.native_sort(view)
    if not isinstance(data, dict) or data.get("v") != view or data.get("s") != order \
            or not rules.valid_cursor(data.get("k"), order):
        raise InvalidInput("this cursor belongs to another list or order", code="invalid_cursor")
    return list(data["k"])


def _encode(key: list[Any] | None, view: str, sort: str) -> str | None:
    if key is None:
        return None
    raw = json.dumps({"v": view, "s": sort, "k": key}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _limit(ctx: Ctx) -> int:
    raw = ctx.query("limit", "25") or "25"
    if not raw.isdigit() or not 1 <= int(raw) <= tasks.MAX_LIMIT:
        raise InvalidInput(f"limit must be 1..{tasks.MAX_LIMIT}", code="invalid_limit")
    return int(raw)


@route(bp, "/tasks", "GET", permission="tasks:read", tag="tasks", query=LIST_QUERY, response=PAGE,
       summary="Tasks: current / overdue / done; mine / a team's / all; sorted; paged by cursor")
def list_tasks(ctx: Ctx) -> dict[str, Any]:
    view = ctx.query("view") or "current"
    sort = ctx.query("sort") or None
    q = tasks.ListQuery(view=view, scope=ctx.query("scope") or "all", team_id=ctx.query("team") or None,
                        assignee=ctx.query("assignee") or None, sort=sort, limit=_limit(ctx),
                        cursor=_cursor(ctx.query("cursor"), view, sort))
    page = tasks.list_tasks(ctx.deps, _principal(ctx), q)
    now = ctx.deps.now()
    return {"items": [tasks.task_json(t, now) for t in page.items],
            "next_cursor": _encode(page.cursor, view, page.sort), "sort": page.sort, "team_id": page.team_id}


@route(bp, "/tasks", "POST", permission="tasks:write", tag="tasks", request=TASK_CREATE, response=TASK, status=201,
       summary="Create a task (standalone, from a conversation, or from a message: its text is quoted)")
def post_task(ctx: Ctx) -> dict[str, Any]:
    task = tasks.create_task(ctx.deps, _principal(ctx), json_object(ctx.request.raw_body))
    return tasks.detail_json(ctx.deps, ctx.workspace_id, task)


@route(bp, "/task-summary", "GET", permission="tasks:read", tag="tasks",
       summary="The top bar's badge: how many of my tasks are overdue (0 for API keys)",
       response={"type": "object", "properties": {"my_overdue": {"type": "integer"}}})
def task_summary(ctx: Ctx) -> dict[str, Any]:
    return {"my_overdue": tasks.my_overdue_count(ctx.deps, _principal(ctx))}


@route(bp, "/tasks/{task_id}", "GET", permission="tasks:read", tag="tasks", response=DETAIL,
       summary="One task with its history, comments and conversations")
def get_task(ctx: Ctx, task_id: str) -> dict[str, Any]:
    return tasks.detail_json(ctx.deps, ctx.workspace_id, tasks.require_task(ctx.workspace_id, task_id))


@route(bp, "/tasks/{task_id}", "PATCH", permission="tasks:write", tag="tasks", request=TASK_WRITE, response=DETAIL,
       summary="Change a task's fields or status (with `revision`: 409 stale when it changed meanwhile)")
def patch_task(ctx: Ctx, task_id: str) -> dict[str, Any]:
    task = tasks.update_task(ctx.deps, _principal(ctx), task_id, json_object(ctx.request.raw_body))
    return tasks.detail_json(ctx.deps, ctx.workspace_id, task)


@route(bp, "/tasks/{task_id}", "DELETE", permission="tasks:write", tag="tasks", status=204,
       summary="Delete a task (its number is not reused; the action log keeps it)")
def delete_task(ctx: Ctx, task_id: str) -> Response:
    tasks.delete_task(ctx.deps, _principal(ctx), task_id)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


@route(bp, "/tasks/{task_id}/comments", "POST", permission="tasks:write", tag="tasks", request=COMMENT, status=201,
       summary="Comment on a task (the assignee, watchers and creator are told)")
def post_comment(ctx: Ctx, task_id: str) -> dict[str, Any]:
    event = tasks.comment_task(ctx.deps, _principal(ctx), task_id, json_object(ctx.request.raw_body))
    return tasks.event_json(event)


@route(bp, "/tasks/{task_id}/escalate", "POST", permission="tasks:write", tag="tasks", request=ESCALATE,
       response=DETAIL, summary="Move a task to another team's queue with a note (the conversation links stay)")
def post_escalate(ctx: Ctx, task_id: str) -> dict[str, Any]:
    task = tasks.escalate_task(ctx.deps, _principal(ctx), task_id, json_object(ctx.request.raw_body))
    return tasks.detail_json(ctx.deps, ctx.workspace_id, task)


@route(bp, "/conversations/{conversation_id}/tasks", "GET", permission="tasks:read", tag="tasks",
       summary="The tasks linked to a conversation, newest first", response=PAGE)
def conversation_tasks(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    now = ctx.deps.now()
    found = tasks.tasks_of_conversation(ctx.workspace_id, conversation_id)
    return {"items": [tasks.task_json(t, now) for t in found], "next_cursor": None}


@route(bp, "/teams", "GET", permission="tasks:read", tag="tasks", summary="The workspace's teams (task queues)",
       response={"type": "object", "properties": {"items": {"type": "array", "items": TEAM}}})
def list_teams(ctx: Ctx) -> dict[str, Any]:
    from chalicelib.store import tasks as store

    teams = sorted(store.list_teams(ctx.workspace_id), key=lambda t: (t.name.casefold(), t.team_id))
    return {"items": [tasks.team_json(t) for t in teams], "next_cursor": None}


@route(bp, "/teams", "POST", permission="teams:manage", tag="tasks", request={**TEAM_WRITE, "required": ["name"]},
       response=TEAM, status=201, summary="Add a team (e.g. Engineering) with its members")
def post_team(ctx: Ctx) -> dict[str, Any]:
    return tasks.team_json(tasks.create_team(ctx.deps, _principal(ctx), json_object(ctx.request.raw_body)))


@route(bp, "/teams/{team_id}", "PATCH", permission="teams:manage", tag="tasks", request=TEAM_WRITE, response=TEAM,
       summary="Rename a team or change its members")
def patch_team(ctx: Ctx, team_id: str) -> dict[str, Any]:
    return tasks.team_json(tasks.update_team(ctx.deps, _principal(ctx), team_id,
                                             json_object(ctx.request.raw_body)))


@route(bp, "/teams/{team_id}", "DELETE", permission="teams:manage", tag="tasks", status=204,
       summary="Remove a team (409 while it has open tasks)")
def delete_team(ctx: Ctx, team_id: str) -> Response:
    tasks.delete_team(ctx.deps, _principal(ctx), team_id)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
