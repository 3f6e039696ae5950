"""Search. The full-text search over all history (B1, below `find`): the stream feeds one index per workspace
(`on_change`), the API asks it (`find`). Above it, the older inbox filter: a conversation's `search_text`
(domain/search.py) kept true when its name, title or tags change.

Set when the conversation is created; a later change (tags by an operator, the customer's name from the widget or
the client card) is noticed on the stream and written once. That write changes none of the inputs, so the
record it causes writes nothing more.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from chalicelib import safejson
from chalicelib.api.serialize import conversation_json
from chalicelib.domain import search
from chalicelib.domain.model import stable_hash
from chalicelib.errors import AppError, InvalidInput
from chalicelib.search import analyze, documents
from chalicelib.search.index import KINDS, Filter, Op, delete
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import ArticleItem, ContactItem, ConversationItem, MainItem, MessageItem


def wanted_text(conv: ConversationItem) -> str:
    return search.search_text(conv.contact_name, conv.contact_username or "", conv.title, conv.tags or [])


def reindex(conv: ConversationItem) -> None:
    text = wanted_text(conv)
    if text != (conv.search_text or ""):
        repo.set_search_text(conv.workspace_id or "", conv.conversation_id, text)


# --- the full-text search over all history (B1, chalicelib/search) ------------------------------------------------

PAGE_MAX = 50
MAX_OFFSET = 1000  # ten pages of 100: past that, refine the query
SEARCH_MIN = 2


@dataclass(frozen=True)
class SearchRequest:
    text: str
    query: analyze.Query
    kinds: tuple[str, ...]
    limit: int
    offset: int


def _fingerprint(text: str, kinds: tuple[str, ...]) -> str:
    return stable_hash(analyze.normalise(text.strip()), ",".join(kinds), length=10)


def parse_request(text: str | None, kind: str | None, limit: str | None, cursor: str | None) -> SearchRequest:
    """The query string's parameters, or a 400 that says which one is wrong (nothing is read before)."""
    raw = text or ""
    if not SEARCH_MIN <= len(raw.strip()) <= analyze.MAX_QUERY:
        raise InvalidInput(f"q must be {SEARCH_MIN}..{analyze.MAX_QUERY} characters", details={"field": "q"})
    query = analyze.parse_query(raw)
    if not query.terms:
        raise InvalidInput("q must contain a word or a number", details={"field": "q"})
    kinds = tuple(dict.fromkeys(k.strip() for k in (kind or "").split(",") if k.strip())) or KINDS
    if any(k not in KINDS for k in kinds):
        raise InvalidInput(f"kind must be one or more of {', '.join(KINDS)}", details={"field": "kind"})
    size = limit or "20"
    if not size.isdigit() or not 1 <= int(size) <= PAGE_MAX:
        raise InvalidInput(f"limit must be 1..{PAGE_MAX}", details={"field": "limit"})
    offset = _offset(cursor, _fingerprint(raw, kinds)) if cursor else 0
    return SearchRequest(raw, query, kinds, int(size), offset)


def _offset(cursor: str, fingerprint: str) -> int:
    try:
        value = safejson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, AppError) as err:
        raise InvalidInput("invalid cursor", details={"field": "cursor"}) from err
    if (not isinstance(value, dict) or value.get("h") != fingerprint or not isinstance(value.get("o"), int)
            or not 0 < value["o"] <= MAX_OFFSET):
        raise InvalidInput("invalid cursor (it belongs to another query)", details={"field": "cursor"})
    return int(value["o"])


