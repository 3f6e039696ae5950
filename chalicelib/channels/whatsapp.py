"""WhatsApp Business Cloud API (CHANNELS.md §6).

Inbound: `whatsapp_business_account` webhooks; each `changes[].value` of our phone number carries `messages[]`
(customer messages, edits, revokes) and `statuses[]` (sent / delivered / read / failed of ours). Outbound:
`POST /v{ver}/{phone_number_id}/messages` with the system-user token; media are uploaded first
(`/{phone_number_id}/media`) and sent by id. Outside the 24-hour customer-service window only templates go out:
free-form sends are refused with `WindowClosed` before any call.

Secrets: `access_token`, `phone_number_id`, `waba_id`, `app_secret` (signature), `webhook_secret` (verify token).
Conversations are keyed by the customer's `wa_id`.
"""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.channels.base import (
    ConvRef,
    FetchedMedia,
    OutboundMedia,
    SendResult,
    Template,
    WebhookRequest,
    WebhookResult,
)
from chalicelib.channels.meta import (
    STANDARD_WINDOW,
    GraphClient,
    Json,
    WebhookContext,
    decode_payload,
    entries,
    file_name_for,
    handshake,
    id_of,
    items,
    obj,
    since_last_inbound,
    split_text,
    text_of,
    timestamp,
    verify_signature,
)
from chalicelib.domain import surveys
from chalicelib.domain.model import Attachment, Channel, InboundEvent, Sender, iso, utcnow
from chalicelib.observability import logger

TEXT_MAX = 4096
LIST_ROWS_MAX = 10  # an interactive list holds 10 rows in all (reply buttons: 3)
CAPTION_MAX = 1024
DOWNLOAD_MAX_BYTES = 100 * 1024 * 1024
UPLOAD_MAX_BYTES = {"image": 5 * 1024 * 1024, "audio": 16 * 1024 * 1024, "video": 16 * 1024 * 1024,
                    "document": 100 * 1024 * 1024}
STATUS_STATES = ("sent", "delivered", "read", "failed")

CAPABILITIES: dict[str, Any] = {
    "text_max": TEXT_MAX,
    "caption_max": CAPTION_MAX,
    "download_max_bytes": DOWNLOAD_MAX_BYTES,
    "upload_max_bytes": UPLOAD_MAX_BYTES,
    "window_hours": 24,  # then templates only
    "templates": True,
    "edit_in": True, "edit_out": False, "delete_in": True, "delete_out": False,
    "reply_to_in": True, "reply_to_out": True,
    "comments": False, "private_reply": False,
    "delivery_status": True, "block": True,
    "rate_limits": {"messages_per_second": 80, "pair_seconds": 6},
}

_MEDIA_KINDS = {"image": "image", "document": "document", "audio": "audio", "video": "video", "sticker": "sticker"}
_SEND_TYPES = {"image": "image", "document": "document", "audio": "audio", "voice": "audio", "video": "video"}
_CAPTIONED = frozenset({"image", "video", "document"})


def _contacts(value: Json) -> dict[str, Json]:
    return {id_of(c.get("wa_id")): c for c in items(value, "contacts") if id_of(c.get("wa_id"))}


def _sender(wa_id: str, contact: Json | None) -> Sender:
    profile = (contact or {}).get("profile")
    name = text_of(profile.get("name")) if isinstance(profile, dict) else ""
    return Sender(external_user_id=wa_id, display_name=name, phone=f"+{wa_id}" if wa_id.isdigit() else "",
                  username=text_of((contact or {}).get("username")))


def _media(kind: str, item: Json) -> Attachment:
    attachment = Attachment(kind=_MEDIA_KINDS[kind], mime_type=text_of(item.get("mime_type")),
                            file_name=text_of(item.get("filename")), file_ref=id_of(item.get("id")),
                            caption=text_of(item.get("caption")))
    if kind == "audio" and item.get("voice") is True:
        attachment.kind = "voice"
    return attachment


def _location(item: Json) -> Attachment:
    coords = ""
    lat, lon = item.get("latitude"), item.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        coords = f"{round(float(lat), 6)}, {round(float(lon), 6)}"
    parts = [text_of(item.get("name")), text_of(item.get("address")), coords]
    return Attachment(kind="location", caption=", ".join(p for p in parts if p))


