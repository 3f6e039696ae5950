"""Merging two client cards of one person (C2): preview, merge, undo within 24 h, suggestions.

The merge, in order:
1. one transaction: the merge record (both cards as they were), the other card marked `merged_into` the survivor,
   the survivor's fields as chosen, the action log's `contact.merge`. Each card is guarded by the revision the
   preview showed, so a card edited or merged meanwhile answers 409 and nothing changes;
2. the other card's identities move to the survivor (new messages from any of its channels land there), then its
   conversations (one conditional update each: `contact_id` from the other to the survivor);
3. a `merge-sweep` timer two minutes later moves what a message arriving during the merge created on the other
   card (its inbound record read the identity before it moved). Until then that conversation sits on the other
   card, which still exists and points at the survivor (`merged_into`), so nothing is ever on a missing card.
Messages never move: they live in their conversation's partition. An undo reverses all of it (and the sweep's
stragglers) in the same order, and `contact.unmerge` is logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain import merge as rules
from chalicelib.domain.model import iso, new_id, parse_iso
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.services import audit, contacts, timers
from chalicelib.services.deps import Deps
from chalicelib.store import merges, repo
from chalicelib.store.models import ContactItem, MergeItem, TimerItem, plain

SWEEP = "merge-sweep"
SWEEP_AFTER = timedelta(minutes=2)


def _card(ws: str, contact_id: Any, what: str) -> ContactItem:
    if not isinstance(contact_id, str) or not contact_id or len(contact_id) > 128:
        raise InvalidInput(f"{what} must be a contact id", code="invalid_contact")
    return contacts.live_card(ws, contact_id)


def _pair(ws: str, survivor_id: str, body: dict[str, Any]) -> tuple[ContactItem, ContactItem]:
    other_id = body.get("other_id")
    if other_id == survivor_id:
        raise InvalidInput("a card cannot be merged with itself", code="same_contact")
    return _card(ws, survivor_id, "the card"), _card(ws, other_id, "other_id")


def _choices(body: dict[str, Any]) -> dict[str, str]:
    choices = body.get("choices") or {}
    if not isinstance(choices, dict) or not all(isinstance(v, str) for v in choices.values()):
        raise InvalidInput("choices maps a field to survivor, other or both", code="invalid_choices")
    return choices


def _plan(survivor: ContactItem, other: ContactItem, choices: dict[str, str]) -> list[rules.FieldPlan]:
    try:
        return rules.plan(merges.snapshot(survivor), merges.snapshot(other), choices)
    except ValueError as err:
        raise InvalidInput(str(err), code="invalid_choices") from err


def _tags(conversations: list[Any]) -> list[str]:
    return sorted({t for c in conversations for t in (c.tags or [])})


def preview(ws: str, survivor_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the merge would do, changing nothing: per field both values and the winner, what moves, the tags."""
    survivor, other = _pair(ws, survivor_id, body)
    fields = _plan(survivor, other, _choices(body))
    ids_a, convs_a = repo.contact_history(ws, survivor_id)
    ids_b, convs_b = repo.contact_history(ws, merges.contact_id_of(other))
    return {
        "survivor_id": survivor_id, "other_id": merges.contact_id_of(other),
        "revisions": {"survivor": int(survivor.revision or 0), "other": int(other.revision or 0)},
        "fields": [{"field": f.field, "survivor": f.survivor, "other": f.other, "side": f.side, "result": f.result,
                    "sides": list(rules.SIDES if f.field in rules.JOINABLE else rules.SIDES[:2])} for f in fields],
        "tags": {"survivor": _tags(convs_a), "other": _tags(convs_b), "result": _tags([*convs_a, *convs_b])},
        "moves": {"identities": len(ids_b), "conversations": len(convs_b)},
        "result": {"identities": len(ids_a) + len(ids_b), "conversations": len(convs_a) + len(convs_b)},
    }


def _expect_revisions(body: dict[str, Any], survivor: ContactItem, other: ContactItem) -> None:
    revisions = body.get("revisions")
    if revisions is None:
        return
    if not isinstance(revisions, dict):
        raise InvalidInput("revisions is {survivor, other} as the preview showed", code="invalid_revision")
    for side, card in (("survivor", survivor), ("other", other)):
        if side in revisions and revisions[side] != int(card.revision or 0):
            raise Conflict("a card changed since the preview: look at the preview again", code="stale")


