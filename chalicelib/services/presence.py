"""Presence (B10): online / away per operator from WebSocket heartbeats, and who is viewing or typing in which
conversation, broadcast to the workspace's consoles so that two operators never answer the same customer.

The console sends `{"type": "heartbeat", "state": "online" | "away"}` about every 30 s, `{"type": "viewing",
"conversation_id": ... | null}` when it opens or leaves a conversation, and `{"type": "typing", "conversation_id"}`
at most every few seconds while the operator types. Heartbeats are written at most once a minute unless something
changed (the item is on the main table, whose stream must not be flooded); typing is broadcast only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.model import iso, parse_iso
from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import connections, repo, team
from chalicelib.store.models import PresenceItem

ONLINE_SECONDS = 150  # no heartbeat for this long: away
AWAY_SECONDS = 600  # ...and for this long: offline
WRITE_EVERY_SECONDS = 60
STATES = ("online", "away")


@dataclass(frozen=True)
class Seen:
    user_id: str
    state: str  # online | away | offline
    viewing: str | None
    last_seen_at: str

    def json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "state": self.state, "viewing": self.viewing,
                "last_seen_at": self.last_seen_at}


def state_of(item: PresenceItem, now: datetime) -> str:
    age = (now - parse_iso(item.last_seen_at)).total_seconds()
    if item.state == "offline" or age > AWAY_SECONDS:
        return "offline"
    if age > ONLINE_SECONDS:
        return "away"
    return item.state if item.state in STATES else "online"


def seen(item: PresenceItem, now: datetime) -> Seen:
    state = state_of(item, now)
    return Seen(item.user_id, state, item.viewing if state != "offline" else None, item.last_seen_at)


def workspace_presence(ws: str, now: datetime) -> list[Seen]:
    return [seen(item, now) for item in team.list_presence(ws)]


def online_user_ids(ws: str, now: datetime) -> set[str]:
    return {s.user_id for s in workspace_presence(ws, now) if s.state == "online"}


def _broadcast(d: Deps, ws: str, payload: dict[str, Any], *, skip: str = "") -> None:
    """To the workspace's consoles, except `skip` (a connection still in `$connect` is not open yet).

    A connection that answers 410 Gone is left to its `$disconnect` (which reads it to mark its user offline),
    unlike other pushes, which forget it at once.
    """
    api = _management_api(d)
    if api is None:
        return
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    for connection_id in connections.of_workspace(ws):
        if connection_id == skip:
            continue
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data)
        except api.exceptions.GoneException:
            continue
        except Exception:  # noqa: BLE001 - presence is best effort; the console reloads it
            logger.exception("presence push failed")


def _update(d: Deps, ws: str, user_id: str, *, state: str | None = None, viewing: Any = ...,
            force: bool = False, skip: str = "") -> None:
    """Write what changed (or a stale heartbeat) and tell the workspace when state or viewing changed.

    The write sets only the fields this message owns (see team.update_presence); what is broadcast is the item
    as the write left it, so a racing message of the same operator is never undone in colleagues' consoles."""
    now = d.now()
    item = team.get_presence(ws, user_id)
    before = seen(item, now) if item else None
    new_state = state or (item.state if item and before and before.state != "offline" else "online")
    offline = new_state == "offline"
    expected_viewing = (before.viewing if before else None) if viewing is ... else viewing
    changed = before is None or before.state != new_state or before.viewing != (None if offline else expected_viewing)
    stale = item is None or (now - parse_iso(item.last_seen_at)) >= timedelta(seconds=WRITE_EVERY_SECONDS)
    if not (changed or stale or force):
        return
    wanted: Any = None if offline else (team.UNCHANGED if viewing is ... else viewing)
    after = team.update_presence(ws, user_id, new_state, now=now, viewing=wanted)
    if changed:
        _broadcast(d, ws, {"type": "presence.updated", "user_id": user_id, "state": new_state,
                           "viewing": None if offline else after.viewing, "at": iso(now)}, skip=skip)


def heartbeat(d: Deps, ws: str, user_id: str, state: str = "online", *, connecting: str = "") -> None:
    _update(d, ws, user_id, state=state if state in STATES else "online", skip=connecting)


