"""Repository functions of reply templates (B7): one partition per workspace (`WS#<ws>#TEMPLATES`), so a single
query lists a workspace's templates and every read or write is scoped by the caller's workspace."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from chalicelib.domain.model import iso
from chalicelib.errors import NotFound
from chalicelib.store import keys
from chalicelib.store.base import condition_failed
from chalicelib.store.models import TYPE_OF, TemplateItem


def list_templates(ws: str) -> list[TemplateItem]:
    """Every template of the workspace, in id order (one query, consistent: an edit shows at once)."""
    hash_key = keys.templates(ws)
    return list(TemplateItem.query(hash_key, TemplateItem.sk.startswith("TEMPLATE#"), consistent_read=True))


def get_template(ws: str, template_id: str) -> TemplateItem | None:
    pk, sk = keys.template(ws, template_id)
    try:
        return TemplateItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def put_new_template(ws: str, template_id: str, *, title: str, text: str, shortcut: str, created_by: str,
                     now: datetime) -> TemplateItem:
    pk, sk = keys.template(ws, template_id)
    item = TemplateItem(pk, sk, type=TYPE_OF[TemplateItem], workspace_id=ws, created_at=iso(now),
                        template_id=template_id, title=title, text=text, shortcut=shortcut,
                        created_by=created_by, updated_at=iso(now))
    item.save(condition=TemplateItem.pk.does_not_exist())
    return item


def replace_template(item: TemplateItem, *, title: str, text: str, shortcut: str, now: datetime) -> TemplateItem:
    """Overwrite the fields of a template that still exists (a concurrent delete wins: 404)."""
    item.title, item.text, item.shortcut, item.updated_at = title, text, shortcut, iso(now)
    try:
        item.save(condition=TemplateItem.pk.exists())
    except PutError as err:
        if condition_failed(err):
            raise NotFound("template not found") from err
        raise
    return item


def delete_template(ws: str, template_id: str) -> None:
    pk, sk = keys.template(ws, template_id)
    try:
        TemplateItem(pk, sk).delete(condition=TemplateItem.pk.exists())
    except DeleteError as err:
        if condition_failed(err):
            raise NotFound("template not found") from err
        raise
