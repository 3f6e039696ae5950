"""The `api` channel: messages that arrive through the integration inbound API (FEATURES A9).

There is no provider to send to: replies stay in Zabota, where the integration reads them through the REST
API (outgoing webhooks, E5, will push them). `send_text` therefore records the reply as delivered to us.
"""

from __future__ import annotations

from typing import Any

from chalicelib.channels.base import ConvRef, FetchedMedia, OutboundMedia, SendResult, WebhookRequest, WebhookResult
from chalicelib.domain.model import Channel
from chalicelib.errors import NotSupported


class ApiAdapter:
    kind = "api"
    capabilities = frozenset({"text", "images", "documents"})

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        raise NotSupported("the api channel receives messages through POST /api/inbound")

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None,
                  idempotency_key: str) -> SendResult:
        return SendResult(external_message_id=f"api-{idempotency_key}")

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None,
                   reply_to: str | None, idempotency_key: str) -> SendResult:
        return SendResult(external_message_id=f"api-{idempotency_key}")

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        raise NotSupported("api attachments arrive already stored")

    def register_webhook(self, channel: Channel, url: str) -> None:
        return None

    def check_health(self, channel: Channel) -> dict[str, Any]:
        return {"ok": True}
