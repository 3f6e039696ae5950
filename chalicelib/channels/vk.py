"""VK community adapter: Callback API in, VK API out (CHANNELS.md §4).

Inbound: VK POSTs `{"type", "event_id", "group_id", "secret", "object"}`. A `confirmation` is answered with the
channel's confirmation code as text/plain; every other event is authenticated on the body's `secret` and
`group_id`, normalised, and answered `ok` (also for event types we ignore, or VK resends them). Sender names
are not in VK events: the webhook leaves them empty and `lookup_sender` (users.get) fills them from the stream.

Outbound: `POST {api_url}/{method}`, form-encoded, with `access_token` and `v` in the body (never in a URL).
VK answers HTTP 200 with `{"response": ...}` or `{"error": {"error_code", "error_msg"}}`. `messages.send`
dedupes on `random_id` and `wall.createComment` on `guid`: both derive from our idempotency key, so a retry of
the same outbound message cannot post twice. Exception texts carry the method and VK's `error_msg` only.

Secrets: `access_token` (community token), `group_id`, optional `secret_key` (else `webhook_secret`),
`confirmation_code` (else fetched with `groups.getCallbackConfirmationCode`), and `user_token` (a community
admin's user token: `groups.ban` and `wall.deleteComment` accept no community token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import posixpath
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import requests

from chalicelib import errors, safejson
from chalicelib.channels.base import (
    CommentRef,
    ConvRef,
    FetchedMedia,
    OutboundMedia,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from chalicelib.channels.http import json_or_none, raise_transport
from chalicelib.domain import surveys
from chalicelib.domain.model import Attachment, Channel, InboundEvent, Sender, iso, iso_from_epoch, utcnow
from chalicelib.observability import logger

TEXT_MAX = 4096
INLINE_KEYBOARD_MAX = 10  # buttons an inline keyboard holds (VK: 6 rows of up to 5, 10 in all)
DOWNLOAD_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_BYTES = 50 * 1024 * 1024
UPLOAD_MAX_BYTES = 200 * 1024 * 1024
MEDIA_TIMEOUT_FLOOR = 60.0
CHAT_PEER_OFFSET = 2_000_000_000  # peer ids of group chats start here
CALLBACK_TITLE = "Zabota"  # at most 14 characters
MAX_REDIRECTS = 3
QUOTE_DEPTH = 3

# the events we subscribe to with groups.setCallbackSettings
CALLBACK_EVENTS = (
    "message_new", "message_reply", "message_edit", "message_allow", "message_deny", "message_read",
    "wall_reply_new", "wall_reply_edit", "wall_reply_delete",
)

# hosts VK serves attachment files from; anything else is never downloaded (no fetching of arbitrary URLs)
MEDIA_HOSTS = ("vk.com", "vk.ru", "userapi.com", "vkuser.net", "vk-cdn.net", "vkuserphoto.ru", "vkuservideo.net",
               "vkuseraudio.net", "mycdn.me")

CAPABILITIES: dict[str, Any] = {
    "text_max": TEXT_MAX,
    "download_max_bytes": DOWNLOAD_MAX_BYTES,
    "upload_max_bytes": UPLOAD_MAX_BYTES,
    "photo_max_bytes": PHOTO_MAX_BYTES,
    "edit_out": {"max_age_hours": None},  # VK refuses old messages with error 909; the window is undocumented
    "delete_out": {"max_age_hours": 24, "for_everyone": True},
    "comments": {"reply": True, "private_reply": False, "delete": "user_token", "hide": False},
    "block": "user_token",  # groups.ban needs a community admin's user token
    "rate_limits": {"community_token_per_second": 20, "user_token_per_second": 3},
}

RATE_LIMIT_CODES = {6: 1.0, 29: 3600.0}  # too many requests per second; method quota reached
TRANSIENT_CODES = frozenset({1, 9, 10})  # unknown error, flood control, internal error
RECIPIENT_CODES = frozenset({900, 901, 902, 917, 945})  # blacklisted, not allowed, privacy, no chat access, disabled

Json = dict[str, Any]


# ------------------------------------------------------------------------------------------------- small helpers


def random_id_for(idempotency_key: str) -> int:
    """A stable, non-zero 31-bit `random_id` (0 would switch VK's dedupe off)."""
    if not idempotency_key:
        return secrets.randbits(31) or 1
    return int(hashlib.sha256(idempotency_key.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF or 1


def guid_for(idempotency_key: str) -> str:
    seed = idempotency_key or secrets.token_hex(16)
    return "zabota-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ts(value: Any) -> str:
    number = _int(value)
    return iso_from_epoch(number) if number and number > 0 else ""


def _dicts(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def message_ref(message: Json) -> str:
    """VK's id of a message: `id` in dialogs with the community, `c{conversation_message_id}` in group chats."""
    mid = _int(message.get("id"))
    if mid:
        return str(mid)
    cmid = _int(message.get("conversation_message_id"))
    return f"c{cmid}" if cmid else ""


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Chunks of at most `limit` characters, cut at a newline or space where one is near the end."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        head = rest[:limit]
        cut = head.rfind("\n")
        if cut <= limit // 2:
            cut = head.rfind(" ")
        cut = cut + 1 if cut > limit // 2 else limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def parse_post_ref(post_id: str, default_owner: int) -> tuple[int, int]:
    """`77`, `-123456_77` or `wall-123456_77` -> (owner_id, post_id)."""
    text = post_id.removeprefix("wall")
    owner, _, post = text.rpartition("_")
    owner_id, number = _int(owner), _int(post)
    if number is None:
        raise errors.InvalidInput(f"not a VK post id: {post_id!r}")
    return (owner_id if owner_id is not None else default_owner), number


# ----------------------------------------------------------------------------------------------- inbound parsing


def _largest(sizes: list[Json]) -> Json:
    return max(sizes, key=lambda s: (_int(s.get("width")) or 0) * (_int(s.get("height")) or 0), default={})


def _file(kind: str, url: str, **fields: Any) -> Attachment:
    """A downloadable attachment: the stream copies `file_ref` (VK's direct URL) into our storage."""
    return Attachment(kind=kind, url=url, file_ref=url, **fields)


def _photo(item: Json) -> Attachment:
    size = _largest(_dicts(item.get("sizes")))
    url = _str(size.get("url")) or _str(size.get("src"))
    if not url:
        return Attachment(kind="image", file_ref=f"photo{item.get('owner_id')}_{item.get('id')}")
    return _file("image", url, mime_type="image/jpeg", width=_int(size.get("width")) or 0,
                 height=_int(size.get("height")) or 0, caption=_str(item.get("text")))


def _doc(item: Json) -> Attachment:
    title, ext = _str(item.get("title")), _str(item.get("ext"))
    name = title if not ext or title.lower().endswith(f".{ext.lower()}") else f"{title}.{ext}"
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    url = _str(item.get("url"))
    fields: Json = {"mime_type": mime, "file_name": name, "size_bytes": _int(item.get("size")) or 0}
    if url:
        return _file("document", url, **fields)
    return Attachment(kind="document", file_ref=f"doc{item.get('owner_id')}_{item.get('id')}", **fields)


def _voice(item: Json) -> Attachment:
    ogg, mp3 = _str(item.get("link_ogg")), _str(item.get("link_mp3"))
    mime = "audio/ogg" if ogg else "audio/mpeg"
    return _file("voice", ogg or mp3, mime_type=mime, duration_s=_int(item.get("duration")) or 0,
                 caption=_str(item.get("transcript")))


def _video(item: Json) -> Attachment:
    """VK gives bots no video file: keep its reference (fetching it fails visibly) and title."""
    ref = f"video{item.get('owner_id')}_{item.get('id')}"
    return Attachment(kind="video", file_ref=ref, duration_s=_int(item.get("duration")) or 0,
                      width=_int(item.get("width")) or 0, height=_int(item.get("height")) or 0,
                      caption=f"{_str(item.get('title'))} https://vk.com/{ref}".strip())


def _sticker(item: Json) -> Attachment:
    image = _largest(_dicts(item.get("images")) or _dicts(item.get("images_with_background")))
    url = _str(image.get("url"))
    if not url:
        return Attachment(kind="sticker", caption=f"sticker {item.get('sticker_id', '')}".strip())
    return _file("sticker", url, mime_type="image/png", width=_int(image.get("width")) or 0,
                 height=_int(image.get("height")) or 0)


def _wall(item: Json) -> Attachment:
    owner = item.get("owner_id", item.get("to_id", item.get("from_id")))
    link = f"https://vk.com/wall{owner}_{item.get('id')}"
    snippet = " ".join(_str(item.get("text")).split())[:200]
    return Attachment(kind="other", caption=f"wall post {link} {snippet}".strip())


def _other(kind: str, item: Json) -> Attachment:
    if kind == "link":
        return Attachment(kind="other", caption=f"link {_str(item.get('url'))}".strip())
    if kind == "audio":
        return Attachment(kind="audio", caption=f"{_str(item.get('artist'))} - {_str(item.get('title'))}",
                          duration_s=_int(item.get("duration")) or 0)
    if kind == "graffiti" and _str(item.get("url")):
        return _file("image", _str(item["url"]), mime_type="image/png")
    return Attachment(kind="other", caption=kind)


_ATTACHMENT_PARSERS = {"photo": _photo, "doc": _doc, "audio_message": _voice, "video": _video, "sticker": _sticker,
                       "wall": _wall}


def attachments_of(items: Any) -> list[Attachment]:
    found: list[Attachment] = []
    for entry in _dicts(items):
        kind = _str(entry.get("type"))
        item = entry.get(kind)
        if not isinstance(item, dict):
            continue
        parser = _ATTACHMENT_PARSERS.get(kind)
        found.append(parser(item) if parser else _other(kind, item))
    return found


def _quoted(messages: list[Json], depth: int = 1) -> list[str]:
    """Forwarded messages as quote lines: `> text` (nested forwards get one more `>`)."""
    lines: list[str] = []
    for forwarded in messages:
        prefix = ">" * depth + " "
        text = _str(forwarded.get("text"))
        lines.extend(prefix + line for line in text.splitlines() if line.strip())
        count = len(_dicts(forwarded.get("attachments")))
        if count:
            lines.append(f"{prefix}[{count} attachment{'s' if count > 1 else ''}]")
        if depth < QUOTE_DEPTH:
            lines.extend(_quoted(_dicts(forwarded.get("fwd_messages")), depth + 1))
    return lines


def message_text(message: Json) -> str:
    text = _str(message.get("text"))
    quote = _quoted(_dicts(message.get("fwd_messages")))
    if not quote:
        return text
    return (text + "\n\n" if text else "") + "\n".join(quote)


def _decode(raw_body: bytes) -> Json:
    body = safejson.loads(raw_body)
    if not isinstance(body, dict) or not _str(body.get("type")):
        raise errors.InvalidInput("vk callback must be a JSON object with a type")
    return body


@dataclass(frozen=True)
class _Callback:
    """One authenticated callback: what every event built from it shares."""

    channel: Channel
    request: WebhookRequest
    body: Json
    group_id: int
    received_at: str

    @property
    def event_id(self) -> str:
        return _str(self.body.get("event_id")) or hashlib.sha256(self.request.raw_body).hexdigest()[:32]

    @property
    def object(self) -> Json:
        obj = self.body.get("object")
        if not isinstance(obj, dict):
            raise errors.InvalidPayload(f"vk {self.body['type']} has no object")
        return obj

    def event(self, event_type: str, external_conversation_id: str, sender: Sender, **fields: Any) -> InboundEvent:
        fields.setdefault("occurred_at", self.received_at)
        return InboundEvent(
            channel_kind="vk", channel_id=self.channel.id, workspace_id=self.channel.workspace_id,
            event_type=event_type, external_event_id=self.event_id,
            external_conversation_id=external_conversation_id, sender=sender, received_at=self.received_at,
            correlation_id=self.request.request_id, **fields,
        )


def _message_event(cb: _Callback, message: Json, *, event_type: str, direction: str) -> InboundEvent:
    peer_id = _int(message.get("peer_id"))
    if peer_id is None:
        raise errors.InvalidPayload("vk message has no peer_id")
    author = _int(message.get("admin_author_id")) if direction == "out" else None
    sender_id = author or _int(message.get("from_id")) or peer_id
    edited = event_type == "message_edited"
    occurred = (_ts(message.get("update_time")) if edited else "") or _ts(message.get("date"))
    reply = message.get("reply_message")
    return cb.event(
        event_type, str(peer_id), Sender(external_user_id=str(sender_id), is_bot=sender_id < 0),
        external_message_id=message_ref(message),
        reply_to_external_message_id=message_ref(reply) if isinstance(reply, dict) else "",
        text=message_text(message), attachments=attachments_of(message.get("attachments")),
        surface="group" if peer_id >= CHAT_PEER_OFFSET else "private", is_edited=edited,
        occurred_at=occurred or cb.received_at, direction=direction,
    )


def _message_new(cb: _Callback) -> list[InboundEvent]:
    obj = cb.object
    message = obj["message"] if isinstance(obj.get("message"), dict) else obj  # versions before 5.103: bare
    event = _message_event(cb, message, event_type="message", direction="in")
    answer = _survey_answer(message.get("payload"))
    if answer is not None and event.surface == "private":  # a pressed survey button (G4), not a message
        event.event_type = "survey_answer"
        event.answer = {"survey_id": answer[0], "score": answer[1], "via": "button"}
    return [event]


def _survey_answer(payload: Any) -> tuple[str, int] | None:
    """A keyboard button's `payload` (a JSON string, up to 255 characters) of ours: {"sv": "sv:<survey>:<score>"}."""
    if not isinstance(payload, str) or len(payload) > 255:
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return surveys.parse_answer_data(data.get("sv")) if isinstance(data, dict) else None


def _message_reply(cb: _Callback) -> list[InboundEvent]:
    """Our community's own message: typed in VK's interface, or the echo of what we sent (same id)."""
    return [_message_event(cb, cb.object, event_type="message", direction="out")]


def _message_edit(cb: _Callback) -> list[InboundEvent]:
    message = cb.object
    direction = "out" if _int(message.get("out")) == 1 else "in"
    return [_message_event(cb, message, event_type="message_edited", direction=direction)]


def comment_conversation_id(owner_id: int, post_id: int, user_id: int) -> str:
    """One conversation per commenter per post."""
    return f"wall{owner_id}_{post_id}_{user_id}"


def _comment_event(cb: _Callback, event_type: str) -> list[InboundEvent]:
    obj = cb.object
    owner_id, post_id, comment_id, from_id = (_int(obj.get(k)) for k in ("owner_id", "post_id", "id", "from_id"))
    if owner_id is None or post_id is None or comment_id is None or from_id is None:
        raise errors.InvalidPayload("vk wall comment needs owner_id, post_id, id and from_id")
    ours = from_id == -cb.group_id
    customer = _int(obj.get("reply_to_user")) if ours else from_id
    if customer is None:
        return []  # a top-level comment by the community itself answers nobody's conversation
    parent = _int(obj.get("reply_to_comment"))
    permalink = f"https://vk.com/wall{owner_id}_{post_id}?reply={comment_id}" + (f"&thread={parent}" if parent else "")
    edited = event_type == "comment_edited"
    return [cb.event(
        event_type, comment_conversation_id(owner_id, post_id, customer),
        Sender(external_user_id=str(from_id), is_bot=from_id < 0),
        external_message_id=str(comment_id), external_thread_id=f"{owner_id}_{post_id}",
        reply_to_external_message_id=str(parent) if parent else "", text=_str(obj.get("text")),
        attachments=attachments_of(obj.get("attachments")), surface="comment", is_edited=edited,
        occurred_at=cb.received_at if edited else (_ts(obj.get("date")) or cb.received_at),
        conversation_title=f"Comments on wall{owner_id}_{post_id}", direction="out" if ours else "in",
        comment={"post_id": str(post_id), "comment_id": str(comment_id), "parent_comment_id": str(parent or ""),
                 "permalink": permalink, "author_id": str(from_id)},
    )]


def _comment_delete(cb: _Callback) -> list[InboundEvent]:
    """VK names who deleted, not who wrote: the conversation is right when authors delete their own comments."""
    obj = cb.object
    owner_id, post_id, comment_id = (_int(obj.get(k)) for k in ("owner_id", "post_id", "id"))
    deleter = _int(obj.get("deleter_id", obj.get("user_id")))
    if owner_id is None or post_id is None or comment_id is None or deleter is None:
        raise errors.InvalidPayload("vk wall_reply_delete needs owner_id, post_id, id and deleter_id")
    return [cb.event(
        "comment_deleted", comment_conversation_id(owner_id, post_id, deleter), Sender(external_user_id=str(deleter)),
        external_message_id=str(comment_id), external_thread_id=f"{owner_id}_{post_id}", surface="comment",
        is_deleted=True, comment={"post_id": str(post_id), "comment_id": str(comment_id)},
    )]


def _subscription(cb: _Callback) -> list[InboundEvent]:
    user_id = _int(cb.object.get("user_id"))
    if user_id is None:
        raise errors.InvalidPayload("vk message_allow / message_deny has no user_id")
    state = "allowed" if cb.body["type"] == "message_allow" else "denied"
    return [cb.event("subscription", str(user_id), Sender(external_user_id=str(user_id)), status={"state": state})]


def _message_read(cb: _Callback) -> list[InboundEvent]:
    obj = cb.object
    peer_id, reader, read_id = (_int(obj.get(k)) for k in ("peer_id", "from_id", "read_message_id"))
    if peer_id is None or read_id is None:
        return []
    return [cb.event("read", str(peer_id), Sender(external_user_id=str(reader or peer_id)),
                     external_message_id=str(read_id), status={"message_id": str(read_id), "state": "read"})]


_EVENT_PARSERS = {
    "message_new": _message_new,
    "message_reply": _message_reply,
    "message_edit": _message_edit,
    "wall_reply_new": lambda cb: _comment_event(cb, "comment"),
    "wall_reply_edit": lambda cb: _comment_event(cb, "comment_edited"),
    "wall_reply_delete": _comment_delete,
    "message_allow": _subscription,
    "message_deny": _subscription,
    "message_read": _message_read,
}


# ----------------------------------------------------------------------------------------------------- adapter


class VKAdapter:
    """`ChannelAdapter` (with comments and moderation) for VK communities."""

    kind = "vk"
    capabilities: frozenset[str] = frozenset({
        "text", "images", "documents", "voice", "edit_in", "edit_out", "delete_out", "reply_to", "comments",
        "delete_comment_admin", "block", "typing", "read_receipts",
    })  # no hide_comment: VK has no way to hide a wall comment, only to delete it (with an admin's user token)

    def __init__(self, api_url: str, api_version: str = "5.199", session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        body = _decode(request.raw_body)
        group_id = self._authenticate(channel, body)
        if body["type"] == "confirmation":
            return WebhookResult(status=200, body=self._confirmation_code(channel), content_type="text/plain")
        cb = _Callback(channel, request, body, group_id, request.received_at or iso(utcnow()))
        parser = _EVENT_PARSERS.get(body["type"])
        events = parser(cb) if parser else []
        return WebhookResult(events=events, status=200, body="ok", content_type="text/plain")

    def _authenticate(self, channel: Channel, body: Json) -> int:
        expected_secret = _secret_key(channel)
        given_secret = _str(body.get("secret"))
        if not expected_secret or not given_secret or not hmac.compare_digest(
                given_secret.encode(), expected_secret.encode()):
            raise errors.Forbidden("vk callback secret is missing or wrong")
        group_id = _group_id(channel)
        if _int(body.get("group_id")) != group_id:
            raise errors.Forbidden("vk callback is for another community")
        return group_id

    def _confirmation_code(self, channel: Channel) -> str:
        stored = channel.secrets.get("confirmation_code") or _str(channel.settings.get("confirmation_code"))
        if stored:
            return stored
        answer = self._call(channel, "groups.getCallbackConfirmationCode", {"group_id": _group_id(channel)})
        code = _str(answer.get("code")) if isinstance(answer, dict) else ""
        if not code:
            raise errors.TransientError("vk groups.getCallbackConfirmationCode returned no code")
        return code

    def lookup_sender(self, channel: Channel, external_user_id: str) -> Sender:
        """Name, screen name and avatar of a VK user (users.get): for the stream to enrich a new identity."""
        found = self._call(channel, "users.get", {"user_ids": external_user_id, "fields": "screen_name,photo_100"})
        user = _dicts(found)[0] if _dicts(found) else {}
        name = f"{_str(user.get('first_name'))} {_str(user.get('last_name'))}".strip()
        return Sender(external_user_id=external_user_id, display_name=name, username=_str(user.get("screen_name")),
                      avatar_url=_str(user.get("photo_100")))

    # ----------------------------------------------------------------------------------------------- outbound

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        chunks = split_text(text)
        first = self._send(channel, conv, chunks[0], reply_to=reply_to, key=idempotency_key)
        return self._continue(channel, conv, first, chunks[1:], idempotency_key)

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        if len(media.data) > UPLOAD_MAX_BYTES:
            raise errors.PermanentError("vk uploads at most 200 MB", details={"size": len(media.data)})
        attachment = self._upload(channel, conv, media)
        chunks = split_text(caption) if caption else [""]
        first = self._send(channel, conv, chunks[0], reply_to=reply_to, key=idempotency_key, attachment=attachment)
        return self._continue(channel, conv, first, chunks[1:], idempotency_key)

    def _continue(self, channel: Channel, conv: ConvRef, first: SendResult, chunks: list[str],
                  idempotency_key: str) -> SendResult:
        """Later chunks of a long text; a failure is logged, not raised (a retry would repeat the first chunk)."""
        for index, chunk in enumerate(chunks, start=1):
            try:
                self._send(channel, conv, chunk, reply_to=None, key=f"{idempotency_key}#{index}")
            except errors.ChannelError as exc:
                unsent = len(chunks) - index + 1
                logger.warning("vk continuation not sent", extra={
                    "channel_id": channel.id, "idempotency_key": idempotency_key, "error_code": exc.code,
                    "unsent_parts": unsent})
                return SendResult(first.external_message_id, {**first.raw, "unsent_parts": unsent})
        return first

    def send_survey(self, channel: Channel, conv: ConvRef, prompt: surveys.Prompt, *,
                    idempotency_key: str = "") -> SendResult:
        """CSAT with an inline keyboard of text buttons whose `payload` carries the answer (a press arrives as
        `message_new` with that payload); NPS (11 answers, more than an inline keyboard holds) as text."""
        if len(prompt.options) > INLINE_KEYBOARD_MAX:
            return self.send_text(channel, conv, prompt.text_with_hint(), idempotency_key=idempotency_key)
        buttons = [[{"action": {"type": "text", "label": label[:40],
                                "payload": json.dumps({"sv": prompt.data(score)}, separators=(",", ":"))},
                     "color": "secondary"} for label, score in row] for row in surveys.rows_of(prompt.options, 5)]
        keyboard = json.dumps({"inline": True, "buttons": buttons}, ensure_ascii=False, separators=(",", ":"))
        return self._send(channel, conv, prompt.question, reply_to=None, key=idempotency_key, keyboard=keyboard)

    def _send(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None, key: str,
              attachment: str = "", keyboard: str = "") -> SendResult:
        peer_id = _peer(conv)
        params: Json = {"random_id": random_id_for(key), "message": text}
        if keyboard:
            params["keyboard"] = keyboard
        params["peer_ids" if peer_id >= CHAT_PEER_OFFSET else "peer_id"] = peer_id
        if attachment:
            params["attachment"] = attachment
        if reply_to and reply_to.startswith("c"):
            params["forward"] = {"peer_id": peer_id, "conversation_message_ids": [int(reply_to[1:])], "is_reply": True}
        elif reply_to:
            params["reply_to"] = int(reply_to)
        return _sent(self._call(channel, "messages.send", params))

    def _upload(self, channel: Channel, conv: ConvRef, media: OutboundMedia) -> str:
        peer_id = _peer(conv)
        if media.kind == "image" and len(media.data) <= PHOTO_MAX_BYTES:
            server = self._call(channel, "photos.getMessagesUploadServer", {"peer_id": peer_id})
            uploaded = self._post_file(_upload_url(server), "photo", media)
            if _str(uploaded.get("photo")) in ("", "[]"):
                raise errors.PermanentError("vk photo upload was refused", details={"file_name": media.file_name})
            saved = self._call(channel, "photos.saveMessagesPhoto", {
                "photo": uploaded["photo"], "server": uploaded.get("server", ""), "hash": uploaded.get("hash", "")})
            return _attachment_ref("photo", _dicts(saved)[0] if _dicts(saved) else {})
        doc_type = "audio_message" if media.kind == "voice" else "doc"
        server = self._call(channel, "docs.getMessagesUploadServer", {"type": doc_type, "peer_id": peer_id})
        uploaded = self._post_file(_upload_url(server), "file", media)
        if not _str(uploaded.get("file")):
            raise errors.PermanentError("vk document upload was refused", details={"file_name": media.file_name})
        saved = self._call(channel, "docs.save", {"file": uploaded["file"], "title": _file_name(media)})
        item = saved.get(_str(saved.get("type")) or "doc") if isinstance(saved, dict) else None
        return _attachment_ref("doc", item if isinstance(item, dict) else {})

    def _post_file(self, url: str, field: str, media: OutboundMedia) -> Json:
        files = {field: (_file_name(media), media.data, media.mime_type or "application/octet-stream")}
        try:
            response = self.session.post(url, files=files, timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR))
        except requests.RequestException as exc:
            raise_transport("vk upload", exc)
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            _raise_http("upload", response)
        if "error" in body:
            raise errors.PermanentError(f"vk upload: {_str(body.get('error')) or 'refused'}")
        return body

    def edit_text(self, channel: Channel, conv: ConvRef, external_message_id: str, text: str) -> SendResult:
        params: Json = {"peer_id": _peer(conv), "message": text, "keep_forward_messages": 1, "keep_snippets": 1,
                        **_message_key(external_message_id, "message_id", "cmid")}
        self._call(channel, "messages.edit", params)
        return SendResult(external_message_id)

    def delete(self, channel: Channel, conv: ConvRef, external_message_id: str) -> None:
        params: Json = {"peer_id": _peer(conv), "delete_for_all": 1,
                        **_message_key(external_message_id, "message_ids", "cmids")}
        result = self._call(channel, "messages.delete", params)
        for item in _dicts(result):  # 5.199: one item per message, each may carry its own error
            if isinstance(item.get("error"), dict):
                _raise_vk("messages.delete", item["error"], channel)

    def block(self, channel: Channel, conv: ConvRef, external_user_id: str, *,
              until: datetime | None = None) -> None:
        params: Json = {"group_id": _group_id(channel), "owner_id": int(external_user_id)}
        if until is not None:
            params["end_date"] = int(until.timestamp())
        self._call(channel, "groups.ban", params, token=_user_token(channel, "block a user"))

    def typing(self, channel: Channel, conv: ConvRef) -> None:
        self._call(channel, "messages.setActivity", {"peer_id": _peer(conv), "type": "typing"})

    # ----------------------------------------------------------------------------------------------- comments

    def reply_comment(self, channel: Channel, comment: CommentRef, text: str, *, private: bool = False,
                      idempotency_key: str = "") -> SendResult:
        """Answer a customer's comment with a nested comment from the community.

        Without the comment to answer nothing is posted: a top-level comment (an auto-greeting, say) would be
        public on the brand's post and would not even notify the customer.
        """
        if private:
            raise errors.NotSupported("vk has no private replies to comments: write to the customer in messages")
        if not _int(comment.external_comment_id):
            raise errors.NotSupported("a vk comment reply must answer a comment: quote the customer's comment")
        group_id = _group_id(channel)
        owner_id, post_id = _comment_post(comment, group_id)
        params: Json = {"owner_id": owner_id, "post_id": post_id, "from_group": group_id, "message": text,
                        "reply_to_comment": int(comment.external_comment_id), "guid": guid_for(idempotency_key)}
        result = self._call(channel, "wall.createComment", params)
        comment_id = _int(result.get("comment_id")) if isinstance(result, dict) else None
        if not comment_id:
            raise errors.PermanentError("vk wall.createComment answered without a comment_id")
        return SendResult(str(comment_id), raw=result)

    def delete_comment(self, channel: Channel, comment: CommentRef) -> None:
        owner_id, _post_id = _comment_post(comment, _group_id(channel))
        params: Json = {"owner_id": owner_id, "comment_id": int(comment.external_comment_id)}
        self._call(channel, "wall.deleteComment", params, token=_user_token(channel, "delete a comment"))

    def hide_comment(self, channel: Channel, comment: CommentRef, hidden: bool) -> None:
        raise errors.NotSupported("vk comments cannot be hidden, only deleted")

    # ---------------------------------------------------------------------------------------- files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        if not file_ref.startswith(("https://", "http://")):
            raise errors.PermanentError("vk gives no downloadable file for this attachment")
        url = file_ref
        for _ in range(MAX_REDIRECTS + 1):
            self._check_media_url(url)
            try:
                with self.session.get(url, stream=True, allow_redirects=False,
                                      timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR)) as response:
                    if response.is_redirect and response.headers.get("location"):
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        _raise_http("file download", response)
                    return _fetched(url, response)
            except requests.RequestException as exc:
                raise_transport("vk file download", exc)
        raise errors.PermanentError("vk file download: too many redirects")

    def _check_media_url(self, url: str) -> None:
        parts, api = urlsplit(url), urlsplit(self.api_url)
        host = (parts.hostname or "").lower()
        same_origin = (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
        vk_host = parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in MEDIA_HOSTS)
        if not (same_origin or vk_host):
            raise errors.PermanentError("vk file is not on a VK host", details={"host": host})

    def register_webhook(self, channel: Channel, url: str) -> dict[str, Any]:
        """Add (or update) our Callback API server, subscribe to our events; returns the code and server id."""
        group_id = _group_id(channel)
        secret = _secret_key(channel)
        if not secret:
            raise errors.InvalidInput("vk channel has no secret_key or webhook_secret")
        answer = self._call(channel, "groups.getCallbackConfirmationCode", {"group_id": group_id})
        code = _str(answer.get("code")) if isinstance(answer, dict) else ""
        server = {"group_id": group_id, "url": url, "title": CALLBACK_TITLE, "secret_key": secret}
        server_id = self._existing_server(channel, group_id, url)
        if server_id is None:
            added = self._call(channel, "groups.addCallbackServer", server)
            server_id = _int(added.get("server_id")) if isinstance(added, dict) else None
            if server_id is None:
                raise errors.PermanentError("vk groups.addCallbackServer returned no server_id")
        else:
            self._call(channel, "groups.editCallbackServer", {**server, "server_id": server_id})
        self._call(channel, "groups.setCallbackSettings", {
            "group_id": group_id, "server_id": server_id, "api_version": self.api_version,
            **{event: 1 for event in CALLBACK_EVENTS}})
        return {"confirmation_code": code, "server_id": str(server_id)}

    def _existing_server(self, channel: Channel, group_id: int, url: str) -> int | None:
        """Our URL already registered (a repeated create): reuse it rather than add a second server."""
        found = self._call(channel, "groups.getCallbackServers", {"group_id": group_id})
        items = _dicts(found.get("items")) if isinstance(found, dict) else []
        return next((_int(s.get("id")) for s in items if _str(s.get("url")) == url), None)

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            found = self._call(channel, "groups.getById", {"group_id": _group_id(channel)})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        groups = _dicts(found.get("groups")) if isinstance(found, dict) else _dicts(found)  # 5.194+: {"groups": []}
        group = groups[0] if groups else {}
        return {"ok": True, "name": _str(group.get("name")), "screen_name": _str(group.get("screen_name")),
                "group_id": str(group.get("id", ""))}

    # --------------------------------------------------------------------------------------------------- HTTP

    def _call(self, channel: Channel, method: str, params: Json, *, token: str | None = None) -> Any:
        access_token = token or channel.secrets.get("access_token", "")
        if not access_token:
            raise errors.PermanentError("vk channel has no access_token")
        data = {key: _form_value(value) for key, value in params.items()}
        data.update(access_token=access_token, v=self.api_version)
        try:
            response = self.session.post(f"{self.api_url}/{method}", data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise_transport(f"vk {method}", exc)
        body = json_or_none(response)
        if response.status_code != 200:
            _raise_http(method, response)
        if not isinstance(body, dict):
            raise errors.TransientError(f"vk {method}: the answer is not JSON")
        if isinstance(body.get("error"), dict):
            _raise_vk(method, body["error"], channel)
        if "response" not in body:
            raise errors.TransientError(f"vk {method}: the answer has no response")
        return body["response"]


# ------------------------------------------------------------------------------------------------ outbound helpers


def _group_id(channel: Channel) -> int:
    group_id = _int(channel.secrets.get("group_id")) or _int(channel.settings.get("group_id"))
    if not group_id:
        raise errors.PermanentError("vk channel has no group_id")
    return abs(group_id)


def _secret_key(channel: Channel) -> str:
    return channel.secrets.get("secret_key") or channel.secrets.get("webhook_secret", "")


def _user_token(channel: Channel, action: str) -> str:
    token = channel.secrets.get("user_token", "")
    if not token:
        raise errors.NotSupported(f"vk needs a community admin's user token to {action}")
    return token


def _peer(conv: ConvRef) -> int:
    peer_id = _int(conv.external_conversation_id)
    if peer_id is None:
        raise errors.NotSupported("this vk conversation is not a dialog (comments are answered as comments)")
    return peer_id


def _message_key(external_message_id: str, id_param: str, cmid_param: str) -> Json:
    if external_message_id.startswith("c"):
        return {cmid_param: int(external_message_id[1:])}
    return {id_param: int(external_message_id)}


def _comment_post(comment: CommentRef, group_id: int) -> tuple[int, int]:
    """The post's owner comes from the conversation's thread (`{owner_id}_{post_id}`), else our community's wall."""
    thread_owner = _int(comment.conv.external_thread_id.rpartition("_")[0])
    return parse_post_ref(comment.post_id or comment.conv.external_thread_id, thread_owner or -group_id)


def _upload_url(server: Any) -> str:
    url = _str(server.get("upload_url")) if isinstance(server, dict) else ""
    if not url:
        raise errors.TransientError("vk gave no upload_url")
    return url


def _attachment_ref(kind: str, item: Json) -> str:
    owner, number = _int(item.get("owner_id")), _int(item.get("id"))
    if owner is None or number is None:
        raise errors.PermanentError(f"vk saved the {kind} without owner_id and id")
    key = _str(item.get("access_key"))
    return f"{kind}{owner}_{number}" + (f"_{key}" if key else "")


def _file_name(media: OutboundMedia) -> str:
    return media.file_name or f"{media.kind or 'file'}{mimetypes.guess_extension(media.mime_type or '') or ''}"


def _sent(result: Any) -> SendResult:
    """`messages.send` answers a message id (peer_id) or a list of per-peer results (peer_ids)."""
    if _int(result):
        return SendResult(str(result), raw={"message_id": result})
    items = _dicts(result)
    if items and isinstance(items[0].get("error"), dict):
        _raise_vk("messages.send", items[0]["error"], None)
    ref = message_ref({"id": items[0].get("message_id"), "conversation_message_id": items[0].get(
        "conversation_message_id")}) if items else ""
    if not ref:
        raise errors.PermanentError("vk messages.send answered without a message id")
    return SendResult(ref, raw=items[0])


def _fetched(url: str, response: requests.Response) -> FetchedMedia:
    data = bytearray()
    for block in response.iter_content(chunk_size=64 * 1024):
        data.extend(block)
        if len(data) > DOWNLOAD_MAX_BYTES:
            raise errors.PermanentError("vk file is larger than 50 MB")
    name = posixpath.basename(urlsplit(url).path) or "file"
    mime = (response.headers.get("content-type") or "").split(";")[0].strip()
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FetchedMedia(data=bytes(data), mime_type=mime, file_name=name)


def _raise_http(method: str, response: requests.Response) -> NoReturn:
    status = response.status_code
    message = f"vk {method}: HTTP {status}"
    if status == 429:
        retry_after = _int(response.headers.get("retry-after"))
        raise errors.RateLimited(message, retry_after=float(retry_after or 1))
    if status >= 500 or status == 200:  # 200 with a broken body is an outage, not a rejection
        raise errors.TransientError(message, details={"status": status})
    raise errors.PermanentError(message, details={"status": status})


def _raise_vk(method: str, error: Json, channel: Channel | None) -> NoReturn:
    code = _int(error.get("error_code")) or _int(error.get("code")) or 0
    text = _str(error.get("error_msg")) or _str(error.get("description")) or f"error {code}"
    for secret in _token_values(channel):
        text = text.replace(secret, "<redacted>")
    message = f"vk {method}: {text}"
    details: Json = {"error_code": code, "description": text}
    if code in RATE_LIMIT_CODES:
        raise errors.RateLimited(message, retry_after=RATE_LIMIT_CODES[code])
    if code in TRANSIENT_CODES:
        raise errors.TransientError(message, details=details)
    if code in RECIPIENT_CODES:
        raise errors.RecipientUnavailable(message, details=details)
    raise errors.PermanentError(message, details=details)


def _token_values(channel: Channel | None) -> list[str]:
    if channel is None:
        return []
    return [v for k, v in channel.secrets.items() if k in ("access_token", "user_token") and v]
