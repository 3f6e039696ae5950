"""The site-chat widget's backend (CHANNELS.md §10, FEATURES A8): visitor sessions opened with the channel's
pre-chat form, messages in, history out, one-time WebSocket tickets, typing and the visitor's profile.

A visitor's message takes the same path as every channel's: an `InboundEvent` of kind "widget" stored with
`store_events`, deduplicated on the visitor's `client_message_id`; the stream makes the message. The first message
of a session also makes the contact and the conversation here, with the same idempotent repository calls the stream
uses, so that the pre-chat topic's routing tags are on the conversation from its first moment.

Visitors authenticate with their own random token (256 bits, we keep its SHA-256), never with an API key. A token
belongs to one channel and one conversation: nothing a visitor sends can name another conversation. Our own limits
(per visitor, per IP) are fixed windows counted with conditional atomic updates.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.channels.widget import visible_to_visitor, visitor_message, visitor_room
from chalicelib.domain.model import (
    Attachment,
    Channel,
    InboundEvent,
    Sender,
    contact_id_for,
    conversation_id_for,
    iso,
    new_id,
    parse_iso,
)
from chalicelib.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimitedByUs,
    Unauthenticated,
    UnsupportedMediaType,
)
from chalicelib.observability import logger
from chalicelib.services import media
from chalicelib.services.deps import Deps
from chalicelib.services.inbound import message_id_for
from chalicelib.services.webhooks import store_events
from chalicelib.store import connections, repo
from chalicelib.store import widget as store
from chalicelib.store.models import ConversationItem, VisitorItem

KIND = "widget"
TOKEN_PREFIX = "zbv_"
VISITOR_IDLE = timedelta(days=90)
TOUCH_AFTER = timedelta(days=1)  # the idle expiry slides at most once a day per visitor
TICKET_TTL = timedelta(seconds=60)
TEXT_MAX = 10_000
HISTORY_DEFAULT, HISTORY_MAX = 50, 100
# scope -> (requests, window in seconds) — CHANNELS.md §10
LIMITS: dict[str, tuple[int, int]] = {"message": (10, 10), "session": (20, 3600), "typing": (20, 10),
                                      "ticket": (20, 60), "profile": (10, 60), "upload": (10, 60)}
ATTACHMENTS_MAX = 5
# what a visitor may send, told by the file's first bytes (never by its name or the browser's word)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),  # docx / xlsx / pptx / odt are zip containers
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # doc / xls / ppt
)
_OFFICE = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
           ".odt": "application/vnd.oasis.opendocument.text", ".ods": "application/vnd.oasis.opendocument.spreadsheet",
           ".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint"}
STANDARD_FIELDS = ("name", "email", "phone", "topic", "consent")
FIELD_LIMITS = {"text": 500, "textarea": 2000, "select": 100, "email": 254, "phone": 32}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_MESSAGE_ID = re.compile(r"^m[0-9a-f]{12,40}$")

Json = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """What the API layer knows about the request: bearer token, page origin, source IP, request id."""

    token: str = ""
    origin: str = ""
    ip: str = ""
    request_id: str = ""


# --- channel, origin, limits ----------------------------------------------------------------------------------


def widget_channel(channel_id: str) -> Channel:
    channel = repo.get_channel(channel_id)
    if channel is None or channel.kind != KIND or not channel.enabled:
        raise NotFound(f"no widget channel {channel_id}")
    return channel


def _norm_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def allowed_origin(channel: Channel, origin: str) -> bool:
    """With `allowed_origins` set, the page's Origin must be one of them; without, any origin may embed."""
    allowed = channel.settings.get("allowed_origins") or []
    if not allowed:
        return True
    return bool(origin) and _norm_origin(origin) in {_norm_origin(str(a)) for a in allowed}


def check_origin(channel: Channel, origin: str) -> None:
    if not allowed_origin(channel, origin):
        raise Forbidden("this site may not embed the chat")


def _limit(d: Deps, ws: str, scope: str, subject: str) -> None:
    count, window = LIMITS[scope]
    retry = store.count_request(ws, scope, subject, limit=count, window_seconds=window, now=d.now())
    if retry is not None:
        logger.info("widget rate limited", extra={"scope": scope, "retry_after": retry})
        raise RateLimitedByUs(f"too many {scope} requests: try again in {retry} s", retry_after=retry)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- the pre-chat form ----------------------------------------------------------------------------------------------


