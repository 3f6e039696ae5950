"""Live updates: push changes to the workspace's WebSocket connections (API Gateway's post-to-connection).

In AWS the endpoint is the WebSocket API's stage URL; in embedded mode the local runner emulates it. A
connection that is gone (410) is forgotten. Pushing is best effort: the console reloads what it missed.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.model import utcnow
from chalicelib.observability import logger
from chalicelib.settings import Settings
from chalicelib.store import connections


class LivePush:
    def __init__(self, settings: Settings) -> None:
        self._endpoint = settings.websocket_endpoint
        self._region = settings.region
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("apigatewaymanagementapi", endpoint_url=self._endpoint,
                                        region_name=self._region)
        return self._client

    def broadcast(self, workspace_id: str, payload: dict[str, Any]) -> int:
        if not self._endpoint:
            return 0
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        sent = 0
        for connection_id in connections.of_workspace(workspace_id):
            if self.send(connection_id, data):
                sent += 1
        return sent

    def send(self, connection_id: str, data: bytes) -> bool:
        api = self._api()
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except api.exceptions.GoneException:  # closed, or still inside its $connect: see connections.forget_gone
            connections.forget_gone(connection_id, now=utcnow())
        except Exception:  # noqa: BLE001 - a push never fails the change that caused it
            logger.exception("push failed")
        return False
