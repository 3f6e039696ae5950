"""The one notification service (D3): who is told what, in the console's bell and by e-mail.

`notify()` is called by the stream handlers and timers (SLA, assignment, mentions, reminders, tasks). It writes
one item per recipient under a key derived from the event, so a replayed record or a re-fired timer notifies
nobody twice. The item's INSERT comes back through the stream: it is pushed to that user's open consoles and,
when they want e-mail now, mailed once (pending -> sending -> sent). E-mail for users with a digest, or inside
their quiet hours, is held and sent as one message by a timer (`notify-digest`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.auth import mail
from chalicelib.domain import notifications as rules
from chalicelib.domain.model import iso, stable_hash
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services import timers
from chalicelib.services.deps import Deps
from chalicelib.store import connections, repo, team
from chalicelib.store import notifications as store
from chalicelib.store.models import ConversationItem, MemberItem, MessageItem, NotificationItem, TimerItem, plain

PAGE = 30


def preferences(member: MemberItem) -> dict[str, Any]:
    """A member's settings with the defaults filled in: channels per kind, e-mail mode, quiet hours."""
    stored = plain(member.notifications)
    events = {kind: [c for c in rules.CHANNELS if c in stored.get(kind, default)]
              for kind, default in rules.KINDS.items()}
    quiet = plain(member.quiet_hours) if member.quiet_hours else None
    return {"events": events, "channels": list(rules.CHANNELS), "email_mode": member.email_mode or "instant",
            "quiet_hours": quiet, "kinds": list(rules.KINDS)}


