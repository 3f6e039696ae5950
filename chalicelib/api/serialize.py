"""Items to JSON for the API. Secrets never leave: channels are serialised field by field."""

from __future__ import annotations

from typing import Any

from chalicelib.store.files import FileStore
from chalicelib.store.models import ChannelItem, ContactItem, ConversationItem, IdentityItem, MessageItem, plain


def conversation_json(c: ConversationItem) -> dict[str, Any]:
    return {
        "id": c.conversation_id, "channel_id": c.channel_id, "channel_kind": c.channel_kind,
        "contact_id": c.contact_id, "contact_name": c.contact_name, "title": c.title, "surface": c.surface,
        "status": c.status, "assignee_id": c.assignee_id, "tags": list(c.tags or []),
        "last_activity_at": c.last_activity_at, "last_message_preview": c.last_message_preview,
        "last_message_direction": c.last_message_direction, "unread_count": int(c.unread_count or 0),
        "message_count": int(c.message_count or 0), "first_inbound_at": c.first_inbound_at,
        "first_response_at": c.first_response_at,
        "first_response_seconds": None if c.first_response_seconds is None else int(c.first_response_seconds),
        "created_at": c.created_at, "closed_at": c.closed_at, "revision": int(c.revision or 0),
        "blocked": bool(c.blocked), "awaiting_since": c.awaiting_since, "emotion": c.emotion,
        "sla_breached": bool(c.awaiting_since and c.sla_breach_since == c.awaiting_since),
        "sla_breached_at": c.sla_breached_at, "sla_breaches": int(c.sla_breaches or 0),
        "snoozed_until": c.snoozed_until if c.status == "snoozed" else None, "priority": c.priority,
    }


def attachment_json(att: dict[str, Any], files: FileStore) -> dict[str, Any]:
    out = {k: att.get(k) for k in ("kind", "mime_type", "file_name", "size_bytes", "duration_s", "width", "height",
                                   "caption")}
    key = att.get("storage_key")
    out["url"] = files.link(key, file_name=att.get("file_name") or "file") if key else None
    out["state"] = "ready" if key else ("failed" if att.get("fetch_error") else "fetching")
    return out


def message_json(m: MessageItem, files: FileStore) -> dict[str, Any]:
    return {
        "id": m.message_id, "conversation_id": m.conversation_id, "direction": m.direction, "origin": m.origin,
        "author_id": m.author_id, "text": m.text, "html": m.html,
        "attachments": [attachment_json(a, files) for a in (m.attachments or [])],
        "reply_to": m.reply_to_id, "external_message_id": m.external_message_id, "status": m.status,
        "error": {"code": m.error_code, "message": m.error_message} if m.error_code else None,
        "attempts": int(m.attempts or 0), "edited": bool(m.edited), "deleted": bool(m.deleted),
        "delivery": m.delivery, "private": bool(m.private), "comment": plain(m.comment) or None,
        "action": plain(m.action) or None, "hidden": bool(m.hidden),
        "created_at": m.created_at, "sent_at": m.sent_at,
    }


def contact_json(c: ContactItem, identities: list[IdentityItem]) -> dict[str, Any]:
    return {
        "id": c.pk.rsplit("#", 1)[1], "display_name": c.display_name, "username": c.username, "phone": c.phone,
        "email": c.email, "avatar_url": c.avatar_url, "language": c.language, "notes": c.notes,
        "custom_fields": dict(plain(c.custom_fields) or {}), "revision": int(c.revision or 0),
        "created_at": c.created_at,
        "identities": [
            {"channel_id": i.channel_id, "channel_kind": i.channel_kind, "external_user_id": i.external_user_id,
             "display_name": i.display_name, "username": i.username} for i in identities
        ],
    }


def channel_json(c: ChannelItem, base: str) -> dict[str, Any]:
    """`base`: Settings.webhook_base (WEBHOOK_BASE_URL, else PUBLIC_URL), as services.channels.webhook_url uses."""
    channel_id = c.pk.removeprefix("CH#")
    health = plain(c.health)
    return {
        "id": channel_id, "kind": c.kind, "name": c.name, "enabled": c.enabled, "created_at": c.created_at,
        "webhook_url": f"{base}/api/webhooks/{c.kind}/{channel_id}" if c.kind not in ("api", "widget") else None,
        "health": health, "has_credentials": bool(c.secrets_sealed or c.secrets), "settings": plain(c.settings),
    }
