"""JSON Schemas of requests and responses, referenced by route declarations and published in OpenAPI."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
}

ATTACHMENT = {
    "type": "object",
    "properties": {
        "kind": {"type": "string"}, "mime_type": {"type": "string"}, "file_name": {"type": "string"},
        "size_bytes": {"type": ["integer", "null"]}, "url": {"type": ["string", "null"],
                                                              "description": "short-lived link"},
        "state": {"enum": ["ready", "fetching", "failed"]},
    },
}

MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "conversation_id": {"type": "string"},
        "direction": {"enum": ["in", "out", "note", "system"]},
        "origin": {"enum": ["customer", "operator", "greeting", "api"]}, "text": {"type": "string"},
        "attachments": {"type": "array", "items": ATTACHMENT}, "reply_to": {"type": ["string", "null"]},
        "status": {"enum": ["received", "pending", "sent", "failed"]},
        "error": {"type": ["object", "null"]}, "created_at": {"type": "string", "format": "date-time"},
        "hidden": {"type": "boolean", "description": "a public comment hidden from everyone but its author"},
        "action": {"type": ["object", "null"], "description": "the last edit / delete / hide at the provider: "
                   "kind, state (pending, done, failed), error {code, message}"},
    },
}

MESSAGE_HIDE = {"type": "object", "required": ["hidden"], "properties": {"hidden": {"type": "boolean"}}}

STATUS = {"type": "string", "examples": ["new", "in_progress", "closed"],
          "description": "new, in_progress, closed, or one of the team's own statuses (team settings)"}

EMOTION = {"enum": ["positive", "neutral", "negative", None], "description": "how the customer feels (B8)"}

CONVERSATION = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "channel_id": {"type": "string"}, "channel_kind": {"type": "string"},
        "contact_id": {"type": "string"}, "contact_name": {"type": "string"},
        "status": STATUS, "assignee_id": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}}, "unread_count": {"type": "integer"},
        "last_activity_at": {"type": "string"}, "last_message_preview": {"type": "string"},
        "first_response_seconds": {"type": ["integer", "null"]},
        "awaiting_since": {"type": ["string", "null"], "description": "the customer has waited for an answer since "
                           "(overdue past the SLA)"},
        "emotion": EMOTION,
        "sla_breached": {"type": "boolean", "description": "this wait passed its SLA target (services/sla.py)"},
        "sla_breached_at": {"type": ["string", "null"]}, "sla_breaches": {"type": "integer"},
        "snoozed_until": {"type": ["string", "null"], "description": "out of the queue until then (E4)"},
        "priority": {"type": ["string", "null"], "enum": ["low", "normal", "high", "urgent", None]},
    },
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": item},
                                             "next_cursor": {"type": ["string", "null"]}}}


CONTACT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "display_name": {"type": "string"}, "email": {"type": "string"},
                   "phone": {"type": "string"}, "username": {"type": "string"}, "notes": {"type": "string"},
                   "custom_fields": {"type": "object", "additionalProperties": {"type": "string"}},
                   "revision": {"type": "integer"}, "identities": {"type": "array", "items": {"type": "object"}}},
}

CHANNEL = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
                   "enabled": {"type": "boolean"}, "webhook_url": {"type": ["string", "null"]},
                   "health": {"type": "object"}, "has_credentials": {"type": "boolean"}},
}

REPLY = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "maxLength": 10000},
        "reply_to": {"type": ["string", "null"], "description": "id of the message being answered"},
        "attachments": {"type": "array", "items": {"type": "string"}, "description": "upload ids"},
        "last_seen_message_id": {"type": ["string", "null"], "description": "the newest message the operator saw: "
                                 "409 colleague_replied when a colleague answered after it (B10)"},
        "force": {"type": "boolean", "description": "send even though a colleague answered meanwhile"},
        "articles": {"type": "array", "maxItems": 5, "items": {"type": "string", "pattern": "^art_[0-9a-f]{20}$"},
                     "description": "knowledge-base articles the reply used: each counts one use once it is sent"},
    },
}

UPLOAD = {
    "type": "object", "required": ["file_name", "data_base64"],
    "properties": {"file_name": {"type": "string"}, "mime_type": {"type": "string"},
                   "data_base64": {"type": "string", "contentEncoding": "base64"}},
}

CONVERSATION_PATCH = {
    "type": "object",
    "properties": {"status": STATUS, "emotion": EMOTION,
                   "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 20}},
}

NOTE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}

INBOUND = {
    "type": "object", "required": ["external_conversation_id", "sender"],
    "properties": {
        "external_message_id": {"type": "string", "description": "your id; a repeat is stored once"},
        "external_conversation_id": {"type": "string"},
        "sender": {"type": "object", "required": ["id"],
                   "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                  "email": {"type": "string"}, "phone": {"type": "string"}}},
        "text": {"type": "string"}, "source": {"type": "string", "description": "label, e.g. crm"},
    },
}

CHANNEL_CREATE = {
    "type": "object", "required": ["kind", "name"],
    "properties": {"kind": {"type": "string"}, "name": {"type": "string"},
                   "credentials": {"type": "object", "description": "e.g. {bot_token}; never returned"},
                   "register_webhook": {"type": "boolean", "default": True}},
}
