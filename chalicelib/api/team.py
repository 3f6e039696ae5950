"""The team API: members and roles, invites, API keys, team settings, my notification settings, presence,
claims and hand-overs, and the action log with the lead's review of one operator (D2-D6)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import conversation_json
from chalicelib.errors import InvalidInput
from chalicelib.services import assignment, audit, presence
from chalicelib.services import team as team_service
from chalicelib.store import repo, team

bp = Blueprint(__name__)

MEMBER = {"type": "object", "properties": {
    "user_id": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"},
    "role": {"enum": ["readonly", "moderator", "operator", "analyst", "admin"]},
    "capacity": {"type": ["integer", "null"]}, "presence": {"type": "object"}}}
MEMBER_PATCH = {"type": "object", "properties": {"role": MEMBER["properties"]["role"],  # type: ignore[index]
                                                 "capacity": {"type": ["integer", "null"]}}}
INVITE_CREATE = {"type": "object", "required": ["email", "role"], "properties": {
    "email": {"type": "string"}, "role": MEMBER["properties"]["role"],  # type: ignore[index]
    "valid_days": {"type": "integer", "minimum": 1, "maximum": 30}}}
KEY_CREATE = {"type": "object", "required": ["name", "role"], "properties": {
    "name": {"type": "string"}, "role": MEMBER["properties"]["role"]}}  # type: ignore[index]
SETTINGS = {"type": "object", "properties": {
    "round_robin": {"type": "boolean"}, "default_capacity": {"type": "integer", "minimum": 0},
    "sla_minutes": {"type": "integer", "minimum": 1, "maximum": 10080, "default": 30,
                    "description": "a customer waiting longer than this for an answer is overdue"},
    "statuses": {"type": "array", "maxItems": 10, "description": "the team's own statuses beside new / "
                 "in_progress / closed (removing one still in use: 409 status_in_use)", "items": {
                     "type": "object", "required": ["id", "label"], "properties": {
                         "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,29}$"},
                         "label": {"type": "string", "maxLength": 40}}}},
    "sla_policies": {"type": "array", "maxItems": 20, "description": "first match wins (channel and/or tag; "
                     "empty lists match any); otherwise sla_minutes for both targets", "items": {
                         "type": "object", "required": ["first_response_minutes"], "properties": {
                             "id": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
                             "name": {"type": "string", "maxLength": 80},
                             "channel_ids": {"type": "array", "items": {"type": "string"}},
                             "tags": {"type": "array", "items": {"type": "string"}},
                             "first_response_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                             "next_response_minutes": {"type": "integer", "minimum": 1, "maximum": 10080}}}},
    "working_hours": {"type": ["object", "null"], "description": "null: always open. Outside the hours a "
                      "customer gets the off-hours message (once per conversation per closed period)",
                      "properties": {
                          "time_zone": {"type": "string", "description": "IANA, e.g. Europe/Moscow"},
                          "week": {"type": "object", "description": "mon..sun: [[HH:MM, HH:MM], ...]; 24:00 ends "
                                   "a day", "additionalProperties": {"type": "array", "items": {
                                       "type": "array", "items": {"type": "string"}}}},
                          "holidays": {"type": "array", "items": {"type": "string", "format": "date"}}}},
    "stale_hours": {"type": "integer", "minimum": 0, "maximum": 720, "default": 24,
                    "description": "in progress with no activity this long is stale (E4); 0: never"},
    "off_hours_messages": {"type": "object", "properties": {"ru": {"type": "string", "maxLength": 1000},
                                                            "en": {"type": "string", "maxLength": 1000}}}}}
NOTIFICATIONS = {"type": "object", "properties": {
    "events": {"type": "object", "additionalProperties": {"type": "array", "items": {"enum": ["console", "email"]}}},
    "email_mode": {"enum": ["instant", "digest"], "description": "digest: one e-mail an hour"},
    "quiet_hours": {"type": ["object", "null"], "description": "no e-mail meanwhile; held until the end",
                    "properties": {"start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                                   "end": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                                   "time_zone": {"type": "string", "description": "IANA, e.g. Europe/Moscow"}}}}}
ASSIGN = {"type": "object", "required": ["assignee_id"], "properties": {
    "assignee_id": {"type": ["string", "null"]}, "note": {"type": "string"}}}
AUDIT_QUERY = {
    "actor": {"type": "string", "description": "user id, or user:<id> / key:<id> / system:<what>"},
    "conversation_id": {"type": "string"}, "action": {"type": "string", "description": "comma-separated"},
    "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "cursor": {"type": "string"},
}


def _no_content() -> Response:
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


def _body(ctx: Ctx) -> dict[str, Any]:
    return json_object(ctx.request.raw_body)


# --- members, invites, API keys, settings -----------------------------------------------------------------


@route(bp, "/members", "GET", permission="conversations:read", tag="team",
       summary="The workspace's members: role, capacity, presence (online / away / offline, viewing)")
def list_members(ctx: Ctx) -> dict[str, Any]:
    return {"items": team_service.list_members(ctx.deps, ctx.principal), "next_cursor": None}  # type: ignore[arg-type]


@route(bp, "/members/{user_id}", "PATCH", permission="workspace:admin", tag="team", request=MEMBER_PATCH,
       response=MEMBER, summary="Change a member's role or capacity (the last admin stays admin)")
def patch_member(ctx: Ctx, user_id: str) -> dict[str, Any]:
    return team_service.update_member(ctx.deps, ctx.principal, user_id, _body(ctx))  # type: ignore[arg-type]


@route(bp, "/members/{user_id}", "DELETE", permission="workspace:admin", tag="team", status=204,
       summary="Remove a member: their sessions end at once")
def delete_member(ctx: Ctx, user_id: str) -> Response:
    team_service.remove_member(ctx.deps, ctx.principal, user_id)  # type: ignore[arg-type]
    return _no_content()


@route(bp, "/invites", "GET", permission="workspace:admin", tag="team", summary="Invitations, newest first")
def list_invites(ctx: Ctx) -> dict[str, Any]:
    return {"items": team_service.list_invites(ctx.principal), "next_cursor": None}  # type: ignore[arg-type]


@route(bp, "/invites", "POST", permission="workspace:admin", tag="team", request=INVITE_CREATE, status=201,
       summary="Invite by e-mail with a role (single use, expires after valid_days, 7 by default)")
def post_invite(ctx: Ctx) -> dict[str, Any]:
    return team_service.create_invite(ctx.deps, ctx.principal, _body(ctx))  # type: ignore[arg-type]


@route(bp, "/invites/{invite_id}", "DELETE", permission="workspace:admin", tag="team",
       summary="Revoke a pending invitation")
def delete_invite(ctx: Ctx, invite_id: str) -> dict[str, Any]:
    return team_service.revoke_invite(ctx.deps, ctx.principal, invite_id)  # type: ignore[arg-type]


@route(bp, "/api-keys", "GET", permission="workspace:admin", tag="team",
       summary="API keys of the workspace (never the secret)")
def list_api_keys(ctx: Ctx) -> dict[str, Any]:
    return {"items": team_service.list_api_keys(ctx.principal), "next_cursor": None}  # type: ignore[arg-type]


@route(bp, "/api-keys", "POST", permission="workspace:admin", tag="team", request=KEY_CREATE, status=201,
       summary="Create an API key with a role (for a CRM): the key is shown once, only its hash is kept")
def post_api_key(ctx: Ctx) -> dict[str, Any]:
    return team_service.create_key(ctx.deps, ctx.principal, _body(ctx))  # type: ignore[arg-type]


@route(bp, "/api-keys/{key_id}", "DELETE", permission="workspace:admin", tag="team",
       summary="Revoke an API key (refused from the next request on)")
def delete_api_key(ctx: Ctx, key_id: str) -> dict[str, Any]:
    return team_service.revoke_key(ctx.deps, ctx.principal, key_id)  # type: ignore[arg-type]


@route(bp, "/team/settings", "GET", permission="conversations:read", tag="team", response=SETTINGS,
       summary="Round-robin distribution, the default capacity and the answer-time SLA")
def get_team_settings(ctx: Ctx) -> dict[str, Any]:
    return team_service.get_settings(ctx.principal)  # type: ignore[arg-type]


@route(bp, "/team/settings", "PUT", permission="workspace:admin", tag="team", request=SETTINGS, response=SETTINGS,
       summary="Turn round-robin on or off; set the default capacity (open conversations per operator) and the SLA")
def put_team_settings(ctx: Ctx) -> dict[str, Any]:
    return team_service.put_settings(ctx.deps, ctx.principal, _body(ctx))  # type: ignore[arg-type]


@route(bp, "/me/notifications", "GET", permission="conversations:read", tag="team", response=NOTIFICATIONS,
       summary="My notification settings in this workspace: which events, console and/or e-mail, digest, quiet hours")
def get_notifications(ctx: Ctx) -> dict[str, Any]:
    return team_service.get_notifications(ctx.principal)  # type: ignore[arg-type]


@route(bp, "/me/notifications", "PUT", permission="conversations:read", tag="team", request=NOTIFICATIONS,
       response=NOTIFICATIONS, summary="Change my notification settings in this workspace")
def put_notifications(ctx: Ctx) -> dict[str, Any]:
    return team_service.put_notifications(ctx.principal, _body(ctx))  # type: ignore[arg-type]


@route(bp, "/presence", "GET", permission="conversations:read", tag="team",
       summary="Who is online / away and which conversation each is viewing")
def get_presence(ctx: Ctx) -> dict[str, Any]:
    seen = presence.workspace_presence(ctx.workspace_id, ctx.deps.now())
    return {"items": [s.json() for s in seen], "next_cursor": None}


# --- assignment --------------------------------------------------------------------------------------------


@route(bp, "/conversations/{conversation_id}/claim", "POST", permission="conversations:reply",
       tag="conversations", summary="Take the conversation; 409 already_assigned names who has it")
def post_claim(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    return conversation_json(assignment.claim(ctx.deps, ctx.principal, conversation_id))  # type: ignore[arg-type]


@route(bp, "/conversations/{conversation_id}/assign", "POST", permission="conversations:assign",
       tag="conversations", request=ASSIGN,
       summary="Hand over to a colleague with a note (or back to the queue: assignee_id null)")
def post_assign(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    conv = assignment.assign(ctx.deps, ctx.principal, conversation_id, _body(ctx))  # type: ignore[arg-type]
    return conversation_json(conv)


# --- the action log ----------------------------------------------------------------------------------------


def _limit(ctx: Ctx, default: int, maximum: int) -> int:
    raw = ctx.query("limit", str(default)) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"limit must be 1..{maximum}")
    return int(raw)


def _actor(value: str | None) -> str | None:
    if not value:
        return None
    return value if ":" in value else f"user:{value}"


def _names(ws: str) -> dict[str, str]:
    return {f"user:{m.user_id}": m.name or m.email for m in team.list_members(ws)}


@route(bp, "/audit", "GET", permission="audit:read", tag="audit", query=AUDIT_QUERY,
       summary="The action log, newest first: replies, edits, deletes, status, tags, notes, assignment, admin changes")
def list_audit(ctx: Ctx) -> dict[str, Any]:
    actions = [a.strip() for a in (ctx.query("action") or "").split(",") if a.strip()]
    unknown = set(actions) - set(audit.ACTIONS)
    if unknown:
        raise InvalidInput(f"unknown action {sorted(unknown)[0]!r}")
    try:
        page = team.query_audit(ctx.workspace_id, actor=_actor(ctx.query("actor")),
                                conversation_id=ctx.query("conversation_id"), actions=actions,
                                since=ctx.query("since"), until=ctx.query("until"), limit=_limit(ctx, 50, 200),
                                cursor=ctx.query("cursor"))
    except ValueError as err:
        raise InvalidInput("invalid cursor") from err
    names = _names(ctx.workspace_id)
    return {"items": [audit.entry_json(i, names) for i in page.items], "next_cursor": page.cursor}


@route(bp, "/audit/review", "GET", permission="audit:read", tag="audit",
       query={"user_id": {"type": "string"}, "since": {"type": "string", "format": "date-time"}},
       summary="The lead's review of one operator: their actions and the conversations they handled")
def get_review(ctx: Ctx) -> dict[str, Any]:
    ws, user_id = ctx.workspace_id, ctx.query("user_id") or ""
    member = team.get_member(ws, user_id) if user_id and len(user_id) <= 100 else None
    if member is None:
        raise InvalidInput("user_id must name a member of this workspace")
    page = team.query_audit(ws, actor=f"user:{user_id}", conversation_id=None, actions=None,
                            since=ctx.query("since"), until=None, limit=200, cursor=None)
    replies: dict[str, int] = {}
    for item in page.items:
        if item.conversation_id:
            replies[item.conversation_id] = replies.get(item.conversation_id, 0) + (item.action == "reply")
    handled = []
    for conv_id in list(replies)[:50]:
        conv = repo.get_conversation(ws, conv_id)
        if conv is not None:
            handled.append({**conversation_json(conv), "replies_by_them": replies[conv_id]})
    names = _names(ws)
    return {"member": team_service.member_json(member),
            "actions": [audit.entry_json(i, names) for i in page.items],
            "conversations": handled,
            "assigned": [conversation_json(c) for c in repo.conversations_of_assignee(ws, user_id, limit=100)]}
