"""What happens when the main table changes: the stream handler's dispatch table (one record at a time).

inbound INSERT            -> contact, identity, conversation, message (also a customer's message queued under
                             its provider-id pointer by the webhook)
conversation INSERT       -> auto-greeting (once), inside working hours (services/hours.py)
customer message INSERT   -> off-hours reply, once per conversation per closed period
conversation waiting / answered -> SLA timer written / removed (services/sla.py)
conversation assigned     -> "assigned to me" for the new assignee; note with @name -> "mention"
notification INSERT       -> the user's consoles (bell) and, when wanted now, one e-mail
conversation / message events -> a delivery per outgoing webhook that wants them; delivery pending -> POST
conversation / message triggers -> the workspace's rules, in order (services/rules.py)
message out + pending     -> send through the channel (once per generation)
operator's reply / note INSERT -> its conversation's bump, if the API died before it (services/outbound.py)
message in + provider file -> copy the attachment into our storage
message with a pending action -> edit / delete it at the provider (B4)
contact edited              -> the new name on its conversations; the consoles' cards (contact.updated)
conversation / message    -> live update to the workspace's consoles (a send's outcome: by the batch that sent it)
conversation INSERT       -> round-robin assignment (team settings)
conversation name / title / tags changed -> its search text (services/search.py)
message / conversation / channel changes by staff -> the action log (services/audit.py)
task / task comment        -> its timers, notifications and live push (services/tasks.py)
export INSERT              -> handed to the export worker (services/exports.py); counters: per batch (events/stream.py)
conversation closed / survey prompt sent / survey answered -> CSAT / NPS survey (services/surveys.py)
message / note / contact / conversation title and tags / article -> the full-text index (services/search.py)
reply that used articles sent -> each article's use counted once (services/knowledge.py)
customer message INSERT   -> the recent messages of repeat-request detection, the minute's check (services/clusters.py)
an item a backup import wrote (INSERT) -> nothing: its effects happened before the export (store/backup.py)
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.serialize import contact_json, conversation_json, message_json
from chalicelib.domain.model import InboundEvent
from chalicelib.services import (
    assignment,
    audit,
    contacts,
    exports,
    hours,
    inbound,
    knowledge,
    media,
    moderation,
    notifications,
    outbound,
    rules,
    search,
    sla,
    surveys,
    tasks,
    webhooks_out,
)
from chalicelib.services.deps import Deps
from chalicelib.store import backup
from chalicelib.store.models import (
    ContactItem,
    ConversationItem,
    DeliveryItem,
    ExportItem,
    InboundItem,
    MainItem,
    MessageItem,
    NotificationItem,
    QueuedMessageItem,
    SurveyItem,
    TaskEventItem,
    TaskItem,
)


def handle_change(d: Deps, event_name: str, new: MainItem | None, old: MainItem | None) -> None:
    search.on_change(d, new, old)  # the full-text index (B1), first: a console told of a change finds it
    if backup.is_restored_insert(event_name, new):  # written by an import: its effects happened before the export
        return
    if isinstance(new, InboundItem) and event_name == "INSERT":
        inbound.process_inbound(d, InboundEvent.from_json(new.event))
    elif isinstance(new, QueuedMessageItem) and event_name == "INSERT":  # the webhook's, under its pointer
        inbound.process_inbound(d, InboundEvent.from_json(new.event), queued=new.message_id)
    elif isinstance(new, ConversationItem):
        previous_conv = old if isinstance(old, ConversationItem) else None
        if event_name == "INSERT":
            if hours.open_now(d, new):  # outside working hours the customer's message gets the off-hours reply
                outbound.greet(d, new)
            assignment.distribute(d, new)  # round-robin, when the workspace turned it on
        search.reindex(new)  # name, title or tags changed: the search text follows
        sla.on_conversation_change(d, new, previous_conv)
        notifications.on_assignment(d, new, previous_conv)
        surveys.on_conversation_change(d, new, previous_conv)
        push(d, new.workspace_id or "", {"type": "conversation.updated", "conversation": conversation_json(new)})
    elif isinstance(new, ContactItem) and event_name == "MODIFY":
        contacts.propagate_name(new, old if isinstance(old, ContactItem) else None)
        ws = new.workspace_id or ""
        push(d, ws, {"type": "contact.updated", "contact": contact_json(new, [])})
    elif isinstance(new, MessageItem):
        previous = old if isinstance(old, MessageItem) else None
        if outbound.needs_work(new, previous):  # an operator's message: its conversation bumped once; sent
            outbound.on_message(d, new, previous)
        elif moderation.needs_action(new, previous):
            moderation.perform(d, new)
        elif media.needs_fetch(new):
            media.fetch_attachments(d, new)
        surveys.on_message_change(d, new, previous)
        if event_name == "INSERT":
            hours.answer_off_hours(d, new)
            notifications.on_note(d, new)
        knowledge.on_message(d, new, previous)  # a reply that used articles was sent: +1 use each, once
        if not outbound.send_outcome(new, previous):  # the batch that sent it pushed it with its outcome
            kind = "message.new" if event_name == "INSERT" else "message.updated"
            push(d, new.workspace_id or "", {"type": kind, "conversation_id": new.conversation_id,
                                             "message": message_json(new, d.files)})
    elif isinstance(new, NotificationItem) and event_name == "INSERT":
        notifications.on_insert(d, new)
    elif isinstance(new, SurveyItem) and surveys.answered_now(new, old):  # the thread's rating, live
        push(d, new.workspace_id or "", {"type": "survey.updated", "survey": surveys.survey_json(new)})
    elif isinstance(new, TaskItem | TaskEventItem):
        tasks.on_change(d, event_name, new, old)
    elif isinstance(new, ExportItem) and event_name == "INSERT":
        exports.hand_off(d, new)  # a report export (G5): handed to the export worker (its own Lambda)
    elif isinstance(new, DeliveryItem):
        if webhooks_out.needs_sending(new, old if isinstance(old, DeliveryItem) else None):
            webhooks_out.send(d, new)
    if isinstance(new, (ConversationItem, MessageItem)):
        webhooks_out.on_change(d, event_name, new, old)
        rules.on_change(d, event_name, new, old)
    audit.record_change(d, event_name, new, old)  # the action log: operator changes, exactly once


def push(d: Deps, workspace_id: str, payload: dict[str, Any]) -> None:
    if workspace_id and d.settings.websocket_endpoint:
        d.live.broadcast(workspace_id, payload)