def parse_preferences(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The settings after a PUT: only what the body names changes; anything invalid refuses the whole body."""
    merged = {k: list(v) for k, v in current["events"].items()}
    events = body.get("events", {})
    if not isinstance(events, dict):
        raise InvalidInput("events is {kind: [channels]}")
    for kind, chosen in events.items():
        if kind not in rules.KINDS:
            raise InvalidInput(f"unknown event {kind!r}; events are {', '.join(rules.KINDS)}")
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen) \
                or not set(chosen) <= set(rules.CHANNELS):
            raise InvalidInput(f"channels are {', '.join(rules.CHANNELS)}")
        merged[kind] = [c for c in rules.CHANNELS if c in chosen]
    mode = body.get("email_mode", current["email_mode"])
    if mode not in rules.EMAIL_MODES:
        raise InvalidInput(f"email_mode is one of {', '.join(rules.EMAIL_MODES)}")
    quiet_value = body["quiet_hours"] if "quiet_hours" in body else current["quiet_hours"]
    try:
        quiet = rules.parse_quiet_hours(quiet_value)
    except rules.InvalidSettings as err:
        raise InvalidInput(str(err), code="invalid_quiet_hours") from err
    return {"events": merged, "email_mode": mode, "quiet_hours": quiet.as_json() if quiet else None}


def _quiet(member: MemberItem) -> rules.QuietHours | None:
    try:
        return rules.parse_quiet_hours(plain(member.quiet_hours) if member.quiet_hours else None)
    except rules.InvalidSettings:
        return None


def notify(d: Deps, workspace_id: str, user_ids: Iterable[str], kind: str, *, title: str, body: str = "",
           link: dict[str, str] | None = None, key: str, actor: str | None = None, text_key: str | None = None,
           params: dict[str, str] | None = None) -> int:
    """Tell these members about one event; returns how many were newly told. Nobody is told of their own act.

    With `text_key` (domain/notifications.TITLES) and `params`, the title is written in the workspace's language and
    each console shows it in its own; `title` is the fallback."""
    if kind not in rules.KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    told = 0
    now = d.now()
    if text_key and params is not None:
        workspace = repo.get_workspace(workspace_id)
        language = workspace.language if workspace else "ru"
        title = rules.title_in(text_key, params, language, title)
        body = rules.title_in(text_key, params, language, body, table=rules.BODIES)
    for user_id in dict.fromkeys(u for u in user_ids if u):
        if actor and actor in (user_id, f"user:{user_id}"):
            continue
        member = team.get_member(workspace_id, user_id)
        if member is None:
            continue
        channels = preferences(member)["events"][kind]
        if not channels:
            continue
        email_state = None
        if "email" in channels and member.email:
            held_until = rules.email_due(now, member.email_mode or "instant", _quiet(member))
            email_state = "held" if held_until else "pending"
            if held_until:  # a digest already booked keeps its time: a stream of events must not push it later
                repo.put_timer(workspace_id, f"digest#{user_id}", "notify-digest", iso(held_until),
                               {"user_id": user_id}, now=now, only_new=True)
        notification_id = stable_hash(kind, key, user_id, length=24)
        if store.put(workspace_id, user_id, notification_id, kind=kind, title=title[:300], body=body[:2000],
                     link=dict(link or {}), actor=actor, console="console" in channels, email_state=email_state,
                     now=now, text_key=text_key, params=params):
            told += 1
    return told


# --- from the stream -------------------------------------------------------------------------------------------


def on_assignment(d: Deps, new: ConversationItem, old: ConversationItem | None) -> int:
    """"Assigned to me": the new assignee hears of it, unless they took it themselves."""
    if not new.assignee_id or (old is not None and old.assignee_id == new.assignee_id):
        return 0
    name = new.contact_name or new.title or new.conversation_id
    note = f"\n{new.change_note}" if new.change_note else ""
    return notify(d, new.workspace_id or "", [new.assignee_id], "assigned_to_me", title=f"Assigned to you: {name}",
                  body=f"{new.last_message_preview or ''}{note}"[:500], link={"conversation_id": new.conversation_id},
                  key=f"assigned#{new.conversation_id}#{new.assignee_id}#{new.changed_at or new.revision}",
                  actor=new.changed_by, text_key="assigned_to_me", params={"name": name})


def on_note(d: Deps, message: MessageItem) -> int:
    """An internal note that says @name tells that colleague (D3 "mention in a note")."""
    if message.direction != "note" or "@" not in (message.text or ""):
        return 0
    ws = message.workspace_id or ""
    members = [(m.user_id, m.name, m.email) for m in team.list_members(ws)]
    who = rules.mentioned(message.text, members)
    if not who:
        return 0
    author = message.author_id.removeprefix("user:")
    by = next((name for uid, name, _ in members if uid == author), "") or "A colleague"
    return notify(d, ws, who, "mention", title=f"{by} mentioned you", body=message.text[:500],
                  link={"conversation_id": message.conversation_id}, key=f"mention#{message.message_id}",
                  actor=message.author_id, text_key="mention", params={"by": by})


def on_insert(d: Deps, item: NotificationItem) -> None:
    ws = item.workspace_id or ""
    if item.console:
        push_to_user(d, ws, item.user_id, {"type": "notification.new", "notification": store.as_json(item),
                                           "unread": store.unread_count(ws, item.user_id)})
    if item.email_state == "pending":
        _mail_one(d, item)


def push_to_user(d: Deps, ws: str, user_id: str, payload: dict[str, Any]) -> int:
    if not d.settings.websocket_endpoint:
        return 0
    import json

    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return sum(1 for c in connections.of_principal(ws, f"user:{user_id}") if d.live.send(c, data))


def _link_url(d: Deps, link: dict[str, Any]) -> str:
    base = d.settings.public_url
    if link.get("conversation_id"):
        return f"{base}/c/{link['conversation_id']}"
    if link.get("task_id"):
        return f"{base}/tasks/{link['task_id']}"
    return f"{base}/"


def _mail_one(d: Deps, item: NotificationItem) -> None:
    member = team.get_member(item.workspace_id or "", item.user_id)
    if member is None or not member.email or not store.move_email(item, "pending", "sending"):
        return
    url = _link_url(d, plain(item.link))
    text = f"{item.title}\n\n{item.body}\n\n{url}\n".replace("\n\n\n", "\n\n")
    try:
        mail.send(d.settings, mail.Mail(to=member.email, subject=item.title, text=text, link=url,
                                        kind="notification"))
    except Exception:
        store.move_email(item, "sending", "pending")  # the stream retries the record
        raise
    store.move_email(item, "sending", "sent")


@timers.register("notify-digest")
def send_digest(d: Deps, timer: TimerItem) -> None:
    """One e-mail with every held notification of a user (digest hour, or the end of quiet hours)."""
    ws, user_id = timer.workspace_id or "", str(timer.target["user_id"])
    member = team.get_member(ws, user_id)
    items = [i for i in store.held(ws, user_id) if store.move_email(i, "held", "sending")]
    if not items or member is None or not member.email:
        return
    lines = [f"- {i.title}" + (f": {i.body}" if i.body else "") + f"\n  {_link_url(d, plain(i.link))}" for i in items]
    workspace = repo.get_workspace(ws)
    lang = "en" if workspace and workspace.language.startswith("en") else "ru"
    subject = rules.DIGEST_SUBJECT[lang].format(count=len(items))
    mail.send(d.settings, mail.Mail(to=member.email, subject=subject, text="\n".join(lines) + "\n",
                                    link=f"{d.settings.public_url}/", kind="digest"))
    for i in items:
        store.move_email(i, "sending", "sent")
    logger.info("digest sent", extra={"count": len(items)})


# --- the API ---------------------------------------------------------------------------------------------------


def list_mine(ws: str, user_id: str, *, before: str | None = None, limit: int = PAGE) -> dict[str, Any]:
    items = store.list_of(ws, user_id, limit=limit, before=before)
    cursor = f"{items[-1].created_at}#{items[-1].notification_id}" if len(items) == limit else None
    return {"items": [store.as_json(i) for i in items], "unread": store.unread_count(ws, user_id), "next": cursor}


def mark_read(d: Deps, ws: str, user_id: str, ids: list[str] | None) -> dict[str, Any]:
    """Mark these (or, with None, every unread) notification read; an id of someone else's is not found."""
    now: datetime = d.now()
    if ids is None:
        targets = store.unread(ws, user_id)
    else:
        targets = []
        for nid in ids:
            item = store.get(ws, user_id, nid)
            if item is None:
                raise NotFound(f"no notification {nid}")
            targets.append(item)
    changed = sum(1 for item in targets if item.read_at is None and store.mark_read(item, now=now))
    unread = store.unread_count(ws, user_id)
    push_to_user(d, ws, user_id, {"type": "notification.read", "unread": unread})
    return {"marked": changed, "unread": unread}
