"""The action log (D5): who did what, when, with the state before and after.

Two sources, each exactly once:
- admin changes (members, roles, invites, API keys, team settings) write their entry in the same transaction as
  the change (`admin_entry`);
- operator actions on conversations and messages are derived from the stream's old and new images
  (`record_change`): the actor is stored on the item (`author_id` of a message, `changed_by` / `changed_at` of
  a conversation), and the entry's id derives from the change, so a replayed record writes nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain.model import iso, new_id, stable_hash, utcnow
from chalicelib.services.deps import Deps
from chalicelib.store import team
from chalicelib.store.models import (
    AuditItem,
    ChannelItem,
    ContactItem,
    ConversationItem,
    MainItem,
    MessageItem,
    plain,
)

ACTIONS = (
    "reply", "note", "edit", "delete", "hide", "unhide", "close", "reopen", "status", "tag", "emotion", "assign",
    "unassign", "handover", "block", "member.add", "member.role", "member.capacity", "member.remove", "invite.create",
    "invite.revoke", "apikey.create", "apikey.revoke", "team.settings", "channel.connect", "channel.change",
    "contact.edit", "task.create", "task.change", "task.comment", "task.escalate", "task.delete", "task_team.create",
    "task_team.change", "task_team.delete", "contact.merge", "contact.unmerge",
)
UNKNOWN_ACTOR = "system:unknown"


def admin_entry(principal: Principal, action: str, target_type: str, target_id: str, *, now: datetime,
                before: Any = None, after: Any = None, note: str = "") -> AuditItem:
    """An entry to write in the same transaction as the admin change it describes."""
    return team.new_audit(principal.workspace_id, new_id("a", now), at=iso(now), actor=principal.subject,
                          action=action, target_type=target_type, target_id=target_id, before=before, after=after,
                          note=note)


def record_change(d: Deps, event_name: str, new: MainItem | None, old: MainItem | None) -> int:
    """Stream: write the entries this change implies (replays write none). Returns how many were new."""
    return sum(1 for entry in entries_of(event_name, new, old) if team.put_audit(entry.item, once=entry.once))


@dataclass(frozen=True)
class Derived:
    item: AuditItem
    once: bool = False  # its time is not on the changed item: a marker of its id guards against replays


def entries_of(event_name: str, new: MainItem | None, old: MainItem | None) -> list[Derived]:
    if isinstance(new, MessageItem):
        return _message_entries(event_name, new, old if isinstance(old, MessageItem) else None)
    if isinstance(new, ConversationItem) and isinstance(old, ConversationItem):
        return _conversation_entries(new, old)
    if isinstance(new, ChannelItem):
        return _channel_entries(event_name, new, old if isinstance(old, ChannelItem) else None)
    if isinstance(new, ContactItem) and isinstance(old, ContactItem):
        return _contact_entries(new, old)
    return []


CARD_FIELDS = ("display_name", "email", "phone", "notes", "custom_fields")


def _contact_entries(new: ContactItem, old: ContactItem) -> list[Derived]:
    """An operator's edit of a client card (C1): the fields that changed, before and after."""
    if not new.changed_at or new.changed_at == old.changed_at:
        return []  # the customer's own update (the widget's profile), not staff
    def view(item: ContactItem) -> dict[str, Any]:
        return {f: dict(item.custom_fields or {}) if f == "custom_fields" else getattr(item, f) for f in CARD_FIELDS}

    was, now = view(old), view(new)
    before = {f: was[f] for f in CARD_FIELDS if was[f] != now[f]}
    after = {f: now[f] for f in before}
    if not before:
        return []
    contact_id = new.pk.rsplit("#", 1)[1]
    return [Derived(team.new_audit(new.workspace_id or "", _derived_id("contact.edit", contact_id, new.changed_at,
                                                                      before, after),
                                   at=new.changed_at, actor=new.changed_by or UNKNOWN_ACTOR, action="contact.edit",
                                   target_type="contact", target_id=contact_id, before=before, after=after))]


def _derived_id(action: str, target: str, at: str, *parts: Any) -> str:
    return f"{action}#{target}#{stable_hash(at, json.dumps(parts, sort_keys=True, default=str), length=12)}"


