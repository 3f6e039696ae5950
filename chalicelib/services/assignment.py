"""Assignment (D4): claims, hand-over with a note, auto-assignment on first reply, round-robin distribution.

Every change goes through `repo.change_conversation`, whose guard compares the assignee it read: of two operators
claiming at once one wins, the other re-reads and is told who has it (409 `already_assigned`). The change stores
who made it (`changed_by` / `changed_at`), from which the stream writes the action log.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.auth.permissions import allowed
from chalicelib.domain.model import iso, new_id
from chalicelib.errors import Conflict, Forbidden, InvalidInput
from chalicelib.observability import logger
from chalicelib.services import presence
from chalicelib.services.deps import Deps
from chalicelib.store import repo, team
from chalicelib.store.models import ConversationItem, MemberItem, TeamSettingsItem
from chalicelib.warm import WarmCache

MAX_NOTE = 2000
ROUND_ROBIN = "system:round_robin"


def _stamp(actor: str, now: str, note: str = "") -> list[Any]:
    actions = [ConversationItem.changed_by.set(actor), ConversationItem.changed_at.set(now)]
    actions.append(ConversationItem.change_note.set(note) if note else ConversationItem.change_note.remove())
    return actions


def _taken(conv: ConversationItem) -> Conflict:
    member = team.get_member(conv.workspace_id or "", conv.assignee_id or "")
    return Conflict(f"{member.name if member else 'a colleague'} has this conversation already",
                    code="already_assigned",
                    details={"assignee_id": conv.assignee_id, "assignee_name": member.name if member else ""})


def claim(d: Deps, principal: Principal, conv_id: str, *, note: str = "") -> ConversationItem:
    """Take an unassigned conversation; 409 naming the colleague who has it."""
    if not principal.user_id:
        repo.require_conversation(principal.workspace_id, conv_id)  # another workspace's id: not found first
        raise InvalidInput("an API key cannot take conversations: assign them to a user", code="user_required")
    now = iso(d.now())

    def mutate(conv: ConversationItem) -> list[Any]:
        if conv.assignee_id == principal.user_id:
            return []
        if conv.assignee_id:
            raise _taken(conv)
        return repo.assignee_actions(conv, principal.user_id) + _stamp(principal.subject, now, note)

    return repo.change_conversation(principal.workspace_id, conv_id, mutate)


def auto_assign_on_reply(d: Deps, principal: Principal, conv: ConversationItem) -> ConversationItem:
    """The first operator to answer an unassigned conversation takes it (a colleague who took it first keeps it)."""
    if conv.assignee_id or not principal.user_id:
        return conv
    try:
        return claim(d, principal, conv.conversation_id, note="first reply")
    except Conflict as err:
        if err.code != "already_assigned":
            raise
        return repo.require_conversation(principal.workspace_id, conv.conversation_id)


def parse_seen(body: dict[str, Any]) -> tuple[str | None, bool]:
    """A reply's `last_seen_message_id` (the newest message the operator saw) and `force` (send anyway)."""
    seen, force = body.get("last_seen_message_id"), body.get("force", False)
    if seen is not None and (not isinstance(seen, str) or len(seen) > 100):
        raise InvalidInput("last_seen_message_id must be a message id")
    if not isinstance(force, bool):
        raise InvalidInput("force must be true or false")
    return seen or None, force


def check_colleague_replied(ws: str, conv_id: str, principal: Principal, last_seen: str | None,
                            force: bool) -> None:
    """409 `colleague_replied` when a colleague answered after the message the operator last saw (B10)."""
    if not last_seen or force:
        return
    newer, _ = repo.list_messages(ws, conv_id, limit=50, after=last_seen)
    for message in newer:
        if message.direction == "out" and message.origin == "operator" and message.author_id != principal.subject:
            member = team.get_member(ws, message.author_id.removeprefix("user:"))
            raise Conflict(f"{member.name if member else 'a colleague'} answered meanwhile; send with force to "
                           "answer anyway", code="colleague_replied",
                           details={"author_id": message.author_id, "author_name": member.name if member else "",
                                    "message_id": message.message_id})


def _assignable(ws: str, user_id: str) -> MemberItem:
    member = team.get_member(ws, user_id)
    if member is None or not allowed(member.role, "conversations:reply"):
        raise InvalidInput(f"{user_id} is not an operator of this workspace", code="not_an_operator")
    return member


