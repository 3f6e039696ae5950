"""Full-text search over all history (B1) and the knowledge base (H1): every role that reads conversations
searches them; admins and moderators write articles, everyone reads the published ones (docs/PERMISSIONS.md)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.auth.permissions import allowed
from chalicelib.search.index import KINDS
from chalicelib.services import knowledge, search

bp = Blueprint(__name__)

HIT = {"type": "object", "properties": {
    "kind": {"enum": list(KINDS)}, "score": {"type": "number", "description": "bm25: higher is better"},
    "at": {"type": ["string", "null"]},
    "conversation": {"anyOf": [schemas.CONVERSATION, {"type": "null"}],
                     "description": "where the hit is (a client card's hit: the client's newest conversation)"},
    "message_id": {"type": ["string", "null"]}, "direction": {"type": ["string", "null"]},
    "hidden": {"type": "boolean", "description": "a comment hidden from the public at the network"},
    "contact": {"type": ["object", "null"]}, "article": {"type": ["object", "null"]},
    "title": {"type": "string"},
    "snippet": {"type": "string", "description": "plain text around the first match (never HTML)"},
    "marks": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
              "description": "[start, end) of each matching word in `snippet`"}}}
SEARCH_QUERY = {
    "q": {"type": "string", "minLength": 2, "maxLength": 200, "description": "words (Russian and English stems, "
          "ё = е); every word must match; the last matches as a prefix unless followed by a space"},
    "kind": {"type": "string", "description": f"comma-separated, any of {', '.join(KINDS)} (default: all)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": search.PAGE_MAX, "default": 20},
    "cursor": {"type": "string", "description": "next_cursor of the previous page of the same query"},
}
VERSION = {"type": "object", "required": ["title"], "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": knowledge.MAX_TITLE},
    "body": {"type": "string", "maxLength": knowledge.MAX_BODY, "description": "Markdown"}}}
ARTICLE_WRITE = {"type": "object", "required": ["versions"], "properties": {
    "category": {"type": "string", "maxLength": knowledge.MAX_CATEGORY},
    "status": {"enum": list(knowledge.STATUSES), "default": "draft"},
    "versions": {"type": "object", "minProperties": 1, "additionalProperties": False,
                 "properties": {lang: VERSION for lang in knowledge.LANGUAGES}},
    "url": {"type": ["string", "null"], "maxLength": knowledge.MAX_URL,
            "description": "where customers read it: inserted into a reply as a link"},
    "revision": {"type": "integer", "minimum": 1, "description": "PUT: the revision edited (409 stale otherwise)"}}}
ARTICLE = {"type": "object", "properties": {
    "id": {"type": "string"}, "category": {"type": "string"}, "status": {"enum": list(knowledge.STATUSES)},
    "versions": {"type": "object"}, "url": {"type": ["string", "null"]},
    "uses": {"type": "integer", "description": "sent replies that used it"}, "revision": {"type": "integer"},
    "created_by": {"type": ["string", "null"]}, "created_at": {"type": ["string", "null"]},
    "updated_at": {"type": ["string", "null"]}, "updated_by": {"type": ["string", "null"]}}}
ARTICLES = {"type": "object", "properties": {"items": {"type": "array", "items": ARTICLE},
                                             "categories": {"type": "array", "items": {"type": "string"}},
                                             "next_cursor": {"type": ["string", "null"]}}}


def _editor(ctx: Ctx) -> bool:
    return ctx.principal is not None and allowed(ctx.principal.role, "articles:write")


@route(bp, "/search", "GET", permission="conversations:read", tag="search",
       summary="Search every message, note, client card and article, best match first", query=SEARCH_QUERY,
       response={"type": "object", "properties": {"items": {"type": "array", "items": HIT},
                                                  "next_cursor": {"type": ["string", "null"]}}})
def get_search(ctx: Ctx) -> dict[str, Any]:
    req = search.parse_request(ctx.query("q"), ctx.query("kind"), ctx.query("limit"), ctx.query("cursor"))
    return search.find(ctx.deps, ctx.workspace_id, req, drafts=_editor(ctx))


@route(bp, "/articles", "GET", permission="articles:read", tag="knowledge",
       summary="The knowledge base's articles by category (drafts only for those who edit them)",
       query={"status": {"enum": list(knowledge.STATUSES)}, "category": {"type": "string"}}, response=ARTICLES)
def list_articles(ctx: Ctx) -> dict[str, Any]:
    items = knowledge.list_articles(ctx.workspace_id, editor=_editor(ctx), status=ctx.query("status"),
                                    category=ctx.query("category"))
    every = knowledge.list_articles(ctx.workspace_id, editor=_editor(ctx))
    return {"items": [knowledge.article_json(a) for a in items], "next_cursor": None,
            "categories": sorted({a.category for a in every if a.category}, key=str.lower)}


@route(bp, "/articles", "POST", permission="articles:write", tag="knowledge",
       summary="Write an article (a draft unless status is published)", request=ARTICLE_WRITE, response=ARTICLE,
       status=201)
def post_article(ctx: Ctx) -> dict[str, Any]:
    assert ctx.principal is not None
    item = knowledge.create_article(ctx.deps, ctx.workspace_id, json_object(ctx.request.raw_body),
                                    by=ctx.principal.subject)
    return knowledge.article_json(item)


@route(bp, "/articles/{article_id}", "GET", permission="articles:read", tag="knowledge",
       summary="One article", response=ARTICLE)
def get_article(ctx: Ctx, article_id: str) -> dict[str, Any]:
    return knowledge.article_json(knowledge.require_article(ctx.workspace_id, article_id, editor=_editor(ctx)))


@route(bp, "/articles/{article_id}", "PUT", permission="articles:write", tag="knowledge",
       summary="Replace an article's category, status, versions and link", request=ARTICLE_WRITE, response=ARTICLE)
def put_article(ctx: Ctx, article_id: str) -> dict[str, Any]:
    assert ctx.principal is not None
    item = knowledge.update_article(ctx.deps, ctx.workspace_id, article_id, json_object(ctx.request.raw_body),
                                    by=ctx.principal.subject)
    return knowledge.article_json(item)


@route(bp, "/articles/{article_id}", "DELETE", permission="articles:write", tag="knowledge",
       summary="Delete an article")
def delete_article(ctx: Ctx, article_id: str) -> dict[str, Any]:
    knowledge.delete_article(ctx.workspace_id, article_id)
    return {"id": article_id, "deleted": True}
