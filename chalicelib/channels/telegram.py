"""Telegram Bot API adapter (CHANNELS.md §3).

Inbound: the webhook is authenticated by the `X-Telegram-Bot-Api-Secret-Token` header and each update becomes
zero or more `InboundEvent`s. Outbound: `{api_url}/bot{token}/{method}` with JSON (multipart for uploads); files
are downloaded from `{api_url}/file/bot{token}/{file_path}`.

The bot token is part of every URL, so no exception text, log line or stored URL built here may contain a URL:
errors carry the method name and Telegram's `description` only, and the provider's exception is not chained.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import posixpath
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

import requests

from chalicelib import errors, safejson
from chalicelib.channels.base import (
    ConvRef,
    FetchedMedia,
    OutboundMedia,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from chalicelib.channels.http import json_or_none, raise_transport, redact_in_urllib3_logs
from chalicelib.domain import surveys
from chalicelib.domain.model import Attachment, Channel, InboundEvent, Sender, iso, iso_from_epoch, utcnow
from chalicelib.observability import logger

SECRET_HEADER = "x-telegram-bot-api-secret-token"
TEXT_MAX = 4096
CAPTION_MAX = 1024
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # sendPhoto's own limit: bigger images go out as documents
MEDIA_TIMEOUT_FLOOR = 60.0

ALLOWED_UPDATES = (
    "message", "edited_message", "business_message", "edited_business_message",
    "business_connection", "deleted_business_messages", "my_chat_member", "callback_query",
)

CAPABILITIES: dict[str, Any] = {
    "text_max": TEXT_MAX,
    "caption_max": CAPTION_MAX,
    "download_max_bytes": DOWNLOAD_MAX_BYTES,
    "upload_max_bytes": UPLOAD_MAX_BYTES,
    "photo_max_bytes": PHOTO_MAX_BYTES,
    "edit_out": {"max_age_hours": 48},
    "delete_out": {"max_age_hours": 48},
    "rate_limits": {"per_chat_per_second": 1, "per_group_per_minute": 20, "global_per_second": 30},
}

# kind -> (method, multipart field)
_SEND_METHODS: dict[str, tuple[str, str]] = {
    "image": ("sendPhoto", "photo"),
    "document": ("sendDocument", "document"),
    "voice": ("sendVoice", "voice"),
    "audio": ("sendAudio", "audio"),
    "video": ("sendVideo", "video"),
}

_MESSAGE_UPDATES = {
    "message": False,
    "edited_message": True,
    "business_message": False,
    "edited_business_message": True,
}

# message content we cannot show but should not drop silently
_OTHER_CONTENT = ("poll", "dice", "game", "story", "invoice", "giveaway", "paid_media")

_TOKEN_RE = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
redact_in_urllib3_logs(_TOKEN_RE, "bot<redacted>")

Json = dict[str, Any]


# ----------------------------------------------------------------------------------------------- inbound helpers


def _ts(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return iso_from_epoch(value)
    return ""


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sender(message: Json) -> Sender:
    user = message.get("from")
    if isinstance(user, dict) and "id" in user:
        name = f"{_str(user.get('first_name'))} {_str(user.get('last_name'))}".strip()
        return Sender(
            external_user_id=str(user["id"]),
            display_name=name,
            username=_str(user.get("username")),
            is_bot=bool(user.get("is_bot", False)),
            language=_str(user.get("language_code")),
        )
    chat = message.get("sender_chat") or message.get("chat") or {}
    return Sender(external_user_id=str(chat.get("id", "")), display_name=_str(chat.get("title")),
                  username=_str(chat.get("username")))


def _file_attachment(kind: str, item: Json, default_mime: str = "") -> Attachment:
    return Attachment(
        kind=kind,
        mime_type=_str(item.get("mime_type")) or default_mime,
        file_name=_str(item.get("file_name")),
        size_bytes=_int(item.get("file_size")),
        duration_s=_int(item.get("duration")),
        width=_int(item.get("width")),
        height=_int(item.get("height")),
        file_ref=_str(item.get("file_id")),
    )


def _photo(message: Json) -> list[Attachment]:
    sizes = [s for s in message.get("photo") or [] if isinstance(s, dict)]
    return [_file_attachment("image", sizes[-1], "image/jpeg")] if sizes else []


def _sticker(message: Json) -> list[Attachment]:
    sticker = message["sticker"]
    mime = "video/webm" if sticker.get("is_video") else "application/x-tgsticker" if sticker.get(
        "is_animated") else "image/webp"
    attachment = _file_attachment("sticker", sticker, mime)
    attachment.caption = _str(sticker.get("emoji"))
    return [attachment]


def _coords(location: Json) -> str:
    lat, lon = location.get("latitude"), location.get("longitude")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return ""
    return f"{round(float(lat), 6)}, {round(float(lon), 6)}"


def _location(message: Json) -> list[Attachment]:
    venue = message.get("venue")
    if isinstance(venue, dict):
        parts = [_str(venue.get("title")), _str(venue.get("address")), _coords(venue.get("location") or {})]
        return [Attachment(kind="location", caption=", ".join(p for p in parts if p))]
    return [Attachment(kind="location", caption=_coords(message["location"]))]


def _contact(message: Json) -> list[Attachment]:
    contact = message["contact"]
    name = f"{_str(contact.get('first_name'))} {_str(contact.get('last_name'))}".strip()
    caption = ", ".join(p for p in (name, _str(contact.get("phone_number"))) if p)
    return [Attachment(kind="contact", caption=caption)]


def _video_note(message: Json) -> list[Attachment]:
    note = message["video_note"]
    attachment = _file_attachment("video", note, "video/mp4")
    attachment.width = attachment.height = _int(note.get("length"))
    return [attachment]


def _other(message: Json, key: str) -> list[Attachment]:
    value = message[key]
    label = key
    if key == "poll" and isinstance(value, dict):
        label = f"poll: {_str(value.get('question'))}"
    elif key == "dice" and isinstance(value, dict):
        label = f"dice: {_str(value.get('emoji'))} {_int(value.get('value'))}"
    return [Attachment(kind="other", caption=label)]


_EXTRACTORS: tuple[tuple[str, Callable[[Json], list[Attachment]]], ...] = (
    ("photo", _photo),
    ("animation", lambda m: [_file_attachment("video", m["animation"], "video/mp4")]),
    ("document", lambda m: [_file_attachment("document", m["document"], "application/octet-stream")]),
    ("voice", lambda m: [_file_attachment("voice", m["voice"], "audio/ogg")]),
    ("audio", lambda m: [_file_attachment("audio", m["audio"], "audio/mpeg")]),
    ("video", lambda m: [_file_attachment("video", m["video"], "video/mp4")]),
    ("video_note", _video_note),
    ("sticker", _sticker),
    ("location", _location),
    ("contact", _contact),
)


def _attachments(message: Json) -> list[Attachment]:
    found: list[Attachment] = []
    for key, extract in _EXTRACTORS:
        if key == "document" and "animation" in message:
            continue  # an animation is also sent as `document` for old clients
        if isinstance(message.get(key), (dict, list)):
            found.extend(extract(message))
    if not found:
        for key in _OTHER_CONTENT:
            if key in message:
                found.extend(_other(message, key))
                break
    return found


def _thread_id(message: Json) -> str:
    business = _str(message.get("business_connection_id"))
    if business:
        return business
    thread = message.get("message_thread_id")
    if message.get("is_topic_message") and isinstance(thread, int):
        return str(thread)
    return ""


def _reply_to(message: Json) -> str:
    replied = message.get("reply_to_message")
    if not isinstance(replied, dict) or not isinstance(replied.get("message_id"), int):
        return ""
    # in forum topics every message "replies" to the topic's creation message, whose id is the thread id
    if message.get("is_topic_message") and replied["message_id"] == message.get("message_thread_id"):
        return ""
    return str(replied["message_id"])


def _chat(container: Json) -> Json:
    chat = container.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise errors.InvalidPayload("telegram update has no chat.id")
    return chat


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_message(message: Json, *, edited: bool) -> None:
    """The Bot API's required fields of a Message (and of its `from` User) that the adapter reads, by type.

    Raises `InvalidPayload` naming every field that is missing or of the wrong type; nothing is stored then.
    """
    wrong: list[str] = []
    if not _is_int(message.get("message_id")):
        wrong.append("message_id")
    if not _is_int(message.get("date")):
        wrong.append("date")
    chat = message.get("chat")
    if not isinstance(chat, dict) or not _is_int(chat.get("id")) or not isinstance(chat.get("type"), str):
        wrong.append("chat {id, type}")
    user = message.get("from")
    if user is not None and (not isinstance(user, dict) or not _is_int(user.get("id"))
                             or not isinstance(user.get("is_bot"), bool)
                             or not isinstance(user.get("first_name"), str)):
        wrong.append("from {id, is_bot, first_name}")
    if edited and not _is_int(message.get("edit_date")):
        wrong.append("edit_date")
    for name in ("text", "caption"):
        if name in message and not isinstance(message[name], str):
            wrong.append(name)
    if wrong:
        raise errors.InvalidPayload(f"telegram message misses or mistypes {', '.join(wrong)}")


def _surface(chat: Json) -> tuple[str, str]:
    if chat.get("type") == "private":
        return "private", ""
    return "group", _str(chat.get("title"))


def _decode_update(raw_body: bytes) -> Json:
    update = safejson.loads(raw_body)
    if not isinstance(update, dict):
        raise errors.InvalidPayload("telegram update must be a JSON object")
    if not isinstance(update.get("update_id"), int) or isinstance(update.get("update_id"), bool):
        raise errors.InvalidPayload("telegram update has no integer update_id")
    return update


def _chat_id(external_conversation_id: str) -> int | str:
    text = external_conversation_id.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Split `text` into chunks of at most `limit` UTF-16 units, preferring newlines, then other whitespace."""
    chunks: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        head = _fit(rest, limit)
        cut = _boundary(head)
        chunk, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if chunk:
            chunks.append(chunk)
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def _fit(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units (Telegram counts lengths in UTF-16)."""
    head = text[:limit]
    excess = _utf16_len(head) - limit
    while excess > 0:
        head = head[: len(head) - (excess + 1) // 2]
        excess = _utf16_len(head) - limit
    return head


def _boundary(head: str) -> int:
    newline = head.rfind("\n")
    if newline > len(head) // 2:
        return newline + 1
    for index in range(len(head) - 1, 0, -1):
        if head[index].isspace():
            return index + 1
    return len(head)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ----------------------------------------------------------------------------------------------------- adapter


class TelegramAdapter:
    """`ChannelAdapter` for Telegram bots. Secrets: `bot_token`, `webhook_secret`."""

    kind = "telegram"
    capabilities: frozenset[str] = frozenset({
        "text", "images", "documents", "voice", "edit_in", "edit_out", "delete_out", "reply_to",
        "block_group", "typing",
    })

    def __init__(self, api_url: str, session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        self._authenticate(channel, request)
        update = _decode_update(request.raw_body)
        received_at = request.received_at or iso(utcnow())
        events: list[InboundEvent] = []
        for key, edited in _MESSAGE_UPDATES.items():
            if isinstance(update.get(key), dict):
                events.append(self._message_event(channel, request, update, update[key], edited, received_at))
                break
        if isinstance(update.get("deleted_business_messages"), dict):
            events.extend(self._deleted_events(channel, request, update, received_at))
        if isinstance(update.get("callback_query"), dict):
            events.extend(self._callback_events(channel, request, update, received_at))
        return WebhookResult(events=events, status=200, body="")

    def _callback_events(self, channel: Channel, request: WebhookRequest, update: Json,
                         received_at: str) -> list[InboundEvent]:
        """A pressed survey button (G4): `callback_data` "sv:<survey>:<score>" from a private chat; other
        callbacks (not ours) are dropped. The chat is the message's; the stream answers the query."""
        query = update["callback_query"]
        parsed = surveys.parse_answer_data(query.get("data"))
        message: Json = query["message"] if isinstance(query.get("message"), dict) else {}
        chat: Json = message["chat"] if isinstance(message.get("chat"), dict) else {}
        sender: Json = query["from"] if isinstance(query.get("from"), dict) else {}
        if parsed is None or not _is_int(chat.get("id")) or not _is_int(sender.get("id")):
            return []
        surface, title = _surface(chat)
        return [InboundEvent(
            channel_kind=self.kind, channel_id=channel.id, workspace_id=channel.workspace_id,
            event_type="survey_answer", external_event_id=str(update["update_id"]),
            external_conversation_id=str(chat["id"]), external_message_id=str(message.get("message_id") or ""),
            sender=Sender(external_user_id=str(sender["id"]), display_name=_str(sender.get("first_name")),
                          username=_str(sender.get("username")), language=_str(sender.get("language_code"))),
            occurred_at=received_at, received_at=received_at, surface=surface, conversation_title=title,
            correlation_id=request.request_id,
            answer={"survey_id": parsed[0], "score": parsed[1], "via": "button", "callback_id": _str(query.get("id"))},
        )]

    @staticmethod
    def _authenticate(channel: Channel, request: WebhookRequest) -> None:
        expected = channel.secrets.get("webhook_secret", "")
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise errors.Unauthenticated("telegram webhook secret token is missing or wrong")

    def _message_event(self, channel: Channel, request: WebhookRequest, update: Json, message: Json,
                       edited: bool, received_at: str) -> InboundEvent:
        check_message(message, edited=edited)
        chat = _chat(message)
        surface, title = _surface(chat)
        occurred = _ts(message.get("edit_date")) if edited else ""
        return InboundEvent(
            channel_kind=self.kind,
            channel_id=channel.id,
            workspace_id=channel.workspace_id,
            event_type="message_edited" if edited else "message",
            external_event_id=str(update["update_id"]),
            external_conversation_id=str(chat["id"]),
            external_message_id=str(message["message_id"]),
            external_thread_id=_thread_id(message),
            reply_to_external_message_id=_reply_to(message),
            sender=_sender(message),
            occurred_at=occurred or _ts(message.get("date")) or received_at,
            received_at=received_at,
            text=_str(message.get("text")) or _str(message.get("caption")),
            attachments=_attachments(message),
            surface=surface,
            is_edited=edited,
            conversation_title=title,
            correlation_id=request.request_id,
        )

    def _deleted_events(self, channel: Channel, request: WebhookRequest, update: Json,
                        received_at: str) -> list[InboundEvent]:
        deleted = update["deleted_business_messages"]
        chat = _chat(deleted)
        surface, title = _surface(chat)
        ids = [i for i in deleted.get("message_ids") or [] if isinstance(i, int)]
        return [
            InboundEvent(
                channel_kind=self.kind,
                channel_id=channel.id,
                workspace_id=channel.workspace_id,
                event_type="message_deleted",
                external_event_id=f"{update['update_id']}:{message_id}",
                external_conversation_id=str(chat["id"]),
                external_message_id=str(message_id),
                external_thread_id=_str(deleted.get("business_connection_id")),
                sender=Sender(external_user_id=str(chat["id"]), display_name=_chat_name(chat),
                              username=_str(chat.get("username"))),
                occurred_at=received_at,
                received_at=received_at,
                surface=surface,
                is_deleted=True,
                conversation_title=title,
                correlation_id=request.request_id,
            )
            for message_id in ids
        ]

    # ----------------------------------------------------------------------------------------------- outbound

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        """One sendMessage per 4096-unit chunk; the first chunk's message id is the result.

        Once the first chunk is out, a failing later chunk is logged rather than raised: a retry would send
        the first chunk again.
        """
        chunks = split_text(text, TEXT_MAX)
        payload: Json = {**self._target(conv), "text": chunks[0]}
        if reply_to:
            payload["reply_parameters"] = _reply_parameters(reply_to)
        first = _send_result(self._call(channel, "sendMessage", json_body=payload))
        unsent = self._send_continuation(channel, conv, chunks[1:], idempotency_key)
        return SendResult(first.external_message_id, {**first.raw, "unsent_parts": unsent}) if unsent else first

    def send_survey(self, channel: Channel, conv: ConvRef, prompt: surveys.Prompt, *,
                    idempotency_key: str = "") -> SendResult:
        """The question with an inline keyboard: CSAT 1-5 in one row, NPS 0-10 in two."""
        per_row = 5 if prompt.kind == "csat" else 6
        keyboard = [[{"text": label, "callback_data": prompt.data(score)} for label, score in row]
                    for row in surveys.rows_of(prompt.options, per_row)]
        payload: Json = {**self._target(conv), "text": _fit(prompt.question, TEXT_MAX),
                         "reply_markup": {"inline_keyboard": keyboard}}
        return _send_result(self._call(channel, "sendMessage", json_body=payload))

    def answer_callback(self, channel: Channel, callback_id: str, text: str) -> None:
        """Stops the button's spinner; `text` (if any) shows as a toast."""
        body: Json = {"callback_query_id": callback_id}
        if text:
            body["text"] = text[:200]
        self._call(channel, "answerCallbackQuery", json_body=body)

    def _send_continuation(self, channel: Channel, conv: ConvRef, chunks: list[str], idempotency_key: str) -> int:
        for index, chunk in enumerate(chunks):
            try:
                self._call(channel, "sendMessage", json_body={**self._target(conv), "text": chunk})
            except errors.ChannelError as exc:
                logger.warning("telegram continuation not sent", extra={
                    "channel_id": channel.id, "idempotency_key": idempotency_key, "error_code": exc.code,
                    "unsent_parts": len(chunks) - index})
                return len(chunks) - index
        return 0

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        if len(media.data) > UPLOAD_MAX_BYTES:
            raise errors.PermanentError("telegram bots upload at most 50 MB", details={"size": len(media.data)})
        method, field = _media_method(media)
        caption_parts = split_text(caption, CAPTION_MAX) if caption else []
        form: dict[str, str] = {key: str(value) for key, value in self._target(conv).items()}
        if caption_parts:
            form["caption"] = caption_parts[0]
        if reply_to:
            form["reply_parameters"] = json.dumps(_reply_parameters(reply_to))
        file_name = media.file_name or f"{media.kind or 'file'}{mimetypes.guess_extension(media.mime_type) or ''}"
        files = {field: (file_name, media.data, media.mime_type or "application/octet-stream")}
        sent = _send_result(self._call(channel, method, form=form, files=files))
        unsent = self._send_continuation(channel, conv, caption_parts[1:], idempotency_key)
        return SendResult(sent.external_message_id, {**sent.raw, "unsent_parts": unsent}) if unsent else sent

    def edit_text(self, channel: Channel, conv: ConvRef, external_message_id: str, text: str) -> SendResult:
        payload = {**self._target(conv), "message_id": int(external_message_id), "text": text}
        payload.pop("message_thread_id", None)
        result = self._call(channel, "editMessageText", json_body=payload)
        return _send_result(result) if isinstance(result, dict) else SendResult(external_message_id)

    def delete(self, channel: Channel, conv: ConvRef, external_message_id: str) -> None:
        thread = conv.external_thread_id
        if thread and not thread.isdigit():
            self._call(channel, "deleteBusinessMessages", json_body={
                "business_connection_id": thread, "message_ids": [int(external_message_id)]})
            return
        self._call(channel, "deleteMessage", json_body={
            "chat_id": _chat_id(conv.external_conversation_id), "message_id": int(external_message_id)})

    def typing(self, channel: Channel, conv: ConvRef) -> None:
        self._call(channel, "sendChatAction", json_body={**self._target(conv), "action": "typing"})

    def block(self, channel: Channel, conv: ConvRef, external_user_id: str, *,
              until: datetime | None = None) -> None:
        """Ban a member of a group chat; private chats have no block API (the caller keeps a denylist)."""
        chat_id = _chat_id(conv.external_conversation_id)
        if isinstance(chat_id, int) and chat_id > 0:
            raise errors.NotSupported("telegram cannot block a user in a private chat")
        payload: Json = {"chat_id": chat_id, "user_id": int(external_user_id)}
        if until is not None:
            payload["until_date"] = int(until.timestamp())
        self._call(channel, "banChatMember", json_body=payload)

    # ---------------------------------------------------------------------------------------- files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        info = self._call(channel, "getFile", json_body={"file_id": file_ref})
        if not isinstance(info, dict) or not _str(info.get("file_path")):
            raise errors.PermanentError("telegram getFile returned no file_path")
        if _int(info.get("file_size")) > DOWNLOAD_MAX_BYTES:
            raise errors.PermanentError("telegram bots download at most 20 MB",
                                        details={"size": info["file_size"]})
        file_path = info["file_path"]
        data = self._download(channel, file_path)
        mime = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return FetchedMedia(data=data, mime_type=mime, file_name=posixpath.basename(file_path))

    def register_webhook(self, channel: Channel, url: str) -> None:
        secret = channel.secrets.get("webhook_secret", "")
        if not secret:
            raise errors.InvalidInput("telegram channel has no webhook_secret")
        self._call(channel, "setWebhook", json_body={
            "url": url, "secret_token": secret, "allowed_updates": list(ALLOWED_UPDATES)})

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            me = self._call(channel, "getMe", json_body={})
            info = self._call(channel, "getWebhookInfo", json_body={})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        me = me if isinstance(me, dict) else {}
        info = info if isinstance(info, dict) else {}
        return {
            "ok": True,
            "username": _str(me.get("username")),
            "webhook_url": _str(info.get("url")),
            "pending_update_count": _int(info.get("pending_update_count")),
            "last_error_message": _str(info.get("last_error_message")),
            "last_error_date": _ts(info.get("last_error_date")),
        }

    # ------------------------------------------------------------------------------------------------- HTTP

    @staticmethod
    def _target(conv: ConvRef) -> Json:
        target: Json = {"chat_id": _chat_id(conv.external_conversation_id)}
        thread = conv.external_thread_id
        if thread.isdigit():
            target["message_thread_id"] = int(thread)
        elif thread:
            target["business_connection_id"] = thread
        return target

    @staticmethod
    def _token(channel: Channel) -> str:
        token = channel.secrets.get("bot_token", "")
        if not token:
            raise errors.PermanentError("telegram channel has no bot_token")
        return token

    def _call(self, channel: Channel, method: str, *, json_body: Json | None = None,
              form: dict[str, str] | None = None, files: dict[str, tuple[str, bytes, str]] | None = None) -> Any:
        url = f"{self.api_url}/bot{self._token(channel)}/{method}"
        timeout = max(self.timeout, MEDIA_TIMEOUT_FLOOR) if files else self.timeout
        try:
            if files is not None:
                response = self.session.post(url, data=form or {}, files=files, timeout=timeout)
            else:
                response = self.session.post(url, json=json_body or {}, timeout=timeout)
        except requests.RequestException as exc:
            raise_transport(f"telegram {method}", exc)
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        _raise_provider(method, response.status_code, body)

    def _download(self, channel: Channel, file_path: str) -> bytes:
        url = f"{self.api_url}/file/bot{self._token(channel)}/{file_path}"
        try:
            with self.session.get(url, stream=True, timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR)) as response:
                if response.status_code != 200:
                    _raise_provider("file download", response.status_code, json_or_none(response))
                data = bytearray()
                for block in response.iter_content(chunk_size=64 * 1024):
                    data.extend(block)
                    if len(data) > DOWNLOAD_MAX_BYTES:
                        raise errors.PermanentError("telegram bots download at most 20 MB")
                return bytes(data)
        except requests.RequestException as exc:
            raise_transport("telegram file download", exc)


