"""Automation routes (E4, E5): snooze a conversation, my reminders, outgoing webhooks."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import conversation_json
from chalicelib.services import snooze

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