def _message_entries(event_name: str, new: MessageItem, old: MessageItem | None) -> list[Derived]:
    ws = new.workspace_id or ""
    action = team.thread_action(new)
    ours = action is not None
    if event_name == "INSERT":
        if action is None:
            return []
        after = {"text": new.text, "attachments": len(new.attachments or []), "reply_to": new.reply_to_id}
        return [Derived(team.new_audit(ws, team.thread_audit_id(action, new.message_id),
                                       at=new.created_at or _now_iso(),
                                       actor=new.author_id or UNKNOWN_ACTOR, action=action, target_type="message",
                                       target_id=new.message_id, conversation_id=new.conversation_id, after=after))]
    if old is None:
        return []
    request = plain(new.action)
    if bool(new.hidden) != bool(old.hidden) and request.get("kind") == "hide" and request.get("by"):
        # a moderator hid (or showed again) a customer's comment: who and when are on the request itself
        verb, at = ("hide" if new.hidden else "unhide"), str(request.get("at") or _now_iso())
        return [Derived(team.new_audit(ws, f"{verb}#{new.message_id}#{at}", at=at, actor=str(request["by"]),
                                       action=verb, target_type="message", target_id=new.message_id,
                                       conversation_id=new.conversation_id, before={"hidden": bool(old.hidden)},
                                       after={"hidden": bool(new.hidden)}))]
    if (new.direction == "in" and new.edited and new.text != old.text
            and int(new.edit_count or 0) > int(old.edit_count or 0)):
        # the customer edited their message at the provider: the earlier text stays here, the thread shows the new
        count = int(new.edit_count or 0)
        return [Derived(team.new_audit(ws, f"edit#{new.message_id}#{count}#{stable_hash(new.text, length=8)}",
                                       at=new.occurred_at or _now_iso(), actor=f"contact:{new.author_id}",
                                       action="edit", target_type="message", target_id=new.message_id,
                                       conversation_id=new.conversation_id, before={"text": old.text},
                                       after={"text": new.text}, note="edited by the customer"))]
    # a moderator's change names them in `changed_by`; an operator editing their own reply is its author
    actor = getattr(new, "changed_by", None) or (new.author_id if ours else "")
    if not actor:
        return []  # the customer or the provider changed it: not a staff action
    stamped = getattr(new, "changed_at", None)
    at = stamped or _now_iso()
    found: list[Derived] = []
    if new.deleted and not old.deleted:
        found.append(Derived(team.new_audit(ws, f"delete#{new.message_id}", at=at, actor=actor, action="delete",
                                            target_type="message", target_id=new.message_id,
                                            conversation_id=new.conversation_id, before={"text": old.text}),
                             once=not stamped))
    if new.text != old.text:
        edit = f"edit#{new.message_id}#{int(new.edit_count or 0)}#{stable_hash(new.text, length=8)}"
        found.append(Derived(team.new_audit(ws, edit, at=at, actor=actor, action="edit", target_type="message",
                                            target_id=new.message_id, conversation_id=new.conversation_id,
                                            before={"text": old.text}, after={"text": new.text}),
                             once=not stamped))
    return found


def _now_iso() -> str:
    return iso(utcnow())


def _conversation_entries(new: ConversationItem, old: ConversationItem) -> list[Derived]:
    if not new.changed_at or new.changed_at == old.changed_at:
        return []  # not an operator change (a customer message, a reply's bookkeeping)
    ws, conv, at = new.workspace_id or "", new.conversation_id, new.changed_at
    actor = new.changed_by or UNKNOWN_ACTOR
    found: list[tuple[str, Any, Any]] = []
    if new.status != old.status:
        action = "close" if new.status == "closed" else "reopen" if old.status == "closed" else "status"
        found.append((action, {"status": old.status}, {"status": new.status}))
    if list(new.tags or []) != list(old.tags or []):
        found.append(("tag", {"tags": list(old.tags or [])}, {"tags": list(new.tags or [])}))
    if new.emotion != old.emotion:
        found.append(("emotion", {"emotion": old.emotion}, {"emotion": new.emotion}))
    if new.assignee_id != old.assignee_id:
        action = "unassign" if not new.assignee_id else "assign" if not old.assignee_id else "handover"
        found.append((action, {"assignee_id": old.assignee_id}, {"assignee_id": new.assignee_id}))
    return [Derived(team.new_audit(ws, _derived_id(action, conv, at, before, after), at=at, actor=actor,
                                   action=action, target_type="conversation", target_id=conv, conversation_id=conv,
                                   before=before, after=after,
                                   note=(new.change_note or "") if action in ("assign", "handover") else ""))
            for action, before, after in found]


def _channel_view(item: ChannelItem) -> dict[str, Any]:
    return {"kind": item.kind, "name": item.name, "enabled": item.enabled, "settings": plain(item.settings)}


def _channel_entries(event_name: str, new: ChannelItem, old: ChannelItem | None) -> list[Derived]:
    ws = new.workspace_id or ""
    channel_id = new.pk.removeprefix("CH#")
    actor = getattr(new, "changed_by", None) or UNKNOWN_ACTOR
    after = _channel_view(new)
    if event_name == "INSERT":
        return [Derived(team.new_audit(ws, f"channel.connect#{channel_id}", at=new.created_at or _now_iso(),
                                       actor=actor, action="channel.connect", target_type="channel",
                                       target_id=channel_id, after=after), once=not new.created_at)]
    before = _channel_view(old) if old is not None else None
    if before is None or before == after:
        return []  # health checks and credentials: not in the log (secrets never are)
    stamped = getattr(new, "changed_at", None)
    return [Derived(team.new_audit(ws, _derived_id("channel.change", channel_id, stamped or "", before, after),
                                   at=stamped or _now_iso(), actor=actor, action="channel.change",
                                   target_type="channel", target_id=channel_id, before=before, after=after),
                    once=not stamped)]


def entry_json(item: AuditItem, names: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": item.audit_id, "at": item.at, "actor": item.actor, "actor_name": (names or {}).get(item.actor, ""),
        "action": item.action, "target": {"type": item.target_type, "id": item.target_id},
        "conversation_id": item.conversation_id, "before": item.before, "after": item.after, "note": item.note,
    }
