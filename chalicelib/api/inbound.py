"""The integration inbound API (A9)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.services import integration

bp = Blueprint(__name__)


@route(bp, "/inbound", "POST", permission="inbound:write", tag="integration",
       summary="Create a customer message from any source (CRM, in-product chat); repeats are stored once",
       request=schemas.INBOUND, status=202)
def post_inbound(ctx: Ctx) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    request_id = (ctx.request.context or {}).get("requestId", "")
    return integration.receive(ctx.deps, ctx.principal, body, request_id)  # type: ignore[arg-type]
