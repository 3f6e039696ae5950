"""Keeps a conversation's `search_text` (domain/search.py) true when its name, title or tags change.

Set when the conversation is created; a later change (tags by an operator, the customer's name from the widget or
the client card) is noticed on the stream and written once. That write changes none of the inputs, so the
record it causes writes nothing more.
"""

from __future__ import annotations

from chalicelib.domain import search
from chalicelib.store import repo
from chalicelib.store.models import ConversationItem


def wanted_text(conv: ConversationItem) -> str:
    return search.search_text(conv.contact_name, conv.contact_username or "", conv.title, conv.tags or [])


def reindex(conv: ConversationItem) -> None:
    text = wanted_text(conv)
    if text != (conv.search_text or ""):
        repo.set_search_text(conv.workspace_id or "", conv.conversation_id, text)
