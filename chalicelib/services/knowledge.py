"""The knowledge base (H1): articles for operators, in categories, with ru / en versions in Markdown (the console
renders it with its safe renderer), draft or published. Admins and moderators edit (`articles:write`); everyone
reads the published ones (`articles:read`). From the reply box an operator searches the published articles and
inserts a link or the text; the reply names the articles it used, and each is counted once when the reply is sent
(from the stream, `on_message`).
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.model import new_id
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import knowledge as store
from chalicelib.store.models import ArticleItem, MessageItem

LANGUAGES = ("ru", "en")
STATUSES = ("draft", "published")
MAX_TITLE = 200
MAX_BODY = 20_000
MAX_CATEGORY = 60
MAX_URL = 500
MAX_PER_REPLY = 5
ARTICLE_ID = re.compile(r"art_[0-9a-f]{20}")


def _string(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} is required (a non-empty string)" if required else f"{name} must be a string",
                           details={"field": name})
    if len(value) > limit:
        raise InvalidInput(f"{name} must be at most {limit} characters", details={"field": name})
    return value.strip() if name != "body" else value


def parse_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The request body as an article's stored fields, or a 400 naming the first wrong field."""
    status = body.get("status", "draft")
    if status not in STATUSES:
        raise InvalidInput("status must be draft or published", details={"field": "status"})
    versions = body.get("versions")
    if not isinstance(versions, dict) or not versions:
        raise InvalidInput("versions must hold at least one of ru, en: {title, body}", details={"field": "versions"})
    parsed: dict[str, dict[str, str]] = {}
    for lang, version in versions.items():
        if lang not in LANGUAGES:
            raise InvalidInput(f"versions may only be {', '.join(LANGUAGES)}", details={"field": "versions"})
        if not isinstance(version, dict):
            raise InvalidInput(f"versions.{lang} must be an object {{title, body}}", details={"field": "versions"})
        parsed[lang] = {"title": _string(version, "title", MAX_TITLE, required=True),
                        "body": _string(version, "body", MAX_BODY)}
    url = _string(body, "url", MAX_URL)
    if url and not re.fullmatch(r"https?://[^\s<>\"']+", url):
        raise InvalidInput("url must be an http(s) address", details={"field": "url"})
    return {"category": _string(body, "category", MAX_CATEGORY), "status": status, "versions": parsed,
            "url": url or None}


def parse_revision(body: dict[str, Any]) -> int | None:
    revision = body.get("revision")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool) or revision < 1):
        raise InvalidInput("revision must be the article's revision you edited", details={"field": "revision"})
    return revision


def list_articles(ws: str, *, editor: bool, status: str | None = None, category: str | None = None
                  ) -> list[ArticleItem]:
    if status is not None and status not in STATUSES:
        raise InvalidInput("status must be draft or published")
    if status == "draft" and not editor:
        return []
    items = [a for a in store.list_articles(ws) if (editor or a.status == "published")
             and (status is None or a.status == status) and (category is None or a.category == category)]
    return sorted(items, key=lambda a: (a.category.lower(), _title(a).lower(), a.article_id))


def require_article(ws: str, article_id: str, *, editor: bool) -> ArticleItem:
    item = store.get_article(ws, article_id) if ARTICLE_ID.fullmatch(article_id) else None
    if item is None or (item.status != "published" and not editor):
        raise NotFound("article not found")  # a draft is not there for those who cannot edit it
    return item


def create_article(d: Deps, ws: str, body: dict[str, Any], *, by: str) -> ArticleItem:
    fields = parse_fields(body)
    item = store.put_new_article(ws, new_id("art_", d.now()), fields=fields, created_by=by, now=d.now())
    logger.info("article created", extra={"workspace_id": ws, "article_id": item.article_id})
    return item


def update_article(d: Deps, ws: str, article_id: str, body: dict[str, Any], *, by: str) -> ArticleItem:
    item = require_article(ws, article_id, editor=True)
    fields = parse_fields(body)
    revision = parse_revision(body)
    store.replace_article(item, fields=fields, revision=revision or int(item.revision), by=by, now=d.now())
    logger.info("article changed", extra={"workspace_id": ws, "article_id": article_id})
    return item


def delete_article(ws: str, article_id: str) -> None:
    require_article(ws, article_id, editor=True)
    store.delete_article(ws, article_id)
    logger.info("article deleted", extra={"workspace_id": ws, "article_id": article_id})


def ensure_articles(d: Deps, ws: str, seeds: list[dict[str, Any]], *, by: str) -> int:
    """Create `seeds` only if the workspace has no article yet (idempotent: the demo seed runs on every start)."""
    if store.list_articles(ws):
        return 0
    for body in seeds:
        create_article(d, ws, body, by=by)
    return len(seeds)


def parse_used(value: Any) -> tuple[str, ...]:
    """The `articles` of a reply: ids of the articles it used (counted when it is sent)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_PER_REPLY or not all(
            isinstance(v, str) and ARTICLE_ID.fullmatch(v) for v in value):
        raise InvalidInput(f"articles must be a list of at most {MAX_PER_REPLY} article ids")
    return tuple(dict.fromkeys(value))


def on_message(d: Deps, new: MessageItem, old: MessageItem | None) -> None:
    """A reply that used articles has just been sent: each article +1, once (a replay counts nothing)."""
    if not new.articles or new.direction != "out" or new.status != "sent":
        return
    if old is not None and old.status == "sent":
        return
    for article_id in new.articles:
        store.count_use(new.workspace_id or "", article_id, new.message_id, now=d.now())


def _title(item: ArticleItem) -> str:
    versions = item.versions or {}
    for lang in LANGUAGES:
        if isinstance(versions.get(lang), dict):
            return str(versions[lang].get("title", ""))
    return ""


def article_json(item: ArticleItem) -> dict[str, Any]:
    return {"id": item.article_id, "category": item.category, "status": item.status,
            "versions": item.versions or {}, "url": item.url or None, "uses": int(item.uses or 0),
            "revision": int(item.revision or 1), "created_by": item.created_by or None, "created_at": item.created_at,
            "updated_at": item.updated_at, "updated_by": item.updated_by}
