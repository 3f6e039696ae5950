"""Send outbound messages (operator replies, greetings) through the channel adapter, from the stream.

A message is written as `pending`; this sends it and records `sent` (provider id) or `failed` (reason).
Before the provider call the sender takes the send's lease (`take_send`: one conditional put keyed on message id
and generation), so a redelivered or racing stream record never sends twice; the message's own status says when
the send is done. A retry by the operator bumps the generation.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from chalicelib.channels.base import CommentRef, ConvRef, OutboundMedia, Template
from chalicelib.domain.greeting import greeting_text
from chalicelib.domain.model import Attachment, derived_id, iso, parse_iso
from chalicelib.domain.surveys import Prompt
from chalicelib.errors import ChannelError, NotSupported, RateLimited, TransientError
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import ConversationItem, MessageItem, plain

GREETING_KINDS = frozenset({"telegram", "vk", "ok", "whatsapp", "instagram", "messenger", "email", "widget"})


def needs_delivery(new: MessageItem, old: MessageItem | None) -> bool:
    if new.direction != "out" or new.status != "pending":
        return False
    return old is None or old.status != "pending" or old.generation != new.generation


def bumped_by_writer(new: MessageItem, old: MessageItem | None) -> bool:
    """An operator's reply or note just stored: `repo.add_outbound_message` bumps its conversation after it."""
    return old is None and new.origin == "operator" and new.direction in ("out", "note")


def send_outcome(new: MessageItem, old: MessageItem | None) -> bool:
    """The sender's own record of a send (pending -> sent / failed, same generation). Sends happen only in the stream
    batch of the message's pending record (`deliver`), which pushes the message after the send, with its outcome
    (the update refreshes the item it holds): this record's push would say it again (API Gateway bills each)."""
    return (old is not None and old.status == "pending" and new.status in ("sent", "failed")
            and old.generation == new.generation)


def needs_work(new: MessageItem, old: MessageItem | None) -> bool:
    return needs_delivery(new, old) or bumped_by_writer(new, old)


def on_message(d: Deps, new: MessageItem, old: MessageItem | None) -> None:
    """From the stream: an operator's message's conversation bump finished if its writer died before it (one read
    of the conversation, which the send reads anyway), then the send."""
    conv = None
    if bumped_by_writer(new, old):
        conv = repo.get_conversation(new.workspace_id or "", new.conversation_id)
        if conv is not None:
            conv = repo.finish_outbound(conv, new)
    if needs_delivery(new, old):
        deliver(d, new, conv)


def backoff_seconds(d: Deps, attempt: int) -> float:
    base = d.settings.send_backoff_seconds * (2 ** (attempt - 1))
    return min(base, d.settings.send_max_wait_seconds) * (0.5 + random.random() / 2)


def _call_provider(d: Deps, message: MessageItem, conv: ConversationItem) -> dict[str, Any]:
    channel = repo.get_channel(message.channel_id)
    if channel is None:
        return {"ok": False, "code": "channel_missing", "message": "the channel was removed", "attempts": 0}
    adapter = d.adapters.get(channel.kind)
    ref = ConvRef(conv.external_conversation_id, conv.external_thread_id, conv.last_inbound_at or "", conv.surface)
    attempt = 0
    while True:
        attempt += 1
        try:
            ext_id = _send(d, adapter, channel, ref, message)
            return {"ok": True, "external_message_id": ext_id, "attempts": attempt}
        except TransientError as err:
            wait = max(err.retry_after, 0.0) if isinstance(err, RateLimited) else backoff_seconds(d, attempt)
            if attempt >= d.settings.send_max_attempts or wait > d.settings.send_max_wait_seconds:
                return {"ok": False, "code": err.code, "message": err.message, "attempts": attempt}
            logger.info("send retry", extra={"attempt": attempt, "wait_s": round(wait, 2), "code": err.code})
            d.sleep(wait)
        except ChannelError as err:
            return {"ok": False, "code": err.code, "message": err.message, "attempts": attempt}


def _send(d: Deps, adapter: Any, channel: Any, ref: ConvRef, message: MessageItem) -> str:
    reply_to = message.reply_to_external_id or None
    key = message.message_id
    if message.template:
        t = plain(message.template)
        template = Template(t["name"], t.get("language", "ru"), tuple(t.get("parameters", ())))
        return str(_optional(adapter, "send_template")(channel, ref, template, idempotency_key=key)
                   .external_message_id)
    if ref.surface == "comment":
        comment = plain(message.comment)
        target = CommentRef(external_comment_id=reply_to or comment.get("comment_id", ""),
                            post_id=comment.get("post_id") or ref.external_thread_id, conv=ref,
                            author_external_id=comment.get("author_id", ""))
        return str(_optional(adapter, "reply_comment")(channel, target, message.text, private=bool(message.private),
                                                       idempotency_key=key).external_message_id)
    if message.survey and hasattr(adapter, "send_survey"):  # G4: the channel's own buttons; else the text asks
        return str(adapter.send_survey(channel, ref, Prompt.from_json(plain(message.survey)), idempotency_key=key)
                   .external_message_id)
    files = [Attachment.from_dict(a) for a in (message.attachments or [])]
    if not files:
        return str(adapter.send_text(channel, ref, message.text, reply_to=reply_to, idempotency_key=key)
                   .external_message_id)
    medias = []
    for att in files:
        data, ctype = d.files.get(att.storage_key)
        medias.append(OutboundMedia(kind=att.kind, file_name=att.file_name, mime_type=att.mime_type or ctype,
                                    data=data))
    if hasattr(adapter, "send_bundle"):  # one e-mail carries every attachment
        return str(adapter.send_bundle(channel, ref, message.text, medias, reply_to=reply_to, idempotency_key=key)
                   .external_message_id)
    first_id = ""
    for index, media in enumerate(medias):
        result = adapter.send_media(channel, ref, media, caption=message.text if index == 0 else None,
                                    reply_to=reply_to if index == 0 else None, idempotency_key=f"{key}-{index}")
        first_id = first_id or result.external_message_id
    return first_id


