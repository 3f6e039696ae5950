"""Client merge (C2) in DynamoDB: the match keys cards are found by, the merge and its undo (one transaction each
for both cards, the merge record and the action log), and moving identities and conversations between cards
(one conditional update each, so a repeated move changes nothing)."""

from __future__ import annotations

from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.domain import merge as rules
from chalicelib.store import keys
from chalicelib.store.base import transact_if, typed, update_if
from chalicelib.store.models import AuditItem, ContactItem, ConversationItem, IdentityItem, MergeItem

MATCH_INDEX = {"name": "gsi1", "email": "gsi2", "phone": "gsi3"}
SOURCE_FIELD = {"display_name": "name", "email": "email", "phone": "phone"}
SNAPSHOT = ("display_name", "username", "phone", "email", "avatar_url", "language", "notes", "custom_fields")
MATCH_LIMIT = 20


def match_attrs(ws: str, contact_id: str, display_name: str, email: str, phone: str) -> dict[str, str]:
    """The index attributes of a new card: one entry per normalised name / e-mail / phone it has."""
    found = rules.match_keys(display_name, email, phone)
    attrs: dict[str, str] = {}
    for kind, index in MATCH_INDEX.items():
        if kind in found:
            attrs[f"{index}pk"] = keys.contact_match(ws, kind, found[kind])
            attrs[f"{index}sk"] = contact_id
    return attrs


def match_actions(ws: str, contact_id: str, changes: dict[str, Any]) -> list[Any]:
    """Update actions that keep a card's match keys in step with changed name / e-mail / phone."""
    actions: list[Any] = []
    for field, kind in SOURCE_FIELD.items():
        if field not in changes:
            continue
        index = MATCH_INDEX[kind]
        value = rules.match_keys(**{"display_name": "", "email": "", "phone": "", field: changes[field]}).get(kind)
        pk_attr, sk_attr = getattr(ContactItem, f"{index}pk"), getattr(ContactItem, f"{index}sk")
        if value:
            actions += [pk_attr.set(keys.contact_match(ws, kind, value)), sk_attr.set(contact_id)]
        else:
            actions += [pk_attr.remove(), sk_attr.remove()]
    return actions


def contact_id_of(item: ContactItem) -> str:
    return item.pk.rsplit("#", 1)[1]


def snapshot(item: ContactItem) -> dict[str, Any]:
    return {f: dict(item.custom_fields or {}) if f == "custom_fields" else getattr(item, f) for f in SNAPSHOT}


def find_matches(ws: str, contact: ContactItem) -> list[tuple[ContactItem, list[str]]]:
    """Cards of the workspace that share the normalised e-mail, phone or name with `contact` (not merged ones),
    with the reasons, strongest first. Reads only the index keys, then the cards themselves (one BatchGet)."""
    mine = rules.match_keys(contact.display_name, contact.email, contact.phone)
    seen: dict[str, None] = {}
    for kind, value in mine.items():
        index = getattr(ContactItem, MATCH_INDEX[kind])
        for hit in index.query(keys.contact_match(ws, kind, value), limit=MATCH_LIMIT):
            if hit.pk != contact.pk:
                seen.setdefault(hit.pk, None)
    cards = list(ContactItem.batch_get([(pk, "CONTACT") for pk in seen])) if seen else []
    out = []
    for card in cards:
        if card.merged_into or card.workspace_id != ws:
            continue
        why = rules.reasons(mine, rules.match_keys(card.display_name, card.email, card.phone))
        if why:
            out.append((card, why))
    order = {"email": 0, "phone": 1, "name": 2}
    out.sort(key=lambda pair: ([order[r] for r in pair[1]], contact_id_of(pair[0])))
    return out[:MATCH_LIMIT]


def _revision_is(revision: int) -> Any:
    current = ContactItem.revision == revision
    return current | ContactItem.revision.does_not_exist() if revision == 0 else current


def _field_actions(ws: str, contact_id: str, values: dict[str, Any]) -> list[Any]:
    return [getattr(ContactItem, f).set(v) for f, v in values.items()] + match_actions(ws, contact_id, values)


def new_merge(ws: str, merge_id: str, survivor: ContactItem, other: ContactItem, *, by: str, at: str,
              undo_until: str, identities: list[list[str]], conversations: list[str]) -> MergeItem:
    pk, sk = keys.merge(ws, merge_id)
    return typed(MergeItem, pk, sk, workspace_id=ws, merge_id=merge_id, survivor_id=contact_id_of(survivor),
                 other_id=contact_id_of(other), by=by, at=at, undo_until=undo_until, created_at=at,
                 survivor_before=snapshot(survivor), other_before=snapshot(other), identities=identities,
                 conversations=conversations, gsi1pk=keys.merges_into(ws, contact_id_of(survivor)),
                 gsi1sk=f"{at}#{merge_id}")


