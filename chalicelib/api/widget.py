"""The site-chat widget's REST API (CHANNELS.md §10): `/widget/{channel_id}/...`, called from brands' web pages.

These routes are public in the route table: a visitor proves who they are with their own token
(`Authorization: Bearer <visitor token>`), checked in services/widget.py, never with an API key. The widget runs
on the brand's site, so every answer carries CORS headers for an allowed Origin, and each path answers the
browser's preflight (OPTIONS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import error_response, json_object, json_response, status_of
from chalicelib.api.routing import PUBLIC, Ctx, route
from chalicelib.domain.model import Channel
from chalicelib.errors import AppError
from chalicelib.observability import logger
from chalicelib.services import widget
from chalicelib.store.models import VisitorItem

bp = Blueprint(__name__)

TAG = "widget"
BASE = "/widget/{channel_id}"
MAX_BODY = 32 * 1024
ALLOW_HEADERS = "Authorization, Content-Type, X-Zabota-Authorization, X-Amz-Content-Sha256"  # behind CloudFront

_STRING = {"type": "string"}
SESSION_REQUEST = {
    "type": "object",
    "properties": {
        "pre_chat": {"type": "object", "description": "the channel's form fields; `custom` holds extra ones",
                     "properties": {"name": _STRING, "email": _STRING, "phone": _STRING, "topic": _STRING,
                                    "consent": {"type": "boolean"}, "custom": {"type": "object"}}},
        "page": {"type": "object", "properties": {"url": _STRING, "lang": _STRING}},
    },
}
SESSION = {"type": "object", "properties": {"visitor_token": _STRING, "visitor_id": _STRING,
                                            "conversation_id": _STRING, "expires_at": _STRING}}
MESSAGE_REQUEST = {"type": "object", "required": ["client_message_id"],
                   "properties": {"client_message_id": _STRING, "text": _STRING,
                                  "attachments": {"type": "array", "maxItems": 5, "items": _STRING,
                                                  "description": "upload ids from POST .../uploads"},
                                  "reply_to": {"type": ["string", "null"]}}}
UPLOAD_REQUEST = {"type": "object", "required": ["file_name", "data_base64"],
                  "properties": {"file_name": _STRING, "data_base64": _STRING}}
UPLOADED = {"type": "object", "properties": {"upload_id": _STRING, "file_name": _STRING, "mime_type": _STRING,
                                             "size_bytes": {"type": "integer"}}}
MESSAGE_CREATED = {"type": "object", "properties": {"message_id": _STRING, "created_at": _STRING,
                                                    "conversation_id": _STRING}}
VISITOR_MESSAGE = {
    "type": "object",
    "properties": {"id": _STRING, "author": {"type": "object", "properties": {"kind": _STRING, "name": _STRING}},
                   "text": _STRING, "attachments": {"type": "array", "items": {"type": "object"}},
                   "reply_to": {"type": ["string", "null"]}, "created_at": _STRING, "edited": {"type": "boolean"},
                   "deleted": {"type": "boolean"},
                   "survey": {"type": "object", "description": "a CSAT / NPS question: answer it with POST "
                              ".../surveys/{id}", "properties": {"id": _STRING, "kind": _STRING, "question": _STRING,
                                                                 "scale": {"type": "array",
                                                                           "items": {"type": "integer"}}}}},
}
SURVEY_ANSWER = {"type": "object", "required": ["score"], "properties": {
    "score": {"type": "integer", "description": "CSAT 1-5 (stars), NPS 0-10"}}}
SURVEY_ANSWERED = {"type": "object", "properties": {"id": _STRING, "kind": _STRING, "score": {"type": "integer"},
                                                    "state": _STRING}}
HISTORY = {"type": "object", "properties": {"conversation_id": _STRING,
                                            "items": {"type": "array", "items": VISITOR_MESSAGE},
                                            "next_cursor": {"type": ["string", "null"]},
                                            "has_more": {"type": "boolean"}}}
TICKET = {"type": "object", "properties": {"ticket": _STRING, "expires_at": _STRING}}
PROFILE_REQUEST = {"type": "object", "properties": {"name": _STRING, "email": _STRING}}


# --- helpers ----------------------------------------------------------------------------------------------------


def _caller(ctx: Ctx) -> widget.Caller:
    headers = ctx.headers
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    context = ctx.request.context or {}
    return widget.Caller(
        token=token.strip() if scheme.lower() == "bearer" else "",
        origin=headers.get("origin", ""),
        ip=str((context.get("identity") or {}).get("sourceIp") or ""),
        request_id=str(context.get("requestId") or ""),
    )


def _cors(channel: Channel | None, origin: str, methods: str) -> dict[str, str | list[str]]:
    if channel is None or not origin or not widget.allowed_origin(channel, origin):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Expose-Headers": "Retry-After",
            "Access-Control-Max-Age": "600"}


def _serve(ctx: Ctx, channel_id: str, methods: str, status: int,
           action: Callable[[Channel, widget.Caller], Any]) -> Response:
    """Run a widget action; answers (errors included) carry CORS headers for an allowed Origin."""
    caller = _caller(ctx)
    channel: Channel | None = None
    try:
        channel = widget.widget_channel(channel_id)
        response = json_response(action(channel, caller), status)
    except AppError as err:
        if status_of(err) >= 500:
            logger.warning("widget request failed", extra={"code": err.code})
        response = error_response(err)
    response.headers.update(_cors(channel, caller.origin, methods))
    return response


def _visitor(ctx: Ctx, channel: Channel, caller: widget.Caller) -> VisitorItem:
    return widget.authenticate(ctx.deps, channel, caller)


def _preflight(ctx: Ctx, channel_id: str, methods: str) -> Response:
    origin = ctx.headers.get("origin", "")
    try:
        channel = widget.widget_channel(channel_id)
    except AppError as err:
        return error_response(err)
    headers = _cors(channel, origin, methods)
    if not headers:
        return Response(body="", status_code=403, headers={"Content-Type": "text/plain"})
    return Response(body="", status_code=204, headers=headers)


# --- configuration -------------------------------------------------------------------------------------------------

CONFIG = {"type": "object", "properties": {
    "title": _STRING, "operator_name": _STRING,
    "pre_chat": {"type": "array", "items": {"type": "object", "properties": {
        "name": _STRING, "type": _STRING, "required": {"type": "boolean"},
        "label": {"type": ["string", "object"]}, "options": {"type": "array"}}}}}}


@route(bp, f"{BASE}/config", "GET", permission=PUBLIC, tag=TAG, response=CONFIG,
       summary="What the widget shows before a session: title and the pre-chat form (no secrets)")
def get_config(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "GET", 200, lambda channel, caller: widget.public_config(channel))


# --- sessions -------------------------------------------------------------------------------------------------------


@route(bp, f"{BASE}/sessions", "POST", permission=PUBLIC, tag=TAG, status=201, max_body=MAX_BODY,
       summary="Open a visitor session with the channel's pre-chat form; the visitor token is shown once",
       request=SESSION_REQUEST, response=SESSION)
def post_session(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "POST, OPTIONS", 201, lambda channel, caller: widget.create_session(
        ctx.deps, channel, json_object(ctx.request.raw_body or b"{}"), caller))


@route(bp, f"{BASE}/sessions", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_session(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "POST, OPTIONS")


# --- messages -------------------------------------------------------------------------------------------------------


@route(bp, f"{BASE}/messages", "POST", permission=PUBLIC, tag=TAG, status=201, max_body=MAX_BODY,
       summary="The visitor writes; a repeated client_message_id gets the same answer and is stored once",
       request=MESSAGE_REQUEST, response=MESSAGE_CREATED)
def post_message(ctx: Ctx, channel_id: str) -> Response:
    def action(channel: Channel, caller: widget.Caller) -> Any:
        visitor = _visitor(ctx, channel, caller)
        return widget.post_message(ctx.deps, channel, visitor, json_object(ctx.request.raw_body), caller.request_id)

    return _serve(ctx, channel_id, "GET, POST, OPTIONS", 201, action)


@route(bp, f"{BASE}/messages", "GET", permission=PUBLIC, tag=TAG, response=HISTORY,
       summary="The visitor's conversation, oldest first: customer messages and replies, never internal notes",
       query={"after": {"type": "string", "description": "next_cursor of the previous answer"},
              "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
              "conversation_id": {"type": "string"}})
def get_messages(ctx: Ctx, channel_id: str) -> Response:
    def action(channel: Channel, caller: widget.Caller) -> Any:
        visitor = _visitor(ctx, channel, caller)
        return widget.history(ctx.deps, channel, visitor, after=ctx.query("after"), limit=ctx.query("limit"),
                              conversation_id=ctx.query("conversation_id"))

    return _serve(ctx, channel_id, "GET, POST, OPTIONS", 200, action)


@route(bp, f"{BASE}/messages", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_messages(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "GET, POST, OPTIONS")


# --- surveys (G4) ---------------------------------------------------------------------------------------------------


@route(bp, f"{BASE}/surveys/{{survey_id}}", "POST", permission=PUBLIC, tag=TAG, max_body=MAX_BODY,
       request=SURVEY_ANSWER, response=SURVEY_ANSWERED,
       summary="The visitor's stars for a survey of their own conversation: once, in time, in the scale (404 for "
       "another conversation's survey, 422 out of the scale, 409 answered or expired)")
def post_survey_answer(ctx: Ctx, channel_id: str, survey_id: str) -> Response:
    def action(channel: Channel, caller: widget.Caller) -> Any:
        from chalicelib.services import surveys

        visitor = _visitor(ctx, channel, caller)
        body = json_object(ctx.request.raw_body)
        done = surveys.answer_from_widget(ctx.deps, channel.workspace_id, visitor.conversation_id, survey_id,
                                          body.get("score"))
        return {k: done[k] for k in ("id", "kind", "score", "state")}

    return _serve(ctx, channel_id, "POST, OPTIONS", 200, action)


@route(bp, f"{BASE}/surveys/{{survey_id}}", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_survey_answer(ctx: Ctx, channel_id: str, survey_id: str) -> Response:
    return _preflight(ctx, channel_id, "POST, OPTIONS")


# --- files -----------------------------------------------------------------------------------------------------------


@route(bp, f"{BASE}/uploads", "POST", permission=PUBLIC, tag=TAG, status=201, max_body=14 * 1024 * 1024,
       summary="The visitor uploads a file (base64, up to 10 MB: images, PDF, office documents, text; told by its "
       "content), then sends its upload_id in a message", request=UPLOAD_REQUEST, response=UPLOADED)
def post_upload(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "POST, OPTIONS", 201, lambda channel, caller: widget.store_upload(
        ctx.deps, channel, _visitor(ctx, channel, caller), json_object(ctx.request.raw_body)))


@route(bp, f"{BASE}/uploads", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_upload(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "POST, OPTIONS")


# --- live: WebSocket ticket, typing -----------------------------------------------------------------------------


@route(bp, f"{BASE}/ws-ticket", "POST", permission=PUBLIC, tag=TAG, status=201, response=TICKET,
       summary="A one-time WebSocket ticket, valid 60 s: connect with ?ticket=")
def post_ws_ticket(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "POST, OPTIONS", 201, lambda channel, caller: widget.ws_ticket(
        ctx.deps, channel, _visitor(ctx, channel, caller)))


@route(bp, f"{BASE}/ws-ticket", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_ws_ticket(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "POST, OPTIONS")


@route(bp, f"{BASE}/typing", "POST", permission=PUBLIC, tag=TAG, summary="The visitor is typing (shown to operators)")
def post_typing(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "POST, OPTIONS", 200, lambda channel, caller: widget.typing(
        ctx.deps, channel, _visitor(ctx, channel, caller)))


@route(bp, f"{BASE}/typing", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_typing(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "POST, OPTIONS")


# --- the visitor's profile --------------------------------------------------------------------------------------


@route(bp, f"{BASE}/visitor", "PATCH", permission=PUBLIC, tag=TAG, max_body=MAX_BODY, request=PROFILE_REQUEST,
       summary="The visitor gives a name or an e-mail later (also written to the client card)")
def patch_visitor(ctx: Ctx, channel_id: str) -> Response:
    return _serve(ctx, channel_id, "PATCH, OPTIONS", 200, lambda channel, caller: widget.update_profile(
        ctx.deps, channel, _visitor(ctx, channel, caller), json_object(ctx.request.raw_body)))


@route(bp, f"{BASE}/visitor", "OPTIONS", permission=PUBLIC, tag=TAG, summary="CORS preflight")
def options_visitor(ctx: Ctx, channel_id: str) -> Response:
    return _preflight(ctx, channel_id, "PATCH, OPTIONS")
