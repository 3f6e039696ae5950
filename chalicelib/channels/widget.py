"""The site-chat widget channel (CHANNELS.md §10): our own provider, so the adapter works on our tables.

A reply is already stored when the stream hands it over, so sending writes nothing more: it pushes the message to
the visitor's WebSocket connections (`post_to_connection` through `LivePush`; 410 Gone forgets a connection) and
answers with our own message id, which is also the message's "provider" id (replies and quotes resolve with it).
Visitor connections are stored under the room `widget:<channel>:<conversation>` instead of a workspace id, so the
consoles' broadcasts (by workspace) never reach a visitor and a visitor only hears their own conversation.
Visitors who are offline read the same messages later through `GET /api/widget/{channel_id}/messages`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import errors
from chalicelib.channels.base import ConvRef, FetchedMedia, OutboundMedia, SendResult, WebhookRequest, WebhookResult
from chalicelib.domain.model import Channel, conversation_id_for
from chalicelib.observability import logger
from chalicelib.settings import Settings
from chalicelib.store import connections, repo
from chalicelib.store import widget as store
from chalicelib.store.files import FileStore, LocalFileStore, S3FileStore
from chalicelib.store.models import MessageItem

Json = dict[str, Any]


def visitor_room(channel_id: str, conversation_id: str) -> str:
    """The `workspace_id` a visitor's connection is stored under (never a real workspace id)."""
    return f"widget:{channel_id}:{conversation_id}"


def author(message: MessageItem, channel: Channel, visitor_name: str = "") -> Json:
    if message.direction == "in":
        return {"kind": "visitor", "name": visitor_name}
    if message.origin == "greeting":
        return {"kind": "bot", "name": str(channel.settings.get("bot_name") or channel.name)}
    return {"kind": "operator", "name": str(channel.settings.get("operator_name") or channel.name)}


def visitor_attachment(att: Json, files: FileStore) -> Json:
    key = att.get("storage_key")
    return {
        "kind": att.get("kind"), "mime_type": att.get("mime_type"), "file_name": att.get("file_name"),
        "size_bytes": att.get("size_bytes"),
        "url": files.link(key, file_name=att.get("file_name") or "file") if key else None,
    }


def visitor_message(message: MessageItem, channel: Channel, files: FileStore, visitor_name: str = "") -> Json:
    """A message as the visitor sees it (CHANNELS.md §10): no internal fields, no operator ids."""
    deleted = bool(message.deleted)
    return {
        "id": message.message_id,
        "author": author(message, channel, visitor_name),
        "text": "" if deleted else message.text,
        "attachments": [] if deleted else [visitor_attachment(a, files) for a in (message.attachments or [])],
        "reply_to": message.reply_to_id,
        "created_at": message.created_at,
        "edited": bool(message.edited),
        "deleted": deleted,
        **({"survey": visitor_survey(message.survey)} if message.survey and not deleted else {}),
    }


def visitor_survey(prompt: Any) -> Json:
    """A survey prompt as the widget draws it (stars / 0-10): its id and scale, nothing internal (G4)."""
    raw = dict(prompt) if isinstance(prompt, dict) else {}
    scores = [int(option[1]) for option in raw.get("options") or []]
    return {"id": str(raw.get("survey_id") or ""), "kind": str(raw.get("kind") or ""),
            "scale": [min(scores), max(scores)] if scores else [], "question": str(raw.get("question") or "")}


def visible_to_visitor(message: MessageItem) -> bool:
    """Customer messages and our replies; never internal notes or system lines, nor replies that failed."""
    return message.direction == "in" or (message.direction == "out" and message.status != "failed")


def file_store(settings: Settings) -> FileStore:
    if settings.files_bucket:
        import boto3

        return S3FileStore(settings.files_bucket, boto3.client("s3", region_name=settings.region))
    return LocalFileStore(settings.files_dir, settings.signing_key, settings.public_url)


