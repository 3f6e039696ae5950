"""Provider webhooks: `POST /webhooks/{kind}/{channel_id}`. Thin: verify, dedupe, store, acknowledge."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import PUBLIC, Ctx, route
from chalicelib.channels.base import WebhookRequest
from chalicelib.domain.model import iso
from chalicelib.services.webhooks import receive_webhook

bp = Blueprint(__name__)

WEBHOOK_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


@route(bp, "/webhooks/{kind}/{channel_id}", "POST", permission=PUBLIC, tag="webhooks",
       summary="A provider's webhook (authenticated by the channel's secret or signature)",
       content_types=WEBHOOK_TYPES, max_body=512 * 1024)  # an SES mail over SNS nears 256 KB; SNS never retries 413
def post_webhook(ctx: Ctx, kind: str, channel_id: str) -> Response:
    return _handle(ctx, kind, channel_id)


@route(bp, "/webhooks/{kind}/{channel_id}", "GET", permission=PUBLIC, tag="webhooks",
       summary="A provider's verification handshake (Meta: hub.mode / hub.verify_token / hub.challenge)",
       query={"hub.mode": {"type": "string"}, "hub.verify_token": {"type": "string"},
              "hub.challenge": {"type": "string"}})
def get_webhook(ctx: Ctx, kind: str, channel_id: str) -> Response:
    return _handle(ctx, kind, channel_id)


def _handle(ctx: Ctx, kind: str, channel_id: str) -> Response:
    req = ctx.request
    request = WebhookRequest(
        method=req.method, headers=ctx.headers, query=dict(req.query_params or {}), raw_body=req.raw_body or b"",
        request_id=(req.context or {}).get("requestId", ""), received_at=iso(ctx.deps.now()),
        source_ip=((req.context or {}).get("identity") or {}).get("sourceIp") or "",
    )
    result = receive_webhook(ctx.deps, kind, channel_id, request)
    return Response(body=result.body, status_code=result.status, headers={"Content-Type": result.content_type})
