"""WebSocket connections of a workspace (their own small table with a TTL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist

from chalicelib.domain.model import iso
from chalicelib.store.models import ConnectionItem

CONNECTION_TTL = timedelta(hours=2)  # API Gateway closes WebSocket connections after 2 hours


def remember(connection_id: str, workspace_id: str, principal_id: str, *, now: datetime) -> None:
    ConnectionItem(connection_id, workspace_id=workspace_id, principal_id=principal_id, connected_at=iso(now),
                   expires_at=int((now + CONNECTION_TTL).timestamp())).save()


def forget(connection_id: str) -> None:
    try:
        ConnectionItem(connection_id).delete()
    except DeleteError:
        pass


def get(connection_id: str) -> ConnectionItem | None:
    try:
        return ConnectionItem.get(connection_id)
    except DoesNotExist:
        return None


def of_workspace(workspace_id: str) -> list[str]:
    return [c.connection_id for c in ConnectionItem.by_workspace.query(workspace_id)]