def _chat_name(chat: Json) -> str:
    return f"{_str(chat.get('first_name'))} {_str(chat.get('last_name'))}".strip() or _str(chat.get("title"))


def _reply_parameters(reply_to: str) -> Json:
    return {"message_id": int(reply_to), "allow_sending_without_reply": True}


def _media_method(media: OutboundMedia) -> tuple[str, str]:
    if media.kind == "image" and len(media.data) > PHOTO_MAX_BYTES:
        return _SEND_METHODS["document"]
    return _SEND_METHODS.get(media.kind, _SEND_METHODS["document"])


def _send_result(result: Any) -> SendResult:
    if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
        raise errors.PermanentError("telegram answered without a message_id")
    return SendResult(external_message_id=str(result["message_id"]), raw=result)


def _raise_provider(method: str, status: int, body: Any) -> NoReturn:
    body = body if isinstance(body, dict) else {}
    code = _int(body.get("error_code")) or status
    if code == 200:
        code = 502  # 200 without ok: true is a broken answer, not a rejection
    description = _TOKEN_RE.sub("bot<redacted>", _str(body.get("description")) or f"HTTP {status}")
    message = f"telegram {method}: {description}"
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    details: Json = {"error_code": code, "description": description}
    if "migrate_to_chat_id" in parameters:
        details["migrate_to_chat_id"] = parameters["migrate_to_chat_id"]
    if status == 429 or code == 429:
        retry_after: Any = parameters.get("retry_after")
        raise errors.RateLimited(message, retry_after=float(retry_after) if _is_positive(retry_after) else 1.0)
    if code == 403 or status == 403:
        raise errors.RecipientUnavailable(message, details=details)
    if status >= 500 or code >= 500:
        raise errors.TransientError(message, details=details)
    raise errors.PermanentError(message, details=details)


def _is_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
