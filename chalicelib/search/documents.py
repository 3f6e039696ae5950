"""What of a changed item goes into the search index (B1, H1): one document per message, note, client card,
conversation (its title and tags) and article, or its removal. Pure: items in, operations out.

A change that touches nothing searchable gives no operation, so a message's delivery status, a conversation's
counters or a card's avatar cost no index write. Deleted messages leave the index; a hidden comment stays
(staff still see it in the thread) and its hits say `hidden`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.search import analyze
from chalicelib.search.index import Doc, Op, delete, put

MAX_BODY = 20_000  # characters of one document that are indexed (an e-mail's quoted history past that is not)


def message_doc_id(conv_id: str, message_id: str) -> str:
    return f"m:{conv_id}:{message_id}"


def contact_doc_id(contact_id: str) -> str:
    return f"c:{contact_id}"


def conversation_doc_id(conv_id: str) -> str:
    return f"v:{conv_id}"


def article_doc_id(article_id: str) -> str:
    return f"a:{article_id}"


def _doc(doc_id: str, kind: str, title: str, body: str, **fields: Any) -> Doc:
    body = body[:MAX_BODY]
    return Doc(doc_id=doc_id, kind=kind, title=title, body=body, title_stems=analyze.index_text(title),
               body_stems=analyze.index_text(body) + fields.pop("extra_stems", ""), **fields)


def message_ops(new: Any, old: Any | None) -> list[Op]:
    """A message: indexed when its text, deletion or hiding changes (customers', operators' and notes)."""
    if new.direction not in ("in", "out", "note"):
        return []
    doc_id = message_doc_id(new.conversation_id, new.message_id)
    if old is not None and (old.text, old.deleted, old.hidden) == (new.text, new.deleted, new.hidden):
        return []
    if new.deleted or not (new.text or "").strip():
        return [delete(doc_id)] if old is not None else []
    return [put(_doc(doc_id, "note" if new.direction == "note" else "message", "", new.text,
                     conversation_id=new.conversation_id, message_id=new.message_id,
                     at=new.occurred_at or new.created_at or "", direction=new.direction, hidden=bool(new.hidden)))]


def contact_fields(contact: Any) -> list[tuple[str, str]]:
    fields = [("name", contact.display_name or ""), ("username", contact.username or ""),
              ("phone", contact.phone or ""), ("email", contact.email or ""), ("notes", contact.notes or "")]
    custom = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
    fields += [(str(k), str(v)) for k, v in sorted(custom.items()) if v not in (None, "")]
    return [(k, v) for k, v in fields if v.strip()]


def contact_ops(new: Any, old: Any | None) -> list[Op]:
    """A client card: its name is the title; phone, e-mail, username, notes and custom fields the body."""
    fields = contact_fields(new)
    if old is not None and contact_fields(old) == fields:
        return []
    doc_id = contact_doc_id(contact_id_of(new))
    if not fields:
        return [delete(doc_id)]
    body = "\n".join(f"{k}: {v}" for k, v in fields if k != "name")
    digits = analyze.phone_digits(new.phone or "")
    return [put(_doc(doc_id, "contact", new.display_name or "", body, contact_id=contact_id_of(new),
                     at=new.changed_at or new.created_at or "", extra_stems=f" {digits}" if digits else ""))]


def contact_id_of(contact: Any) -> str:
    return str(contact.pk).rsplit("#CONTACT#", 1)[-1]


def conversation_ops(new: Any, old: Any | None) -> list[Op]:
    """A conversation's title (an e-mail's subject) and tags: found even before anyone wrote a word."""
    wanted = (new.title or "", tuple(new.tags or []))
    if old is not None and (old.title or "", tuple(old.tags or [])) == wanted:
        return []
    doc_id = conversation_doc_id(new.conversation_id)
    title, tags = wanted
    if not title and not tags:
        return [delete(doc_id)] if old is not None else []
    return [put(_doc(doc_id, "conversation", title, " ".join(f"#{t}" for t in tags),
                     conversation_id=new.conversation_id, contact_id=new.contact_id, at=new.created_at or ""))]


def article_ops(new: Any | None, old: Any | None, *, article_id: str) -> list[Op]:
    """An article: one document per language version (its category searchable in the first one, so a category
    match is one hit); a removed version or article leaves the index."""
    if new is not None and old is not None and _searchable(new) == _searchable(old):
        return []  # a use counted, nothing searchable changed
    ops: list[Op] = []
    versions = (new.versions or {}) if new is not None else {}
    before = (old.versions or {}) if old is not None else {}
    first = min((lang for lang in versions if isinstance(versions[lang], dict)), default="")
    for lang in sorted(set(versions) | set(before)):
        doc_id = f"{article_doc_id(article_id)}:{lang}"
        version = versions.get(lang)
        if not isinstance(version, dict) or new is None:
            ops.append(delete(doc_id))
            continue
        ops.append(put(_doc(doc_id, "article", str(version.get("title", "")), str(version.get("body", "")),
                            article_id=article_id, at=new.updated_at or new.created_at or "",
                            published=new.status == "published", language=lang,
                            extra_stems=" " + analyze.index_text(new.category or "") if lang == first else "")))
    return ops


def _searchable(article: Any) -> tuple[Any, ...]:
    return (article.versions, article.status, article.category)