def merge(d: Deps, principal: Principal, survivor_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    survivor, other = _pair(ws, survivor_id, body)
    _expect_revisions(body, survivor, other)
    fields = _plan(survivor, other, _choices(body))
    other_id = merges.contact_id_of(other)
    identities, conversations = repo.contact_history(ws, other_id)
    now = d.now()
    merge_id = new_id("mg", now)
    record = merges.new_merge(
        ws, merge_id, survivor, other, by=principal.subject, at=iso(now),
        undo_until=iso(now + timedelta(hours=rules.UNDO_HOURS)),
        identities=[[i.channel_id, i.external_user_id] for i in identities],
        conversations=[c.conversation_id for c in conversations])
    changes = rules.changes_of(fields)
    entry = audit.admin_entry(principal, "contact.merge", "contact", survivor_id, now=now,
                              before={"survivor": record.survivor_before, "other": record.other_before},
                              after={"merged": other_id, "changes": changes}, note=merge_id)
    if not merges.commit_merge(record, survivor, other, changes, entry):
        raise Conflict("a card was changed or merged meanwhile: look at the preview again", code="stale")
    name = str(changes.get("display_name", survivor.display_name) or "")
    _move(ws, record.identities, record.conversations, other_id, survivor_id, name)
    repo.put_timer(ws, f"{SWEEP}#{merge_id}", SWEEP, iso(now + SWEEP_AFTER), {"merge_id": merge_id}, now=now)
    return merge_json(record)


def _move(ws: str, identities: list[list[str]], conversations: list[str], from_id: str, to_id: str,
          name: str) -> None:
    for channel_id, external_user_id in identities:
        merges.move_identity(ws, channel_id, external_user_id, from_id, to_id)
    for conv_id in conversations:
        merges.move_conversation(ws, conv_id, from_id, to_id, name)


@timers.register(SWEEP)
def sweep(d: Deps, timer: TimerItem) -> None:
    """Two minutes after a merge: what still hangs on the merged card (a message that raced the merge) moves."""
    ws = timer.workspace_id or ""
    record = merges.get_merge(ws, str(plain(timer.target).get("merge_id", "")))
    if record is None or record.state != "done":
        return
    survivor = repo.get_contact(ws, record.survivor_id)
    identities, conversations = repo.contact_history(ws, record.other_id)
    ids = [[i.channel_id, i.external_user_id] for i in identities]
    convs = [c.conversation_id for c in conversations]
    if not ids and not convs:
        return
    merges.add_moved(record, ids, convs)
    _move(ws, ids, convs, record.other_id, record.survivor_id, survivor.display_name if survivor else "")


def undo(d: Deps, principal: Principal, merge_id: str) -> dict[str, Any]:
    ws = principal.workspace_id
    record = merges.get_merge(ws, merge_id)
    if record is None:
        raise NotFound(f"merge {merge_id} not found")
    if record.state != "done":
        raise Conflict("this merge was undone already", code="already_undone")
    now = d.now()
    if now > parse_iso(record.undo_until):
        raise Conflict(f"a merge can be undone within {rules.UNDO_HOURS} hours; this one is older",
                       code="undo_expired")
    later = [m for m in merges.merges_into(ws, record.survivor_id) if m.state == "done" and m.at > record.at]
    if later:
        raise Conflict("another card was merged into this one later: undo that merge first", code="later_merge",
                       details={"merge_id": later[0].merge_id})
    survivor = repo.get_contact(ws, record.survivor_id)
    other = repo.get_contact(ws, record.other_id)
    if survivor is None or other is None or survivor.merged_into:
        raise Conflict("the surviving card was merged into another since: undo that merge first",
                       code="survivor_merged")
    entry = audit.admin_entry(principal, "contact.unmerge", "contact", record.survivor_id, now=now,
                              before={"merged": record.other_id}, after={"other": record.other_before,
                                                                         "survivor": record.survivor_before},
                              note=merge_id)
    if not merges.commit_undo(record, survivor, other, by=principal.subject, at=iso(now), entry=entry):
        raise Conflict("a card changed meanwhile: try again", code="stale")
    name = str(dict(record.other_before).get("display_name") or "")
    # identities first: from now on the other card's channels land on it again; then its conversations, and those
    # its channels opened on the survivor since the merge (in a channel where the survivor had no identity)
    own, history = repo.contact_history(ws, record.survivor_id)
    moved_keys = {(c, u) for c, u in record.identities}
    own_channels = {i.channel_id for i in own if (i.channel_id, i.external_user_id) not in moved_keys}
    theirs = {c for c, _ in record.identities} - own_channels
    opened = [c.conversation_id for c in history if c.channel_id in theirs and (c.created_at or "") > record.at
              and c.conversation_id not in record.conversations]
    _move(ws, record.identities, [*record.conversations, *opened], record.survivor_id, record.other_id, name)
    repo.delete_timer(ws, f"{SWEEP}#{merge_id}")
    fresh = merges.get_merge(ws, merge_id)
    return merge_json(fresh or record)


def suggestions(ws: str, contact_id: str) -> dict[str, Any]:
    card = repo.get_contact(ws, contact_id)
    if card is None:
        raise NotFound(f"contact {contact_id} not found")
    if card.merged_into:
        return {"items": []}
    return {"items": [{"contact_id": merges.contact_id_of(c), "display_name": c.display_name, "email": c.email,
                       "phone": c.phone, "reasons": why} for c, why in merges.find_matches(ws, card)]}


def merge_json(m: MergeItem) -> dict[str, Any]:
    return {"id": m.merge_id, "survivor_id": m.survivor_id, "other_id": m.other_id, "state": m.state, "by": m.by,
            "at": m.at, "undo_until": m.undo_until, "identities": len(m.identities or []),
            "conversations": len(m.conversations or []), "other_name": dict(m.other_before).get("display_name", ""),
            "undone_at": m.undone_at}


def merges_of(ws: str, contact_id: str) -> list[dict[str, Any]]:
    return [merge_json(m) for m in merges.merges_into(ws, contact_id)]
