"""Automation routes (E4, E5): snooze a conversation, my reminders, outgoing webhooks."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import conversation_json
from chalicelib.services import rules, snooze, webhooks_out

bp = Blueprint(__name__)

SNOOZE = {"type": "object", "required": ["until"], "properties": {
    "until": {"type": ["string", "null"], "format": "date-time",
              "description": "back in the queue then (up to 90 days); null wakes it now"}}}
REMINDER_WRITE = {"type": "object", "required": ["at"], "properties": {
    "at": {"type": "string", "format": "date-time"}, "note": {"type": "string", "maxLength": 500}}}
REMINDER = {"type": "object", "properties": {"id": {"type": "string"}, "conversation_id": {"type": "string"},
                                             "at": {"type": "string"}, "note": {"type": "string"}}}


@route(bp, "/conversations/{conversation_id}/snooze", "POST", permission="conversations:manage",
       tag="conversations", request=SNOOZE, summary="Snooze until a time (the customer's message wakes it early)")
def post_snooze(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    if "until" not in body:
        from chalicelib.errors import InvalidInput

        raise InvalidInput("send until: a time, or null to wake it now")
    assert ctx.principal is not None
    return conversation_json(snooze.snooze(ctx.deps, ctx.principal, conversation_id, body["until"]))


@route(bp, "/conversations/{conversation_id}/reminders", "POST", permission="conversations:manage",
       tag="conversations", request=REMINDER_WRITE, response=REMINDER, status=201,
       summary="Remind me of this conversation at a time (through my notifications)")
def post_reminder(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return snooze.add_reminder(ctx.deps, ctx.principal, conversation_id, json_object(ctx.request.raw_body))


@route(bp, "/reminders", "GET", permission="conversations:read", tag="conversations",
       response={"type": "object", "properties": {"items": {"type": "array", "items": REMINDER}}},
       summary="My reminders in this workspace, soonest first")
def list_reminders(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    return {"items": snooze.reminders_of(ctx.principal)}


@route(bp, "/reminders/{reminder_id}", "DELETE", permission="conversations:manage", tag="conversations",
       status=204, summary="Cancel one of my reminders")
def delete_reminder(ctx: Ctx, reminder_id: str) -> Response:
    assert ctx.principal is not None
    snooze.delete_reminder(ctx.principal, reminder_id)
    return Response(body="", status_code=204)


# --- outgoing webhooks (E5) ------------------------------------------------------------------------------------

HOOK = {"type": "object", "properties": {
    "id": {"type": "string"}, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
    "description": {"type": "string"}, "enabled": {"type": "boolean"}, "disabled_reason": {"type": ["string", "null"]},
    "failed_in_a_row": {"type": "integer"}, "created_at": {"type": "string"},
    "secret": {"type": "string", "description": "only in the answer to the create: sign-checking secret"}}}
HOOK_WRITE = {"type": "object", "properties": {
    "url": {"type": "string", "description": "https:// (http and loopback only in embedded mode); never a private, "
            "link-local or metadata address (422 url_refused)"},
    "events": {"type": "array", "items": {"enum": sorted(webhooks_out.rules.EVENTS)}},
    "description": {"type": "string", "maxLength": 200}, "enabled": {"type": "boolean"}}}
DELIVERY = {"type": "object", "properties": {
    "id": {"type": "string"}, "event": {"type": "string"},
    "state": {"enum": ["pending", "sending", "retrying", "delivered", "failed", "cancelled"]},
    "attempts": {"type": "integer"}, "created_at": {"type": "string"}, "last_attempt_at": {"type": ["string", "null"]},
    "next_attempt_at": {"type": ["string", "null"]}, "last_status": {"type": ["integer", "null"]},
    "last_error": {"type": ["string", "null"]}, "delivered_at": {"type": ["string", "null"]}}}


@route(bp, "/outgoing-webhooks", "GET", permission="workspace:admin", tag="webhooks-out",
       response={"type": "object", "properties": {"items": {"type": "array", "items": HOOK},
                                                  "events": {"type": "object"}}},
       summary="The workspace's outgoing webhooks (secrets never shown again) and the events one can choose")
def list_hooks(ctx: Ctx) -> dict[str, Any]:
    items = webhooks_out.store.list_hooks(ctx.workspace_id)
    return {"items": [webhooks_out.hook_json(h) for h in items], "events": webhooks_out.rules.EVENTS}


@route(bp, "/outgoing-webhooks", "POST", permission="workspace:admin", tag="webhooks-out", request=HOOK_WRITE,
       response=HOOK, status=201, summary="Subscribe a URL to events; the answer carries the signing secret once")
def post_hook(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    return webhooks_out.create(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))


@route(bp, "/outgoing-webhooks/{hook_id}", "PATCH", permission="workspace:admin", tag="webhooks-out",
       request=HOOK_WRITE, response=HOOK, summary="Change the URL or events, or switch it on / off")
def patch_hook(ctx: Ctx, hook_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return webhooks_out.update(ctx.deps, ctx.principal, hook_id, json_object(ctx.request.raw_body))


@route(bp, "/outgoing-webhooks/{hook_id}", "DELETE", permission="workspace:admin", tag="webhooks-out", status=204,
       summary="Remove an outgoing webhook")
def delete_hook(ctx: Ctx, hook_id: str) -> Response:
    assert ctx.principal is not None
    webhooks_out.remove(ctx.principal, hook_id)
    return Response(body="", status_code=204)


@route(bp, "/outgoing-webhooks/{hook_id}/deliveries", "GET", permission="workspace:admin", tag="webhooks-out",
       response={"type": "object", "properties": {"items": {"type": "array", "items": DELIVERY}}},
       summary="The newest deliveries: state, attempts, the receiver's last answer")
def list_deliveries(ctx: Ctx, hook_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return {"items": webhooks_out.deliveries(ctx.principal, hook_id)}


@route(bp, "/outgoing-webhooks/{hook_id}/deliveries/{delivery_id}/redeliver", "POST", permission="workspace:admin",
       tag="webhooks-out", response=DELIVERY, summary="Send a delivered or failed delivery again")
def post_redeliver(ctx: Ctx, hook_id: str, delivery_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return webhooks_out.redeliver(ctx.principal, hook_id, delivery_id)


@route(bp, "/outgoing-webhooks/{hook_id}/ping", "POST", permission="workspace:admin", tag="webhooks-out",
       status=202, summary="Send a test delivery (event ping)")
def post_ping(ctx: Ctx, hook_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return webhooks_out.ping(ctx.deps, ctx.principal, hook_id)


# --- rules (E3) ------------------------------------------------------------------------------------------------

_ITEM = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "value": {}}}
RULE = {"type": "object", "properties": {
    "id": {"type": "string"}, "name": {"type": "string", "maxLength": 80}, "enabled": {"type": "boolean"},
    "position": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "rules run in this order"},
    "when": {"type": "object", "required": ["trigger"], "properties": {
        "trigger": {"enum": list(rules.domain.TRIGGERS)},
        "minutes": {"type": "integer", "minimum": 1, "maximum": 10080, "description": "no_answer only"},
        "tag": {"type": "string", "description": "tag_added only: which tag (empty: any)"}}},
    "match": {"enum": ["all", "any"]},
    "conditions": {"type": "array", "maxItems": 20, "items": _ITEM,
                   "description": f"type: {', '.join(rules.domain.CONDITIONS)}"},
    "actions": {"type": "array", "minItems": 1, "maxItems": 10, "items": _ITEM,
                "description": f"type: {', '.join(rules.domain.ACTIONS)}"}}}
DRY_RUN = {"type": "object", "required": ["rule"], "properties": {
    "rule": RULE, "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}}
DRY_RESULT = {"type": "object", "properties": {"checked": {"type": "integer"}, "matched": {"type": "array", "items": {
    "type": "object", "properties": {"conversation_id": {"type": "string"}, "contact_name": {"type": "string"},
                                     "status": {"type": "string"}, "text": {"type": "string"},
                                     "actions": {"type": "array", "items": {"type": "string"}}}}}}}


@route(bp, "/rules", "GET", permission="workspace:admin", tag="rules",
       response={"type": "object", "properties": {"items": {"type": "array", "items": RULE}}},
       summary="The workspace's automation rules, in the order they run")
def list_rules(ctx: Ctx) -> dict[str, Any]:
    return {"items": rules.list_json(ctx.workspace_id)}


@route(bp, "/rules", "POST", permission="workspace:admin", tag="rules", request=RULE, response=RULE, status=201,
       summary="Add a rule (checked whole: unknown users, templates, webhooks or unsafe regexes are refused)")
def post_rule(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    return rules.create(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))


@route(bp, "/rules/{rule_id}", "PATCH", permission="workspace:admin", tag="rules", request=RULE, response=RULE,
       summary="Change a rule: any of its fields, enabled, position")
def patch_rule(ctx: Ctx, rule_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    return rules.update(ctx.deps, ctx.principal, rule_id, json_object(ctx.request.raw_body))


@route(bp, "/rules/{rule_id}", "DELETE", permission="workspace:admin", tag="rules", status=204,
       summary="Remove a rule")
def delete_rule(ctx: Ctx, rule_id: str) -> Response:
    assert ctx.principal is not None
    rules.delete(ctx.principal, rule_id)
    return Response(body="", status_code=204)


@route(bp, "/rules/dry-run", "POST", permission="workspace:admin", tag="rules", request=DRY_RUN,
       response=DRY_RESULT, summary="Which of the last N conversations a rule would have matched (changes nothing)")
def post_dry_run(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    return rules.dry_run(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))
