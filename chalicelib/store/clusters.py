"""Repeat-request detection (H2) in DynamoDB: the recent customer messages and the sudden clusters already announced.

The recent messages are not items of their own: each stream batch's customer messages (the first 300 characters)
ride in the batch's counter delta item (store/analytics.py, one item per workspace per batch, written anyway), and
a window is one Query of those items by time. A replayed or bisected batch may carry a message twice: readers keep
one per message id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.model import iso, parse_iso
from chalicelib.store import analytics, keys
from chalicelib.store.base import epoch, typed
from chalicelib.store.models import ClusterNoteItem, ConversationItem, MessageItem

KEEP = timedelta(hours=2)
TEXT_LIMIT = 300
SLACK = timedelta(minutes=5)  # a batch's item is keyed by its first change: its later messages may be newer


@dataclass(frozen=True)
class Recent:
    conversation_id: str
    message_id: str
    contact_id: str
    text: str
    at: str


def entry(message: MessageItem, *, now: datetime) -> list[str]:
    """What a batch's item carries of a customer message."""
    return [message.conversation_id, message.message_id, message.author_id or "", message.created_at or iso(now),
            (message.text or "")[:TEXT_LIMIT]]


def recent_since(ws: str, since: str, pending: list[list[str]] | None = None) -> list[Recent]:
    """The customer messages since `since`, oldest first, one per message (and `pending`: a batch not written yet)."""
    try:
        low = parse_iso(since) - SLACK
    except ValueError:
        return []
    found: dict[str, Recent] = {}
    for conv, message, contact, at, text in [*analytics.recent_entries(ws, low), *(pending or [])]:
        if at >= since:
            found.setdefault(message, Recent(conv, message, contact, text, at))
    return sorted(found.values(), key=lambda r: (r.at, r.message_id))


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
