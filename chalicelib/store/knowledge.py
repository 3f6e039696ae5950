"""Repository functions of the knowledge base (H1): one partition per workspace (`WS#<ws>#ARTICLES`) holds its
articles (`ARTICLE#<id>`) and the replies that used them (`USE#<article>#<message>`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from chalicelib.domain.model import iso
from chalicelib.errors import Conflict, NotFound
from chalicelib.store import keys
from chalicelib.store.base import condition_failed, epoch, transact_if, typed
from chalicelib.store.models import ArticleItem, ArticleUseItem

USE_TTL = timedelta(days=8)


def list_articles(ws: str) -> list[ArticleItem]:
    """Every article of the workspace (one query of its partition, consistent: an edit shows at once)."""
    return list(ArticleItem.query(keys.articles(ws), ArticleItem.sk.startswith("ARTICLE#"), consistent_read=True))


def get_article(ws: str, article_id: str) -> ArticleItem | None:
    pk, sk = keys.article(ws, article_id)
    try:
        return ArticleItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def put_new_article(ws: str, article_id: str, *, fields: dict[str, Any], created_by: str, now: datetime
                    ) -> ArticleItem:
    pk, sk = keys.article(ws, article_id)
    item: ArticleItem = typed(ArticleItem, pk, sk, workspace_id=ws, article_id=article_id, created_at=iso(now),
                              created_by=created_by, updated_at=iso(now), updated_by=created_by, revision=1,
                              uses=0, **fields)
    item.save(condition=ArticleItem.pk.does_not_exist())
    return item


def replace_article(item: ArticleItem, *, fields: dict[str, Any], revision: int, by: str, now: datetime
                    ) -> ArticleItem:
    """Overwrite an article's fields if it is still at `revision` (409 `stale` otherwise; 404 when deleted)."""
    actions = [getattr(ArticleItem, name).set(value) if value is not None else getattr(ArticleItem, name).remove()
               for name, value in fields.items()]
    actions += [ArticleItem.revision.set(revision + 1), ArticleItem.updated_at.set(iso(now)),
                ArticleItem.updated_by.set(by)]
    try:
        item.update(actions=actions, condition=ArticleItem.pk.exists() & (ArticleItem.revision == revision))
    except UpdateError as err:
        if not condition_failed(err):
            raise
        if get_article(item.workspace_id or "", item.article_id) is None:
            raise NotFound("article not found") from err
        raise Conflict("the article was changed meanwhile: reload it", code="stale") from err
    return item


def delete_article(ws: str, article_id: str) -> None:
    pk, sk = keys.article(ws, article_id)
    try:
        ArticleItem(pk, sk).delete(condition=ArticleItem.pk.exists())
    except DeleteError as err:
        if condition_failed(err):
            raise NotFound("article not found") from err
        raise


def count_use(ws: str, article_id: str, message_id: str, *, now: datetime) -> bool:
    """+1 use, once per (article, reply): the use item's condition makes a replay cancel the transaction.
    False when it was counted before or the article is gone."""
    pk, sk = keys.article_use(ws, article_id, message_id)
    use: ArticleUseItem = typed(ArticleUseItem, pk, sk, workspace_id=ws, article_id=article_id,
                                message_id=message_id, created_at=iso(now), expires_at=epoch(now + USE_TTL))
    apk, ask = keys.article(ws, article_id)

    def build(tx: Any) -> None:
        tx.save(use, condition=ArticleUseItem.pk.does_not_exist())
        tx.update(ArticleItem(apk, ask), actions=[ArticleItem.uses.add(1)], condition=ArticleItem.pk.exists())

    return transact_if(build)