def _configured_fields(channel: Channel) -> list[Json]:
    fields = channel.settings.get("pre_chat") or []
    return [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str) and f["name"]] \
        if isinstance(fields, list) else []


def _field_type(field: Json) -> str:
    declared = str(field.get("type") or "")
    if declared:
        return declared
    return {"email": "email", "phone": "phone", "consent": "checkbox", "topic": "select"}.get(field["name"], "text")


def _is_empty(value: Any, kind: str) -> bool:
    if kind == "checkbox":
        return value is not True
    return value is None or (isinstance(value, str) and not value.strip())


def _options(channel: Channel, field: Json) -> list[str]:
    options = field.get("options")
    if isinstance(options, list) and options:
        return [str(o.get("value") if isinstance(o, dict) else o) for o in options]
    if field["name"] == "topic":
        return [str(t) for t in (channel.settings.get("topics") or {})]
    return []


def _checked(channel: Channel, field: Json, value: Any) -> Any:
    name, kind = field["name"], _field_type(field)
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false", details={"field": name})
        return value
    if not isinstance(value, str) or len(value.strip()) > FIELD_LIMITS.get(kind, 500):
        raise InvalidInput(f"{name} must be a string of at most {FIELD_LIMITS.get(kind, 500)} characters",
                           details={"field": name})
    text = value.strip()
    if kind == "email" and not _EMAIL.match(text):
        raise InvalidInput(f"{name} must be an e-mail address", details={"field": name})
    if kind == "phone" and not _PHONE.match(text):
        raise InvalidInput(f"{name} must be a phone number", details={"field": name})
    options = _options(channel, field) if kind == "select" else []
    if options and text not in options:
        raise InvalidInput(f"{name} must be one of: {', '.join(options)}", details={"field": name})
    return text


def public_config(channel: Channel) -> Json:
    """The form as the widget renders it: configured fields with resolved types and options."""
    fields = []
    for field in _configured_fields(channel):
        options = field.get("options")
        if not options and field["name"] == "topic":
            options = [{"value": t, "label": t} for t in (channel.settings.get("topics") or {})]
        fields.append({"name": field["name"], "type": _field_type(field), "required": bool(field.get("required")),
                       "label": field.get("label") or field["name"], "options": options or []})
    return {"title": channel.name, "operator_name": str(channel.settings.get("operator_name") or channel.name),
            "pre_chat": fields}


