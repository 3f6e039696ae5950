"""The bell (D3): a signed-in user's notifications in this workspace, and marking them read."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.errors import InvalidInput
from chalicelib.services import notifications

bp = Blueprint(__name__)

NOTIFICATION = {"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"},
    "link": {"type": "object", "additionalProperties": {"type": "string"}},
    "actor": {"type": ["string", "null"]}, "created_at": {"type": "string"}, "read": {"type": "boolean"},
    "text_key": {"type": ["string", "null"], "description": "the console shows ntitle_<text_key> in its language"},
    "params": {"type": "object", "additionalProperties": {"type": "string"}}}}
LIST = {"type": "object", "properties": {"items": {"type": "array", "items": NOTIFICATION},
                                         "unread": {"type": "integer", "description": "counted up to 100"},
                                         "next": {"type": ["string", "null"]}}}
READ = {"type": "object", "properties": {
    "ids": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
    "all": {"type": "boolean", "description": "every unread notification"}}}
READ_RESULT = {"type": "object", "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}}}


def _user(ctx: Ctx) -> str:
    assert ctx.principal is not None
    if not ctx.principal.user_id:
        raise InvalidInput("notifications belong to a signed-in user, not to an API key", code="user_required")
    return ctx.principal.user_id


@route(bp, "/notifications", "GET", permission="conversations:read", tag="notifications", response=LIST,
       summary="My notifications in this workspace, newest first, with the unread count",
       query={"before": {"type": "string", "description": "the `next` of the previous page"},
              "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30}})
def list_notifications(ctx: Ctx) -> dict[str, Any]:
    raw_limit = ctx.query("limit") or str(notifications.PAGE)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise InvalidInput("limit is 1..100")
    return notifications.list_mine(ctx.workspace_id, _user(ctx), before=ctx.query("before"), limit=int(raw_limit))


@route(bp, "/notifications/read", "POST", permission="conversations:read", tag="notifications", request=READ,
       response=READ_RESULT, summary="Mark notifications read: the ids given, or all of them")
def read_notifications(ctx: Ctx) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    ids = body.get("ids")
    if body.get("all") is True:
        return notifications.mark_read(ctx.deps, ctx.workspace_id, _user(ctx), None)
    if not isinstance(ids, list) or not ids or len(ids) > 100 or not all(isinstance(i, str) and i for i in ids):
        raise InvalidInput("send ids: [1..100 notification ids] or all: true")
    return notifications.mark_read(ctx.deps, ctx.workspace_id, _user(ctx), ids)
