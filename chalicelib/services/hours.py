"""Working hours (E1): inside them the auto-greeting, outside them the off-hours message, at most once per
conversation per closed period, in the customer's language.

The workspace's hours live in team settings; a channel may have its own (`settings.working_hours` of the
channel). The off-hours reply is written from the stream when a customer's message arrives while closed: a
claim keyed by conversation and period makes it once, and the reply is an ordinary pending message, so it goes
out through the same idempotent sender as any reply.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import hours as rules
from chalicelib.domain.model import derived_id, iso, parse_iso
from chalicelib.services import assignment
from chalicelib.services.deps import Deps
from chalicelib.services.outbound import GREETING_KINDS
from chalicelib.store import repo
from chalicelib.store.models import ConversationItem, MessageItem

CLAIM_KEEP = timedelta(days=45)


def hours_for(ws: str, channel_id: str) -> rules.WorkingHours | None:
    channel = repo.get_channel(channel_id)  # cached 30 s in a warm Lambda
    own = (channel.settings or {}).get("working_hours") if channel else None
    value = own if own else assignment.team_settings(ws).working_hours
    try:
        return rules.parse_hours(value) if value else None
    except rules.InvalidSettings:
        return None


def open_now(d: Deps, conv: ConversationItem) -> bool:
    return rules.is_open(d.now(), hours_for(conv.workspace_id or "", conv.channel_id))


def answer_off_hours(d: Deps, message: MessageItem) -> bool:
    """A customer's message while closed: the off-hours reply, once per conversation per closed period."""
    if message.direction != "in":
        return False
    ws = message.workspace_id or ""
    working = hours_for(ws, message.channel_id)
    if working is None:
        return False
    at = parse_iso(message.created_at or iso(d.now()))
    is_open, started = rules.period(at, working)
    if is_open:
        return False
    conv = repo.get_conversation(ws, message.conversation_id)
    if conv is None or conv.surface == "comment" or conv.automated or conv.blocked \
            or conv.channel_kind not in GREETING_KINDS:
        return False
    period_key = f"{conv.conversation_id}#{iso(started)}"
    if not repo.claim_once(ws, "offhours", period_key, now=d.now(), keep=CLAIM_KEEP):
        return False
    text = rules.off_hours_text(dict(assignment.team_settings(ws).off_hours_messages or {}), conv.language)
    reply_at = at + timedelta(milliseconds=1)
    reply = repo.new_message(ws, conv.conversation_id, derived_id("m", reply_at, "offhours", period_key),
                             channel_id=conv.channel_id, direction="out", origin="greeting", author_id="bot",
                             text=text, status="pending", created_at=iso(reply_at))
    return repo.put_message_once(reply)