def validate_pre_chat(channel: Channel, raw: Any) -> Json:
    """The form checked against the channel's fields (`settings.pre_chat`: name, label, required, type, options).

    Standard fields (name, email, phone, topic, consent) are accepted even when not configured; other fields only
    when configured. A field may come at the top level or under `custom`.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("pre_chat must be an object")
    custom: Json = raw["custom"] if isinstance(raw.get("custom"), dict) else {}
    fields = _configured_fields(channel)
    names = {f["name"] for f in fields}
    fields += [{"name": n} for n in STANDARD_FIELDS if n not in names]
    values: Json = {}
    for field in fields:
        name = field["name"]
        value = raw.get(name, custom.get(name))
        if _is_empty(value, _field_type(field)):
            if field.get("required"):
                raise InvalidInput(f"{name} is required", details={"field": name})
            continue
        values[name] = _checked(channel, field, value)
    return values


def _page(raw: Any) -> Json:
    if not isinstance(raw, dict):
        return {}
    url, lang = raw.get("url"), raw.get("lang")
    page: Json = {}
    if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2000:
        page["url"] = url
    if isinstance(lang, str) and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?", lang):
        page["lang"] = lang.lower()
    return page


def _topic_tags(channel: Channel, topic: str) -> list[str]:
    topics = channel.settings.get("topics") or {}
    tags = topics.get(topic, []) if topic and isinstance(topics, dict) else []
    return [str(t) for t in tags if isinstance(t, str) and t.strip()][:20]


# --- sessions and authentication ------------------------------------------------------------------------------------


def create_session(d: Deps, channel: Channel, body: Json, caller: Caller) -> Json:
    check_origin(channel, caller.origin)
    form = validate_pre_chat(channel, body.get("pre_chat"))
    page = _page(body.get("page"))
    _limit(d, channel.workspace_id, "session", f"{channel.id}#{caller.ip or '-'}")
    now = d.now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    visitor_id = new_id("v", now)
    conversation_id = conversation_id_for(channel.workspace_id, channel.id, visitor_id)
    topic = str(form.get("topic", ""))
    store.put_visitor(
        channel.workspace_id, _hash(token), now=now, idle=VISITOR_IDLE, visitor_id=visitor_id,
        channel_id=channel.id, conversation_id=conversation_id, external_conversation_id=visitor_id,
        name=str(form.get("name", "")), email=str(form.get("email", "")), phone=str(form.get("phone", "")),
        language=str(page.get("lang", "")), topic=topic, tags=_topic_tags(channel, topic), pre_chat=form, page=page,
    )
    logger.info("widget session", extra={"channel_id": channel.id, "visitor_id": visitor_id})
    return {"visitor_token": token, "visitor_id": visitor_id, "conversation_id": conversation_id,
            "expires_at": iso(now + VISITOR_IDLE)}


def authenticate(d: Deps, channel: Channel, caller: Caller) -> VisitorItem:
    check_origin(channel, caller.origin)
    if not caller.token:
        raise Unauthenticated("send Authorization: Bearer <visitor token>")
    visitor = store.get_visitor(channel.workspace_id, _hash(caller.token))
    now = d.now()
    if visitor is None or visitor.channel_id != channel.id or visitor.revoked or \
            (visitor.expires_at or 0) <= int(now.timestamp()):
        raise Unauthenticated("the visitor token is unknown or expired")
    if now - parse_iso(visitor.last_seen_at) > TOUCH_AFTER:
        store.touch_visitor(visitor, now=now, idle=VISITOR_IDLE)
    return visitor


def _own_conversation(visitor: VisitorItem, conversation_id: Any) -> None:
    """A visitor may name a conversation only to be told it is not theirs (404, like any unknown id)."""
    if conversation_id not in (None, "") and conversation_id != visitor.conversation_id:
        raise NotFound(f"conversation {conversation_id} not found")


# --- messages -------------------------------------------------------------------------------------------------------


def _message_input(body: Json) -> tuple[str, str, str | None, list[str]]:
    client_id = body.get("client_message_id")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InvalidInput("client_message_id is required: 1-100 letters, digits or . _ : -",
                           details={"field": "client_message_id"})
    text = body.get("text", "")
    uploads = body.get("attachments") or []
    if not isinstance(uploads, list) or len(uploads) > ATTACHMENTS_MAX or not all(isinstance(u, str) for u in uploads):
        raise InvalidInput(f"attachments: at most {ATTACHMENTS_MAX} upload ids", details={"field": "attachments"})
    if not isinstance(text, str) or len(text) > TEXT_MAX or not (text.strip() or uploads):
        raise InvalidInput(f"text is required (at most {TEXT_MAX} characters) unless files are attached",
                           details={"field": "text"})
    reply_to = body.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or not _MESSAGE_ID.match(reply_to)):
        raise InvalidInput("reply_to must be a message id", details={"field": "reply_to"})
    return client_id, text.strip(), reply_to, uploads


def _event(channel: Channel, visitor: VisitorItem, client_id: str, text: str, reply_to: str | None,
           received_at: str, request_id: str, attachments: list[Attachment] | None = None) -> InboundEvent:
    event = InboundEvent(
        channel_kind=KIND, channel_id=channel.id, workspace_id=channel.workspace_id, event_type="message",
        external_event_id=f"{visitor.visitor_id}:{client_id}",
        external_conversation_id=visitor.external_conversation_id,
        sender=Sender(external_user_id=visitor.visitor_id, display_name=visitor.name, email=visitor.email,
                      phone=visitor.phone, language=visitor.language),
        occurred_at=received_at, received_at=received_at, text=text, reply_to_external_message_id=reply_to or "",
        conversation_title=visitor.topic, correlation_id=request_id, attachments=attachments or [],
    )
    event.external_message_id = message_id_for(event)  # our id is the widget's "provider" id
    return event


def _answer(event: InboundEvent, visitor: VisitorItem) -> Json:
    return {"message_id": event.external_message_id or message_id_for(event), "created_at": event.received_at,
            "conversation_id": visitor.conversation_id}


def _start_conversation(d: Deps, visitor: VisitorItem, event: InboundEvent) -> None:
    """Contact and conversation (the stream's own idempotent calls), then the topic's tags, once per visitor."""
    now = d.now()
    contact_id, _ = repo.ensure_identity(
        event, contact_id_for(event.workspace_id, event.channel_id, visitor.visitor_id), now=now)
    name = visitor.name or f"Visitor {visitor.visitor_id[-6:]}"
    repo.ensure_conversation(event, visitor.conversation_id, contact_id, name, now=now)
    tags = list(visitor.tags or [])
    if tags:
        def add_tags(conv: ConversationItem) -> list[Any]:
            merged = list(dict.fromkeys([*(conv.tags or []), *tags]))
            return [ConversationItem.tags.set(merged)] if merged != list(conv.tags or []) else []

        repo.change_conversation(event.workspace_id, visitor.conversation_id, add_tags)
    store.mark_started(visitor)


def post_message(d: Deps, channel: Channel, visitor: VisitorItem, body: Json, request_id: str = "") -> Json:
    """Store the visitor's message once per `client_message_id`; a repeat gets the same answer."""
    _own_conversation(visitor, body.get("conversation_id"))
    client_id, text, reply_to, uploads = _message_input(body)
    dedupe_key = f"{KIND}#{channel.id}#{visitor.visitor_id}:{client_id}"
    seen = store.get_inbound_event(dedupe_key)
    if seen is not None:
        return _answer(seen, visitor)
    _limit(d, channel.workspace_id, "message", visitor.visitor_id)
    files = [_uploaded(d, channel, visitor, upload_id) for upload_id in uploads]
    event = _event(channel, visitor, client_id, text, reply_to, iso(d.now()), request_id, files)
    if not visitor.started:
        _start_conversation(d, visitor, event)
    (stored,) = store_events(d, [event])
    if not stored:  # the same id arrived twice at once: answer with the one that won
        seen = store.get_inbound_event(dedupe_key)
        return _answer(seen or event, visitor)
    logger.info("widget message", extra={"channel_id": channel.id, "visitor_id": visitor.visitor_id,
                                         "message_id": event.external_message_id})
    return _answer(event, visitor)


# --- the visitor's files ------------------------------------------------------------------------------------------


def _upload_key(channel: Channel, visitor: VisitorItem, upload_id: str) -> str:
    return f"{channel.workspace_id}/widget-uploads/{visitor.visitor_id}/{upload_id}"


def sniff(data: bytes, file_name: str) -> str | None:
    """The file's real type from its first bytes (office formats named by their extension within a container);
    None for anything a visitor may not send (executables, scripts, HTML, archives of unknown use)."""
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            if mime in ("application/zip", "application/x-ole-storage"):
                return _OFFICE.get(suffix)  # a zip or OLE file is accepted only as an office document
            return mime
    if suffix in (".txt", ".csv", ".log") and b"\x00" not in data[:4096]:
        try:
            data[:4096].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/csv" if suffix == ".csv" else "text/plain"
    return None


def store_upload(d: Deps, channel: Channel, visitor: VisitorItem, body: Json) -> Json:
    """A visitor's file, kept until they send it with a message (≤ 10 MB; images, PDF, office documents, text)."""
    name, data = media.decode_upload(body)
    mime = sniff(data, name)
    if mime is None:
        raise UnsupportedMediaType("send an image, a PDF, an office document or a text file",
                                   code="unsupported_file_type")
    _limit(d, channel.workspace_id, "upload", visitor.visitor_id)
    upload_id = f"u_{secrets.token_hex(8)}.{name}"
    d.files.put(_upload_key(channel, visitor, upload_id), data, mime)
    return {"upload_id": upload_id, "file_name": name, "mime_type": mime, "size_bytes": len(data)}


def _uploaded(d: Deps, channel: Channel, visitor: VisitorItem, upload_id: str) -> Attachment:
    """The visitor's own upload (another visitor's id is simply unknown), as the message's attachment."""
    if "/" in upload_id or not upload_id.startswith("u_") or "." not in upload_id:
        raise InvalidInput(f"unknown upload {upload_id}", details={"field": "attachments"})
    key = _upload_key(channel, visitor, upload_id)
    try:
        data, mime = d.files.get(key)
    except NotFound as err:
        raise InvalidInput(f"unknown upload {upload_id}", details={"field": "attachments"}) from err
    kind = "image" if mime.startswith("image/") else "document"
    return Attachment(kind=kind, mime_type=mime, file_name=upload_id.split(".", 1)[1], size_bytes=len(data),
                      storage_key=key)


def _history_limit(raw: str | None) -> int:
    if raw in (None, ""):
        return HISTORY_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= HISTORY_MAX:
        raise InvalidInput(f"limit must be 1..{HISTORY_MAX}")
    return int(raw)


def history(d: Deps, channel: Channel, visitor: VisitorItem, *, after: str | None, limit: str | None,
            conversation_id: str | None = None) -> Json:
    """The conversation as the visitor sees it, oldest first. Without `after`: the latest page; with it: what
    came since (the polling fallback). `next_cursor` is the id to pass as `after` next time."""
    _own_conversation(visitor, conversation_id)
    count = _history_limit(limit)
    if after and not _MESSAGE_ID.match(after):
        raise InvalidInput("after must be a message id")
    ws = channel.workspace_id
    if after:
        items, more = repo.list_messages(ws, visitor.conversation_id, limit=count, after=after)
    else:
        items, more = repo.list_messages(ws, visitor.conversation_id, limit=count)
        items = list(reversed(items))
    shown = [visitor_message(m, channel, d.files, visitor.name) for m in items if visible_to_visitor(m)]
    return {"conversation_id": visitor.conversation_id, "items": shown,
            "next_cursor": items[-1].message_id if items else after, "has_more": bool(after and more)}


# --- live: tickets, typing ------------------------------------------------------------------------------------------


def ws_ticket(d: Deps, channel: Channel, visitor: VisitorItem) -> Json:
    """A one-time, 60-second ticket for the WebSocket (`?ticket=`): browsers cannot send headers there."""
    _limit(d, channel.workspace_id, "ticket", visitor.visitor_id)
    now = d.now()
    ticket = f"{channel.id}.{secrets.token_urlsafe(32)}"
    store.put_ticket(channel.workspace_id, _hash(ticket), visitor_id=visitor.visitor_id, channel_id=channel.id,
                     conversation_id=visitor.conversation_id, now=now, ttl=TICKET_TTL)
    return {"ticket": ticket, "expires_at": iso(now + TICKET_TTL)}


def _header(headers: dict[str, Any], name: str) -> str:
    return next((str(v) for k, v in headers.items() if k.lower() == name), "")


def connect_visitor(d: Deps, connection_id: str, ticket: str, headers: dict[str, Any]) -> int:
    """The WebSocket `$connect` of a visitor: spend the ticket, remember the connection in the visitor's room.

    Returns the HTTP status for API Gateway (200 accepts the connection)."""
    channel_id, _, secret = ticket.partition(".")
    if not channel_id or not secret:
        return 401
    try:
        channel = widget_channel(channel_id)
    except NotFound:
        return 401
    if not allowed_origin(channel, _header(headers, "origin")):
        return 403
    used = store.use_ticket(channel.workspace_id, _hash(ticket), now=d.now())
    if used is None:
        return 401
    connections.remember(connection_id, visitor_room(channel.id, used.conversation_id), used.visitor_id,
                         now=d.now())
    logger.info("widget visitor connected", extra={"channel_id": channel.id, "visitor_id": used.visitor_id})
    return 200


def typing(d: Deps, channel: Channel, visitor: VisitorItem) -> Json:
    """Tell the workspace's consoles that the visitor is typing (nothing is stored)."""
    _limit(d, channel.workspace_id, "typing", visitor.visitor_id)
    if d.settings.websocket_endpoint and visitor.started:
        d.live.broadcast(channel.workspace_id, {"type": "typing", "conversation_id": visitor.conversation_id,
                                                "who": "customer"})
    return {"ok": True}


# --- the visitor's profile -------------------------------------------------------------------------------------------


def update_profile(d: Deps, channel: Channel, visitor: VisitorItem, body: Json) -> Json:
    """`PATCH /visitor`: name and / or e-mail, also on the contact card once the conversation exists."""
    _limit(d, channel.workspace_id, "profile", visitor.visitor_id)
    name = _checked(channel, {"name": "name"}, body["name"]) if body.get("name") is not None else None
    email = _checked(channel, {"name": "email"}, body["email"]) if body.get("email") is not None else None
    if name is None and email is None:
        raise InvalidInput("send name and / or email")
    store.update_profile(visitor, name=name, email=email)
    if visitor.started:
        contact_id = store.contact_of(channel.workspace_id, channel.id, visitor.visitor_id)
        if contact_id:
            store.update_contact(channel.workspace_id, contact_id, name=name, email=email)
        if name:
            repo.change_conversation(channel.workspace_id, visitor.conversation_id, lambda conv: [
                ConversationItem.contact_name.set(name)] if conv.contact_name != name else [])
    return {"visitor_id": visitor.visitor_id, "name": visitor.name, "email": visitor.email}
