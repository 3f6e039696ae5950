"""Connecting channels (A10): create with credentials, register the webhook, check health."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from chalicelib.channels.registry import KINDS, WEBHOOK_KINDS
from chalicelib.domain.model import Channel, iso
from chalicelib.errors import ChannelError, InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo

REQUIRED_CREDENTIALS = {
    "telegram": ("bot_token",), "api": (),
    "whatsapp": ("access_token", "phone_number_id", "waba_id", "app_secret"),
    "messenger": ("page_access_token", "page_id", "app_secret"),
    "instagram": ("page_access_token", "ig_user_id", "app_secret"),
    "ok": ("access_token",), "widget": (),
    "email": ("from_address", "topic_arns"),
    "vk": ("access_token", "group_id"),
}


PASTED_VERIFY_TOKEN = frozenset({"whatsapp", "messenger", "instagram"})  # Meta: the admin pastes URL + token


def setup_for_admin(d: Deps, channel: Channel) -> dict[str, Any]:
    if channel.kind == "widget":
        return {"embed": f'<script src="{d.settings.public_url}/widget.js" data-channel="{channel.id}" async></script>'}
    if channel.kind == "api":
        return {"inbound_api": f"{d.settings.public_url}/api/inbound"}
    setup: dict[str, Any] = {"webhook_url": webhook_url(d, channel)}
    if channel.kind in PASTED_VERIFY_TOKEN:
        setup["verify_token"] = channel.secrets["webhook_secret"]
    return setup


SETTINGS_LIMIT = 20_000  # characters of JSON: pre-chat forms, topics, origins, sender addresses
SETTINGS_DEPTH = 8


def parse_settings(value: Any) -> dict[str, Any]:
    """Non-secret channel settings (e-mail from_address, widget pre_chat / topics / allowed_origins, ...)."""
    import json

    if not isinstance(value, dict):
        raise InvalidInput("settings must be an object")
    if len(json.dumps(value)) > SETTINGS_LIMIT:
        raise InvalidInput(f"settings are limited to {SETTINGS_LIMIT} characters of JSON")
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:  # DynamoDB maps take no empty names, and nest at most 32 levels: refused here, not there
        item, depth = pending.pop()
        if depth > SETTINGS_DEPTH:
            raise InvalidInput(f"settings nest at most {SETTINGS_DEPTH} levels")
        if isinstance(item, dict):
            if any(not key for key in item):
                raise InvalidInput("settings names must not be empty")
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)
    if value.get("working_hours") is not None:  # the channel's own hours (E1), instead of the workspace's
        from chalicelib.domain import hours
        from chalicelib.domain.notifications import InvalidSettings

        try:
            parsed = hours.parse_hours(value["working_hours"])
        except InvalidSettings as err:
            raise InvalidInput(f"working_hours: {err}", code="invalid_settings") from err
        value = {**value, "working_hours": parsed.as_json() if parsed else None}
    return value


def update_settings(d: Deps, workspace_id: str, channel_id: str, changes: Any) -> Channel:
    channel = repo.get_channel(channel_id, cached=False)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound(f"channel {channel_id} not found")
    merged = {k: v for k, v in {**channel.settings, **parse_settings(changes)}.items() if v is not None}
    repo.set_channel_settings(channel_id, merged)
    return replace(channel, settings=merged)


def webhook_url(d: Deps, channel: Channel) -> str:
    """Where the provider delivers: WEBHOOK_BASE_URL (the webhook function's URL in AWS), else PUBLIC_URL."""
    return f"{d.settings.webhook_base}/api/webhooks/{channel.kind}/{channel.id}"


def create_channel(d: Deps, workspace_id: str, kind: str, name: str, credentials: dict[str, Any], *,
                   channel_id: str | None = None, register: bool = True,
                   settings: dict[str, Any] | None = None) -> Channel:
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
        secrets={**credentials, "webhook_secret": secrets.token_urlsafe(32)}, settings=parse_settings(settings or {}),
    )
    repo.put_channel(channel, now=d.now())
    if register and kind in WEBHOOK_KINDS:
        try:
            kept = d.adapters.get(kind).register_webhook(channel, webhook_url(d, channel))
            if kept:  # e.g. VK's confirmation code and callback server id
                channel = replace(channel, settings={**channel.settings, **kept})
                repo.set_channel_settings(channel.id, channel.settings)
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