def _contact_cards(cards: list[Any]) -> list[Attachment]:
    found = []
    for card in (c for c in cards if isinstance(c, dict)):
        name = obj(card, "name")
        phones = [text_of(p.get("phone")) for p in card.get("phones") or [] if isinstance(p, dict)]
        caption = ", ".join(p for p in (text_of(name.get("formatted_name")), *phones) if p)
        found.append(Attachment(kind="contact", caption=caption))
    return found


def content(message: Json) -> tuple[str, list[Attachment]]:
    """Text and attachments of one WhatsApp message object (also the inner message of an edit)."""
    kind = text_of(message.get("type"))
    body = obj(message, kind)
    if kind == "text":
        return text_of(body.get("body")), []
    if kind in _MEDIA_KINDS:
        attachment = _media(kind, body)
        return attachment.caption, [attachment]
    if kind == "location":
        return "", [_location(body)]
    if kind == "contacts":
        return "", _contact_cards(message.get("contacts") or [])
    if kind == "button":
        return text_of(body.get("text")), []
    if kind == "interactive":
        reply = obj(body, text_of(body.get("type")))
        return text_of(reply.get("title")), []
    return "", [Attachment(kind="other", caption=kind or "unsupported")]


class WhatsAppAdapter:
    """`ChannelAdapter` + `TemplateAdapter` for one WhatsApp Business phone number."""

    kind = "whatsapp"
    capabilities: frozenset[str] = frozenset({
        "text", "images", "documents", "voice", "edit_in", "delete_in", "reply_to", "templates",
        "delivery_status", "read_receipts", "block",
    })

    def __init__(self, api_url: str, api_version: str, session: Any = None, timeout: float = 10.0) -> None:
        self.graph = GraphClient(api_url, api_version, session, timeout, label="whatsapp")

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        if request.method.upper() == "GET":
            return handshake(channel, request)
        verify_signature(channel, request)
        payload = decode_payload(request.raw_body, "whatsapp_business_account")
        ctx = WebhookContext(channel, request, request.received_at or iso(utcnow()))
        events: list[InboundEvent] = []
        for entry in entries(payload):
            for change in items(entry, "changes"):
                value = obj(change, "value")
                if change.get("field") != "messages" or not self._ours(channel, value):
                    continue
                contacts = _contacts(value)
                for message in items(value, "messages"):
                    events.extend(self._message(ctx, message, contacts))
                for status in items(value, "statuses"):
                    events.extend(self._status(ctx, status))
        return WebhookResult(events=events, status=200, body="")

    @staticmethod
    def _ours(channel: Channel, value: Json) -> bool:
        metadata = obj(value, "metadata")
        ours = id_of(metadata.get("phone_number_id")) == channel.secrets.get("phone_number_id", "")
        if not ours:
            logger.info("webhook change for another phone number ignored", extra={"channel_id": channel.id})
        return ours

    def _event(self, ctx: WebhookContext, **fields: Any) -> InboundEvent:
        fields["occurred_at"] = fields.get("occurred_at") or ctx.received_at
        return InboundEvent(channel_kind=self.kind, channel_id=ctx.channel.id,
                            workspace_id=ctx.channel.workspace_id, received_at=ctx.received_at,
                            correlation_id=ctx.request.request_id, **fields)

    def _message(self, ctx: WebhookContext, message: Json, contacts: dict[str, Json]) -> list[InboundEvent]:
        wamid, wa_id = id_of(message.get("id")), id_of(message.get("from"))
        kind = text_of(message.get("type"))
        if not wamid or not wa_id or kind == "reaction":
            return []  # reactions are not messages of the thread
        common: Json = {"external_event_id": wamid, "external_conversation_id": wa_id,
                        "sender": _sender(wa_id, contacts.get(wa_id)),
                        "occurred_at": timestamp(message.get("timestamp"))}
        if kind in ("edit", "revoke"):
            return self._change_of_message(ctx, message, kind, common)
        context = obj(message, "context")
        text, attachments = content(message)
        answer = _survey_answer(message) if kind == "interactive" else None
        if answer is not None:  # a chosen survey row or button (G4), not a message
            return [self._event(ctx, event_type="survey_answer", external_message_id=wamid, text=text,
                                answer={"survey_id": answer[0], "score": answer[1], "via": "list"}, **common)]
        return [self._event(ctx, event_type="message", external_message_id=wamid, text=text, attachments=attachments,
                            reply_to_external_message_id=id_of(context.get("id")), **common)]

    def _change_of_message(self, ctx: WebhookContext, message: Json, kind: str, common: Json) -> list[InboundEvent]:
        body = obj(message, kind)
        original = id_of(body.get("original_message_id"))
        if not original:
            return []
        if kind == "revoke":
            return [self._event(ctx, event_type="message_deleted", external_message_id=original, is_deleted=True,
                                **common)]
        inner = obj(body, "message")
        text, attachments = content(inner)
        return [self._event(ctx, event_type="message_edited", external_message_id=original, text=text,
                            attachments=attachments, is_edited=True, **common)]

    def _status(self, ctx: WebhookContext, status: Json) -> list[InboundEvent]:
        wamid, state, recipient = id_of(status.get("id")), text_of(status.get("status")), id_of(
            status.get("recipient_id"))
        if not wamid or not recipient or state not in STATUS_STATES:
            return []
        error = next(iter(items(status, "errors")), {})
        return [self._event(
            ctx, event_type="status", external_event_id=f"{wamid}:{state}", external_conversation_id=recipient,
            sender=Sender(external_user_id=recipient), occurred_at=timestamp(status.get("timestamp")),
            status={"message_id": wamid, "state": state, "error_code": str(error.get("code") or ""),
                    "error_title": text_of(error.get("title")) or text_of(error.get("message"))},
        )]

    # ----------------------------------------------------------------------------------------------- outbound

    @staticmethod
    def _token(channel: Channel) -> str:
        return channel.secrets.get("access_token", "")

    @staticmethod
    def _number(channel: Channel) -> str:
        number = channel.secrets.get("phone_number_id", "")
        if not number:
            raise errors.PermanentError("whatsapp channel has no phone_number_id")
        return number

    @staticmethod
    def _check_window(conv: ConvRef) -> None:
        age = since_last_inbound(conv, utcnow())
        if age is not None and age > STANDARD_WINDOW:
            raise errors.WindowClosed("whatsapp: the customer last wrote more than 24 hours ago; only an approved "
                                      "template can be sent until they write again")

    def _post_message(self, channel: Channel, conv: ConvRef, body: Json, reply_to: str | None = None) -> SendResult:
        payload: Json = {"messaging_product": "whatsapp", "recipient_type": "individual",
                         "to": conv.external_conversation_id, **body}
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        answer = self.graph.call("POST", f"{self._number(channel)}/messages", self._token(channel), json_body=payload)
        sent = [m for m in answer.get("messages") or [] if isinstance(m, dict) and id_of(m.get("id"))]
        if not sent:
            raise errors.PermanentError("whatsapp answered without a message id")
        return SendResult(id_of(sent[0]["id"]), answer)

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        self._check_window(conv)
        chunks = split_text(text, TEXT_MAX)
        first = self._post_message(channel, conv, _text(chunks[0]), reply_to)
        for index, chunk in enumerate(chunks[1:]):
            try:
                self._post_message(channel, conv, _text(chunk))
            except errors.ChannelError as exc:
                unsent = len(chunks) - 1 - index
                logger.warning("whatsapp continuation not sent", extra={
                    "channel_id": channel.id, "idempotency_key": idempotency_key, "error_code": exc.code,
                    "unsent_parts": unsent})
                return SendResult(first.external_message_id, {**first.raw, "unsent_parts": unsent})
        return first

    def send_survey(self, channel: Channel, conv: ConvRef, prompt: surveys.Prompt, *,
                    idempotency_key: str = "") -> SendResult:
        """CSAT as an interactive list (reply buttons hold 3, a list 10 rows): the chosen row comes back as
        `interactive.list_reply`. NPS (11 answers) goes as text."""
        if len(prompt.options) > LIST_ROWS_MAX:
            return self.send_text(channel, conv, prompt.text_with_hint(), idempotency_key=idempotency_key)
        self._check_window(conv)
        rows = [{"id": prompt.data(score), "title": label[:24]} for label, score in prompt.options]
        body: Json = {"type": "interactive", "interactive": {
            "type": "list", "body": {"text": prompt.question[:1024]},
            "action": {"button": prompt.list_button[:20], "sections": [{"title": prompt.list_button[:24],
                                                                         "rows": rows}]}}}
        return self._post_message(channel, conv, body)

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        self._check_window(conv)
        kind = _SEND_TYPES.get(media.kind, "document")
        if len(media.data) > UPLOAD_MAX_BYTES[kind]:
            kind = "document" if len(media.data) <= UPLOAD_MAX_BYTES["document"] else kind
        if len(media.data) > UPLOAD_MAX_BYTES[kind]:
            raise errors.PermanentError(f"whatsapp accepts a {kind} of at most "
                                        f"{UPLOAD_MAX_BYTES[kind] // (1024 * 1024)} MB")
        media_id = self._upload(channel, media)
        item: Json = {"id": media_id}
        parts = split_text(caption, CAPTION_MAX) if caption else []
        if parts and kind in _CAPTIONED:
            item["caption"] = parts.pop(0)
        if kind == "document":
            item["filename"] = media.file_name or file_name_for(media.mime_type, "document")
        sent = self._post_message(channel, conv, {"type": kind, kind: item}, reply_to)
        for index, part in enumerate(parts):
            try:
                self._post_message(channel, conv, _text(part))
            except errors.ChannelError as exc:
                logger.warning("whatsapp caption not sent", extra={
                    "channel_id": channel.id, "idempotency_key": idempotency_key, "error_code": exc.code})
                return SendResult(sent.external_message_id, {**sent.raw, "unsent_parts": len(parts) - index})
        return sent

    def _upload(self, channel: Channel, media: OutboundMedia) -> str:
        mime = media.mime_type or "application/octet-stream"
        name = media.file_name or file_name_for(mime, media.kind or "file")
        answer = self.graph.call("POST", f"{self._number(channel)}/media", self._token(channel),
                                 form={"messaging_product": "whatsapp", "type": mime},
                                 files={"file": (name, media.data, mime)})
        media_id = id_of(answer.get("id"))
        if not media_id:
            raise errors.PermanentError("whatsapp media upload answered without an id")
        return media_id

    def send_template(self, channel: Channel, conv: ConvRef, template: Template, *,
                      idempotency_key: str = "") -> SendResult:
        """Approved templates go out whatever the window; parameters fill the body's {{1}}, {{2}}, …"""
        body: Json = {"name": template.name, "language": {"code": template.language}}
        if template.parameters:
            body["components"] = [{"type": "body", "parameters": [
                {"type": "text", "text": p} for p in template.parameters]}]
        return self._post_message(channel, conv, {"type": "template", "template": body})

    def block(self, channel: Channel, conv: ConvRef, external_user_id: str) -> None:
        self.graph.call("POST", f"{self._number(channel)}/block_users", self._token(channel), json_body={
            "messaging_product": "whatsapp", "block_users": [{"user": external_user_id}]})

    # ------------------------------------------------------------------------------------------ files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        """`GET /{media_id}` gives a short-lived URL, downloaded with the same bearer token."""
        info = self.graph.call("GET", file_ref, self._token(channel))
        url = text_of(info.get("url"))
        if not url:
            raise errors.PermanentError("whatsapp media answered without a url")
        size = info.get("file_size")
        if isinstance(size, int) and size > DOWNLOAD_MAX_BYTES:
            raise errors.PermanentError("whatsapp media larger than 100 MB")
        data, content_type = self.graph.download(url, self._token(channel), DOWNLOAD_MAX_BYTES)
        mime = text_of(info.get("mime_type")) or content_type or "application/octet-stream"
        return FetchedMedia(data=data, mime_type=mime.split(";")[0].strip(),
                            file_name=file_name_for(mime, f"whatsapp-{file_ref}"))

    def register_webhook(self, channel: Channel, url: str) -> None:
        """Subscribe the app to the WABA; the callback URL and verify token are set in the App Dashboard."""
        waba = channel.secrets.get("waba_id", "")
        if not waba:
            raise errors.PermanentError("whatsapp channel has no waba_id")
        self.graph.call("POST", f"{waba}/subscribed_apps", self._token(channel))

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            number = self.graph.call("GET", self._number(channel), self._token(channel),
                                     params={"fields": "display_phone_number,quality_rating,verified_name"})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        return {"ok": True, "display_phone_number": text_of(number.get("display_phone_number")),
                "quality_rating": text_of(number.get("quality_rating")),
                "verified_name": text_of(number.get("verified_name"))}


def _survey_answer(message: Json) -> tuple[str, int] | None:
    """`interactive.list_reply` / `interactive.button_reply` whose id is one of our survey answers."""
    body = obj(message, "interactive")
    kind = text_of(body.get("type"))
    if kind not in ("list_reply", "button_reply"):
        return None
    return surveys.parse_answer_data(id_of(obj(body, kind).get("id")))


def _text(body: str) -> Json:
    return {"type": "text", "text": {"body": body, "preview_url": False}}
