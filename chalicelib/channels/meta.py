"""What WhatsApp, Messenger and Instagram share (CHANNELS.md §6-8): the webhook handshake and signature, the Graph
API client with its error mapping, and the Messenger Platform (`messaging[]` / comments) adapter base.

Webhooks: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` answers the challenge when the token is the
channel's `webhook_secret`; every POST carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>`.
Graph calls send the token in the `Authorization` header, never in a URL, so no URL built here holds a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

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
from chalicelib.domain.model import (
    Attachment,
    Channel,
    InboundEvent,
    Sender,
    iso,
    iso_from_epoch,
    parse_iso,
    stable_hash,
    utcnow,
)
from chalicelib.observability import logger

Json = dict[str, Any]

SIGNATURE_HEADER = "x-hub-signature-256"
MEDIA_TIMEOUT_FLOOR = 60.0
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)

# Graph error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling, WhatsApp error codes)
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131056})
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})
TOKEN_CODES = frozenset({102, 190})
WINDOW_CODES = frozenset({131047})
WINDOW_SUBCODES = frozenset({2018278, 2534022})  # Messenger / Instagram "outside of allowed window" (unconfirmed)
RECIPIENT_CODES = frozenset({551, 131026, 131049})
RECIPIENT_SUBCODES = frozenset({1545041, 2018001})


# ------------------------------------------------------------------------------------------------ webhook checks


def handshake(channel: Channel, request: WebhookRequest) -> WebhookResult:
    """Meta's subscription check: echo `hub.challenge` when the verify token is the channel's, else 403."""
    expected = channel.secrets.get("webhook_secret", "")
    given = request.query.get("hub.verify_token", "")
    if request.query.get("hub.mode") != "subscribe" or not expected or not given or not hmac.compare_digest(
            given.encode(), expected.encode()):
        raise errors.Forbidden("the webhook verify token is wrong")
    return WebhookResult(events=[], status=200, body=request.query.get("hub.challenge", ""),
                         content_type="text/plain")


def signature(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(channel: Channel, request: WebhookRequest) -> None:
    secret = channel.secrets.get("app_secret", "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not secret or not given.startswith("sha256=") or not hmac.compare_digest(
            given.lower().encode(), signature(secret, request.raw_body).encode()):
        raise errors.Unauthenticated("the X-Hub-Signature-256 signature is missing or wrong")


def decode_payload(raw_body: bytes, expected_object: str) -> Json:
    """The signed body (checked before this runs): JSON through the safe loader, then Meta's envelope."""
    payload = safejson.loads(raw_body)
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise errors.InvalidPayload("the webhook body has no entry list")
    if payload.get("object") != expected_object:
        raise errors.InvalidPayload(f"the webhook object must be {expected_object!r}")
    return payload


def entries(payload: Json) -> Iterator[Json]:
    yield from (e for e in payload.get("entry") or [] if isinstance(e, dict))


def items(container: Json, key: str) -> Iterator[Json]:
    value = container.get(key)
    yield from (i for i in value or [] if isinstance(i, dict)) if isinstance(value, list) else ()


# ---------------------------------------------------------------------------------------------------- values


