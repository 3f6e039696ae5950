"""Turn a stored inbound event into contact, identity, conversation and message (run from the stream).

Every step is idempotent: ids derive from the event, writes are conditional, so a redelivered record
changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from chalicelib.domain.model import (
    MESSAGE_EVENTS,
    InboundEvent,
    Sender,
    contact_id_for,
    conversation_id_for,
    message_id_for,
)
from chalicelib.errors import ChannelError
from chalicelib.observability import logger
from chalicelib.services import surveys
from chalicelib.services.deps import Deps
from chalicelib.store import repo


def _profile_lookup(d: Deps, event: InboundEvent) -> Callable[[], Sender | None] | None:
    """Providers whose events carry no names (VK) offer `lookup_sender`; asked once per new customer."""
    if event.sender.display_name or event.direction == "out":
        return None
    adapter = d.adapters.get(event.channel_kind)
    lookup = getattr(adapter, "lookup_sender", None)
    if lookup is None:
        return None

    def enrich() -> Sender | None:
        channel = repo.get_channel(event.channel_id)
        if channel is None:
            return None
        try:
            return cast(Sender, lookup(channel, event.sender.external_user_id))
        except ChannelError as err:
            logger.info("profile lookup failed", extra={"code": err.code})
            return None

    return enrich


def _record_customer_message(d: Deps, event: InboundEvent, conv_id: str, queued: str = "") -> None:
    now = d.now()
    contact_id, name = repo.ensure_identity(
        event, contact_id_for(event.workspace_id, event.channel_id, event.sender.external_user_id), now=now,
        enrich=_profile_lookup(d, event))
    conv = repo.get_conversation(event.workspace_id, conv_id, consistent=True) or repo.draft_conversation(
        event, conv_id, contact_id, name, now=now)  # stored with its first message counted, in one write
    repo.record_inbound_message(event, conv, queued or message_id_for(event), now=now, quiet=bool(conv.blocked),
                                pointer_ours=bool(queued))


def process_inbound(d: Deps, event: InboundEvent, *, queued: str = "") -> None:
    """`queued`: the message id of an event the webhook stored under its pointer (its QueuedMessageItem)."""
    now = d.now()
    conv_id = conversation_id_for(event.workspace_id, event.channel_id, event.external_conversation_id)
    logger.append_keys(kind=event.channel_kind, channel_id=event.channel_id, conversation_id=conv_id,
                       external_message_id=event.external_message_id)
    if event.event_type in MESSAGE_EVENTS and event.direction == "out":
        if repo.find_message_id(event.workspace_id, event.channel_id, event.external_conversation_id,
                                event.external_message_id):
            return  # the echo of a message we sent ourselves
        conv = repo.get_conversation(event.workspace_id, conv_id, consistent=True)
        if conv is not None:  # the brand wrote in the network's own interface: show it in the thread
            repo.record_inbound_message(event, conv, message_id_for(event), now=now)
    elif event.event_type == "survey_answer":
        surveys.on_answer_event(d, event, conv_id)  # a pressed survey button (G4): never a message
    elif event.event_type in MESSAGE_EVENTS:
        if not surveys.take_text_answer(d, event, conv_id):  # "5" for the open survey is its answer, not a request
            _record_customer_message(d, event, conv_id, queued)
    elif event.event_type in ("message_edited", "comment_edited"):
        if repo.apply_inbound_edit(event, conv_id) is None and event.direction != "out":
            # an edit of a message we never received (sent before the channel was connected) or not yet (its
            # stream record comes later): the edit is the message as it is now, marked edited; the original, if
            # it comes, finds the provider's message recorded and writes nothing
            _record_customer_message(d, event, conv_id)
    elif event.event_type in ("message_deleted", "comment_deleted"):
        repo.apply_inbound_delete(event, conv_id)
    elif event.event_type in ("status", "read"):
        repo.apply_delivery_status(event, conv_id)
    else:
        logger.info("inbound event ignored", extra={"event_type": event.event_type})