class WidgetAdapter:
    """`ChannelAdapter` (plus edit / delete / typing) for the site-chat widget."""

    kind = "widget"
    capabilities: frozenset[str] = frozenset({"text", "images", "documents", "edit_out", "delete_out", "reply_to",
                                              "typing"})

    def __init__(self, settings: Settings, live: Any = None, files: FileStore | None = None) -> None:
        self._settings = settings
        self._live = live
        self._files = files

    @property
    def live(self) -> Any:
        if self._live is None:
            from chalicelib.services.live import LivePush

            self._live = LivePush(self._settings)
        return self._live

    @property
    def files(self) -> FileStore:
        if self._files is None:
            self._files = file_store(self._settings)
        return self._files

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        raise errors.NotFound("widget channels take messages through /api/widget/{channel_id}/messages")

    # ----------------------------------------------------------------------------------------------- outbound

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        return self._deliver(channel, conv, idempotency_key)

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        """Called once per attachment (`<message id>-<index>`): the first call pushes the whole message."""
        message_id, _, index = idempotency_key.rpartition("-")
        if not message_id or not index.isdigit():
            message_id, index = idempotency_key, "0"
        if index != "0":
            return SendResult(external_message_id=message_id)
        return self._deliver(channel, conv, message_id)

    def edit_text(self, channel: Channel, conv: ConvRef, external_message_id: str, text: str) -> SendResult:
        message = self._message(channel, conv, external_message_id)
        shown = visitor_message(message, channel, self.files)
        self._push(channel, conv, {"type": "message.updated", "message": {**shown, "text": text, "edited": True}})
        return SendResult(external_message_id=external_message_id)

    def delete(self, channel: Channel, conv: ConvRef, external_message_id: str) -> None:
        self._push(channel, conv, {"type": "message.deleted", "message_id": external_message_id})

    def typing(self, channel: Channel, conv: ConvRef) -> None:
        self._push(channel, conv, {"type": "typing", "who": "operator"}, sequenced=False)

    def _deliver(self, channel: Channel, conv: ConvRef, message_id: str) -> SendResult:
        message = self._message(channel, conv, message_id)
        pushed = self._push(channel, conv, {"type": "message.new",
                                            "message": visitor_message(message, channel, self.files)})
        logger.info("widget message pushed", extra={"channel_id": channel.id, "message_id": message_id,
                                                    "connections": pushed})
        return SendResult(external_message_id=message_id, raw={"connections": pushed})

    def _message(self, channel: Channel, conv: ConvRef, message_id: str) -> MessageItem:
        conversation_id = conversation_id_for(channel.workspace_id, channel.id, conv.external_conversation_id)
        message = repo.get_message(channel.workspace_id, conversation_id, message_id) if message_id else None
        if message is None:
            raise errors.PermanentError(f"widget message {message_id or '?'} is not stored")
        return message

    def _push(self, channel: Channel, conv: ConvRef, event: Json, *, sequenced: bool = True) -> int:
        """Send `event` to the visitor's open sockets. Pushing is best effort: history has everything."""
        if not self._settings.websocket_endpoint:
            return 0
        conversation_id = conversation_id_for(channel.workspace_id, channel.id, conv.external_conversation_id)
        room = visitor_room(channel.id, conversation_id)
        targets = connections.of_workspace(room)
        if not targets:
            return 0
        payload: Json = {"type": event["type"], "conversation_id": conversation_id}
        if sequenced:
            payload["seq"] = store.next_seq(channel.workspace_id, conversation_id)
        payload.update({k: v for k, v in event.items() if k != "type"})
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return sum(1 for connection_id in targets if self.live.send(connection_id, data))

    # ---------------------------------------------------------------------------------------- files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        raise errors.NotSupported("widget attachments arrive already stored")

    def register_webhook(self, channel: Channel, url: str) -> None:
        return None

    def check_health(self, channel: Channel) -> dict[str, Any]:
        return {"ok": True, "allowed_origins": list(channel.settings.get("allowed_origins") or [])}
