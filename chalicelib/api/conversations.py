"""Operator REST API: the inbox, one conversation, its messages, replies, notes, status and tags."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import contact_json, conversation_json, message_json
from chalicelib.domain import search
from chalicelib.domain.model import STATUSES, iso
from chalicelib.errors import InvalidInput
from chalicelib.services import forward, moderation, replies
from chalicelib.services import team as team_service
from chalicelib.store import repo

bp = Blueprint(__name__)
SNOOZED = "snoozed"  # services/snooze.py: listed like a status, set only by POST .../snooze

LIST_QUERY = {
    "status": {"type": "string", "default": "new",
               "description": f"{', '.join(STATUSES)} or one of the team's own (team settings: statuses)"},
    "channel_id": {"type": "string"}, "assignee": {"type": "string"},
    "unassigned": {"type": "boolean"}, "mine": {"type": "boolean", "description": "assigned to me (signed-in users)"},
    "tag": {"type": "string"}, "no_tag": {"type": "boolean"},
    "surface": {"enum": ["private", "comment"], "description": "comment: public comments only (B5)"},
    "q": {"type": "string", "minLength": 2, "maxLength": 100, "description": "search: customer name, @username, "
          "title, tags, last message (every status unless `status` is given; no cursor then)"},
    "overdue": {"type": "boolean", "description": "open conversations whose customer waits longer than the SLA, "
                "longest wait first (team settings: sla_minutes); no cursor"},
    "stale": {"type": "boolean", "description": "in progress with no activity for the team's stale_hours; no cursor"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
}


def _limit(ctx: Ctx, default: int = 25, maximum: int = 100) -> int:
    raw = ctx.query("limit", str(default)) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"limit must be 1..{maximum}")
    return int(raw)


def _flag(ctx: Ctx, name: str) -> bool:
    return (ctx.query(name) or "").lower() in ("1", "true", "yes")


@route(bp, "/conversations", "GET", permission="conversations:read", tag="conversations",
       summary="List conversations by status, newest activity first", query=LIST_QUERY,
       response=schemas.page_of(schemas.CONVERSATION))
def list_conversations(ctx: Ctx) -> dict[str, Any]:
    status = ctx.query("status")
    statuses = (*team_service.statuses_of(ctx.workspace_id), SNOOZED)
    if status is not None and status not in statuses:
        raise InvalidInput(f"status must be one of {', '.join(statuses)}")
    query = (ctx.query("q") or "").strip() or None
    if query is not None and not search.MIN_QUERY <= len(query) <= search.MAX_QUERY:
        raise InvalidInput(f"q must be {search.MIN_QUERY}..{search.MAX_QUERY} characters")
    if _flag(ctx, "overdue"):
        return _overdue(ctx, statuses)
    if _flag(ctx, "stale"):
        return _stale(ctx)
    assignee = ctx.query("assignee")
    if _flag(ctx, "mine"):
        if ctx.principal is None or not ctx.principal.user_id:
            raise InvalidInput("mine=1 needs a signed-in user; API keys have no conversations of their own")
        assignee = ctx.principal.user_id
    filters: dict[str, Any] = {"assignee": assignee, "unassigned": _flag(ctx, "unassigned"), "query": query,
                               "channel_id": ctx.query("channel_id"), "tag": ctx.query("tag"),
                               "no_tag": _flag(ctx, "no_tag"), "surface": _surface(ctx)}
    limit = _limit(ctx)
    if query is not None and status is None:  # a search looks in every status: the newest matches of all
        found = [c for s in statuses
                 for c in repo.query_inbox(ctx.workspace_id, status=s, limit=limit, cursor=None, **filters).items]
        found.sort(key=lambda c: c.last_activity_at, reverse=True)
        return {"items": [conversation_json(c) for c in found[:limit]], "next_cursor": None}
    try:
        page = repo.query_inbox(ctx.workspace_id, status=status or "new", limit=limit, cursor=ctx.query("cursor"),
                                **filters)
    except ValueError as err:
        raise InvalidInput("invalid cursor") from err
    return {"items": [conversation_json(c) for c in page.items], "next_cursor": page.cursor}


def _surface(ctx: Ctx) -> str | None:
    surface = ctx.query("surface") or None
    if surface not in (None, "private", "comment"):
        raise InvalidInput("surface must be private or comment")
    return surface


def _overdue(ctx: Ctx, statuses: tuple[str, ...]) -> dict[str, Any]:
    minutes = team_service.sla_minutes(ctx.workspace_id)
    cutoff = iso(ctx.deps.now() - timedelta(minutes=minutes))
    open_statuses = [s for s in statuses if s not in ("closed", SNOOZED)]
    found = repo.query_overdue(ctx.workspace_id, open_statuses, waiting_before=cutoff, limit=_limit(ctx))
    return {"items": [conversation_json(c) for c in found], "next_cursor": None, "sla_minutes": minutes}


def _stale(ctx: Ctx) -> dict[str, Any]:
    hours = team_service.stale_hours(ctx.workspace_id)
    if not hours:
        return {"items": [], "next_cursor": None, "stale_hours": 0}
    cutoff = iso(ctx.deps.now() - timedelta(hours=hours))
    found = repo.query_idle(ctx.workspace_id, "in_progress", active_before=cutoff, limit=_limit(ctx))
    return {"items": [conversation_json(c) for c in found], "next_cursor": None, "stale_hours": hours}


@route(bp, "/conversations/{conversation_id}", "GET", permission="conversations:read", tag="conversations",
       summary="One conversation with its client card", response=schemas.CONVERSATION)
def get_conversation(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    conv = repo.require_conversation(ctx.workspace_id, conversation_id)
    contact = repo.get_contact(ctx.workspace_id, conv.contact_id)
    identities, history = repo.contact_history(ctx.workspace_id, conv.contact_id) if contact else ([], [])
    return {
        **conversation_json(conv),
        "contact": contact_json(contact, identities) if contact else None,
        "history": [conversation_json(c) for c in history if c.conversation_id != conversation_id],
    }


@route(bp, "/conversations/{conversation_id}/messages", "GET", permission="conversations:read",
       tag="conversations", summary="Messages, newest first; `before` pages back, `after` catches up",
       query={"before": {"type": "string"}, "after": {"type": "string"},
              "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
       response=schemas.page_of(schemas.MESSAGE))
def list_messages(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    repo.require_conversation(ctx.workspace_id, conversation_id)
    items, cursor = repo.list_messages(ctx.workspace_id, conversation_id, limit=_limit(ctx, 50, 200),
                                       before=ctx.query("before"), after=ctx.query("after"))
    return {"items": [message_json(m, ctx.deps.files) for m in items], "next_cursor": cursor}


@route(bp, "/conversations/{conversation_id}/replies", "POST", permission="conversations:reply",
       tag="conversations", summary="Answer the customer (sent through the channel from the stream)",
       request=schemas.REPLY, response=schemas.MESSAGE, status=202)
def post_reply(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    req = replies.parse_reply(json_object(ctx.request.raw_body))
    message = replies.send_reply(ctx.deps, ctx.principal, conversation_id, req)  # type: ignore[arg-type]
    return message_json(message, ctx.deps.files)


@route(bp, "/replies/bulk", "POST", permission="conversations:reply", tag="conversations",
       summary="One answer to several comments or conversations at once (B5); retry-safe with request_id",
       request={"type": "object", "required": ["request_id", "items"], "properties": {
           "request_id": {"type": "string", "description": "the client's id, the same on every retry"},
           "items": {"type": "array", "maxItems": 50, "items": {"type": "object", "properties": {
               "conversation_id": {"type": "string"}, "reply_to": {"type": ["string", "null"]}}}},
           "text": {"type": "string"}, "private": {"type": "boolean"}}}, status=202)
def post_bulk_reply(ctx: Ctx) -> dict[str, Any]:
    return replies.bulk_reply(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))  # type: ignore[arg-type]


@route(bp, "/conversations/{conversation_id}/notes", "POST", permission="conversations:manage",
       tag="conversations", summary="Internal note, never sent to the customer", request=schemas.NOTE,
       response=schemas.MESSAGE, status=201)
def post_note(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    note = replies.add_note(ctx.deps, ctx.principal, conversation_id, body.get("text"))  # type: ignore[arg-type]
    return message_json(note, ctx.deps.files)


@route(bp, "/conversations/{conversation_id}", "PATCH", permission="conversations:manage",
       tag="conversations", summary="Change status and/or tags", request=schemas.CONVERSATION_PATCH,
       response=schemas.CONVERSATION)
def patch_conversation(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    conv = replies.update_conversation(ctx.deps, ctx.principal, conversation_id, body)  # type: ignore[arg-type]
    return conversation_json(conv)


@route(bp, "/conversations/{conversation_id}/read", "POST", permission="conversations:manage",
       tag="conversations", summary="Mark the conversation read (unread count to zero)",
       response=schemas.CONVERSATION)
def post_read(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    return conversation_json(replies.mark_read(ctx.deps, ctx.principal, conversation_id))  # type: ignore[arg-type]


@route(bp, "/conversations/{conversation_id}/messages/{message_id}", "PATCH", permission="conversations:reply",
       tag="conversations", summary="Edit our sent reply where the channel allows (carried out from the stream)",
       request={"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
       response=schemas.MESSAGE, status=202)
def patch_message(ctx: Ctx, conversation_id: str, message_id: str) -> dict[str, Any]:
    text = json_object(ctx.request.raw_body).get("text")
    message = moderation.request_edit(ctx.deps, ctx.principal, conversation_id, message_id, text)  # type: ignore[arg-type]
    return message_json(message, ctx.deps.files)


@route(bp, "/conversations/{conversation_id}/messages/{message_id}", "DELETE", permission="messages:moderate",
       tag="conversations", response=schemas.MESSAGE, status=202,
       summary="Delete our sent reply, or a customer's public comment, where the channel allows")
def delete_message(ctx: Ctx, conversation_id: str, message_id: str) -> dict[str, Any]:
    message = moderation.request_delete(ctx.deps, ctx.principal, conversation_id, message_id)  # type: ignore[arg-type]
    return message_json(message, ctx.deps.files)


@route(bp, "/conversations/{conversation_id}/messages/{message_id}/hide", "POST", permission="messages:moderate",
       tag="conversations", request=schemas.MESSAGE_HIDE, response=schemas.MESSAGE, status=202,
       summary="Hide a customer's public comment from everyone but its author, or unhide it (Facebook, Instagram)")
def post_hide(ctx: Ctx, conversation_id: str, message_id: str) -> dict[str, Any]:
    hidden = json_object(ctx.request.raw_body).get("hidden")
    message = moderation.request_hide(ctx.deps, ctx.principal, conversation_id, message_id, hidden)  # type: ignore[arg-type]
    return message_json(message, ctx.deps.files)


@route(bp, "/conversations/{conversation_id}/block", "POST", permission="messages:moderate", tag="conversations",
       summary="Block or unblock the customer (denylist; the provider's block where it has one)",
       request={"type": "object", "required": ["blocked"], "properties": {"blocked": {"type": "boolean"}}})
def post_block(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    return moderation.block(ctx.deps, ctx.principal, conversation_id, body.get("blocked"))  # type: ignore[arg-type]


@route(bp, "/conversations/{conversation_id}/messages/{message_id}/retry", "POST",
       permission="conversations:reply", tag="conversations", summary="Send a failed reply again",
       response=schemas.MESSAGE, status=202)
def post_retry(ctx: Ctx, conversation_id: str, message_id: str) -> dict[str, Any]:
    message = replies.retry(ctx.deps, ctx.principal, conversation_id, message_id)  # type: ignore[arg-type]
    return message_json(message, ctx.deps.files)


FORWARD = {
    "type": "object", "required": ["to", "request_id"],
    "properties": {
        "to": {"type": "array", "minItems": 1, "maxItems": forward.MAX_RECIPIENTS,
               "items": {"type": "string", "format": "email"}},
        "note": {"type": "string", "maxLength": forward.MAX_NOTE, "description": "put above the transcript"},
        "request_id": {"type": "string", "minLength": 8, "maxLength": 100,
                       "description": "the same on every retry: the mail goes out once"},
    },
}


@route(bp, "/conversations/{conversation_id}/forward", "POST", permission="conversations:reply",
       tag="conversations", summary="Forward the conversation by e-mail (B11): the transcript to 1-5 addresses",
       request=FORWARD, response=schemas.MESSAGE, status=201)
def forward_conversation(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    note = forward.forward(ctx.deps, ctx.principal, conversation_id,  # type: ignore[arg-type]
                           json_object(ctx.request.raw_body))
    return message_json(note, ctx.deps.files)


@route(bp, "/uploads", "POST", permission="conversations:reply", tag="conversations",
       summary="Upload an attachment for a reply (base64 in JSON, up to 10 MB)", request=schemas.UPLOAD,
       status=201, max_body=14 * 1024 * 1024)
def post_upload(ctx: Ctx) -> dict[str, Any]:
    return replies.store_upload(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))  # type: ignore[arg-type]
