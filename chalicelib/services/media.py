"""Copy inbound attachments from the provider into our storage (run from the stream).

Provider URLs expire or carry tokens (Telegram's file URL embeds the bot token), so the console only ever
sees our own short-lived links.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from chalicelib.errors import ChannelError, InvalidInput, PayloadTooLarge, TransientError
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.files import safe_name
from chalicelib.store.models import MessageItem

UPLOAD_MAX_BYTES = 10 * 1024 * 1024


def decode_upload(body: dict[str, Any]) -> tuple[str, bytes]:
    """An uploaded file as the API takes it (`file_name`, `data_base64`): its safe name and bytes, at most 10 MB."""
    name = body.get("file_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("file_name is required (at most 200 characters)", details={"field": "file_name"})
    encoded = body.get("data_base64", "")
    if not isinstance(encoded, str):
        raise InvalidInput("data_base64 must be a base64 string", details={"field": "data_base64"})
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidInput("data_base64 must be base64", details={"field": "data_base64"}) from err
    if not data:
        raise InvalidInput("the file is empty", details={"field": "data_base64"})
    if len(data) > UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(f"files up to {UPLOAD_MAX_BYTES // (1024 * 1024)} MB")
    return safe_name(name), data


def needs_fetch(message: MessageItem) -> bool:
    return message.direction == "in" and any(
        a.get("file_ref") and not a.get("storage_key") and not a.get("fetch_error") for a in message.attachments or []
    )


def storage_key(message: MessageItem, index: int, file_name: str) -> str:
    return f"{message.workspace_id}/{message.conversation_id}/{message.message_id}/{index}-{safe_name(file_name)}"


def fetch_attachments(d: Deps, message: MessageItem) -> None:
    channel = repo.get_channel(message.channel_id)
    if channel is None:
        return
    adapter = d.adapters.get(channel.kind)
    updated: list[dict[str, Any]] = []
    for index, att in enumerate(message.attachments or []):
        att = dict(att)
        if att.get("file_ref") and not att.get("storage_key"):
            try:
                fetched = adapter.fetch_media(channel, att["file_ref"])
            except TransientError:
                raise  # the record is retried
            except ChannelError as err:
                logger.warning("attachment not fetched", extra={"code": err.code})
                att["fetch_error"] = err.message
            else:
                name = att.get("file_name") or fetched.file_name
                key = storage_key(message, index, name)
                d.files.put(key, fetched.data, att.get("mime_type") or fetched.mime_type)
                att.update(storage_key=key, file_name=name, size_bytes=len(fetched.data),
                           mime_type=att.get("mime_type") or fetched.mime_type)
        updated.append(att)
    repo.set_attachments(message, updated)
