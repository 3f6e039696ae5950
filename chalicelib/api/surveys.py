"""CSAT and NPS surveys (G4): the workspace's results (analysts and admins: `analytics:read`), one conversation's
rating (whoever reads conversations: `conversations:read`), and the settings (read: `conversations:read`, change:
`workspace:admin`). The widget's stars are answered through api/widget.py."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.domain import surveys as rules
from chalicelib.services import surveys
from chalicelib.store import repo

bp = Blueprint(__name__)

SURVEY = {"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"enum": list(rules.KINDS)}, "conversation_id": {"type": ["string", "null"]},
    "channel_id": {"type": "string"}, "channel_kind": {"type": "string"}, "contact_id": {"type": "string"},
    "operator_id": {"type": ["string", "null"], "description": "the conversation's assignee when it closed"},
    "state": {"enum": ["pending", "sent", "answered", "expired", "failed"]},
    "score": {"type": ["integer", "null"], "description": "CSAT 1-5, NPS 0-10"},
    "comment": {"type": ["string", "null"]}, "created_at": {"type": ["string", "null"]},
    "sent_at": {"type": ["string", "null"]}, "answered_at": {"type": ["string", "null"]},
    "answered_via": {"type": ["string", "null"], "description": "button | text | widget"},
    "answer_until": {"type": ["string", "null"]}, "closed_at": {"type": ["string", "null"]}}}
PAGE = {"type": "object", "properties": {"items": {"type": "array", "items": SURVEY},
                                         "next_cursor": {"type": ["string", "null"]}}}
TEXTS = {"type": "object", "properties": {"ru": {"type": "string", "maxLength": rules.MAX_TEXT},
                                          "en": {"type": "string", "maxLength": rules.MAX_TEXT}}}
SETTINGS = {"type": "object", "properties": {
    "csat_enabled": {"type": "boolean", "default": False},
    "csat_question": {**TEXTS, "description": "empty: the built-in question"},
    "delay_minutes": {"type": "integer", "minimum": 0, "maximum": rules.MAX_DELAY_MINUTES, "default": 2,
                      "description": "after the close (the one-minute schedule sends it)"},
    "csat_window_days": {"type": "integer", "minimum": 0, "maximum": rules.MAX_WINDOW_DAYS, "default": 30,
                         "description": "a customer asked any survey within this many days is not asked again"},
    "nps_enabled": {"type": "boolean", "default": False},
    "nps_question": TEXTS,
    "nps_interval_days": {"type": "integer", "minimum": 1, "maximum": 2 * rules.MAX_WINDOW_DAYS, "default": 90,
                          "description": "NPS instead of CSAT when this customer's last NPS is older"},
    "answer_hours": {"type": "integer", "minimum": 1, "maximum": 336, "default": 72,
                     "description": "answers after this are refused"},
    "channels": {"type": "array", "items": {"enum": list(rules.SURVEY_KINDS)}},
    "thanks": TEXTS}}
LIST_QUERY = {
    "since": {"type": "string", "format": "date-time", "description": "created at or after"},
    "until": {"type": "string", "format": "date-time", "description": "created before"},
    "kind": {"enum": list(rules.KINDS)}, "operator_id": {"type": "string"},
    "answered": {"enum": ["1", "0"], "description": "1: only answered, 0: only unanswered"},
    "limit": {"type": "integer", "minimum": 1, "maximum": surveys.MAX_PAGE, "default": 50},
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
}


def _params(ctx: Ctx) -> dict[str, str]:
    return {k: v for k, v in (ctx.request.query_params or {}).items() if isinstance(v, str)}


@route(bp, "/surveys", "GET", permission="analytics:read", tag="surveys", query=LIST_QUERY, response=PAGE,
       summary="Survey results of the workspace, newest first (CSAT and NPS; paged)")
def list_surveys(ctx: Ctx) -> dict[str, Any]:
    params = {k: v for k, v in _params(ctx).items() if k != "conversation_id"}
    return surveys.list_surveys(ctx.deps, ctx.workspace_id, params)


@route(bp, "/conversations/{conversation_id}/surveys", "GET", permission="conversations:read", tag="surveys",
       response=PAGE, summary="The surveys of one conversation and their answers (the thread's rating)")
def conversation_surveys(ctx: Ctx, conversation_id: str) -> dict[str, Any]:
    repo.require_conversation(ctx.workspace_id, conversation_id)  # another workspace's id: 404
    return surveys.list_surveys(ctx.deps, ctx.workspace_id, {"conversation_id": conversation_id})


@route(bp, "/surveys/settings", "GET", permission="conversations:read", tag="surveys", response=SETTINGS,
       summary="CSAT / NPS settings of the workspace")
def get_settings(ctx: Ctx) -> dict[str, Any]:
    return surveys.get_settings(ctx.workspace_id)


@route(bp, "/surveys/settings", "PUT", permission="workspace:admin", tag="surveys", request=SETTINGS,
       response=SETTINGS, summary="Change the CSAT / NPS settings (any subset of them)")
def put_settings(ctx: Ctx) -> dict[str, Any]:
    return surveys.put_settings(ctx.deps, ctx.principal, json_object(ctx.request.raw_body))
