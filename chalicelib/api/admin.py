"""Administration: stream records that kept failing (parked), and who am I."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Ctx, route
from chalicelib.auth.permissions import ACTIONS, allowed
from chalicelib.store import repo

bp = Blueprint(__name__)


@route(bp, "/admin/parked", "GET", permission="workspace:admin", tag="admin",
       summary="Stream records that failed every retry and were set aside")
def list_parked(ctx: Ctx) -> dict[str, Any]:
    items = []
    for item in repo.list_parked(ctx.workspace_id):
        record = json.loads(item.record)
        items.append({"id": item.sk, "source": item.source, "error": item.error, "parked_at": item.created_at,
                      "event_name": record.get("eventName"),
                      "keys": record.get("dynamodb", {}).get("Keys")})
    return {"items": items, "next_cursor": None}


@route(bp, "/me", "GET", permission="conversations:read", tag="admin",
       summary="The caller: workspace, role and what the role allows")
def get_me(ctx: Ctx) -> dict[str, Any]:
    p = ctx.principal
    assert p is not None
    me: dict[str, Any] = {"workspace_id": p.workspace_id, "role": p.role, "subject": p.subject, "name": p.name,
                          "user_id": p.user_id or None, "email": p.email or None, "via": p.via,
                          "permissions": sorted(a for a in ACTIONS if allowed(p.role, a)), "workspaces": []}
    if p.user_id:
        from chalicelib.auth.signin import me as signed_in

        me["workspaces"] = signed_in(p.user_id)["workspaces"]
    return me


EXPORT = {"type": "object", "required": ["url", "items", "files"], "properties": {
    "url": {"type": "string", "description": "a short-lived link to the JSON-lines file"},
    "file_name": {"type": "string"}, "items": {"type": "integer"}, "users": {"type": "integer"},
    "files": {"type": "integer"}, "bytes": {"type": "integer"}}}


@route(bp, "/admin/export", "POST", permission="workspace:admin", tag="admin", status=201, response=EXPORT,
       summary="Export the whole workspace as JSON lines with its files (I2); answers a short-lived link")
def post_export(ctx: Ctx) -> dict[str, Any]:
    from chalicelib.services import backups

    return backups.export_to_storage(ctx.deps, ctx.workspace_id)
