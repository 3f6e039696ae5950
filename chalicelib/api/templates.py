"""Reply templates (B7): everyone who reads conversations lists them; the administrator manages them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.services import templates
from chalicelib.store import repo

bp = Blueprint(__name__)

TEMPLATE = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
                   "shortcut": {"type": "string"}, "created_by": {"type": ["string", "null"]},
                   "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
}
TEMPLATE_WRITE = {
    "type": "object",
    "required": ["title", "text", "shortcut"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": templates.MAX_TITLE},
        "text": {"type": "string", "minLength": 1, "maxLength": templates.MAX_TEXT,
                 "description": "may hold {customer_name}, {operator_name}, {workspace_name}: the console fills them"},
        "shortcut": {"type": "string", "pattern": "^[a-z0-9_-]+$", "maxLength": templates.MAX_SHORTCUT,
                     "description": "typed after / in the reply box; unique in the workspace"},
    },
}
TEMPLATES = {"type": "object", "properties": {"items": {"type": "array", "items": TEMPLATE},
                                              "next_cursor": {"type": ["string", "null"]},
                                              "workspace_name": {"type": "string"}}}


@route(bp, "/templates", "GET", permission="conversations:read", tag="templates",
       summary="The workspace's reply templates, by shortcut", response=TEMPLATES)
def list_templates(ctx: Ctx) -> dict[str, Any]:
    items = templates.list_templates(ctx.workspace_id)
    workspace = repo.get_workspace(ctx.workspace_id)  # for {workspace_name}, filled in by the console
    return {"items": [templates.template_json(t) for t in items], "next_cursor": None,
            "workspace_name": workspace.name if workspace else ""}


@route(bp, "/templates", "POST", permission="workspace:admin", tag="templates",
       summary="Add a reply template (409 when the shortcut is taken)", request=TEMPLATE_WRITE, response=TEMPLATE,
       status=201)
def post_template(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    item = templates.create_template(ctx.deps, ctx.workspace_id, json_object(ctx.request.raw_body),
                                     created_by=ctx.principal.subject)
    return templates.template_json(item)


@route(bp, "/templates/{template_id}", "PUT", permission="workspace:admin", tag="templates",
       summary="Replace a reply template's title, text and shortcut", request=TEMPLATE_WRITE, response=TEMPLATE)
def put_template(ctx: Ctx, template_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    return templates.template_json(templates.update_template(ctx.deps, ctx.workspace_id, template_id, body))


@route(bp, "/templates/{template_id}", "DELETE", permission="workspace:admin", tag="templates",
       summary="Delete a reply template")
def delete_template(ctx: Ctx, template_id: str) -> dict[str, Any]:
    templates.delete_template(ctx.workspace_id, template_id)
    return {"id": template_id, "deleted": True}
