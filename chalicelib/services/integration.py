"""The integration inbound API (A9): a CRM or an in-product chat creates a customer message by API."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain.model import InboundEvent, Sender, iso, new_id, stable_hash
from chalicelib.errors import InvalidInput
from chalicelib.services.channels import ensure_api_channel
from chalicelib.services.deps import Deps
from chalicelib.services.webhooks import store_events


def _text(body: dict[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise InvalidInput(f"{name} must be {'a non-empty' if required else 'a'} string of at most {limit} characters")
    return value.strip()


def receive(d: Deps, principal: Principal, body: dict[str, Any], request_id: str) -> dict[str, Any]:
    sender = body.get("sender")
    if not isinstance(sender, dict):
        raise InvalidInput("sender is required: {id, name, email, phone}")
    text = _text(body, "text", limit=10_000)
    if not text:
        raise InvalidInput("text is required")
    conv = _text(body, "external_conversation_id", required=True)
    ext_msg = _text(body, "external_message_id") or new_id("api")
    channel = ensure_api_channel(d, principal.workspace_id)
    now = iso(d.now())
    event = InboundEvent(
        channel_kind="api", channel_id=channel.id, workspace_id=principal.workspace_id, event_type="message",
        external_event_id=stable_hash(conv, ext_msg, length=32), external_conversation_id=conv,
        external_message_id=ext_msg, text=text, occurred_at=now, received_at=now, correlation_id=request_id,
        conversation_title=_text(body, "source", limit=50),
        sender=Sender(external_user_id=_text(sender, "id", required=True), display_name=_text(sender, "name"),
                      email=_text(sender, "email"), phone=_text(sender, "phone", limit=40)),
    )
    (stored,) = store_events(d, [event])
    return {"event_id": event.external_event_id, "duplicate": not stored, "channel_id": channel.id}
