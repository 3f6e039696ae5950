"""SLA alerts (E2): a timer per waiting conversation, a warning at 80 % of the target, a breach at 100 %.

From the stream: when a conversation starts waiting (`awaiting_since` set by the first unanswered customer
message) its timer `sla#<conversation>` is written for the warning, keyed by its due time; when it stops waiting
(an operator's reply, closing, an answer from the network's own app) the timer is deleted. The timer's handler
re-reads the conversation and does nothing if the wait it was set for is over. The warning notifies the assignee and the
workspace's admins and moves the timer to the breach time; the breach is recorded on the conversation once per
wait (`sla_breach_since`, for reports) and notified the same way. Every write is keyed by the wait, so a
replayed record or a re-fired timer changes nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import sla as rules
from chalicelib.domain.model import iso, parse_iso
from chalicelib.observability import logger
from chalicelib.services import assignment, notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import repo, team
from chalicelib.store.models import ConversationItem, TeamSettingsItem, TimerItem, plain

KIND = "sla"
DEFAULT_SLA_MINUTES = 30


def timer_id(conv_id: str) -> str:
    return f"sla#{conv_id}"


def policies_of(settings: TeamSettingsItem) -> list[rules.Policy]:
    try:
        return rules.parse_policies(list(settings.sla_policies or []))
    except rules.InvalidSettings:  # stored before a rule changed: the default policy still holds
        return []


def policy_for(settings: TeamSettingsItem, conv: ConversationItem) -> rules.Policy:
    return rules.pick(policies_of(settings), int(settings.sla_minutes or DEFAULT_SLA_MINUTES), conv.channel_id,
                      list(conv.tags or []))


def deadline_of(conv: ConversationItem, since: str) -> rules.Deadline:
    """The warning and breach times of the wait that began at `since` (the conversation as it was then)."""
    policy = policy_for(assignment.team_settings(conv.workspace_id or ""), conv)
    return rules.deadline(policy, parse_iso(since), answered_before=bool(conv.first_response_at))


def on_conversation_change(d: Deps, new: ConversationItem, old: ConversationItem | None) -> None:
    """The wait's timer, keyed by its due time (`repo.put_due_timer`: 1 write unit each way, not 2): booked for the
    warning when a wait begins; when it ends, removed where it is now (the warning's time, or the breach's once the
    warning is past). A timer left behind (the settings or tags changed the deadline meanwhile, a late tick) fires
    into a handler that finds the wait over and does nothing."""
    since, before = new.awaiting_since, (old.awaiting_since if old else None)
    if since == before:
        return
    ws = new.workspace_id or ""
    if before and old is not None and not old.blocked:
        due = deadline_of(old, before)
        booked = due.warn_at if d.now() < due.warn_at else due.breach_at
        repo.delete_due_timer(ws, timer_id(new.conversation_id), iso(booked))
    if not since or new.blocked:
        return
    due = deadline_of(new, since)
    repo.put_due_timer(ws, timer_id(new.conversation_id), KIND, iso(due.warn_at), {
        "conversation_id": new.conversation_id, "since": since, "stage": "warning", "breach_at": iso(due.breach_at),
        "policy_id": due.policy_id, "target": due.target, "minutes": str(due.minutes)}, now=d.now())


def leads(ws: str) -> list[str]:
    return [m.user_id for m in team.list_members(ws) if m.role == "admin"]


@timers.register(KIND)
def fire(d: Deps, timer: TimerItem) -> None:
    target: dict[str, Any] = plain(timer.target)
    ws, conv_id, since = timer.workspace_id or "", str(target["conversation_id"]), str(target["since"])
    conv = repo.get_conversation(ws, conv_id, consistent=True)
    if conv is None or conv.awaiting_since != since:
        return  # answered or closed meanwhile: the wait this timer was set for is over
    who = ([conv.assignee_id] if conv.assignee_id else []) + leads(ws)
    name = conv.contact_name or conv.title or conv_id
    minutes = int(target.get("minutes") or 0)
    link = {"conversation_id": conv_id}
    if target.get("stage") == "warning":
        notifications.notify(d, ws, who, "sla_warning", title=f"SLA soon: {name}",
                             body=f"The {minutes}-minute target ends at {target['breach_at']}.",
                             link=link, key=f"sla_warning#{conv_id}#{since}", text_key="sla_warning",
                             params={"name": name, "minutes": str(minutes), "due": str(target["breach_at"]),
                                     "due_text": parse_iso(str(target["breach_at"])).strftime("%H:%M UTC")})
        repo.put_due_timer(ws, timer.timer_id or timer_id(conv_id), KIND, str(target["breach_at"]),
                           {**target, "stage": "breach"}, now=d.now())
        return
    if repo.record_sla_breach(ws, conv_id, since, str(target.get("target", "first_response")), now=d.now()):
        logger.info("sla breached", extra={"conversation_id": conv_id, "policy": target.get("policy_id")})
    notifications.notify(d, ws, who, "sla_breach", title=f"SLA breached: {name}",
                         body=f"No answer within {minutes} minutes.", link=link,
                         key=f"sla_breach#{conv_id}#{since}", text_key="sla_breach",
                         params={"name": name, "minutes": str(minutes)})
