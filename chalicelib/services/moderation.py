"""Edit or delete a message at the provider (B4): our sent replies where the channel allows, customers' public
comments where it allows; hide or unhide a customer's public comment (Facebook Page, Instagram). The API records
the request on the message; the stream carries it out through the adapter and records done or failed with the
reason, like a send."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.channels.base import CommentRef, ConvRef
from chalicelib.domain.model import iso
from chalicelib.errors import ChannelError, Conflict, InvalidInput, NotFound, NotSupported, TransientError
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import MessageItem, plain

MAX_TEXT = 10_000


def _message(principal: Principal, conv_id: str, message_id: str) -> MessageItem:
    message = repo.get_message(principal.workspace_id, conv_id, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return message


def _adapter(d: Deps, message: MessageItem) -> tuple[Any, Any]:
    channel = repo.get_channel(message.channel_id)
    if channel is None:
        raise NotFound("the channel of this message was removed")
    return channel, d.adapters.get(channel.kind)


def _ours_and_sent(message: MessageItem) -> None:
    if message.direction != "out" or message.status != "sent" or not message.external_message_id:
        raise Conflict("only a reply of ours that the channel has accepted can be changed there")


def request_edit(d: Deps, principal: Principal, conv_id: str, message_id: str, text: Any) -> MessageItem:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise InvalidInput(f"text is required (at most {MAX_TEXT} characters)")
    message = _message(principal, conv_id, message_id)
    _ours_and_sent(message)
    channel, adapter = _adapter(d, message)
    if "edit_out" not in adapter.capabilities or not hasattr(adapter, "edit_text"):
        raise NotSupported(f"{channel.kind} does not let us edit a sent message")
    return repo.request_action(message, {"kind": "edit", "text": text.strip(), "state": "pending",
                                         "by": principal.subject, "at": iso(d.now())})


def request_delete(d: Deps, principal: Principal, conv_id: str, message_id: str) -> MessageItem:
    message = _message(principal, conv_id, message_id)
    conv = repo.require_conversation(principal.workspace_id, conv_id)
    channel, adapter = _adapter(d, message)
    if message.direction == "in" and conv.surface == "comment":
        if not hasattr(adapter, "delete_comment"):
            raise NotSupported(f"{channel.kind} does not let us delete a comment")
    else:
        _ours_and_sent(message)
        if "delete_out" not in adapter.capabilities or not hasattr(adapter, "delete"):
            raise NotSupported(f"{channel.kind} does not let us delete a sent message")
    return repo.request_action(message, {"kind": "delete", "state": "pending", "by": principal.subject,
                                         "at": iso(d.now())})


def request_hide(d: Deps, principal: Principal, conv_id: str, message_id: str, hidden: Any) -> MessageItem:
    """Hide a customer's public comment from everyone but its author (or show it again), where the channel can."""
    if not isinstance(hidden, bool):
        raise InvalidInput("hidden must be true or false")
    message = _message(principal, conv_id, message_id)
    conv = repo.require_conversation(principal.workspace_id, conv_id)
    if message.direction != "in" or conv.surface != "comment" or not message.external_message_id:
        raise Conflict("only a customer's public comment can be hidden", code="not_a_comment")
    if message.deleted:
        raise Conflict("this comment was deleted", code="comment_deleted")
    channel, adapter = _adapter(d, message)
    if "hide_comment" not in adapter.capabilities or not hasattr(adapter, "hide_comment"):
        raise Conflict(f"{channel.kind} cannot hide a comment (delete it instead, where allowed)",
                       code="hide_not_supported")
    return repo.request_action(message, {"kind": "hide", "hidden": hidden, "state": "pending",
                                         "by": principal.subject, "at": iso(d.now())})


def needs_action(new: MessageItem, old: MessageItem | None) -> bool:
    action = plain(new.action)
    if action.get("state") != "pending":
        return False
    before = plain(old.action) if old is not None else {}
    return before.get("state") != "pending" or before.get("at") != action.get("at")


def perform(d: Deps, message: MessageItem) -> None:
    """From the stream. Transient failures raise (the record is retried); refusals end as `failed`."""
    action = plain(message.action)
    conv = repo.get_conversation(message.workspace_id or "", message.conversation_id)
    if conv is None:
        repo.finish_action(message, "failed", error={"code": "conversation_missing", "message": "removed"})
        return
    ref = ConvRef(conv.external_conversation_id, conv.external_thread_id, conv.last_inbound_at or "", conv.surface)
    try:
        channel, adapter = _adapter(d, message)
        external_id = message.external_message_id or ""
        comment = plain(message.comment)
        comment_ref = CommentRef(external_id, comment.get("post_id") or ref.external_thread_id, ref,
                                 comment.get("author_id", ""))
        if action["kind"] == "edit":
            adapter.edit_text(channel, ref, external_id, action["text"])
            repo.finish_action(message, "done", text=action["text"])
        elif action["kind"] == "hide":
            hidden = bool(action.get("hidden"))
            adapter.hide_comment(channel, comment_ref, hidden)
            repo.finish_action(message, "done", hidden=hidden)
        elif message.direction == "in":
            adapter.delete_comment(channel, comment_ref)
            repo.finish_action(message, "done", deleted=True)
        else:
            adapter.delete(channel, ref, external_id)
            repo.finish_action(message, "done", deleted=True)
    except TransientError:
        raise
    except (ChannelError, NotFound) as err:
        logger.warning("moderation refused", extra={"code": err.code, "kind": action.get("kind")})
        repo.finish_action(message, "failed", error={"code": err.code, "message": err.message})


def block(d: Deps, principal: Principal, conv_id: str, blocked: Any) -> dict[str, Any]:
    """Block (or unblock) the customer of a conversation: our denylist always, the provider's block where it has one.

    Blocked: their further messages are stored but stay out of the inbox and trigger nothing; replies are refused.
    """
    if not isinstance(blocked, bool):
        raise InvalidInput("blocked must be true or false")
    ws = principal.workspace_id
    conv = repo.require_conversation(ws, conv_id)
    identities, conversations = repo.contact_history(ws, conv.contact_id)
    ids = sorted({conv_id, *(c.conversation_id for c in conversations)})
    repo.set_blocked(ws, ids, blocked, by=principal.subject, now=d.now())
    provider = "denylist"
    identity = next((i for i in identities if i.channel_id == conv.channel_id), None)
    channel = repo.get_channel(conv.channel_id)
    if blocked and identity is not None and channel is not None:
        adapter = d.adapters.get(channel.kind)
        ref = ConvRef(conv.external_conversation_id, conv.external_thread_id, conv.last_inbound_at or "", conv.surface)
        if hasattr(adapter, "block"):
            try:
                adapter.block(channel, ref, identity.external_user_id)
                provider = "blocked"
            except NotSupported:
                provider = "denylist"
            except ChannelError as err:
                logger.warning("provider block failed", extra={"code": err.code})
                provider = f"failed: {err.message}"
    return {"contact_id": conv.contact_id, "blocked": blocked, "conversations": ids, "provider": provider}
