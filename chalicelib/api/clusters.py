"""Repeat requests (H2): the clusters of recent customer messages about the same problem."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Ctx, route
from chalicelib.services import clusters

bp = Blueprint(__name__)

ROW = {"type": "object", "properties": {
    "id": {"type": "string"}, "contact_id": {"type": "string"}, "contact_name": {"type": "string"},
    "channel_id": {"type": "string"}, "channel_kind": {"type": "string"}, "status": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}}, "text": {"type": "string"}, "at": {"type": "string"},
    "surface": {"type": "string"}}}
CLUSTERS = {"type": "object", "properties": {
    "minutes": {"type": "integer"}, "since": {"type": "string"}, "messages_read": {"type": "integer"},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "customers": {"type": "integer", "description": "distinct customers"},
        "terms": {"type": "array", "items": {"type": "string"}, "description": "word stems most of them share"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "first_at": {"type": "string"}, "last_at": {"type": "string"},
        "sudden": {"type": "boolean", "description": f"{clusters.rules.SUDDEN_CUSTOMERS} or more customers within "
                                                     f"{clusters.rules.SUDDEN_MINUTES} minutes"},
        "conversations": {"type": "array", "items": ROW}}}}}}


@route(bp, "/clusters", "GET", permission="conversations:read", tag="conversations", response=CLUSTERS,
       query={"minutes": {"type": "integer", "minimum": 1, "maximum": clusters.MAX_MINUTES,
                          "default": clusters.WINDOW_MINUTES, "description": "how far back (default: the last hour)"}},
       summary="Repeat requests: customers writing about the same problem recently (MinHash over their messages)")
def get_clusters(ctx: Ctx) -> dict[str, Any]:
    return clusters.current(ctx.deps, ctx.workspace_id, minutes=clusters.parse_minutes(ctx.query("minutes")))
