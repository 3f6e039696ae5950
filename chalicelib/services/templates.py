"""Reply templates (FEATURES B7): the administrator keeps a workspace's templates, operators insert them with a
`/shortcut` in the reply box. Variables (`{customer_name}`, `{operator_name}`, `{workspace_name}`) are filled in by
the console when the text is inserted, so the operator sees and can edit the final text before sending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.model import new_id
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import templates as store
from chalicelib.store.models import TemplateItem

MAX_TITLE = 80
MAX_TEXT = 4000
MAX_SHORTCUT = 30
SHORTCUT = re.compile(r"[a-z0-9_-]+")
VARIABLES = ("customer_name", "operator_name", "workspace_name")


@dataclass(frozen=True)
class TemplateFields:
    title: str
    text: str
    shortcut: str


def _text_field(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} is required (a non-empty string)", details={"field": name})
    if len(value) > limit:
        raise InvalidInput(f"{name} must be at most {limit} characters", details={"field": name})
    return value


def parse_fields(body: dict[str, Any]) -> TemplateFields:
    """The request body as a template's fields, or a 400 that names the first wrong field."""
    title = _text_field(body, "title", MAX_TITLE).strip()
    text = _text_field(body, "text", MAX_TEXT)
    shortcut = _text_field(body, "shortcut", MAX_SHORTCUT).strip()
    if not SHORTCUT.fullmatch(shortcut):
        raise InvalidInput("shortcut may hold only a-z, 0-9, _ and -", details={"field": "shortcut"})
    return TemplateFields(title, text, shortcut)


def _check_unique(ws: str, shortcut: str, template_id: str | None) -> None:
    if any(t.shortcut == shortcut and t.template_id != template_id for t in store.list_templates(ws)):
        raise Conflict(f"the shortcut /{shortcut} is taken in this workspace", code="shortcut_taken",
                       details={"field": "shortcut"})


def list_templates(ws: str) -> list[TemplateItem]:
    return sorted(store.list_templates(ws), key=lambda t: (t.shortcut, t.template_id))


def create_template(d: Deps, ws: str, body: dict[str, Any], *, created_by: str) -> TemplateItem:
    fields = parse_fields(body)
    _check_unique(ws, fields.shortcut, None)
    item = store.put_new_template(ws, new_id("tpl_", d.now()), title=fields.title, text=fields.text,
                                  shortcut=fields.shortcut, created_by=created_by, now=d.now())
    logger.info("template created", extra={"workspace_id": ws, "template_id": item.template_id})
    return item


def update_template(d: Deps, ws: str, template_id: str, body: dict[str, Any]) -> TemplateItem:
    item = require_template(ws, template_id)  # another workspace's id is simply not found
    fields = parse_fields(body)
    _check_unique(ws, fields.shortcut, template_id)
    store.replace_template(item, title=fields.title, text=fields.text, shortcut=fields.shortcut, now=d.now())
    logger.info("template changed", extra={"workspace_id": ws, "template_id": template_id})
    return item


def delete_template(ws: str, template_id: str) -> None:
    store.delete_template(ws, template_id)
    logger.info("template deleted", extra={"workspace_id": ws, "template_id": template_id})


def require_template(ws: str, template_id: str) -> TemplateItem:
    item = store.get_template(ws, template_id)
    if item is None:
        raise NotFound("template not found")
    return item


def ensure_templates(d: Deps, ws: str, seeds: list[dict[str, str]], *, created_by: str) -> int:
    """Create `seeds` only if the workspace has no template yet (idempotent: the demo seed runs on every start)."""
    if store.list_templates(ws):
        return 0
    for body in seeds:
        create_template(d, ws, body, created_by=created_by)
    return len(seeds)


def template_json(item: TemplateItem) -> dict[str, Any]:
    return {"id": item.template_id, "title": item.title, "text": item.text, "shortcut": item.shortcut,
            "created_by": item.created_by or None, "created_at": item.created_at, "updated_at": item.updated_at}
