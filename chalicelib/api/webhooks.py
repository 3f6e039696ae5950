"""Provider webhooks: `/webhooks/{kind}/{channel_id}`. Thin: verify, dedupe, store, acknowledge.

Each kind answers only the methods its provider uses (`registry.WEBHOOK_RULES`): POST for all, plus Meta's
verification GET for WhatsApp, Messenger and Instagram. Any other method is 405 with `Allow`, before the
channel is read; an unknown kind is 404.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import PUBLIC, Ctx, route
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.registry import WEBHOOK_KINDS, WEBHOOK_RULES
from chalicelib.domain.model import iso
from chalicelib.errors import NotFound
from chalicelib.services.webhooks import receive_webhook

bp = Blueprint(__name__)

# SNS posts text/plain; every provider's body is JSON, whatever it is labelled
WEBHOOK_TYPES = ["application/json", "text/plain"]
WEBHOOK_METHODS: dict[str, tuple[str, ...]] = {kind: WEBHOOK_RULES[kind].methods for kind in WEBHOOK_KINDS}
PATH = "/webhooks/{kind}/{channel_id}"


def webhook_methods(params: dict[str, str]) -> tuple[str, ...]:
    kind = params.get("kind", "")
    if kind not in WEBHOOK_METHODS:
        raise NotFound(f"no webhook kind {kind[:16]!r}; kinds: {', '.join(WEBHOOK_KINDS)}")
    return WEBHOOK_METHODS[kind]


@route(bp, PATH, "POST", permission=PUBLIC, tag="webhooks",
       summary="A provider's webhook (authenticated by the channel's secret or signature)",
       content_types=WEBHOOK_TYPES, max_body=512 * 1024,  # an SES mail over SNS nears 256 KB; SNS never retries 413
       allow=webhook_methods, request={"type": "object", "description": "the provider's own payload (CHANNELS.md)"})
def post_webhook(ctx: Ctx, kind: str, channel_id: str) -> Response:
    return _handle(ctx, kind, channel_id)


@route(bp, PATH, "GET", permission=PUBLIC, tag="webhooks",
       summary="Meta's verification handshake (hub.mode / hub.verify_token / hub.challenge); WhatsApp, Messenger "
               "and Instagram only, 405 for other kinds",
       query={"hub.mode": {"type": "string"}, "hub.verify_token": {"type": "string"},
              "hub.challenge": {"type": "string"}}, allow=webhook_methods)
def get_webhook(ctx: Ctx, kind: str, channel_id: str) -> Response:
    return _handle(ctx, kind, channel_id)


def _refuse_method(method: str) -> None:
    def refuse(ctx: Ctx, kind: str, channel_id: str) -> Response:
        raise AssertionError("the guard answers 405 first")  # pragma: no cover - webhook_methods never lists it

    refuse.__name__ = f"{method.lower()}_webhook"
    route(bp, PATH, method, permission=PUBLIC, tag="webhooks", status=405, allow=webhook_methods,
          summary="Not a provider's method: always 405 with Allow (POST, plus GET for Meta's kinds)")(refuse)


for _method in ("PUT", "PATCH", "DELETE"):
    _refuse_method(_method)


def _handle(ctx: Ctx, kind: str, channel_id: str) -> Response:
    req = ctx.request
    request = WebhookRequest(
        method=req.method, headers=ctx.headers, query=dict(req.query_params or {}), raw_body=req.raw_body or b"",
        request_id=(req.context or {}).get("requestId", ""), received_at=iso(ctx.deps.now()),
        source_ip=((req.context or {}).get("identity") or {}).get("sourceIp") or "",
    )
    result = receive_webhook(ctx.deps, kind, channel_id, request)
    headers = {"Content-Type": result.content_type}
    if result.ignored:
        headers["X-Zabota-Ignored"] = result.ignored
    return Response(body=result.body, status_code=result.status, headers=headers)
