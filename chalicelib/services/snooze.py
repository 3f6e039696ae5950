"""Snooze and reminders (E4).

Snooze: the conversation moves to the `snoozed` inbox (out of the queue) and a timer brings it back to the status
it had at the time given; a customer's message brings it back at once (`repo.reopened_status`), and the timer
then finds it no longer snoozed and does nothing. Reminders: an operator's own follow-up on a conversation, told
through the notification service when due. Stale conversations are not stored: they are in progress with no
activity for the team's `stale_hours`, found by a filtered Query (`GET /conversations?stale=1`).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain.model import iso, parse_iso
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.services import notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import keys, repo
from chalicelib.store.models import ConversationItem, ReminderItem, TimerItem, plain

SNOOZED = "snoozed"
MAX_AHEAD = timedelta(days=90)


def parse_future(value: Any, now: datetime, what: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{what} is an ISO-8601 time with its zone, e.g. 2026-12-03T18:00:00+03:00")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidInput(f"{what} is not a time: {value!r}") from err
    if when.tzinfo is None:
        raise InvalidInput(f"{what} needs its time zone (Z or +03:00)")
    if when <= now:
        raise InvalidInput(f"{what} is in the past")
    if when > now + MAX_AHEAD:
        raise InvalidInput(f"{what} is more than 90 days ahead")
    return when


def snooze_timer(conv_id: str) -> str:
    return f"snooze#{conv_id}"


def snooze(d: Deps, principal: Principal, conv_id: str, until_value: Any) -> ConversationItem:
    """Snooze until a time, or (None) wake it now."""
    ws = principal.workspace_id
    now = d.now()
    if until_value is None:
        return _wake(ws, conv_id, by=principal.subject, now=now)
    until = iso(parse_future(until_value, now, "until"))

    def mutate(conv: ConversationItem) -> list[Any]:
        if conv.status == "closed":
            raise InvalidInput("a closed conversation cannot be snoozed", code="closed")
        actions = [ConversationItem.snoozed_until.set(until), ConversationItem.changed_by.set(principal.subject),
                   ConversationItem.changed_at.set(iso(now))]
        if conv.status != SNOOZED:
            actions.append(ConversationItem.snoozed_from.set(conv.status))
        return actions

    repo.change_conversation(ws, conv_id, mutate, status=lambda conv: SNOOZED)
    repo.put_timer(ws, snooze_timer(conv_id), "snooze", until, {"conversation_id": conv_id, "until": until}, now=now)
    return repo.require_conversation(ws, conv_id)


def _wake(ws: str, conv_id: str, *, by: str, now: datetime, only_until: str | None = None) -> ConversationItem:
    def mutate(conv: ConversationItem) -> list[Any]:
        if conv.status != SNOOZED or (only_until and conv.snoozed_until != only_until):
            return []
        return [ConversationItem.snoozed_until.remove(), ConversationItem.snoozed_from.remove(),
                ConversationItem.changed_by.set(by), ConversationItem.changed_at.set(iso(now))]

    def back(conv: ConversationItem) -> str:
        if conv.status != SNOOZED or (only_until and conv.snoozed_until != only_until):
            return conv.status
        return conv.snoozed_from or "in_progress"

    return repo.change_conversation(ws, conv_id, mutate, status=back)


@timers.register("snooze")
def wake(d: Deps, timer: TimerItem) -> None:
    target = plain(timer.target)
    ws, conv_id = timer.workspace_id or "", str(target["conversation_id"])
    conv = repo.get_conversation(ws, conv_id, consistent=True)
    if conv is None or conv.status != SNOOZED or conv.snoozed_until != target["until"]:
        return  # woken early by the customer or an operator, or snoozed again to another time
    _wake(ws, conv_id, by="system:snooze", now=d.now(), only_until=str(target["until"]))
    if conv.assignee_id:
        notifications.notify(d, ws, [conv.assignee_id], "reminder", title=f"Back from snooze: {conv.contact_name}",
                             link={"conversation_id": conv_id}, key=f"snooze#{conv_id}#{target['until']}",
                             text_key="snooze_back", params={"name": conv.contact_name or conv_id})


# --- reminders -------------------------------------------------------------------------------------------------


def add_reminder(d: Deps, principal: Principal, conv_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ws, now = principal.workspace_id, d.now()
    repo.require_conversation(ws, conv_id)  # first: another workspace's id is 404 whoever asks (isolation)
    if not principal.user_id:
        raise InvalidInput("reminders belong to a signed-in user, not to an API key", code="user_required")
    at = iso(parse_future(body.get("at"), now, "at"))
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        raise InvalidInput("note is up to 500 characters")
    rid = f"r{secrets.token_hex(6)}"
    pk, sk = keys.reminder(ws, principal.user_id, at, rid)
    item = ReminderItem(pk, sk, type="reminder", workspace_id=ws, reminder_id=rid, user_id=principal.user_id,
                        conversation_id=conv_id, due_at=at, note=note.strip(), created_at=iso(now),
                        expires_at=int((parse_iso(at) + timedelta(days=7)).timestamp()))
    item.save()
    repo.put_timer(ws, f"remind#{rid}", "reminder", at, {"user_id": principal.user_id, "sk": sk}, now=now)
    return reminder_json(item)


def reminders_of(principal: Principal) -> list[dict[str, Any]]:
    if not principal.user_id:
        return []
    pk, _ = keys.reminder(principal.workspace_id, principal.user_id, "", "")
    return [reminder_json(r) for r in ReminderItem.query(pk, limit=200)]


def delete_reminder(principal: Principal, reminder_id: str) -> None:
    pk, _ = keys.reminder(principal.workspace_id, principal.user_id or "-", "", "")
    found = [r for r in ReminderItem.query(pk, limit=200) if r.reminder_id == reminder_id]
    if not found:
        raise NotFound(f"no reminder {reminder_id}")
    repo.delete_timer(principal.workspace_id, f"remind#{reminder_id}")
    found[0].delete()


@timers.register("reminder")
def remind(d: Deps, timer: TimerItem) -> None:
    target = plain(timer.target)
    ws, user_id, sk = timer.workspace_id or "", str(target["user_id"]), str(target["sk"])
    pk, _ = keys.reminder(ws, user_id, "", "")
    try:
        item = ReminderItem.get(pk, sk)
    except ReminderItem.DoesNotExist:
        return  # deleted meanwhile
    conv = repo.get_conversation(ws, item.conversation_id)
    name = (conv.contact_name or conv.title) if conv else item.conversation_id
    notifications.notify(d, ws, [user_id], "reminder", title=f"Reminder: {name}", body=item.note,
                         link={"conversation_id": item.conversation_id}, key=f"reminder#{item.reminder_id}",
                         text_key="reminder", params={"name": name})
    item.delete()


def reminder_json(item: ReminderItem) -> dict[str, Any]:
    return {"id": item.reminder_id, "conversation_id": item.conversation_id, "at": item.due_at, "note": item.note}