def _optional(adapter: Any, method: str) -> Any:
    if not hasattr(adapter, method):
        raise NotSupported(f"{adapter.kind} channels cannot do {method.replace('_', ' ')}")
    return getattr(adapter, method)


LEASE_KEEP = timedelta(days=2)  # past the stream's 24 h retention: a replayed record still finds the lease


class SendInProgress(RuntimeError):
    """Another worker holds this send's lease and the message is still pending: the stream retries the record
    later (by then it is sent, or the lease ran out because that worker died)."""


def _lease_seconds(d: Deps) -> float:
    """As long as this invocation may still run (a Lambda's remaining time, at least 30 s: a context kept from an
    earlier invocation may say less), else the longest the send loop may take."""
    if d.lambda_context is not None:
        return max(d.lambda_context.get_remaining_time_in_millis() / 1000 + 1, 30.0)
    return d.settings.send_max_attempts * (d.settings.send_max_wait_seconds + 30) + 60


def take_send(d: Deps, message: MessageItem) -> bool:
    """May this worker call the provider for this message's generation? Exactly one may (issue 14, replacing the
    Powertools idempotency record: 1 write unit instead of 2, and no extra stream record).

    The first taker of the lease sends (one conditional put). Anyone after it reads the message: sent, failed or
    retried meanwhile -> False (a replayed or duplicate record: nothing to do); still pending -> the lease holder is
    at work (SendInProgress: the record comes back later), or died and its lease ran out -> take it over and send.
    """
    ws = message.workspace_id or ""
    key = f"lease#send#{ws}#{message.message_id}#{message.generation}"
    now = d.now()
    until = now + timedelta(seconds=_lease_seconds(d))
    if repo.take_send_lease(key, now=now, until=until, keep=LEASE_KEEP, expired_only=False):
        return True
    current = repo.get_message(ws, message.conversation_id, message.message_id)
    if current is None or current.status != "pending" or current.generation != message.generation:
        return False
    if repo.take_send_lease(key, now=now, until=until, keep=LEASE_KEEP, expired_only=True):
        return True
    raise SendInProgress(f"message {message.message_id} is being sent by another worker")


def deliver(d: Deps, message: MessageItem, conv: ConversationItem | None = None) -> None:
    ws = message.workspace_id or ""
    conv = conv or repo.get_conversation(ws, message.conversation_id)
    if conv is None:
        repo.mark_failed(message, "conversation_missing", "the conversation was removed", attempts=0)
        return
    logger.append_keys(conversation_id=message.conversation_id, message_id=message.message_id)
    if not take_send(d, message):
        return  # sent or failed already: a replayed record
    outcome = _call_provider(d, message, conv)
    if outcome["ok"]:
        repo.mark_sent(message, outcome["external_message_id"], conv.external_conversation_id,
                       attempts=outcome["attempts"], now=d.now())
    else:
        logger.warning("send failed", extra={"code": outcome["code"], "attempts": outcome["attempts"]})
        repo.mark_failed(message, outcome["code"], outcome["message"], attempts=outcome["attempts"])


def greet(d: Deps, conv: ConversationItem) -> bool:
    """The workspace's auto-greeting for a new conversation, written exactly once (E1)."""
    if conv.channel_kind not in GREETING_KINDS or conv.surface == "comment" or conv.automated:
        return False  # a public comment is not greeted: there is no private chat to greet in
    workspace = repo.get_workspace(conv.workspace_id or "")
    if workspace is None or not workspace.greeting_enabled:
        return False
    text = greeting_text(plain(workspace.greetings), conv.language or workspace.language)
    at = parse_iso(conv.created_at or conv.last_activity_at) + timedelta(milliseconds=1)
    message = repo.new_message(
        conv.workspace_id or "", conv.conversation_id, derived_id("m", at, "greeting", conv.conversation_id),
        channel_id=conv.channel_id, direction="out", origin="greeting", author_id="bot", text=text,
        status="pending", created_at=iso(at),
    )
    return repo.put_message_once(message)
