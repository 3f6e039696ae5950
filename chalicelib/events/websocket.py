"""The WebSocket API: consoles connect for live updates (API key in `?token=`, or the session cookie and
`?workspace=`) and report presence (heartbeat, viewing, typing: services/presence.py).

Chalice only wraps WebSocket handlers registered on the app itself (a Blueprint has no `websocket_api`, so it
would hand Lambda the bare function), hence `app.py` registers these three by name.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.auth import access
from chalicelib.auth.permissions import allowed
from chalicelib.errors import AppError, Unauthenticated
from chalicelib.observability import logger
from chalicelib.services import presence, widget
from chalicelib.services.deps import deps
from chalicelib.store import connections


def _reply(status: int, body: str = "") -> dict[str, Any]:
    return {"statusCode": status, "body": body}


def ws_connect(event: Any) -> dict[str, Any]:
    raw = event.to_dict()
    params = raw.get("queryStringParameters") or {}
    if "ticket" in params:  # a site-chat visitor, stored under its own room: consoles' broadcasts never reach it
        return _reply(widget.connect_visitor(deps(), event.connection_id, params["ticket"], raw.get("headers") or {}))
    d = deps()
    headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
    try:  # an API key in ?token=, or the session cookie of our own origin plus ?workspace=
        principal = access.authenticate_socket(d.settings, headers, params, now=d.now())
    except AppError as err:
        return _reply(401 if isinstance(err, Unauthenticated) else 403)
    if not allowed(principal.role, "conversations:read"):
        return _reply(403)
    connections.remember(event.connection_id, principal.workspace_id, principal.subject, now=d.now())
    presence.on_connect(d, event.connection_id)
    logger.info("ws connected", extra={"workspace_id": principal.workspace_id})
    return _reply(200)


def ws_message(event: Any) -> dict[str, Any]:
    try:
        body = json.loads(event.body or "{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("type") == "ping":
        deps().live.send(event.connection_id, b'{"type":"pong"}')
    elif isinstance(body, dict):
        presence.on_message(deps(), event.connection_id, body)  # heartbeat, viewing, typing
    return _reply(200)


def ws_disconnect(event: Any) -> dict[str, Any]:
    presence.on_disconnect(deps(), event.connection_id)
    connections.forget(event.connection_id)
    return _reply(200)
