"""Operator use cases on a conversation: reply, note, status, tags, read, retry, upload."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain.model import derived_id, iso, new_id, parse_iso
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.services import assignment, knowledge, media
from chalicelib.services import team as team_service
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import ConversationItem, MessageItem, plain

MAX_TEXT = 10_000
MAX_TAGS = 20


@dataclass(frozen=True)
class ReplyRequest:
    text: str
    reply_to: str | None
    upload_ids: tuple[str, ...]
    private: bool = False  # answer a public comment privately (Instagram, Facebook)
    template: dict[str, Any] | None = None  # WhatsApp outside the 24-hour window
    last_seen_message_id: str | None = None  # 409 colleague_replied if a colleague answered after it...
    force: bool = False  # ...unless the operator sends anyway
    articles: tuple[str, ...] = ()  # knowledge-base articles the reply used (H1): counted when it is sent


def _parse_template(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        raise InvalidInput("template must be an object with a name (and language, parameters)")
    params = value.get("parameters", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise InvalidInput("template parameters must be a list of strings")
    language = value.get("language", "ru")
    if not isinstance(language, str):
        raise InvalidInput("template language must be a string such as ru or en_US")
    return {"name": value["name"].strip(), "language": language, "parameters": params}


def parse_reply(body: dict[str, Any]) -> ReplyRequest:
    text = body.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidInput(f"text must be a string of at most {MAX_TEXT} characters")
    uploads = body.get("attachments", [])
    if not isinstance(uploads, list) or not all(isinstance(u, str) for u in uploads) or len(uploads) > 10:
        raise InvalidInput("attachments must be a list of at most 10 upload ids")
    template = _parse_template(body.get("template"))
    if not text.strip() and not uploads and template is None:
        raise InvalidInput("a reply needs text, an attachment or a template")
    reply_to = body.get("reply_to")
    if reply_to is not None and not isinstance(reply_to, str):
        raise InvalidInput("reply_to must be a message id")
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise InvalidInput("private must be true or false")
    seen, force = assignment.parse_seen(body)
    return ReplyRequest(text.strip(), reply_to or None, tuple(uploads), private, template, seen, force,
                        knowledge.parse_used(body.get("articles")))


def _kind_of(mime: str) -> str:
    if mime.startswith("image/"):
        return "image"
    if mime in ("audio/ogg", "audio/opus"):
        return "voice"
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "document"


def upload_key(ws: str, upload_id: str) -> str:
    return f"{ws}/uploads/{upload_id}"


def store_upload(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    name, data = media.decode_upload(body)
    mime = body.get("mime_type") or "application/octet-stream"
    upload_id = f"u_{secrets.token_hex(8)}.{name}"
    d.files.put(upload_key(principal.workspace_id, upload_id), data, mime)
    return {"upload_id": upload_id, "file_name": name, "mime_type": mime, "size_bytes": len(data),
            "kind": _kind_of(mime)}


def _attachments(d: Deps, ws: str, upload_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    found = []
    for upload_id in upload_ids:
        if "/" in upload_id or not upload_id.startswith("u_"):
            raise InvalidInput(f"unknown upload {upload_id}")
        key = upload_key(ws, upload_id)
        try:
            data, mime = d.files.get(key)
        except NotFound as err:
            raise InvalidInput(f"unknown upload {upload_id}") from err
        found.append({"kind": _kind_of(mime), "mime_type": mime, "file_name": upload_id.split(".", 1)[1],
                      "size_bytes": len(data), "storage_key": key})
    return found


def send_reply(d: Deps, principal: Principal, conv_id: str, req: ReplyRequest, *,
               message_id: str | None = None, at: datetime | None = None) -> MessageItem:
    ws = principal.workspace_id
    conv = repo.require_conversation(ws, conv_id)
    if conv.blocked:
        raise Conflict("this customer is blocked: unblock them to answer", code="blocked")
    assignment.check_colleague_replied(ws, conv_id, principal, req.last_seen_message_id, req.force)
    conv = assignment.auto_assign_on_reply(d, principal, conv)
    quoted = None
    if req.reply_to:
        quoted = repo.get_message(ws, conv_id, req.reply_to)
        if quoted is None:
            raise InvalidInput(f"message {req.reply_to} is not in this conversation")
    elif conv.surface == "comment":  # a comment is always an answer to one: the customer's latest
        quoted = repo.latest_inbound_message(ws, conv_id)
    reply_to_external = quoted.external_message_id if quoted else None
    comment = plain(quoted.comment) if quoted is not None else {}
    now = at or d.now()
    message = repo.new_message(
        ws, conv_id, message_id or new_id("m", now), channel_id=conv.channel_id, direction="out", origin="operator",
        author_id=principal.subject, text=req.text, attachments=_attachments(d, ws, req.upload_ids),
        reply_to_id=quoted.message_id if quoted else None, reply_to_external_id=reply_to_external,
        status="pending", created_at=iso(now), private=req.private, template=req.template,
        comment=comment or None, articles=list(req.articles) or None,
    )
    return repo.add_outbound_message(conv, message, now=now, counts_as_response=True)


BULK_MAX = 50


def bulk_reply(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """One answer to several comments or conversations at once (B5), each sent once.

    `request_id` (the client's, e.g. a UUID) makes the whole request safe to retry: message ids derive from it
    and from the time it was first seen, and a message that exists is not written again.
    """
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 8 <= len(request_id) <= 100:
        raise InvalidInput("request_id is required: 8 to 100 characters, the same on every retry")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= BULK_MAX:
        raise InvalidInput(f"items must list 1 to {BULK_MAX} {{conversation_id, reply_to}}")
    req = parse_reply({k: v for k, v in body.items() if k in ("text", "attachments", "private")})
    first = parse_iso(repo.first_seen(principal.workspace_id, "bulk", request_id, now=d.now()))
    results: list[dict[str, Any]] = []
    for item in items:
        conv_id = item.get("conversation_id") if isinstance(item, dict) else None
        if not isinstance(conv_id, str):
            raise InvalidInput("each item needs a conversation_id")
        reply_to = item.get("reply_to")
        one = ReplyRequest(req.text, reply_to if isinstance(reply_to, str) else None, req.upload_ids,
                           private=req.private, force=True)
        try:
            message = send_reply(d, principal, conv_id, one, at=first,
                                 message_id=derived_id("m", first, request_id, conv_id, reply_to or ""))
            results.append({"conversation_id": conv_id, "message_id": message.message_id, "status": message.status})
        except (NotFound, InvalidInput, Conflict) as err:  # e.g. a blocked customer: the others still go out
            results.append({"conversation_id": conv_id, "error": {"code": err.code, "message": err.message}})
    return {"request_id": request_id, "items": results}


def add_note(d: Deps, principal: Principal, conv_id: str, text: str) -> MessageItem:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise InvalidInput(f"a note needs text (at most {MAX_TEXT} characters)")
    ws = principal.workspace_id
    conv = repo.require_conversation(ws, conv_id)
    now = d.now()
    note = repo.new_message(ws, conv_id, new_id("m", now), channel_id=conv.channel_id, direction="note",
                            origin="operator", author_id=principal.subject, text=text.strip(), status="received",
                            created_at=iso(now))
    return repo.add_outbound_message(conv, note, now=now, counts_as_response=False)


def parse_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise InvalidInput(f"tags must be a list of at most {MAX_TAGS} strings")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 50:
            raise InvalidInput("each tag is a non-empty string of at most 50 characters")
        if tag.strip() not in tags:
            tags.append(tag.strip())
    return tags


EMOTIONS = ("positive", "neutral", "negative")


def update_conversation(d: Deps, principal: Principal, conv_id: str, body: dict[str, Any]) -> ConversationItem:
    status = body.get("status")
    if status is not None:
        allowed = team_service.statuses_of(principal.workspace_id)
        if status not in allowed:
            raise InvalidInput(f"status must be one of {', '.join(allowed)}", code="invalid_status")
    tags = parse_tags(body["tags"]) if "tags" in body else None
    emotion = body.get("emotion")
    if emotion not in (None, *EMOTIONS):
        raise InvalidInput(f"emotion must be one of {', '.join(EMOTIONS)} or null", code="invalid_emotion")
    if status is None and tags is None and "emotion" not in body:
        raise InvalidInput("send status, tags and/or emotion")
    now = iso(d.now())

    def mutate(conv: ConversationItem) -> list[Any]:
        actions: list[Any] = []
        if tags is not None and tags != list(conv.tags or []):
            actions.append(ConversationItem.tags.set(tags))
        if "emotion" in body and emotion != conv.emotion:  # B8: how the customer feels, as the operator judges
            actions.append(ConversationItem.emotion.set(emotion) if emotion else ConversationItem.emotion.remove())
        if status == "closed" and conv.status != "closed":  # closed: nobody waits any more (the SLA stops)
            actions += [ConversationItem.closed_at.set(now), ConversationItem.awaiting_since.remove()]
        if actions or (status and status != conv.status):  # who changed it: the action log reads this
            actions += [ConversationItem.changed_by.set(principal.subject), ConversationItem.changed_at.set(now)]
        return actions

    return repo.change_conversation(principal.workspace_id, conv_id, mutate,
                                    status=(lambda conv: status) if status else None)


def mark_read(d: Deps, principal: Principal, conv_id: str) -> ConversationItem:
    return repo.change_conversation(
        principal.workspace_id, conv_id,
        lambda conv: [ConversationItem.unread_count.set(0)] if conv.unread_count else [],
    )


def retry(d: Deps, principal: Principal, conv_id: str, message_id: str) -> MessageItem:
    message = repo.get_message(principal.workspace_id, conv_id, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return repo.retry_message(message)
