"""Inbox search (B1): one normalised text per conversation, matched with DynamoDB's `contains()`.

What is searchable: the customer's name and username, the conversation's title (an e-mail's subject) and its tags,
kept in `search_text` (lower case, ё as е, one space between words); and the last message's preview, matched as
typed, in lower case and capitalised (it changes with every message, so it is not copied into `search_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_QUERY = 100
MIN_QUERY = 2


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("ё", "е")).strip()


def search_text(contact_name: str, username: str, title: str, tags: Iterable[str]) -> str:
    """The searchable words of a conversation, at most 1 KB (the item stays small: it is rewritten per message)."""
    parts = [contact_name, f"@{username}" if username else "", title, *tags]
    return normalise(" ".join(p for p in parts if p))[:1000]


def preview_variants(query: str) -> list[str]:
    """How a query may appear in a preview that is stored as the customer typed it."""
    q = query.strip()
    return list(dict.fromkeys([q, q.lower(), q[:1].upper() + q[1:].lower(), q.upper()]))