def commit_merge(record: MergeItem, survivor: ContactItem, other: ContactItem, changes: dict[str, Any],
                 entry: AuditItem) -> bool:
    """Both cards (each at the revision read, neither merged), the merge record and its log entry together; False
    when a card changed meanwhile."""
    ws = record.workspace_id or ""

    def build(tx: TransactWrite) -> None:
        tx.save(record, condition=MergeItem.pk.does_not_exist())
        tx.update(ContactItem(other.pk, other.sk), actions=[
            ContactItem.merged_into.set(record.survivor_id), ContactItem.merge_id.set(record.merge_id),
            ContactItem.revision.set(int(other.revision or 0) + 1)],
            condition=ContactItem.pk.exists() & ContactItem.merged_into.does_not_exist()
            & _revision_is(int(other.revision or 0)))
        tx.update(ContactItem(survivor.pk, survivor.sk), actions=[
            *_field_actions(ws, record.survivor_id, changes),
            ContactItem.revision.set(int(survivor.revision or 0) + 1)],
            condition=ContactItem.pk.exists() & ContactItem.merged_into.does_not_exist()
            & _revision_is(int(survivor.revision or 0)))
        tx.save(entry, condition=AuditItem.pk.does_not_exist())

    return transact_if(build)


def commit_undo(record: MergeItem, survivor: ContactItem, other: ContactItem, *, by: str, at: str,
                entry: AuditItem) -> bool:
    """Both cards back to what they were at the merge (revisions go on), the record `undone`, the log entry."""
    ws = record.workspace_id or ""
    survivor_back = {f: v for f, v in dict(record.survivor_before).items() if f in SNAPSHOT}
    other_back = {f: v for f, v in dict(record.other_before).items() if f in SNAPSHOT}

    def build(tx: TransactWrite) -> None:
        tx.update(MergeItem(record.pk, record.sk), actions=[
            MergeItem.state.set("undone"), MergeItem.undone_by.set(by), MergeItem.undone_at.set(at)],
            condition=MergeItem.state == "done")
        tx.update(ContactItem(survivor.pk, survivor.sk), actions=[
            *_field_actions(ws, record.survivor_id, survivor_back),
            ContactItem.revision.set(int(survivor.revision or 0) + 1)],
            condition=ContactItem.merged_into.does_not_exist() & _revision_is(int(survivor.revision or 0)))
        tx.update(ContactItem(other.pk, other.sk), actions=[
            *_field_actions(ws, record.other_id, other_back), ContactItem.merged_into.remove(),
            ContactItem.merge_id.remove(), ContactItem.revision.set(int(other.revision or 0) + 1)],
            condition=(ContactItem.merge_id == record.merge_id) & _revision_is(int(other.revision or 0)))
        tx.save(entry, condition=AuditItem.pk.does_not_exist())

    return transact_if(build)


def move_identity(ws: str, channel_id: str, external_user_id: str, from_id: str, to_id: str) -> bool:
    """New messages of this channel user land on `to_id` from now on; False when it was not on `from_id`."""
    pk, sk = keys.identity(ws, channel_id, external_user_id)
    return update_if(IdentityItem(pk, sk), [IdentityItem.contact_id.set(to_id),
                                           IdentityItem.gsi3pk.set(keys.contact_history(ws, to_id))],
                     IdentityItem.contact_id == from_id)


def move_conversation(ws: str, conv_id: str, from_id: str, to_id: str, name: str) -> bool:
    """The conversation (and so its messages) shows on `to_id`'s card; False when it was not on `from_id`."""
    pk, sk = keys.conversation(ws, conv_id)
    # the contact's history is gsi5 (keys only); a conversation written before gsi5 leaves gsi3 on the way
    actions = [ConversationItem.contact_id.set(to_id), ConversationItem.gsi5pk.set(keys.contact_history(ws, to_id)),
               ConversationItem.gsi5sk.set(f"CONV#{conv_id}"), ConversationItem.gsi3pk.remove(),
               ConversationItem.gsi3sk.remove(), ConversationItem.revision.add(1)]
    if name:
        actions.append(ConversationItem.contact_name.set(name))
    return update_if(ConversationItem(pk, sk), actions, ConversationItem.contact_id == from_id)


def add_moved(record: MergeItem, identities: list[list[str]], conversations: list[str]) -> None:
    """Stragglers the sweep moved after the merge: an undo moves them back too."""
    MergeItem(record.pk, record.sk).update(actions=[
        MergeItem.identities.set([*record.identities, *identities]),
        MergeItem.conversations.set([*record.conversations, *conversations])])


def get_merge(ws: str, merge_id: str) -> MergeItem | None:
    pk, sk = keys.merge(ws, merge_id)
    try:
        return MergeItem.get(pk, sk, consistent_read=True)
    except MergeItem.DoesNotExist:
        return None


def merges_into(ws: str, contact_id: str, *, limit: int = 20) -> list[MergeItem]:
    """The merges into one card, newest first (gsi1 keys, then the records: gsi1 may keep only keys)."""
    hits = list(MergeItem.gsi1.query(keys.merges_into(ws, contact_id), scan_index_forward=False, limit=limit))
    found = {m.pk: m for m in MergeItem.batch_get([(h.pk, h.sk) for h in hits])} if hits else {}
    return [found[h.pk] for h in hits if h.pk in found]