def viewing(d: Deps, ws: str, user_id: str, conversation_id: str | None) -> None:
    _update(d, ws, user_id, state="online", viewing=conversation_id or None)


def typing(d: Deps, ws: str, user_id: str, conversation_id: str) -> None:
    _broadcast(d, ws, {"type": "presence.typing", "user_id": user_id, "conversation_id": conversation_id,
                       "at": iso(d.now())})
    _tell_visitor(d, ws, conversation_id)


def _tell_visitor(d: Deps, ws: str, conversation_id: str) -> None:
    """A site-chat visitor sees "Support is typing…": no name, no id, only to that conversation's own sockets."""
    from chalicelib.channels.widget import visitor_room  # the widget's adapter, only when a console types

    api = _management_api(d)
    conv = repo.get_conversation(ws, conversation_id) if api is not None else None
    if conv is None or conv.channel_kind != "widget":
        return
    data = json.dumps({"type": "typing", "conversation_id": conversation_id, "at": iso(d.now())}).encode()
    for connection_id in connections.of_workspace(visitor_room(conv.channel_id, conversation_id)):
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data)
        except Exception:  # noqa: BLE001 - best effort, like every push
            logger.info("visitor typing push failed")


MESSAGE_TYPES = ("heartbeat", "viewing", "typing")


def _user_of(connection_id: str) -> tuple[str, str] | None:
    """(workspace, user id) of a console's connection; None for API keys and visitors."""
    found = connections.get(connection_id)
    if found is None or not found.principal_id.startswith("user:"):
        return None
    return found.workspace_id, found.principal_id.removeprefix("user:")


def on_message(d: Deps, connection_id: str, body: dict[str, Any]) -> bool:
    """A console's `$default` message about presence; False when it is not one."""
    kind = body.get("type")
    if kind not in MESSAGE_TYPES:
        return False
    who = _user_of(connection_id)
    if who is None:
        return True
    ws, user_id = who
    conv = body.get("conversation_id")
    conv = conv if isinstance(conv, str) and 0 < len(conv) <= 100 else None
    if kind == "heartbeat":
        heartbeat(d, ws, user_id, str(body.get("state") or "online"))
    elif kind == "viewing":
        viewing(d, ws, user_id, conv)
    elif conv:
        typing(d, ws, user_id, conv)
    return True


def on_connect(d: Deps, connection_id: str) -> None:
    who = _user_of(connection_id)
    if who is not None:
        heartbeat(d, who[0], who[1], connecting=connection_id)


def on_disconnect(d: Deps, connection_id: str) -> None:
    """Before the connection is forgotten: the user's last console here going away means offline."""
    who = _user_of(connection_id)
    if who is not None:
        disconnected(d, who[0], who[1], except_connection=connection_id)


def disconnected(d: Deps, ws: str, user_id: str, *, except_connection: str = "") -> None:
    """The user's last console in this workspace closed: offline at once (not after the timeout)."""
    subject = f"user:{user_id}"
    for connection_id in connections.of_workspace(ws):
        if connection_id == except_connection:
            continue
        other = connections.get(connection_id)
        if other is not None and other.principal_id == subject:
            return
    _update(d, ws, user_id, state="offline", viewing=None, force=True, skip=except_connection)


def close_user_connections(d: Deps, ws: str, user_id: str) -> int:
    """A removed member's consoles in this workspace: forgotten and closed (post-to-connection's DELETE)."""
    subject, closed = f"user:{user_id}", 0
    api = _management_api(d)
    for connection_id in connections.of_workspace(ws):
        found = connections.get(connection_id)
        if found is None or found.principal_id != subject:
            continue
        connections.forget(connection_id)
        closed += 1
        if api is None:
            continue
        try:
            api.delete_connection(ConnectionId=connection_id)
        except Exception:  # noqa: BLE001 - gone already, or the API is unreachable: it is forgotten either way
            logger.info("socket already closed")
    return closed


_management: dict[str, Any] = {}


def _management_api(d: Deps) -> Any:
    endpoint = d.settings.websocket_endpoint
    if not endpoint:
        return None
    if endpoint not in _management:
        import boto3

        _management[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint,
                                             region_name=d.settings.region)
    return _management[endpoint]
