"""Connecting channels (A10): create with credentials, register the webhook, check health."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.channels.registry import KINDS, WEBHOOK_KINDS
from chalicelib.domain.model import Channel, iso
from chalicelib.errors import ChannelError, InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo

REQUIRED_CREDENTIALS = {"telegram": ("bot_token",), "api": ()}


def webhook_url(d: Deps, channel: Channel) -> str:
    return f"{d.settings.public_url}/api/webhooks/{channel.kind}/{channel.id}"


def create_channel(d: Deps, workspace_id: str, kind: str, name: str, credentials: dict[str, Any], *,
                   channel_id: str | None = None, register: bool = True) -> Channel:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput("name is required (at most 100 characters)")
    if not isinstance(credentials, dict) or not all(isinstance(v, str) for v in credentials.values()):
        raise InvalidInput("credentials must be an object of strings")
    missing = [c for c in REQUIRED_CREDENTIALS.get(kind, ()) if not credentials.get(c)]
    if missing:
        raise InvalidInput(f"missing credentials: {', '.join(missing)}")
    channel = Channel(
        id=channel_id or f"ch_{secrets.token_hex(6)}", workspace_id=workspace_id, kind=kind, name=name.strip(),
        secrets={**credentials, "webhook_secret": secrets.token_urlsafe(32)}, settings={},
    )
    repo.put_channel(channel, now=d.now())
    if register and kind in WEBHOOK_KINDS:
        try:
            d.adapters.get(kind).register_webhook(channel, webhook_url(d, channel))
            repo.set_channel_health(channel.id, {"ok": True, "checked_at": iso(d.now()), "webhook": "registered"})
        except ChannelError as err:
            logger.warning("webhook registration failed", extra={"channel_id": channel.id, "code": err.code})
            repo.set_channel_health(channel.id, {"ok": False, "checked_at": iso(d.now()), "error": err.message})
    return channel


def check_health(d: Deps, workspace_id: str, channel_id: str) -> dict[str, Any]:
    channel = repo.get_channel(channel_id, cached=False)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound(f"channel {channel_id} not found")
    health = {**d.adapters.get(channel.kind).check_health(channel), "checked_at": iso(d.now())}
    repo.set_channel_health(channel_id, health)
    return health


def api_channel_id(workspace_id: str) -> str:
    return f"api_{workspace_id}"


def ensure_api_channel(d: Deps, workspace_id: str) -> Channel:
    """Every workspace has one `api` channel for the integration inbound API, made on first use."""
    channel = repo.get_channel(api_channel_id(workspace_id))
    if channel is None:
        channel = create_channel(d, workspace_id, "api", "API", {}, channel_id=api_channel_id(workspace_id))
    return channel
