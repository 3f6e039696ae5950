"""Receive a provider webhook: find the channel, let its adapter verify and normalise, store each new event.

The path is thin on purpose (ARCHITECTURE.md): one channel read (cached while warm) and one conditional put
per event. Everything else happens from the stream.

An authenticated payload that misses what the adapter needs (`InvalidPayload`) is never stored. Whether it is
acknowledged or refused follows the provider's retry rules (`registry.WEBHOOK_RULES`, docs/CHANNELS.md):
Telegram, VK, OK and Meta resend anything but a 2xx for hours or days (Telegram holds back every later update
meanwhile), so they get their usual acknowledgement, marked `X-Zabota-Ignored: <code>`; SNS never retries a
4xx, so e-mail gets 422 with the reason.
"""

from __future__ import annotations

from chalicelib.channels.base import WebhookRequest, WebhookResult
from chalicelib.channels.registry import WEBHOOK_RULES
from chalicelib.domain.model import Channel, InboundEvent, pointer_of, queued_by_pointer
from chalicelib.errors import InvalidPayload, NotFound
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo


def channel_for_webhook(kind: str, channel_id: str) -> Channel:
    channel = repo.get_channel(channel_id)
    if channel is None or channel.kind != kind or not channel.enabled:
        raise NotFound(f"no {kind} channel {channel_id}")
    return channel




def receive_webhook(d: Deps, kind: str, channel_id: str, request: WebhookRequest) -> WebhookResult:
    channel = channel_for_webhook(kind, channel_id)
    try:
        result = d.adapters.get(kind).parse_webhook(channel, request)
    except InvalidPayload as err:
        acknowledge = WEBHOOK_RULES[kind].acknowledge
        if acknowledge is None:
            raise
        logger.warning("webhook payload not stored", extra={"kind": kind, "channel_id": channel_id,
                                                            "code": err.code, "reason": err.message})
        return WebhookResult(status=200, body=acknowledge, ignored=err.code)
    for event in result.events:  # a customer's message is stored under its provider-id pointer (one write, 2 uses)
        pointer = pointer_of(event) if queued_by_pointer(event) else None
        stored = repo.put_inbound(event, now=d.now(), pointer=pointer)
        logger.info("inbound event", extra={"kind": kind, "channel_id": channel_id, "duplicate": not stored,
                                            "external_event_id": event.external_event_id})
    return result


def store_events(d: Deps, events: list[InboundEvent]) -> list[bool]:
    """Store events that did not come through a provider webhook (integration API). True: new."""
    return [repo.put_inbound(e, now=d.now()) for e in events]