def obj(container: Json, key: str) -> Json:
    """`container[key]` when it is an object, else an empty one (webhook fields are never trusted)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def id_of(value: Any) -> str:
    """Graph ids arrive as strings, sometimes as numbers."""
    if isinstance(value, bool):
        return ""
    return str(value) if isinstance(value, (str, int)) and str(value) else ""


def timestamp(value: Any) -> str:
    """Seconds or milliseconds since the epoch (as a number or a numeric string) to ISO-8601 UTC; "" if none."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", value):
        value = int(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return ""
    seconds = value / 1000 if value > 100_000_000_000 else value
    return iso_from_epoch(seconds)


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` characters, cut at a newline or a space where one is near the end."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        head = rest[:limit]
        cut = max(head.rfind("\n"), head.rfind(" "))
        cut = cut + 1 if cut > limit // 2 else limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def since_last_inbound(conv: ConvRef, now: datetime) -> timedelta | None:
    if not conv.last_inbound_at:
        return None
    try:
        return now - parse_iso(conv.last_inbound_at)
    except ValueError:
        return None


def file_name_for(mime_type: str, stem: str) -> str:
    base = mime_type.split(";")[0].strip()
    extension = mimetypes.guess_extension(base) or ""
    return f"{stem}{'.oga' if base == 'audio/ogg' else extension}"


# ------------------------------------------------------------------------------------------------- Graph client


class GraphClient:
    """`{base}/v{version}/{path}` with a bearer token; Graph errors become typed channel errors."""

    def __init__(self, base_url: str, version: str, session: requests.Session | None = None,
                 timeout: float = 10.0, label: str = "graph") -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version.lstrip("v")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.label = label

    def url(self, path: str) -> str:
        return f"{self.base_url}/v{self.version}/{path.lstrip('/')}"

    def call(self, method: str, path: str, token: str, *, json_body: Json | None = None,
             form: dict[str, str] | None = None, files: dict[str, tuple[str, bytes, str]] | None = None,
             params: dict[str, str] | None = None) -> Json:
        what = f"{self.label} {method} {_path_name(path)}"
        if not token:
            raise errors.PermanentError(f"{what}: the channel has no access token")
        headers = {"Authorization": f"Bearer {token}"}
        timeout = max(self.timeout, MEDIA_TIMEOUT_FLOOR) if files else self.timeout
        try:
            response = self.session.request(method, self.url(path), headers=headers, json=json_body,
                                            data=form, files=files, params=params, timeout=timeout)
        except requests.RequestException as exc:
            raise_transport(what, exc)
        body = json_or_none(response)
        if 200 <= response.status_code < 300 and isinstance(body, dict) and "error" not in body:
            return body
        raise_graph_error(what, response.status_code, body, response.headers)

    def download(self, url: str, token: str | None, max_bytes: int) -> tuple[bytes, str]:
        """GET a media URL (with the bearer token where the provider needs it), at most `max_bytes`."""
        what = f"{self.label} media download"
        if urlsplit(url).scheme not in ("http", "https"):
            raise errors.PermanentError(f"{what}: not an http(s) URL")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with self.session.get(url, headers=headers, stream=True,
                                  timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR)) as response:
                if response.status_code != 200:
                    raise_graph_error(what, response.status_code, json_or_none(response), response.headers)
                data = bytearray()
                for block in response.iter_content(chunk_size=64 * 1024):
                    data.extend(block)
                    if len(data) > max_bytes:
                        raise errors.PermanentError(f"{what}: larger than {max_bytes // (1024 * 1024)} MB")
                return bytes(data), response.headers.get("Content-Type", "")
        except requests.RequestException as exc:
            raise_transport(what, exc)


def _path_name(path: str) -> str:
    """The edge of a path for messages and logs (`/123/messages` -> `messages`), never an id or a token."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    edge = parts[-1] if parts else ""
    return edge if re.fullmatch(r"[a-z_]+", edge) else "object"


def _retry_after(headers: Any) -> float:
    value = headers.get("Retry-After", "") if headers is not None else ""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    return seconds if seconds > 0 else 1.0


def raise_graph_error(what: str, status: int, body: Any, headers: Any = None) -> NoReturn:
    """Graph's `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` to a channel error."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else 0
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else 0
    title = text_of(error.get("message")) or f"HTTP {status}"
    message = f"{what}: {title}"
    details: Json = {"http_status": status, "error_code": code, "error_subcode": subcode,
                     "fbtrace_id": text_of(error.get("fbtrace_id"))}
    if status == 429 or code in RATE_LIMIT_CODES:
        raise errors.RateLimited(message, retry_after=_retry_after(headers))
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient") is True:
        raise errors.TransientError(message, details=details)
    if code in WINDOW_CODES or subcode in WINDOW_SUBCODES:
        raise errors.WindowClosed(message, details=details)
    if code in RECIPIENT_CODES or subcode in RECIPIENT_SUBCODES:
        raise errors.RecipientUnavailable(message, details=details)
    if code in TOKEN_CODES:
        raise errors.PermanentError(message, code="provider_auth_failed", details=details)
    raise errors.PermanentError(message, details=details)


# ------------------------------------------------------------------------- Messenger Platform (Messenger, Instagram)


@dataclass(frozen=True)
class WebhookContext:
    """What every event of one webhook request shares."""

    channel: Channel
    request: WebhookRequest
    received_at: str


_ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
_UPLOAD_TYPES = {"image": "image", "video": "video", "audio": "audio", "voice": "audio", "document": "file"}


class MessagingPlatformAdapter:
    """Messenger and Instagram: `messaging[]` DMs, comments via `changes[]`, the Send API on `/me/messages`.

    Subclasses set the provider specifics below and `parse_change` (their comment webhooks).
    """

    kind = ""
    webhook_object = ""
    text_max = 2000
    download_max_bytes = 25 * 1024 * 1024
    upload_kinds: frozenset[str] = frozenset({"image", "video", "audio", "voice", "document"})
    upload_platform = ""  # "instagram" on the attachment upload
    public_reply_edge = "comments"
    hide_field = "is_hidden"
    conversation_prefix = ""  # comment conversations: f"{prefix}:{post}:{author}"

    def __init__(self, api_url: str, api_version: str, session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        self.graph = GraphClient(api_url, api_version, session, timeout, label=self.kind)

    # ------------------------------------------------------------------------------------------- subclass hooks

    def own_ids(self, channel: Channel) -> set[str]:
        """The ids `entry[].id` may carry for this channel (other entries are ignored)."""
        raise NotImplementedError

    def parse_change(self, ctx: WebhookContext, entry: Json, change: Json) -> list[InboundEvent]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        if request.method.upper() == "GET":
            return handshake(channel, request)
        verify_signature(channel, request)
        payload = decode_payload(request.raw_body, self.webhook_object)
        ctx = WebhookContext(channel, request, request.received_at or iso(utcnow()))
        events: list[InboundEvent] = []
        own = self.own_ids(channel)
        for entry in entries(payload):
            if id_of(entry.get("id")) not in own:
                logger.info("webhook entry for another account ignored", extra={"channel_id": channel.id})
                continue
            for item in items(entry, "messaging"):
                events.extend(self.parse_messaging(ctx, entry, item))
            for change in items(entry, "changes"):
                events.extend(self.parse_change(ctx, entry, change))
        return WebhookResult(events=events, status=200, body="EVENT_RECEIVED")

    def event(self, ctx: WebhookContext, **fields: Any) -> InboundEvent:
        fields.setdefault("occurred_at", ctx.received_at)
        fields["occurred_at"] = fields["occurred_at"] or ctx.received_at
        return InboundEvent(channel_kind=self.kind, channel_id=ctx.channel.id,
                            workspace_id=ctx.channel.workspace_id, received_at=ctx.received_at,
                            correlation_id=ctx.request.request_id, **fields)

    def parse_messaging(self, ctx: WebhookContext, entry: Json, item: Json) -> list[InboundEvent]:
        sender, recipient = id_of(obj(item, "sender").get("id")), id_of(obj(item, "recipient").get("id"))
        if not sender:
            return []
        at = timestamp(item.get("timestamp"))
        if isinstance(item.get("message"), dict):
            return self._message(ctx, item["message"], sender, recipient, at)
        if isinstance(item.get("message_edit"), dict):
            return self._edit(ctx, item["message_edit"], sender, at)
        if isinstance(item.get("delivery"), dict):
            return self._delivery(ctx, item["delivery"], sender, at)
        if isinstance(item.get("read"), dict):
            return self._read(ctx, item["read"], sender, at)
        if isinstance(item.get("postback"), dict):
            return self._postback(ctx, item["postback"], sender, at)
        return []  # reactions, referrals, handover, typing: not shown in the inbox

    def _message(self, ctx: WebhookContext, message: Json, sender: str, recipient: str, at: str) -> list[InboundEvent]:
        mid = id_of(message.get("mid"))
        if not mid:
            return []
        echo = message.get("is_echo") is True
        customer = recipient if echo else sender
        if not customer:
            return []  # an echo that names no recipient belongs to no conversation
        if message.get("is_deleted") is True:
            return [self.event(ctx, event_type="message_deleted", external_event_id=f"{mid}:deleted",
                               external_conversation_id=customer, external_message_id=mid,
                               sender=Sender(external_user_id=sender), occurred_at=at, is_deleted=True)]
        reply_to = obj(message, "reply_to")
        return [self.event(
            ctx, event_type="message", external_event_id=mid, external_conversation_id=customer,
            external_message_id=mid, reply_to_external_message_id=id_of(reply_to.get("mid")),
            sender=Sender(external_user_id=sender), occurred_at=at, text=text_of(message.get("text")),
            attachments=self._attachments(message), direction="out" if echo else "in",
        )]

    def _attachments(self, message: Json) -> list[Attachment]:
        found: list[Attachment] = []
        for item in items(message, "attachments"):
            kind = text_of(item.get("type"))
            payload = obj(item, "payload")
            url = text_of(payload.get("url"))
            if kind in _ATTACHMENT_KINDS and url:
                found.append(Attachment(kind=_ATTACHMENT_KINDS[kind], file_ref=url))
            else:  # share, story_mention, ig_reel, ig_post, template, fallback, location
                caption = text_of(payload.get("title")) or text_of(item.get("title")) or kind or "attachment"
                found.append(Attachment(kind="other", caption=caption))
        return found

    def _edit(self, ctx: WebhookContext, edit: Json, sender: str, at: str) -> list[InboundEvent]:
        mid = id_of(edit.get("mid"))
        if not mid:
            return []
        return [self.event(ctx, event_type="message_edited", external_event_id=f"{mid}:edit:{edit.get('num_edit')}",
                           external_conversation_id=sender, external_message_id=mid,
                           sender=Sender(external_user_id=sender), occurred_at=at, text=text_of(edit.get("text")),
                           is_edited=True)]

    def _delivery(self, ctx: WebhookContext, delivery: Json, sender: str, at: str) -> list[InboundEvent]:
        mids = [id_of(m) for m in delivery.get("mids") or [] if id_of(m)]
        return [self.event(ctx, event_type="status", external_event_id=f"{mid}:delivered",
                           external_conversation_id=sender, sender=Sender(external_user_id=sender), occurred_at=at,
                           status={"message_id": mid, "state": "delivered", "error_code": "", "error_title": ""})
                for mid in mids]

    def _read(self, ctx: WebhookContext, read: Json, sender: str, at: str) -> list[InboundEvent]:
        mid = id_of(read.get("mid"))
        if mid:  # Instagram names the message read
            return [self.event(ctx, event_type="status", external_event_id=f"{mid}:read",
                               external_conversation_id=sender, sender=Sender(external_user_id=sender),
                               occurred_at=at, status={"message_id": mid, "state": "read", "error_code": "",
                                                       "error_title": ""})]
        watermark = timestamp(read.get("watermark"))
        if not watermark:
            return []
        # Messenger: everything we sent before the watermark was read; the core matches our messages to it
        return [self.event(ctx, event_type="read", external_event_id=f"read:{sender}:{read.get('watermark')}",
                           external_conversation_id=sender, sender=Sender(external_user_id=sender),
                           occurred_at=at, status={"message_id": "", "state": "read", "watermark": watermark,
                                                   "error_code": "", "error_title": ""})]

    def _postback(self, ctx: WebhookContext, postback: Json, sender: str, at: str) -> list[InboundEvent]:
        mid = id_of(postback.get("mid")) or "postback:" + stable_hash(sender, at, json.dumps(postback, sort_keys=True))
        return [self.event(ctx, event_type="message", external_event_id=mid, external_conversation_id=sender,
                           external_message_id=mid, sender=Sender(external_user_id=sender), occurred_at=at,
                           text=text_of(postback.get("title")) or text_of(postback.get("payload")))]

    def comment_event(self, ctx: WebhookContext, *, event_type: str, event_id: str, post_id: str, comment_id: str,
                      parent_id: str, author: Sender, text: str, created: str, permalink: str = "") -> InboundEvent:
        """A comment under one of our posts: one conversation per commenter and post."""
        parent = parent_id if parent_id and parent_id != post_id else ""
        until = iso(parse_iso(created) + PRIVATE_REPLY_WINDOW) if created else ""
        return self.event(
            ctx, event_type=event_type, external_event_id=event_id,
            external_conversation_id=f"{self.conversation_prefix}:{post_id}:{author.external_user_id}",
            external_thread_id=post_id, external_message_id=comment_id, reply_to_external_message_id=parent,
            sender=author, occurred_at=created, text=text, surface="comment",
            is_edited=event_type == "comment_edited", is_deleted=event_type == "comment_deleted",
            comment={"post_id": post_id, "comment_id": comment_id, "parent_comment_id": parent,
                     "permalink": permalink, "author_id": author.external_user_id, "private_reply_until": until},
        )

    # ----------------------------------------------------------------------------------------------- outbound

    @staticmethod
    def token(channel: Channel) -> str:
        return channel.secrets.get("page_access_token", "")

    def _window(self, channel: Channel, conv: ConvRef) -> Json:
        """RESPONSE inside 24 h, HUMAN_AGENT up to 7 days (where the app may use it), else WindowClosed."""
        age = since_last_inbound(conv, utcnow())
        if age is None or age <= STANDARD_WINDOW:
            return {"messaging_type": "RESPONSE"}
        if age <= HUMAN_AGENT_WINDOW and channel.settings.get("human_agent_tag", True) is not False:
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        raise errors.WindowClosed(
            f"{self.kind}: the customer last wrote more than "
            f"{'7 days' if channel.settings.get('human_agent_tag', True) is not False else '24 hours'} ago; "
            "the network accepts no free-form message now")

    def _send(self, channel: Channel, conv: ConvRef, message: Json, window: Json) -> SendResult:
        body = {"recipient": {"id": conv.external_conversation_id}, **window, "message": message}
        answer = self.graph.call("POST", "me/messages", self.token(channel), json_body=body)
        return _message_result(answer, self.kind)

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        """Reply-to is not sent: quoting on the Send API is unconfirmed (CHANNELS.md §7-8)."""
        window = self._window(channel, conv)
        chunks = split_text(text, self.text_max)
        first = self._send(channel, conv, {"text": chunks[0]}, window)
        for index, chunk in enumerate(chunks[1:]):
            try:
                self._send(channel, conv, {"text": chunk}, window)
            except errors.ChannelError as exc:
                logger.warning("continuation not sent", extra={"channel_id": channel.id, "error_code": exc.code,
                                                               "idempotency_key": idempotency_key,
                                                               "unsent_parts": len(chunks) - 1 - index})
                return SendResult(first.external_message_id, {**first.raw, "unsent_parts": len(chunks) - 1 - index})
        return first

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        """Upload (`/me/message_attachments`), send by attachment id, then the caption as its own message."""
        if media.kind not in self.upload_kinds or (
                media.kind == "document" and self.kind == "instagram" and media.mime_type != "application/pdf"):
            raise errors.NotSupported(f"{self.kind} cannot send a {media.kind}")
        if len(media.data) > self.download_max_bytes:
            raise errors.PermanentError(f"{self.kind} attachments are at most 25 MB")
        window = self._window(channel, conv)
        attachment_id = self._upload(channel, media)
        kind = _UPLOAD_TYPES.get(media.kind, "file")
        sent = self._send(channel, conv, {"attachment": {"type": kind, "payload": {"attachment_id": attachment_id}}},
                          window)
        if caption:
            try:
                self._send(channel, conv, {"text": split_text(caption, self.text_max)[0]}, window)
            except errors.ChannelError as exc:
                logger.warning("caption not sent", extra={"channel_id": channel.id, "error_code": exc.code,
                                                          "idempotency_key": idempotency_key})
                return SendResult(sent.external_message_id, {**sent.raw, "unsent_parts": 1})
        return sent

    def _upload(self, channel: Channel, media: OutboundMedia) -> str:
        kind = _UPLOAD_TYPES.get(media.kind, "file")
        form = {"message": json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": True}}})}
        if self.upload_platform:
            form["platform"] = self.upload_platform
        name = media.file_name or file_name_for(media.mime_type, media.kind or "file")
        answer = self.graph.call("POST", "me/message_attachments", self.token(channel), form=form,
                                 files={"filedata": (name, media.data, media.mime_type or "application/octet-stream")})
        attachment_id = id_of(answer.get("attachment_id"))
        if not attachment_id:
            raise errors.PermanentError(f"{self.kind} attachment upload answered without an attachment_id")
        return attachment_id

    def reply_comment(self, channel: Channel, comment: CommentRef, text: str, *, private: bool,
                      idempotency_key: str = "") -> SendResult:
        if not comment.external_comment_id:
            raise errors.NotSupported(f"{self.kind}: answer a comment by replying to it (no comment was quoted)")
        if private:
            return self._private_reply(channel, comment, text)
        answer = self.graph.call("POST", f"{comment.external_comment_id}/{self.public_reply_edge}",
                                 self.token(channel), json_body={"message": text})
        reply_id = id_of(answer.get("id"))
        if not reply_id:
            raise errors.PermanentError(f"{self.kind} comment reply answered without an id")
        return SendResult(reply_id, answer)

    def _private_reply(self, channel: Channel, comment: CommentRef, text: str) -> SendResult:
        """One private message per comment, within 7 days of it (the conversation's last comment stands in)."""
        age = since_last_inbound(comment.conv, utcnow())
        if age is not None and age > PRIVATE_REPLY_WINDOW:
            raise errors.WindowClosed(f"{self.kind}: a private reply is possible for 7 days after the comment")
        body = {"recipient": {"comment_id": comment.external_comment_id},
                "message": {"text": split_text(text, self.text_max)[0]}}
        answer = self.graph.call("POST", "me/messages", self.token(channel), json_body=body)
        return _message_result(answer, self.kind)

    def hide_comment(self, channel: Channel, comment: CommentRef, hidden: bool) -> None:
        self.graph.call("POST", comment.external_comment_id, self.token(channel),
                        json_body={self.hide_field: hidden})

    def delete_comment(self, channel: Channel, comment: CommentRef) -> None:
        self.graph.call("DELETE", comment.external_comment_id, self.token(channel))

    # ------------------------------------------------------------------------------------------ files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        """`file_ref` is the attachment's CDN URL from the webhook (it expires; no token is sent to it)."""
        data, content_type = self.graph.download(file_ref, None, self.download_max_bytes)
        mime = content_type.split(";")[0].strip() or "application/octet-stream"
        name = urlsplit(file_ref).path.rsplit("/", 1)[-1]
        if "." not in name:
            name = file_name_for(mime, "attachment")
        return FetchedMedia(data=data, mime_type=mime, file_name=name)


def _message_result(answer: Json, kind: str) -> SendResult:
    message_id = id_of(answer.get("message_id"))
    if not message_id:
        raise errors.PermanentError(f"{kind} answered without a message_id")
    return SendResult(message_id, answer)