def _cursor(req: SearchRequest, offset: int) -> str:
    body = json.dumps({"o": offset, "h": _fingerprint(req.text, req.kinds)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def find(d: Deps, ws: str, req: SearchRequest, *, drafts: bool) -> dict[str, Any]:
    """One page of hits, best first: each with its conversation (or client card, or article) and a snippet of the
    original text with the matching words marked by offsets. One DynamoDB BatchGet for the page's conversations;
    a client card's hit also reads that client's conversations (one Query per card on the page)."""
    hits = d.search.search(ws, req.query, Filter(req.kinds, drafts), limit=req.limit + 1, offset=req.offset)
    more = len(hits) > req.limit and req.offset + req.limit < MAX_OFFSET
    hits = hits[:req.limit]
    latest: dict[str, str] = {}
    for hit in hits:
        if hit.doc.kind == "contact" and hit.doc.contact_id not in latest:
            history = repo.contact_history(ws, hit.doc.contact_id)[1]
            latest[hit.doc.contact_id] = history[0].conversation_id if history else ""
    conv_ids = {h.doc.conversation_id or latest.get(h.doc.contact_id, "") for h in hits} - {""}
    conversations = {c.conversation_id: c for c in repo.get_conversations(ws, sorted(conv_ids))}
    items = []
    for hit in hits:
        doc = hit.doc
        conv = conversations.get(doc.conversation_id or latest.get(doc.contact_id, ""))
        text, marks = analyze.snippet(doc.body, req.query)
        if not marks and doc.title:  # the title matched (an article, a subject, a name): show that
            text, marks = analyze.snippet(doc.title, req.query)
        items.append({
            "kind": doc.kind, "score": round(hit.score, 4), "at": doc.at or None,
            "conversation": conversation_json(conv) if conv else None,
            "message_id": doc.message_id or None, "direction": doc.direction or None, "hidden": doc.hidden,
            "contact": {"id": doc.contact_id, "name": doc.title} if doc.kind == "contact" else None,
            "article": {"id": doc.article_id, "title": doc.title, "language": doc.language,
                        "status": "published" if doc.published else "draft"} if doc.kind == "article" else None,
            "title": doc.title, "snippet": text, "marks": [list(m) for m in marks],
        })
    return {"items": items, "next_cursor": _cursor(req, req.offset + req.limit) if more else None}


def on_change(d: Deps, new: MainItem | None, old: MainItem | None) -> None:
    """The stream's feed of the index: what a changed item makes searchable (search/documents.py)."""
    ops: list[Op] = []
    if isinstance(new, MessageItem):
        ops = documents.message_ops(new, old if isinstance(old, MessageItem) else None)
    elif isinstance(new, ContactItem):
        ops = documents.contact_ops(new, old if isinstance(old, ContactItem) else None)
    elif isinstance(new, ConversationItem):
        ops = documents.conversation_ops(new, old if isinstance(old, ConversationItem) else None)
    elif isinstance(new, ArticleItem):
        ops = documents.article_ops(new, old if isinstance(old, ArticleItem) else None, article_id=new.article_id)
    if ops and new is not None:
        d.search.add(new.workspace_id or "", ops)


def on_remove(d: Deps, old: MainItem) -> None:
    """An item deleted from the table (an article, a merged card) leaves the index too."""
    ops: list[Op] = []
    if isinstance(old, ArticleItem):
        ops = documents.article_ops(None, old, article_id=old.article_id)
    elif isinstance(old, MessageItem):
        ops = [delete(documents.message_doc_id(old.conversation_id, old.message_id))]
    elif isinstance(old, ContactItem):
        ops = [delete(documents.contact_doc_id(documents.contact_id_of(old)))]
    elif isinstance(old, ConversationItem):
        ops = [delete(documents.conversation_doc_id(old.conversation_id))]
    if ops:
        d.search.add(old.workspace_id or "", ops)


def reindex_workspace(d: Deps, ws: str) -> int:
    """Index a workspace's whole history again (data written before the index existed, or a lost index): every
    conversation of every status, its messages, its client's card, and the articles. Puts replace, so running it
    twice, or while the stream feeds the index, leaves the same index. Returns the documents written."""
    from chalicelib.services import team as team_service
    from chalicelib.store import knowledge as kb_store

    written = 0
    contacts: set[str] = set()

    def add(ops: list[Op]) -> None:
        nonlocal written
        if ops:
            d.search.add(ws, ops)
            written += sum(op.action == "put" for op in ops)

    for status in (*team_service.statuses_of(ws), "snoozed"):
        cursor: str | None = None
        while True:
            page = repo.query_inbox(ws, status=status, limit=100, cursor=cursor)
            for conv in page.items:
                add(documents.conversation_ops(conv, None))
                if conv.contact_id not in contacts:
                    contacts.add(conv.contact_id)
                    contact = repo.get_contact(ws, conv.contact_id)
                    if contact is not None:
                        add(documents.contact_ops(contact, None))
                before: str | None = None
                while True:
                    messages, before = repo.list_messages(ws, conv.conversation_id, limit=200, before=before)
                    add([op for m in messages for op in documents.message_ops(m, None)])
                    if not before:
                        break
            cursor = page.cursor
            if not cursor:
                break
    for article in kb_store.list_articles(ws):
        add(documents.article_ops(article, None, article_id=article.article_id))
    d.search.flush()
    return written
