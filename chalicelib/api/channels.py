"""Channels of the workspace: list, connect, check health. Credentials go in and never come back."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import json_object
from chalicelib.api.routing import Ctx, route
from chalicelib.api.serialize import channel_json
from chalicelib.errors import InvalidInput
from chalicelib.services import channels
from chalicelib.store import repo

bp = Blueprint(__name__)


@route(bp, "/channels", "GET", permission="conversations:read", tag="channels",
       summary="The workspace's channels (no credentials)", response=schemas.page_of(schemas.CHANNEL))
def list_channels(ctx: Ctx) -> dict[str, Any]:
    items = repo.list_channels(ctx.workspace_id)
    return {"items": [channel_json(c, ctx.deps.settings.webhook_base) for c in items], "next_cursor": None}


@route(bp, "/channels/capabilities", "GET", permission="conversations:read", tag="channels",
       summary="What each channel kind allows (edit, delete and their windows, comments, block, voice, ...)")
def get_capabilities(ctx: Ctx) -> dict[str, Any]:
    from chalicelib.channels.capabilities import capability_table

    return {"kinds": capability_table(ctx.deps.settings)}


@route(bp, "/channels", "POST", permission="channels:manage", tag="channels",
       summary="Connect a channel: stores credentials encrypted at rest, registers the webhook",
       request=schemas.CHANNEL_CREATE, response=schemas.CHANNEL, status=201)
def post_channel(ctx: Ctx) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    register = body.get("register_webhook", True)
    if not isinstance(register, bool):
        raise InvalidInput("register_webhook must be a boolean")
    channel = channels.create_channel(ctx.deps, ctx.workspace_id, body.get("kind", ""), body.get("name", ""),
                                      body.get("credentials") or {}, register=register,
                                      settings=body.get("settings") or {})
    item = repo.list_channels(ctx.workspace_id)
    created = next(c for c in item if c.pk == f"CH#{channel.id}")
    # Shown once, like a new API key: what the admin pastes into the provider's dashboard.
    setup = channels.setup_for_admin(ctx.deps, channel)
    return {**channel_json(created, ctx.deps.settings.webhook_base), "setup": setup}


@route(bp, "/channels/{channel_id}", "PATCH", permission="channels:manage", tag="channels",
       summary="Change a channel's settings (not its credentials): widget form and topics, e-mail sender, ...",
       request={"type": "object", "properties": {"settings": {"type": "object"}}}, response=schemas.CHANNEL)
def patch_channel(ctx: Ctx, channel_id: str) -> dict[str, Any]:
    body = json_object(ctx.request.raw_body)
    channels.update_settings(ctx.deps, ctx.workspace_id, channel_id, body.get("settings"))
    created = next(c for c in repo.list_channels(ctx.workspace_id) if c.pk == f"CH#{channel_id}")
    return channel_json(created, ctx.deps.settings.webhook_base)


@route(bp, "/channels/{channel_id}/health", "POST", permission="channels:manage", tag="channels",
       summary="Check the channel against its provider now and store the result")
def post_channel_health(ctx: Ctx, channel_id: str) -> dict[str, Any]:
    return channels.check_health(ctx.deps, ctx.workspace_id, channel_id)