def assign(d: Deps, principal: Principal, conv_id: str, body: dict[str, Any]) -> ConversationItem:
    """Hand over to a colleague (or back to the queue with `assignee_id: null`), with an optional note.

    The assignee hands over their own conversations (and anyone an unassigned one); an admin any.
    """
    ws = principal.workspace_id
    repo.require_conversation(ws, conv_id)  # another workspace's id is simply not found
    if "assignee_id" not in body:
        raise InvalidInput("send assignee_id (a user id, or null for the queue)")
    target, note = body.get("assignee_id"), body.get("note") or ""
    if target is not None and not isinstance(target, str):
        raise InvalidInput("assignee_id must be a user id or null")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"note must be text of at most {MAX_NOTE} characters")
    if target:
        _assignable(ws, target)
    now = d.now()

    def mutate(conv: ConversationItem) -> list[Any]:
        mine = conv.assignee_id in (None, principal.user_id or None)
        if principal.role != "admin" and not mine:
            raise Forbidden("only the assignee or an admin can hand this conversation over", code="not_assignee")
        if conv.assignee_id == target:
            return []
        return repo.assignee_actions(conv, target) + _stamp(principal.subject, iso(now), note.strip())

    conv = repo.change_conversation(ws, conv_id, mutate)
    if note.strip():
        message = repo.new_message(ws, conv_id, new_id("m", now), channel_id=conv.channel_id, direction="note",
                                   origin="operator", author_id=principal.subject, text=note.strip(),
                                   status="received", created_at=iso(now))
        repo.add_outbound_message(conv, message, now=now, counts_as_response=False)
        conv = repo.require_conversation(ws, conv_id)
    return conv


def _capacity(member: MemberItem, default: int) -> int:
    return int(member.capacity) if member.capacity is not None else default


def _open_count(ws: str, user_id: str, limit: int) -> int:
    return sum(len(repo.conversations_of_assignee(ws, user_id, status=s, limit=limit + 1))
               for s in ("new", "in_progress"))


_settings: WarmCache[TeamSettingsItem] = WarmCache(30.0)


def team_settings(ws: str) -> TeamSettingsItem:
    """Read for every new conversation, so a warm Lambda keeps them 30 s (this process forgets on change)."""
    return _settings.get(ws, lambda: team.get_team_settings(ws))


def forget_settings(ws: str) -> None:
    _settings.forget(ws)


def distribute(d: Deps, conv: ConversationItem) -> str | None:
    """Round-robin (stream, conversation INSERT): the online operator with room who got one longest ago.

    Replays find the conversation assigned and change nothing. Returns the user id chosen, if any.
    """
    if not team_settings(conv.workspace_id or "").round_robin:
        return None
    return round_robin(d, conv)


def round_robin(d: Deps, conv: ConversationItem) -> str | None:
    """The online operator with room who got a conversation longest ago takes this one (rules call it too)."""
    ws = conv.workspace_id or ""
    settings = team_settings(ws)
    now = d.now()
    online = presence.online_user_ids(ws, now)
    candidates = sorted((m for m in team.list_members(ws) if m.user_id in online
                         and allowed(m.role, "conversations:reply")),
                        key=lambda m: (m.last_assigned_at or "", m.user_id))
    default = int(settings.default_capacity or 0)
    for member in candidates:
        capacity = _capacity(member, default)
        if capacity <= 0 or _open_count(ws, member.user_id, capacity) >= capacity:
            continue
        if _assign_by_rota(ws, conv.conversation_id, member, iso(now)):
            team.set_member_fields(member, [MemberItem.last_assigned_at.set(iso(now))])
            logger.info("round-robin assigned", extra={"conversation_id": conv.conversation_id})
            return member.user_id
        return None
    return None


def _assign_by_rota(ws: str, conv_id: str, member: MemberItem, now: str) -> bool:
    def mutate(conv: ConversationItem) -> list[Any]:
        if conv.assignee_id:
            return []
        return repo.assignee_actions(conv, member.user_id) + _stamp(ROUND_ROBIN, now, "round robin")

    conv = repo.change_conversation(ws, conv_id, mutate)
    return conv.assignee_id == member.user_id and conv.changed_by == ROUND_ROBIN and conv.changed_at == now
