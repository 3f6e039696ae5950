"""Repository functions: every DynamoDB read and write of the app goes through here.

Writes that must happen together use one TransactWrite; writes that may be retried (stream records come
back after partial failures) are conditional, so a retry changes nothing twice.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import size

from chalicelib.domain import search
from chalicelib.domain.model import STATUSES, Channel, InboundEvent, Sender, iso, parse_iso, preview
from chalicelib.errors import Conflict, NotFound
from chalicelib.store import keys, merges
from chalicelib.store.base import (
    condition_failed,
    lazily,
    page_items,
    put_new,
    start_key,
    typed,
    update_if,
)
from chalicelib.store.models import (
    MODEL_OF,
    ApiKeyItem,
    ChannelItem,
    ContactItem,
    ConversationItem,
    ExternalMessageItem,
    IdentityItem,
    InboundItem,
    MainItem,
    MessageItem,
    ParkedItem,
    QueuedMessageItem,
    SendLeaseItem,
    TimerItem,
    WorkspaceItem,
    plain,
)
from chalicelib.store.secrets import box as secret_box

DEDUPE_TTL = timedelta(days=8)  # WhatsApp retries for 7 days (CHANNELS.md §2.1)
CHANNEL_CACHE_SECONDS = 30.0










# --- workspaces and channels -------------------------------------------------------------------------


def get_workspace(ws: str) -> WorkspaceItem | None:
    pk, sk = keys.workspace(ws)
    try:
        return WorkspaceItem.get(pk, sk)
    except DoesNotExist:
        return None


def put_workspace(ws: str, name: str, *, language: str, now: datetime, greetings: dict[str, str] | None = None) -> bool:
    """Create a workspace unless it exists. Returns True when created."""
    pk, sk = keys.workspace(ws)
    item = typed(WorkspaceItem, pk, sk, workspace_id=ws, name=name, language=language, created_at=iso(now),
                  greetings=greetings or {})
    try:
        item.save(condition=WorkspaceItem.pk.does_not_exist())
        return True
    except PutError as err:
        if condition_failed(err):
            return False
        raise


_channel_cache: dict[str, tuple[float, Channel]] = {}


def _to_channel(item: ChannelItem) -> Channel:
    return Channel(
        id=item.pk.removeprefix("CH#"), workspace_id=item.workspace_id or "", kind=item.kind, name=item.name,
        secrets=_open_secrets(item), settings=plain(item.settings),
        enabled=item.enabled,
    )


def _open_secrets(item: ChannelItem) -> dict[str, str]:
    if item.secrets_sealed:
        return secret_box().open(item.secrets_sealed, context=item.pk)
    return {k: str(v) for k, v in plain(item.secrets).items()}


def get_channel(channel_id: str, *, cached: bool = True) -> Channel | None:
    """The channel by its id alone (webhook URLs carry nothing else). Warm Lambdas keep it for 30 s."""
    hit = _channel_cache.get(channel_id)
    if cached and hit and hit[0] > time.monotonic():
        return hit[1]
    pk, sk = keys.channel(channel_id)
    try:
        channel = _to_channel(ChannelItem.get(pk, sk))
    except DoesNotExist:
        return None
    _channel_cache[channel_id] = (time.monotonic() + CHANNEL_CACHE_SECONDS, channel)
    return channel


def forget_cached_channels() -> None:
    _channel_cache.clear()


def put_channel(channel: Channel, *, now: datetime) -> None:
    pk, sk = keys.channel(channel.id)
    item = typed(
        ChannelItem, pk, sk, workspace_id=channel.workspace_id, kind=channel.kind, name=channel.name,
        enabled=channel.enabled, secrets_sealed=secret_box().seal(channel.secrets, context=pk),
        settings=channel.settings, created_at=iso(now),
        gsi1pk=keys.channels_of(channel.workspace_id), gsi1sk=f"{iso(now)}#{channel.id}",
    )
    item.save()
    _channel_cache.pop(channel.id, None)


def list_channels(ws: str) -> list[ChannelItem]:
    return list(ChannelItem.gsi1.query(keys.channels_of(ws)))


def set_channel_settings(channel_id: str, settings: dict[str, Any]) -> None:
    pk, sk = keys.channel(channel_id)
    ChannelItem(pk, sk).update(actions=[ChannelItem.settings.set(settings)])
    _channel_cache.pop(channel_id, None)


def set_channel_health(channel_id: str, health: dict[str, Any]) -> None:
    pk, sk = keys.channel(channel_id)
    ChannelItem(pk, sk).update(actions=[ChannelItem.health.set(health)])


# --- inbound: the webhook's one write ----------------------------------------------------------------


def put_inbound(event: InboundEvent, *, now: datetime, pointer: tuple[str, str] | None = None) -> bool:
    """Store a verified event unless its dedupe key was seen. Returns False for a duplicate.

    Only the parsed event is kept, not the provider's payload beside it: under 1 KB for a usual message, so the
    webhook's one write is one write unit.

    With `pointer` (the conversation and message ids of a customer's message from a provider's webhook) the event is
    stored under the provider-id pointer's key instead (`QueuedMessageItem`, kept like any pointer): a duplicate is
    then the same provider message, however late, and the stream has no pointer to write (1 write unit less)."""
    if pointer is not None:
        ws = event.workspace_id
        ppk, psk = keys.external_message(ws, event.channel_id, event.external_conversation_id,
                                         event.external_message_id)
        return put_new(typed(QueuedMessageItem, ppk, psk, workspace_id=ws, conversation_id=pointer[0],
                             message_id=pointer[1], channel_id=event.channel_id, event=event.to_json(),
                             created_at=iso(now)))
    pk, sk = keys.inbound(event.dedupe_key)
    item = typed(
        InboundItem, pk, sk, workspace_id=event.workspace_id, channel_id=event.channel_id, event=event.to_json(),
        created_at=iso(now),
        expires_at=int((now + DEDUPE_TTL).timestamp()),
    )
    # DynamoDB deletes expired items within days, not at once: an expired key counts as unseen.
    condition = InboundItem.pk.does_not_exist() | (InboundItem.expires_at < int(now.timestamp()))
    try:
        item.save(condition=condition)
        return True
    except PutError as err:
        if condition_failed(err):
            return False
        raise


# --- contacts and identities -------------------------------------------------------------------------


def ensure_identity(event: InboundEvent, contact_id: str, *, now: datetime,
                    enrich: Callable[[], Sender | None] | None = None) -> tuple[str, str]:
    """The contact behind the event's sender, creating contact and identity together the first time.

    `enrich` is asked for a fuller profile only then (e.g. VK events carry no names: one users.get per new
    customer, from the stream, never on the webhook's path). Returns the contact id and the name to show.
    """
    ws, sender = event.workspace_id, event.sender
    ipk, isk = keys.identity(ws, event.channel_id, sender.external_user_id)
    try:
        found = IdentityItem.get(ipk, isk)
        return found.contact_id, found.display_name or found.username or found.external_user_id
    except DoesNotExist:
        pass
    if enrich is not None:
        sender = enrich() or sender
    cpk, csk = keys.contact(ws, contact_id)
    history = keys.contact_history(ws, contact_id)
    contact = typed(
        ContactItem, cpk, csk, workspace_id=ws, display_name=sender.display_name, username=sender.username,
        phone=sender.phone, email=sender.email, avatar_url=sender.avatar_url, language=sender.language,
        created_at=iso(now), **merges.match_attrs(ws, contact_id, sender.display_name, sender.email, sender.phone),
    )
    identity = typed(
        IdentityItem, ipk, isk, workspace_id=ws, contact_id=contact_id, channel_id=event.channel_id,
        channel_kind=event.channel_kind, external_user_id=sender.external_user_id,
        display_name=sender.display_name, username=sender.username, created_at=iso(now),
        gsi3pk=history, gsi3sk=f"IDENT#{event.channel_id}#{sender.external_user_id}",
    )
    # Two conditional puts, not a transaction (half the write units): the contact's id derives from the identity,
    # so a retry or a parallel record writes the same contact, and the identity goes last.
    put_new(contact)
    if not put_new(identity):
        found = IdentityItem.get(ipk, isk)  # created meanwhile (a retry or a parallel record)
        return found.contact_id, found.display_name or found.username or found.external_user_id
    return contact_id, sender.display_name or sender.username or sender.external_user_id


def edit_contact(ws: str, contact_id: str, changes: dict[str, Any], *, expected_revision: int, by: str,
                 at: str) -> ContactItem | None:
    """Apply an operator's edit if the card is still at `expected_revision`; None when it moved on (stale)."""
    pk, sk = keys.contact(ws, contact_id)
    item = ContactItem(pk, sk)
    actions = [getattr(ContactItem, name).set(value) for name, value in changes.items()]
    actions += [ContactItem.revision.set(expected_revision + 1), ContactItem.changed_by.set(by),
                ContactItem.changed_at.set(at), *merges.match_actions(ws, contact_id, changes)]
    current = ContactItem.revision == expected_revision
    if expected_revision == 0:
        current = current | ContactItem.revision.does_not_exist()
    try:
        item.update(actions=actions, condition=ContactItem.pk.exists() & current)
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return item


def get_contact(ws: str, contact_id: str) -> ContactItem | None:
    pk, sk = keys.contact(ws, contact_id)
    try:
        return ContactItem.get(pk, sk)
    except DoesNotExist:
        return None


def decode(raw: dict[str, Any]) -> MainItem | None:
    """A raw main-table item (AttributeValue map, as in a stream image) as its model, by its `type`."""
    cls = MODEL_OF.get(raw.get("type", {}).get("S", ""))
    return cls.from_raw_data(raw) if cls else None


def _raw_query(index: str, hash_value: str, *, forward: bool) -> Iterator[MainItem]:
    conn = MainItem._get_connection()
    start = None
    while True:
        page = conn.query(hash_value, index_name=index, scan_index_forward=forward, exclusive_start_key=start)
        for raw in page.get("Items", []):
            item = decode(raw)
            if item is not None:
                yield item
        start = page.get("LastEvaluatedKey")
        if not start:
            return


_Item = TypeVar("_Item", bound=MainItem)


def contact_history(ws: str, contact_id: str) -> tuple[list[IdentityItem], list[ConversationItem]]:
    """A contact's identities in every channel (gsi3) and its conversations (gsi5, keys only, read by key), newest
    activity first (C2). Conversations written before gsi5 existed are still found on gsi3."""
    identities: list[IdentityItem] = []
    found: dict[str, ConversationItem] = {}  # by pk: a conversation's own partition
    history = keys.contact_history(ws, contact_id)
    for item in _raw_query("gsi3", history, forward=False):
        if isinstance(item, IdentityItem):
            identities.append(item)
        elif isinstance(item, ConversationItem):
            found[item.pk] = item
    wanted = [(k.pk, k.sk) for k in ConversationItem.gsi5.query(history) if k.pk not in found]
    for conv in read_by_keys(ConversationItem, wanted):
        found[conv.pk] = conv
    conversations = sorted(found.values(), key=lambda c: (c.last_activity_at, c.conversation_id), reverse=True)
    return identities, conversations


def read_by_keys(cls: type[_Item], wanted: list[tuple[str, str]]) -> list[_Item]:
    """The items of a keys-only index page, by BatchGetItem (100 keys a call), in the order asked for."""
    if not wanted:
        return []
    got = {(item.pk, item.sk): item for item in cls.batch_get(wanted)}
    return [got[k] for k in wanted if k in got]


# --- conversations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvIndex:
    status: str
    assignee_id: str | None
    last_activity_at: str


LEGACY_INDEX_KEYS = ("gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")  # conversations left gsi2/gsi3 for gsi4/gsi5


def index_attrs(ws: str, conv_id: str, contact_id: str, state: ConvIndex, created_at: str) -> dict[str, str | None]:
    """The GSI keys of a conversation (None: not in that index).

    - gsi1, the inbox (all attributes): by status, newest activity first; the one index a message moves.
    - gsi4 (keys only, sparse): the assignee's conversations by status, then creation; unassigned ones are not in
      it (the inbox lists them with a filter). A message changes neither key nor projection: no write there.
    - gsi5 (keys only): the contact's history; set at creation.
    """
    assigned = bool(state.assignee_id)
    return {
        "gsi1pk": keys.inbox(ws, state.status),
        "gsi1sk": f"{state.last_activity_at}#{conv_id}",
        "gsi4pk": keys.assignee(ws, state.assignee_id) if assigned else None,
        "gsi4sk": f"{state.status}#{created_at}#{conv_id}" if assigned else None,
        "gsi5pk": keys.contact_history(ws, contact_id),
        "gsi5sk": f"CONV#{conv_id}",
    }


def get_conversation(ws: str, conv_id: str, *, consistent: bool = False) -> ConversationItem | None:
    pk, sk = keys.conversation(ws, conv_id)
    try:
        return ConversationItem.get(pk, sk, consistent_read=consistent)
    except DoesNotExist:
        return None


def require_conversation(ws: str, conv_id: str) -> ConversationItem:
    conv = get_conversation(ws, conv_id, consistent=True)
    if conv is None:
        raise NotFound(f"conversation {conv_id} not found")
    return conv


def ensure_conversation(event: InboundEvent, conv_id: str, contact_id: str, contact_name: str, *,
                        now: datetime) -> ConversationItem:
    existing = get_conversation(event.workspace_id, conv_id, consistent=True)
    if existing is not None:
        return existing
    return _create_conversation(draft_conversation(event, conv_id, contact_id, contact_name, now=now))


def draft_conversation(event: InboundEvent, conv_id: str, contact_id: str, contact_name: str, *,
                       now: datetime) -> ConversationItem:
    """A new conversation, not stored yet (revision 0): `record_inbound_message` creates it with its first message
    counted, one PutItem instead of a put and an update (and one index write less)."""
    ws = event.workspace_id
    pk, sk = keys.conversation(ws, conv_id)
    at = event.received_at or iso(now)
    conv = typed(
        ConversationItem, pk, sk, workspace_id=ws, conversation_id=conv_id, channel_id=event.channel_id,
        channel_kind=event.channel_kind, contact_id=contact_id, contact_name=contact_name,
        external_conversation_id=event.external_conversation_id, external_thread_id=event.external_thread_id,
        surface=event.surface, title=event.conversation_title, language=event.sender.language, status="new",
        automated=event.sender.is_bot, revision=0,
        last_activity_at=at, created_at=at, tags=[], unread_count=0, message_count=0,
        contact_username=event.sender.username or None,
        search_text=search.search_text(contact_name, event.sender.username, event.conversation_title, []),
        **{k: v for k, v in index_attrs(ws, conv_id, contact_id, ConvIndex("new", None, at), at).items() if v},
    )
    return conv


def _create_conversation(conv: ConversationItem) -> ConversationItem:
    """Store a draft unless its conversation exists: then the stored one (a racing first message made it)."""
    conv.revision = 1
    try:
        conv.save(condition=ConversationItem.pk.does_not_exist())
    except PutError as err:
        if not condition_failed(err):
            raise
        found = get_conversation(conv.workspace_id or "", conv.conversation_id, consistent=True)
        assert found is not None
        return found
    return conv


def _with_first_message(conv: ConversationItem, event: InboundEvent, message: MessageItem, *,
                        now: datetime) -> ConversationItem:
    """A draft as `_count_message` would leave it after the customer's first message (the same fields)."""
    at = event.received_at or iso(now)
    conv.last_activity_at = _later(conv.last_activity_at, at)
    conv.last_message_preview = preview(event.text, event.attachments)
    conv.last_message_direction = message.direction
    conv.message_count = 1
    conv.recent_ids = [counted_tag(message.message_id)]
    conv.last_inbound_at = conv.awaiting_since = conv.first_inbound_at = at
    conv.unread_count = 1
    return conv


def _index_guard(conv: ConversationItem) -> Any:
    """Condition: the fields the index keys derive from have not changed since we read them."""
    guard = ConversationItem.status == conv.status
    if conv.assignee_id:
        guard &= ConversationItem.assignee_id == conv.assignee_id
    else:
        guard &= ConversationItem.assignee_id.does_not_exist()
    return guard & (ConversationItem.last_activity_at == conv.last_activity_at)


def _index_actions(conv: ConversationItem, state: ConvIndex) -> list[Any]:
    attrs = index_attrs(conv.workspace_id or "", conv.conversation_id, conv.contact_id, state,
                        conv.created_at or conv.last_activity_at)
    actions = [getattr(ConversationItem, name).set(value) if value else getattr(ConversationItem, name).remove()
               for name, value in attrs.items() if not name.startswith("gsi5")]  # gsi5: set once at creation
    if conv.gsi2pk or conv.gsi3pk:  # written before gsi4/gsi5: move it there (its gsi3 history entry too)
        actions += [getattr(ConversationItem, name).remove() for name in LEGACY_INDEX_KEYS]
        actions += [ConversationItem.gsi5pk.set(attrs["gsi5pk"] or ""),
                    ConversationItem.gsi5sk.set(attrs["gsi5sk"] or "")]
    return actions


def _later(a: str, b: str) -> str:
    return a if a >= b else b


def reopened_status(status: str) -> str:
    """Where a customer's new message puts a conversation (B9): closed reopens as new; a team's own status
    (e.g. "waiting for the customer") goes back to in progress; new and in progress stay."""
    if status == "closed":
        return "new"
    return status if status in STATUSES else "in_progress"


def any_in_status(ws: str, status: str) -> bool:
    return any(True for _ in ConversationItem.gsi1.query(keys.inbox(ws, status), limit=1))


RECENT_IDS = 12  # how many counted messages a conversation remembers (a retry comes within seconds)


def counted_tag(message_id: str) -> str:
    """What a conversation remembers of a counted message: the id's stable hash tail (8 characters)."""
    return message_id[-8:]


def record_inbound_message(event: InboundEvent, conv: ConversationItem, message_id: str, *, now: datetime,
                           retries: int = 5, quiet: bool = False, pointer_ours: bool = False) -> bool:
    """Write a customer's message, then bump its conversation: conditional writes, no transaction (a transaction
    costs twice the write units, on the table and on every index).

    Exactly once, in this order, so that a retry after a crash at any point finishes the job and doubles nothing:
    1. the pointer from the provider's message id (an edit may have recorded the message first: then stop; the
       webhook may have stored the event under it, `pointer_ours`: nothing to write; an edit of a message queued
       so, not processed yet, becomes the message under the pointer's id);
    2. if the message exists, it was counted: stop (a redelivered stream record; one strongly consistent read);
    3. the conversation, unless it already counted this message (`recent_ids`, guarded by its revision: a crash
       between 3 and 4 is retried within seconds, long before 12 newer messages push the id out), so the stream
       sees the message only after its conversation moved, as it did with the transaction; a conversation not
       stored yet (`draft_conversation`) is created with this message counted, after the pointer is ours (so a
       racing edit recorded under another id cannot leave it counting a message that is never stored);
    4. the message.
    Returns False when the message was there already. A closed conversation reopens as new (B9).
    """
    ws = event.workspace_id
    if event.external_message_id and not pointer_ours:
        owner = _claim_pointer(ws, event, conv.conversation_id, message_id)
        if owner != message_id and get_message(ws, conv.conversation_id, owner) is not None:
            return False  # the provider's message is in the thread already (its edit came first)
        message_id = owner  # ours, or a message queued under its pointer whose edit came first: the edit is it
    mpk, msk = keys.message(ws, conv.conversation_id, message_id)
    reply_to_id = None
    if event.reply_to_external_message_id:
        reply_to_id = find_message_id(ws, event.channel_id, event.external_conversation_id,
                                      event.reply_to_external_message_id)
    inbound = event.direction != "out"
    if inbound:
        origin = "customer" if event.channel_kind != "api" else "api"
    else:
        origin = "provider"  # written by the brand in the network's own interface
    message = typed(
        MessageItem, mpk, msk, workspace_id=ws, message_id=message_id, conversation_id=conv.conversation_id,
        channel_id=event.channel_id, direction="in" if inbound else "out", origin=origin,
        author_id=conv.contact_id if inbound else event.sender.external_user_id, text=event.text,
        html=event.html or None,
        attachments=[a.__dict__ for a in event.attachments], reply_to_id=reply_to_id,
        reply_to_external_id=event.reply_to_external_message_id or None,
        external_message_id=event.external_message_id or None, status="received" if inbound else "sent",
        occurred_at=event.occurred_at, created_at=event.received_at or iso(now), correlation_id=event.correlation_id,
        comment=event.comment or None, edited=event.is_edited, edit_count=1 if event.is_edited else 0,
        last_edit_event=event.external_event_id if event.is_edited else None,
    )
    if get_message(ws, conv.conversation_id, message_id) is not None:
        return False
    if conv.revision == 0:  # a draft: created counting this message (a customer's), or the racer's stored one
        conv = _create_conversation(_with_first_message(conv, event, message, now=now) if inbound and not quiet
                                    else conv)
    if not quiet:  # a blocked customer: keep the message, leave the conversation (inbox, unread, status) alone
        _count_message(event, conv, message, now=now, retries=retries)
    return put_new(message)


def _count_message(event: InboundEvent, conv: ConversationItem, message: MessageItem, *, now: datetime,
                   retries: int) -> None:
    ws, inbound = event.workspace_id, message.direction == "in"
    tag = counted_tag(message.message_id)
    at = event.received_at or iso(now)
    for _ in range(retries):
        if tag in (conv.recent_ids or []):
            return  # counted before (a retry after the bump)
        status = reopened_status(conv.status) if inbound else conv.status
        activity = _later(conv.last_activity_at, at)
        actions = [
            ConversationItem.last_activity_at.set(activity),
            ConversationItem.last_message_preview.set(preview(event.text, event.attachments)),
            ConversationItem.last_message_direction.set(message.direction),
            ConversationItem.message_count.add(1),
            ConversationItem.status.set(status),
            ConversationItem.recent_ids.set([*(conv.recent_ids or [])[-(RECENT_IDS - 1):], tag]),
            *_index_actions(conv, ConvIndex(status, conv.assignee_id, activity)),
        ]
        if inbound:
            actions += [ConversationItem.last_inbound_at.set(at),
                        ConversationItem.awaiting_since.set(ConversationItem.awaiting_since | at),
                        ConversationItem.first_inbound_at.set(ConversationItem.first_inbound_at | at),
                        ConversationItem.unread_count.add(1)]
        else:  # answered in the network's own app (an echo of the brand's message): nobody waits any more
            actions.append(ConversationItem.awaiting_since.remove())
        if conv.status == "closed" and inbound:
            actions.append(ConversationItem.closed_at.remove())
        # the revision guard makes `recent_ids` exact: a racing bump or edit sends us round again with a fresh read
        if update_if(conv, [*actions, ConversationItem.revision.add(1)],
                     condition=ConversationItem.revision == (conv.revision or 0)):
            return
        fresh = get_conversation(ws, conv.conversation_id, consistent=True)
        assert fresh is not None
        conv = fresh
    raise Conflict("conversation kept changing while recording a message")


def _claim_pointer(ws: str, event: InboundEvent, conv_id: str, message_id: str) -> str:
    """Point the provider's message id at `message_id` unless it points elsewhere: the id it points at."""
    ppk, psk = keys.external_message(ws, event.channel_id, event.external_conversation_id, event.external_message_id)
    pointer = typed(ExternalMessageItem, ppk, psk, workspace_id=ws, conversation_id=conv_id, message_id=message_id)
    try:
        pointer.save(condition=ExternalMessageItem.pk.does_not_exist()
                     | (ExternalMessageItem.message_id == message_id))
        return message_id
    except PutError as err:
        if not condition_failed(err):
            raise
    return str(ExternalMessageItem.get(ppk, psk, consistent_read=True).message_id)  # it exists: the put said so


def find_message_id(ws: str, channel_id: str, ext_conv: str, ext_msg: str) -> str | None:
    pk, sk = keys.external_message(ws, channel_id, ext_conv, ext_msg)
    try:
        return ExternalMessageItem.get(pk, sk).message_id
    except DoesNotExist:
        return None


def apply_inbound_edit(event: InboundEvent, conv_id: str) -> bool | None:
    """A customer edited a message: replace its text, once per edit event.

    True: applied; False: an older or repeated edit; None: the original is not known here (never received, or
    not yet: its pointer may hold it queued, unprocessed; the caller records the edit as the message, under the
    pointer's id when there is one). Providers date edits in whole seconds, so an edit in
    the same second as the message (or as the edit before) applies too, unless it is the same edit event again.
    """
    ws = event.workspace_id
    msg_id = find_message_id(ws, event.channel_id, event.external_conversation_id, event.external_message_id)
    if msg_id is None:
        return None
    pk, sk = keys.message(ws, conv_id, msg_id)
    item = MessageItem(pk, sk)
    newer = MessageItem.occurred_at < event.occurred_at
    same_second = (MessageItem.occurred_at == event.occurred_at) & (
        MessageItem.last_edit_event.does_not_exist() | (MessageItem.last_edit_event != event.external_event_id))
    try:
        item.update(
            actions=[MessageItem.text.set(event.text), MessageItem.edited.set(True),
                     MessageItem.edit_count.add(1), MessageItem.correlation_id.set(event.correlation_id),
                     MessageItem.occurred_at.set(event.occurred_at),
                     MessageItem.last_edit_event.set(event.external_event_id)],
            condition=MessageItem.pk.exists() & (newer | same_second),
        )
        return True
    except UpdateError as err:
        if not condition_failed(err):
            raise
    return False if get_message(ws, conv_id, msg_id) is not None else None  # older or repeated / not stored yet


def apply_delivery_status(event: InboundEvent, conv_id: str) -> bool:
    """The provider reports delivered / read / failed for one of our messages (WhatsApp, Messenger)."""
    ws, status = event.workspace_id, event.status
    msg_id = find_message_id(ws, event.channel_id, event.external_conversation_id, str(status.get("message_id", "")))
    if msg_id is None:
        return False
    order = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
    state = str(status.get("state", ""))
    if state not in order:
        return False
    pk, sk = keys.message(ws, conv_id, msg_id)
    actions: list[Any] = [MessageItem.delivery.set(state)]
    if state == "failed":
        actions.append(MessageItem.error_code.set(str(status.get("error_code") or "provider_failed")))
        actions.append(MessageItem.error_message.set(str(status.get("error_title") or "the provider failed it")))
    lower = [s for s, rank in order.items() if rank < order[state]]
    condition = MessageItem.pk.exists()
    if lower:
        condition &= MessageItem.delivery.does_not_exist() | MessageItem.delivery.is_in(*lower)
    try:
        MessageItem(pk, sk).update(actions=actions, condition=condition)
        return True
    except UpdateError as err:
        if condition_failed(err):
            return False  # an older status arriving late never overwrites a newer one
        raise


def apply_inbound_delete(event: InboundEvent, conv_id: str) -> bool:
    ws = event.workspace_id
    msg_id = find_message_id(ws, event.channel_id, event.external_conversation_id, event.external_message_id)
    if msg_id is None:
        return False
    pk, sk = keys.message(ws, conv_id, msg_id)
    MessageItem(pk, sk).update(actions=[MessageItem.deleted.set(True)], condition=MessageItem.pk.exists())
    return True


# --- outbound ----------------------------------------------------------------------------------------


def add_outbound_message(conv: ConversationItem, message: MessageItem, *, now: datetime,
                         counts_as_response: bool, retries: int = 5) -> MessageItem:
    """Write an outbound message (an operator's reply, `pending`: the stream sends it) or note, then bump its
    conversation: conditional writes idempotent per message id, no transaction (a transaction bills 2 write units
    per item: 8 per reply with the inbox move, 4 without).

    In this order, so that whatever a crash leaves, nobody acts on a state that is not true:
    1. the message, only if absent. Its INSERT is what the stream sends, pushes and counts; the conversation never
       claims a reply that is not stored (no first response, answered wait or stopped SLA clock without one).
       Present already (a retry or a racing call with the same id): the stored one is returned and this call writes
       nothing more; the call that stored it bumps, or the stream does.
    2. the conversation, once per message (`recent_ids`, under its revision), as `bump_for_outbound` says.
    A crash between 1 and 2 is finished by the stream: the message's INSERT runs `finish_outbound` (a colleague's
    reply is visible to the 409 `colleague_replied` check from step 1 on: that check reads messages).
    """
    if not put_new(message):
        return get_message(conv.workspace_id or "", conv.conversation_id, message.message_id) or message
    try:
        bump_for_outbound(conv, message, now=now, counts_as_response=counts_as_response, retries=retries)
    except Conflict:  # the conversation kept changing: the message is stored and goes out; the stream bumps
        pass
    return message


def answers_customer(message: MessageItem) -> bool:
    """Which outbound messages answer the customer (unread, first response, status): replies, not notes."""
    return message.direction == "out"


def bump_for_outbound(conv: ConversationItem, message: MessageItem, *, now: datetime, counts_as_response: bool,
                      retries: int = 5, unless_newer: bool = False) -> ConversationItem:
    """The conversation's move for an outbound message, once: preview; for a reply also unread reset, new -> in
    progress, the wait answered, the inbox move and the first response (set once). Guarded by the revision, and
    the message's tag joins `recent_ids`, so a racing or repeated bump for the same message changes nothing.

    `unless_newer` (the stream finishing after a crash): not when the conversation moved past the message since
    (a newer message was counted), whose own move says more than this one would.
    """
    ws = conv.workspace_id or ""
    tag = counted_tag(message.message_id)
    at = message.created_at or iso(now)
    for _ in range(retries):
        if tag in (conv.recent_ids or []) or (unless_newer and conv.last_activity_at > at):
            return conv
        actions: list[Any] = [
            ConversationItem.last_message_preview.set(preview(message.text, message.attachments or [])),
            ConversationItem.last_message_direction.set(message.direction),
            ConversationItem.recent_ids.set([*(conv.recent_ids or [])[-(RECENT_IDS - 1):], tag]),
        ]
        if counts_as_response:
            status = "in_progress" if conv.status == "new" else conv.status
            activity = _later(conv.last_activity_at, at)
            actions += [ConversationItem.unread_count.set(0), ConversationItem.last_activity_at.set(activity),
                        ConversationItem.status.set(status), ConversationItem.awaiting_since.remove()]
            if conv.first_response_at is None and conv.first_inbound_at:
                seconds = max(0, int((parse_iso(at) - parse_iso(conv.first_inbound_at)).total_seconds()))
                actions += [ConversationItem.first_response_at.set(at),
                            ConversationItem.first_response_seconds.set(seconds)]
            actions += _index_actions(conv, ConvIndex(status, conv.assignee_id, activity))
        guard = _index_guard(conv) & (ConversationItem.revision == (conv.revision or 0))
        if update_if(conv, [*actions, ConversationItem.revision.add(1)], condition=guard):
            return conv
        fresh = get_conversation(ws, conv.conversation_id, consistent=True)
        if fresh is None:
            raise NotFound(f"conversation {conv.conversation_id} not found")
        conv = fresh
    raise Conflict("conversation kept changing while adding a reply")


def finish_outbound(conv: ConversationItem, message: MessageItem) -> ConversationItem:
    """The stream's half of `add_outbound_message` (an operator's reply or note INSERT): bump the conversation if
    the writer died before it did. Usually the tag is there (no write); a read that does not show it is repeated
    strongly consistent before writing (the writer's bump is milliseconds old)."""
    tag = counted_tag(message.message_id)
    if tag in (conv.recent_ids or []):
        return conv
    fresh = get_conversation(conv.workspace_id or "", conv.conversation_id, consistent=True)
    if fresh is None:
        return conv
    return bump_for_outbound(fresh, message, now=parse_iso(message.created_at or fresh.last_activity_at),
                             unless_newer=True, counts_as_response=answers_customer(message))


def put_message_once(message: MessageItem) -> bool:
    """Save a message unless it exists (greetings: exactly once per conversation)."""
    return put_new(message)


def new_message(ws: str, conv_id: str, message_id: str, **attrs: Any) -> MessageItem:
    pk, sk = keys.message(ws, conv_id, message_id)
    return typed(MessageItem, pk, sk, workspace_id=ws, message_id=message_id, conversation_id=conv_id, **attrs)


def get_message(ws: str, conv_id: str, message_id: str) -> MessageItem | None:
    pk, sk = keys.message(ws, conv_id, message_id)
    try:
        return MessageItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def mark_sent(message: MessageItem, external_message_id: str, ext_conv: str, *, attempts: int, now: datetime) -> bool:
    """Record a send: two writes, no transaction (a transaction bills 2 write units per item).

    1. the pointer from the provider's id (an unconditional put of the same item: idempotent), first, so a delivery
       status or a quoted reply that the provider sends at once finds the message even before it reads `sent`;
    2. the message's status, under its `pending` state and generation (False: a replay, or the operator retried).
    A crash between the two leaves the message `pending` with its pointer: the stream's retry of the record gets
    the same outcome from the idempotent sender and writes both again (the pointer: same item, same cost).
    """
    ws = message.workspace_id or ""
    ppk, psk = keys.external_message(ws, message.channel_id, ext_conv, external_message_id)
    typed(ExternalMessageItem, ppk, psk, workspace_id=ws, conversation_id=message.conversation_id,
          message_id=message.message_id).save()
    return update_if(
        message,
        [MessageItem.status.set("sent"), MessageItem.external_message_id.set(external_message_id),
         MessageItem.sent_at.set(iso(now)), MessageItem.attempts.set(attempts),
         MessageItem.error_code.remove(), MessageItem.error_message.remove()],
        condition=(MessageItem.status == "pending") & (MessageItem.generation == message.generation),
    )


def take_send_lease(key: str, *, now: datetime, until: datetime, keep: timedelta, expired_only: bool) -> bool:
    """One conditional put of a small item (1 write unit): True when this caller may send. First come
    (`expired_only` False): only if nobody took it; a take-over: only if there is none or its lease ran out."""
    lease = SendLeaseItem(key, lease_until=int(until.timestamp()), expiration=int((now + keep).timestamp()))
    condition = SendLeaseItem.id.does_not_exist()
    if expired_only:
        condition |= SendLeaseItem.lease_until < int(now.timestamp())
    try:
        lease.save(condition=condition)
        return True
    except PutError as err:
        if condition_failed(err):
            return False
        raise


def mark_failed(message: MessageItem, code: str, text: str, *, attempts: int) -> bool:
    try:
        message.update(
            actions=[MessageItem.status.set("failed"), MessageItem.error_code.set(code),
                     MessageItem.error_message.set(text[:500]), MessageItem.attempts.set(attempts)],
            condition=(MessageItem.status == "pending") & (MessageItem.generation == message.generation),
        )
        return True
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise


def retry_message(message: MessageItem) -> MessageItem:
    """A failed message goes back to pending with a new generation: the stream sends it again."""
    try:
        message.update(
            actions=[MessageItem.status.set("pending"), MessageItem.generation.add(1), MessageItem.attempts.set(0),
                     MessageItem.error_code.remove(), MessageItem.error_message.remove()],
            condition=MessageItem.status == "failed",
        )
    except UpdateError as err:
        if condition_failed(err):
            raise Conflict("only a failed message can be retried") from err
        raise
    return message


def request_action(message: MessageItem, action: dict[str, Any]) -> MessageItem:
    """Ask the stream to edit or delete a message at the provider; one action at a time per message."""
    try:
        message.update(actions=[MessageItem.action.set(action)],
                       condition=MessageItem.action.does_not_exist() | (MessageItem.action["state"] != "pending"))
    except UpdateError as err:
        if condition_failed(err):
            raise Conflict("an edit, delete or hide of this message is still under way",
                           code="action_pending") from err
        raise
    return message


def finish_action(message: MessageItem, state: str, *, error: dict[str, str] | None = None,
                  text: str | None = None, deleted: bool = False, hidden: bool | None = None) -> bool:
    """Record how the provider took it, once (the condition names the request, so a replay changes nothing)."""
    action = {**plain(message.action), "state": state, **({"error": error} if error else {})}
    updates: list[Any] = [MessageItem.action.set(action)]
    if text is not None:
        updates += [MessageItem.text.set(text), MessageItem.edited.set(True), MessageItem.edit_count.add(1)]
    if deleted:
        updates.append(MessageItem.deleted.set(True))
    if hidden is not None:
        updates.append(MessageItem.hidden.set(hidden))
    try:
        message.update(actions=updates, condition=(MessageItem.action["at"] == action["at"])
                       & (MessageItem.action["state"] == "pending"))
        return True
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise


def set_attachments(message: MessageItem, attachments: list[dict[str, Any]]) -> None:
    message.update(actions=[MessageItem.attachments.set(attachments)])


def list_messages(ws: str, conv_id: str, *, limit: int, before: str | None = None, after: str | None = None
                  ) -> tuple[list[MessageItem], str | None]:
    """Newest first, paging back with `before`; or oldest first from just `after` a message (catch-up)."""
    pk, _ = keys.conversation(ws, conv_id)
    cond: Any
    if after:
        cond, forward = MessageItem.sk > f"{keys.MESSAGE_PREFIX}{after}", True
    elif before:  # "MSG#" < every message key < "MSG#<before>"
        cond, forward = MessageItem.sk.between(keys.MESSAGE_PREFIX, f"{keys.MESSAGE_PREFIX}{before}"), False
    else:
        cond, forward = MessageItem.sk.startswith(keys.MESSAGE_PREFIX), False
    found = MessageItem.query(pk, cond, scan_index_forward=forward, limit=limit + 2)
    items = [m for m in found if m.message_id != before][: limit + 1]
    more = len(items) > limit
    items = items[:limit]
    return items, (items[-1].message_id if more else None)


# --- conversation changes by operators ---------------------------------------------------------------


def change_conversation(ws: str, conv_id: str, mutate: Callable[[ConversationItem], list[Any] | None], *,
                        status: Callable[[ConversationItem], str] | None = None, retries: int = 5
                        ) -> ConversationItem:
    """Apply operator changes with an optimistic guard on the fields the indexes derive from."""
    for _ in range(retries):
        conv = require_conversation(ws, conv_id)
        actions = mutate(conv) or []
        new_status = status(conv) if status else conv.status
        if new_status != conv.status:
            actions.append(ConversationItem.status.set(new_status))
            actions += _index_actions(conv, ConvIndex(new_status, conv.assignee_id, conv.last_activity_at))
        if not actions:
            return conv
        try:
            conv.update(actions=[*actions, ConversationItem.revision.add(1)], condition=_index_guard(conv))
            return conv
        except UpdateError as err:
            if not condition_failed(err):
                raise
    raise Conflict("conversation kept changing; try again")


@dataclass(frozen=True)
class Page:
    items: list[ConversationItem]
    cursor: str | None


def _both(a: Any, b: Any) -> Any:
    return b if a is None else a & b


def search_condition(query: str) -> Any:
    """Matches `query` in the normalised search text or, as typed, in the last message's preview."""
    cond = ConversationItem.search_text.contains(search.normalise(query))
    for variant in search.preview_variants(query):
        cond = cond | ConversationItem.last_message_preview.contains(variant)
    return cond


def query_inbox(ws: str, *, status: str, limit: int, cursor: str | None, assignee: str | None = None,
                unassigned: bool = False, channel_id: str | None = None, tag: str | None = None,
                no_tag: bool = False, query: str | None = None, surface: str | None = None) -> Page:
    """Conversations by status (newest activity first), optionally by assignee.

    The inbox index (gsi1) answers with the filters in the query; unassigned ones are a filter there too (a
    conversation waiting in the inbox is mostly unassigned). One assignee's come from gsi4 (keys only) and are
    read by key: see `_assigned_page`."""
    flt = search_condition(query) if query else None
    both = _both
    checks: list[Callable[[ConversationItem], bool]] = []
    if query:
        text, variants = search.normalise(query), search.preview_variants(query)
        checks.append(lambda c: text in (c.search_text or "")
                      or any(v in (c.last_message_preview or "") for v in variants))
    if channel_id:
        flt = both(flt, ConversationItem.channel_id == channel_id)
        checks.append(lambda c: c.channel_id == channel_id)
    if surface:
        flt = both(flt, ConversationItem.surface == surface)
        checks.append(lambda c: c.surface == surface)
    if tag:
        flt = both(flt, ConversationItem.tags.contains(tag))
        checks.append(lambda c: tag in (c.tags or []))
    if no_tag:
        flt = both(flt, ConversationItem.tags.does_not_exist() | (size(ConversationItem.tags) == 0))
        checks.append(lambda c: not c.tags)
    start = start_key(cursor)
    if assignee and not unassigned:
        return _assigned_page(ws, assignee, status, lambda c: all(check(c) for check in checks), limit, start)
    if unassigned:
        flt = both(flt, ConversationItem.assignee_id.does_not_exist())
    result = ConversationItem.gsi1.query(
        keys.inbox(ws, status), filter_condition=flt, scan_index_forward=False, limit=limit,
        last_evaluated_key=start, page_size=max(limit, 25),
    )
    items = page_items(result, start)
    last = result.last_evaluated_key
    return Page(items, _cursor(last) if last and len(items) >= limit else None)


ASSIGNED_OPEN_CAP = 1000  # an assignee's conversations in one open status read for a page (capacity is far less)


def _cursor(key: dict[str, Any]) -> str:
    return json.dumps(key, separators=(",", ":"))


def _assigned_page(ws: str, who: str, status: str, wanted: Callable[[ConversationItem], bool], limit: int,
                   start: dict[str, Any] | None) -> Page:
    """One assignee's conversations in one status, from gsi4's keys.

    Open statuses: all of them (an operator's open work is small) read by key and sorted by last activity in
    memory, so the order is the inbox's; the cursor is the last row's activity. Closed: gsi4's own order (newest
    created first), read a page of keys at a time, so an operator's long history costs what a page costs."""
    part, prefix = keys.assignee(ws, who), ConversationItem.gsi4sk.startswith(f"{status}#")
    if status != "closed":
        if start is not None and set(start) != {"at"}:
            raise ValueError("not a cursor of this list")
        wanted_keys = [(k.pk, k.sk) for k in ConversationItem.gsi4.query(part, prefix, limit=ASSIGNED_OPEN_CAP)]
        rows = sorted((c for c in read_by_keys(ConversationItem, wanted_keys) if c.status == status and wanted(c)),
                      key=lambda c: f"{c.last_activity_at}#{c.conversation_id}", reverse=True)
        if start is not None:
            after = start["at"]["S"]
            rows = [c for c in rows if f"{c.last_activity_at}#{c.conversation_id}" < after]
        page = rows[:limit]
        more = len(rows) > limit
        return Page(page, _cursor({"at": {"S": f"{page[-1].last_activity_at}#{page[-1].conversation_id}"}})
                    if more else None)
    found: list[ConversationItem] = []
    last_key: dict[str, Any] | None = None
    result = ConversationItem.gsi4.query(part, prefix, scan_index_forward=False, last_evaluated_key=start,
                                         page_size=max(limit, 25))
    batch: list[Any] = []
    for key in lazily(result, start):
        batch.append(key)
        if len(batch) < max(limit, 25):
            continue
        last_key = _take(batch, wanted, found, limit) or last_key
        batch = []
        if len(found) >= limit:
            break
    if batch and len(found) < limit:
        last_key = _take(batch, wanted, found, limit) or last_key
    return Page(found, _cursor(last_key) if last_key and len(found) >= limit else None)


def _take(batch: list[Any], wanted: Callable[[ConversationItem], bool], found: list[ConversationItem],
          limit: int) -> dict[str, Any] | None:
    """Read a batch of gsi4 keys by key, keep the wanted ones up to `limit`; the index key of the last one kept."""
    by_key = {(c.pk, c.sk): c for c in read_by_keys(ConversationItem, [(k.pk, k.sk) for k in batch])}
    last = None
    for key in batch:
        conv = by_key.get((key.pk, key.sk))
        if len(found) >= limit:
            break
        last = {"pk": {"S": key.pk}, "sk": {"S": key.sk}, "gsi4pk": {"S": key.gsi4pk}, "gsi4sk": {"S": key.gsi4sk}}
        if conv is not None and wanted(conv):
            found.append(conv)
    return last


def query_overdue(ws: str, statuses: list[str], *, waiting_before: str,
                  limit: int | None) -> list[ConversationItem]:
    """Open conversations whose customer has waited since before `waiting_before`, longest wait first.

    One filtered Query per open status on the inbox index, read to the end (open conversations are what a team
    works through; closed ones are never read). No cursor: the answer is the `limit` longest waits (None: all).
    """
    found: list[ConversationItem] = []
    for status in statuses:
        found.extend(ConversationItem.gsi1.query(keys.inbox(ws, status), page_size=500,
                                                 filter_condition=ConversationItem.awaiting_since < waiting_before))
    found.sort(key=lambda c: (c.awaiting_since or "", c.conversation_id))
    return found if limit is None else found[:limit]


def query_idle(ws: str, status: str, *, active_before: str, limit: int) -> list[ConversationItem]:
    """Conversations of one status with no activity since `active_before`, quietest first (stale, E4): the
    inbox index is sorted by last activity, so this is a key condition, not a filter."""
    return list(ConversationItem.gsi1.query(keys.inbox(ws, status), ConversationItem.gsi1sk < active_before,
                                            limit=limit))


def set_search_text(ws: str, conv_id: str, text: str) -> None:
    pk, sk = keys.conversation(ws, conv_id)
    ConversationItem(pk, sk).update(actions=[ConversationItem.search_text.set(text)],
                                    condition=ConversationItem.pk.exists())


# --- API keys ----------------------------------------------------------------------------------------


def put_api_key(ws: str, key_hash: str, key_id: str, role: str, name: str, *, now: datetime) -> None:
    pk, sk = keys.api_key(key_hash)
    typed(ApiKeyItem, pk, sk, workspace_id=ws, key_id=key_id, role=role, name=name, created_at=iso(now),
           gsi1pk=keys.api_keys_of(ws), gsi1sk=f"{iso(now)}#{key_id}").save()


def get_api_key(key_hash: str) -> ApiKeyItem | None:
    pk, sk = keys.api_key(key_hash)
    try:
        return ApiKeyItem.get(pk, sk)
    except DoesNotExist:
        return None


# --- parked stream records ---------------------------------------------------------------------------


def park_record(ws: str, source: str, record: dict[str, Any], error: str, *, now: datetime) -> None:
    seq = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
    typed(ParkedItem, keys.parked(ws), f"{iso(now)}#{seq}", workspace_id=ws, source=source, error=error[:1000],
           record=json.dumps(record, default=str), created_at=iso(now)).save()


def list_parked(ws: str, *, limit: int = 100) -> Iterator[ParkedItem]:
    return ParkedItem.query(keys.parked(ws), scan_index_forward=False, limit=limit)


# --- timers ------------------------------------------------------------------------------------------


def put_timer(ws: str, timer_id: str, kind: str, due_at: str, target: dict[str, Any], *, now: datetime,
              only_new: bool = False) -> bool:
    """Write (or move) a timer: the same id again replaces it, lease and all, so a moved deadline moves it.
    With `only_new`, a timer already booked under this id keeps its time (False then)."""
    pk, sk = keys.timer(ws, timer_id)
    item = typed(TimerItem, pk, sk, workspace_id=ws, timer_id=timer_id, kind=kind, due_at=due_at, target=target,
                 created_at=iso(now), gsi1pk=keys.timers_due(_timer_shard(timer_id)), gsi1sk=f"{due_at}#{timer_id}")
    if only_new:
        return put_new(item)
    item.save()
    return True


def delete_timer(ws: str, timer_id: str) -> None:
    pk, sk = keys.timer(ws, timer_id)
    TimerItem(pk, sk).delete()


def put_due_timer(ws: str, timer_id: str, kind: str, due_at: str, target: dict[str, Any], *, now: datetime) -> None:
    """A timer keyed by its due time on the table (`keys.due_timer`): 1 write unit to book and 1 to remove, where
    `put_timer`'s pays 2 each (its index entry). The same id and time again is the same item (a replay); moving it
    is a new item (a handler moving its own timer: the fired one is deleted under its lease as usual), and
    `delete_due_timer` needs the due time. Fired like any timer; its handler checks that it still applies."""
    pk, sk = keys.due_timer(_timer_shard(timer_id), due_at, ws, timer_id)
    typed(TimerItem, pk, sk, workspace_id=ws, timer_id=timer_id, kind=kind, due_at=due_at, target=target,
          created_at=iso(now)).save()


def delete_due_timer(ws: str, timer_id: str, due_at: str) -> None:
    TimerItem(*keys.due_timer(_timer_shard(timer_id), due_at, ws, timer_id)).delete()


def _timer_shard(timer_id: str) -> int:
    return int(stable_shard(timer_id), 16) % keys.TIMER_SHARDS


def get_timer(ws: str, timer_id: str) -> TimerItem | None:
    pk, sk = keys.timer(ws, timer_id)
    try:
        return TimerItem.get(pk, sk, consistent_read=True)
    except TimerItem.DoesNotExist:
        return None


def stable_shard(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:4]


def due_timers(now: datetime, *, page_size: int = 100) -> Iterator[TimerItem]:
    """Timers due by `now`, oldest first in each place (those keyed by their due time, then the index's), page by
    page (leased ones included: their claim fails until the lease runs out). An idle tick is two Queries."""
    for shard in range(keys.TIMER_SHARDS):
        yield from TimerItem.query(keys.due_timers(shard), TimerItem.sk <= f"{iso(now)}#~",
                                   page_size=page_size)
        yield from TimerItem.gsi1.query(keys.timers_due(shard), TimerItem.gsi1sk <= f"{iso(now)}#~",
                                        page_size=page_size)


def claim_timer(timer: TimerItem, *, now: datetime, lease: timedelta) -> str | None:
    """Lease a due timer to this tick: a lease token, or None when another tick holds it or it was moved.

    A tick that dies after its claim leaves the timer in place; the next tick after the lease fires it again,
    so handlers are idempotent (their writes are keyed by timer id and due time)."""
    token = f"{iso(now + lease)}#{secrets.token_hex(4)}"
    free = TimerItem.lease.does_not_exist() | (TimerItem.lease < iso(now))
    return token if update_if(timer, [TimerItem.lease.set(token)], (TimerItem.due_at == timer.due_at) & free) else None


def finish_timer(timer: TimerItem, token: str) -> bool:
    """Delete a fired timer unless it was moved meanwhile (a handler or a user gave it a new due time)."""
    from pynamodb.exceptions import DeleteError

    try:
        timer.delete(condition=TimerItem.lease == token)
        return True
    except DeleteError as err:
        if condition_failed(err):
            return False
        raise


# --- assignment (team issue) -------------------------------------------------------------------------


def assignee_actions(conv: ConversationItem, assignee_id: str | None) -> list[Any]:
    """Inside `change_conversation`'s mutate: set (or clear) the assignee and move the index keys with it.

    The guard of `change_conversation` compares the assignee read, so of two concurrent claims one wins and the
    other re-reads and sees the winner. Do not pass a `status` callback in the same change (the index keys
    would be set twice).
    """
    action = ConversationItem.assignee_id.set(assignee_id) if assignee_id else ConversationItem.assignee_id.remove()
    return [action, *_index_actions(conv, ConvIndex(conv.status, assignee_id, conv.last_activity_at))]


def conversations_of_assignee(ws: str, user_id: str, *, status: str | None = None,
                              limit: int = 100) -> list[ConversationItem]:
    """A user's conversations (all statuses, or one): by status, then newest activity first (gsi4's keys, read
    by key)."""
    cond = ConversationItem.gsi4sk.startswith(f"{status}#") if status else None
    found = read_by_keys(ConversationItem, [(k.pk, k.sk) for k in ConversationItem.gsi4.query(
        keys.assignee(ws, user_id), cond, scan_index_forward=False, limit=limit)])
    return sorted(found, key=lambda c: (c.status, c.last_activity_at, c.conversation_id), reverse=True)


def latest_inbound_message(ws: str, conv_id: str, *, look_back: int = 50) -> MessageItem | None:
    """The customer's most recent message (or comment) in a conversation."""
    pk, _ = keys.conversation(ws, conv_id)
    for item in MessageItem.query(pk, MessageItem.sk.startswith(keys.MESSAGE_PREFIX), scan_index_forward=False,
                                  limit=look_back):
        if item.direction == "in":
            return item
    return None


def first_seen(ws: str, kind: str, request_id: str, *, now: datetime, keep: timedelta = timedelta(days=1)) -> str:
    """When this client request was first seen (now, the first time): retries derive the same ids from it."""
    from chalicelib.store.models import RequestItem

    pk, sk = keys.client_request(ws, kind, request_id)
    item = typed(RequestItem, pk, sk, workspace_id=ws, created_at=iso(now),
                  expires_at=int((now + keep).timestamp()))
    try:
        item.save(condition=RequestItem.pk.does_not_exist())
        return iso(now)
    except PutError as err:
        if not condition_failed(err):
            raise
    return str(RequestItem.get(pk, sk, consistent_read=True).created_at)


def set_blocked(ws: str, conv_ids: list[str], blocked: bool, *, by: str, now: datetime) -> None:
    """Flag (or clear) every conversation of a blocked customer."""
    for conv_id in conv_ids:
        change_conversation(ws, conv_id, lambda conv: [
            ConversationItem.blocked.set(blocked), ConversationItem.changed_by.set(by),
            ConversationItem.changed_at.set(iso(now))] if bool(conv.blocked) != blocked else [])


def record_sla_breach(ws: str, conv_id: str, since: str, target: str, *, now: datetime) -> bool:
    """Mark the conversation's current wait as breached, once per wait (False: recorded before, or answered)."""
    pk, sk = keys.conversation(ws, conv_id)
    first = ConversationItem.sla_breach_since.does_not_exist() | (ConversationItem.sla_breach_since != since)
    return update_if(ConversationItem(pk, sk), [
        ConversationItem.sla_breach_since.set(since), ConversationItem.sla_breached_at.set(iso(now)),
        ConversationItem.sla_breach_target.set(target), ConversationItem.sla_breaches.add(1),
        ConversationItem.revision.add(1)], (ConversationItem.awaiting_since == since) & first)


def claim_once(ws: str, kind: str, key: str, *, now: datetime, keep: timedelta) -> bool:
    """True for the first caller with this key (an off-hours reply per conversation and period, ...)."""
    from chalicelib.store.models import RequestItem

    pk, sk = keys.client_request(ws, kind, key)
    return put_new(typed(RequestItem, pk, sk, workspace_id=ws, created_at=iso(now),
                         expires_at=int((now + keep).timestamp())))


def get_conversations(ws: str, conv_ids: list[str]) -> list[ConversationItem]:
    """Several conversations of one workspace in one BatchGetItem per 100 ids (search results, B1)."""
    wanted = [keys.conversation(ws, c) for c in dict.fromkeys(conv_ids)]
    return list(ConversationItem.batch_get(wanted)) if wanted else []
