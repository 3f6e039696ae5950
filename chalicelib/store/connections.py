"""WebSocket connections of a workspace (their own small table with a TTL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist

from chalicelib.domain.model import iso
from chalicelib.store.models import ConnectionItem

CONNECTION_TTL = timedelta(hours=2)  # API Gateway closes WebSocket connections after 2 hours
# A connection is remembered inside `$connect`, before API Gateway accepts posts to it (410 until then): a push in
# that moment must not forget it, or the new console never hears anything again. Older ones answering 410 are gone.
CONNECTING_GRACE = timedelta(seconds=30)


def remember(connection_id: str, workspace_id: str, principal_id: str, *, now: datetime) -> None:
    ConnectionItem(connection_id, workspace_id=workspace_id, principal_id=principal_id, connected_at=iso(now),
                   expires_at=int((now + CONNECTION_TTL).timestamp())).save()


def forget(connection_id: str) -> None:
    try:
        ConnectionItem(connection_id).delete()
    except DeleteError:
        pass


def forget_gone(connection_id: str, *, now: datetime) -> bool:
    """After a 410 Gone: forget the connection unless it is still connecting; True when it was forgotten."""
    try:
        ConnectionItem(connection_id).delete(condition=ConnectionItem.connected_at < iso(now - CONNECTING_GRACE))
        return True
    except DeleteError:
        return False


def get(connection_id: str) -> ConnectionItem | None:
    try:
        return ConnectionItem.get(connection_id)
    except DoesNotExist:
        return None


def of_workspace(workspace_id: str) -> list[str]:
    return [c.connection_id for c in ConnectionItem.by_workspace.query(workspace_id)]


def of_principal(workspace_id: str, principal_id: str) -> list[str]:
    """One caller's connections in a workspace (the index keeps keys only: one query, then one batch read)."""
    ids = of_workspace(workspace_id)
    if not ids:
        return []
    return [c.connection_id for c in ConnectionItem.batch_get(ids) if c.principal_id == principal_id]
