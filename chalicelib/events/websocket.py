"""The WebSocket API: consoles connect for live updates (API key in `?token=`; browsers cannot set headers).

Chalice only wraps WebSocket handlers registered on the app itself (a Blueprint has no `websocket_api`, so it
would hand Lambda the bare function), hence `app.py` registers these three by name.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.auth.keys import authenticate_key
from chalicelib.auth.permissions import allowed
from chalicelib.errors import AppError
from chalicelib.observability import logger
from chalicelib.services.deps import deps
from chalicelib.store import connections


def _reply(status: int, body: str = "") -> dict[str, Any]:
    return {"statusCode": status, "body": body}


def ws_connect(event: Any) -> dict[str, Any]:
    token = (event.to_dict().get("queryStringParameters") or {}).get("token", "")
    try:
        principal = authenticate_key(token)
    except AppError:
        return _reply(401)
    if not allowed(principal.role, "conversations:read"):
        return _reply(403)
    d = deps()
    connections.remember(event.connection_id, principal.workspace_id, principal.subject, now=d.now())
    logger.info("ws connected", extra={"workspace_id": principal.workspace_id})
    return _reply(200)


def ws_message(event: Any) -> dict[str, Any]:
    try:
        body = json.loads(event.body or "{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("type") == "ping":
        deps().live.send(event.connection_id, b'{"type":"pong"}')
    return _reply(200)


def ws_disconnect(event: Any) -> dict[str, Any]:
    connections.forget(event.connection_id)
    return _reply(200)
