"""Repeat-request detection (H2) in DynamoDB: the recent customer messages (one partition per workspace, sorted by
time, TTL two hours) and the sudden clusters already announced."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.model import iso
from chalicelib.store import keys
from chalicelib.store.base import epoch, typed
from chalicelib.store.models import ClusterNoteItem, ConversationItem, RecentInboundItem

KEEP = timedelta(hours=2)
TEXT_LIMIT = 300


def put_recent(ws: str, conv_id: str, message_id: str, contact_id: str, text: str, *, at: str,
               now: datetime) -> None:
    """One PutItem per customer message; the key derives from the message, so a replayed record rewrites the same."""
    item = typed(RecentInboundItem, keys.recent_inbound(ws), f"{at}#{message_id}", workspace_id=ws,
                 conversation_id=conv_id, message_id=message_id, contact_id=contact_id, text=text[:TEXT_LIMIT],
                 at=at, expires_at=epoch(now + KEEP))
    item.save()


def recent_since(ws: str, since: str) -> list[RecentInboundItem]:
    """The customer messages since `since`, oldest first: one Query (paged by DynamoDB past 1 MB)."""
    return list(RecentInboundItem.query(keys.recent_inbound(ws), RecentInboundItem.sk >= since))


def conversations(ws: str, conv_ids: list[str]) -> dict[str, ConversationItem]:
    wanted = list(dict.fromkeys(conv_ids))
    found: dict[str, ConversationItem] = {}
    for start in range(0, len(wanted), 100):
        for conv in ConversationItem.batch_get([keys.conversation(ws, c) for c in wanted[start:start + 100]]):
            found[conv.conversation_id] = conv
    return found


def notes_since(ws: str, since: str) -> list[ClusterNoteItem]:
    return list(ClusterNoteItem.query(keys.cluster_notes(ws), ClusterNoteItem.sk >= since))


def put_note(ws: str, cluster_id: str, conv_ids: list[str], customers: int, *, now: datetime) -> None:
    at = iso(now)
    typed(ClusterNoteItem, keys.cluster_notes(ws), f"{at}#{cluster_id}", workspace_id=ws, cluster_id=cluster_id,
          conversation_ids=conv_ids, customers=customers, at=at, expires_at=epoch(now + KEEP)).save()
