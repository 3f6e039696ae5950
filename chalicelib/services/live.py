"""Live updates: push changes to the workspace's WebSocket connections (API Gateway's post-to-connection).

In AWS the endpoint is the WebSocket API's stage URL; in embedded mode the local runner emulates it. A
connection that is gone (410) is forgotten. Pushing is best effort: the console reloads what it missed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.domain.model import utcnow
from chalicelib.observability import logger
from chalicelib.settings import Settings
from chalicelib.store import connections

FRAME_BYTES = 32 * 1024  # API Gateway bills a WebSocket message per 32 KB: a batch frame stays under it


def frames_of(payloads: list[dict[str, Any]]) -> list[bytes]:
    """What to send for a batch of events: one event as itself, more as `{"type": "batch", "events": [...]}`
    frames of at most 32 KB each. A conversation updated twice in the batch is sent once, as it is last."""
    last_of: dict[str, int] = {}
    for i, payload in enumerate(payloads):
        if payload.get("type") == "conversation.updated":
            last_of[str((payload.get("conversation") or {}).get("id"))] = i
    kept = [p for i, p in enumerate(payloads) if p.get("type") != "conversation.updated"
            or last_of.get(str((p.get("conversation") or {}).get("id"))) == i]
    encoded = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in kept]
    if len(encoded) == 1:
        return [encoded[0].encode()]
    frames: list[bytes] = []
    chunk: list[str] = []
    size = 0
    for text in encoded:
        grown = size + len(text.encode()) + 1
        if chunk and grown + 32 > FRAME_BYTES:
            frames.append(_batch(chunk))
            chunk, grown = [], len(text.encode()) + 1
        chunk.append(text)
        size = grown
    if chunk:
        frames.append(_batch(chunk) if len(chunk) > 1 else chunk[0].encode())
    return frames


def _batch(events: list[str]) -> bytes:
    return ('{"type":"batch","events":[' + ",".join(events) + "]}").encode()


class LivePush:
    def __init__(self, settings: Settings) -> None:
        self._endpoint = settings.websocket_endpoint
        self._region = settings.region
        self._client: Any = None
        self._held = threading.local()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Hold this thread's broadcasts until the block ends, then send each workspace's together: one frame per
        console for a whole stream batch (a customer's message and its conversation's move are one push, not
        two; API Gateway bills per message). Pushes are best effort, so a failed record does not hold them."""
        if getattr(self._held, "pending", None) is not None:
            yield
            return
        self._held.pending = {}
        try:
            yield
        finally:
            pending: dict[str, list[dict[str, Any]]] = self._held.pending
            self._held.pending = None
            for workspace_id, payloads in pending.items():
                self._send_all(workspace_id, payloads)

    def _api(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("apigatewaymanagementapi", endpoint_url=self._endpoint,
                                        region_name=self._region)
        return self._client

    def broadcast(self, workspace_id: str, payload: dict[str, Any]) -> int:
        """Push to the workspace's consoles now, or at the end of the `batched()` block this thread is in (then 0)."""
        if not self._endpoint:
            return 0
        pending = getattr(self._held, "pending", None)
        if pending is not None:
            pending.setdefault(workspace_id, []).append(payload)
            return 0
        return self._send_all(workspace_id, [payload])

    def _send_all(self, workspace_id: str, payloads: list[dict[str, Any]]) -> int:
        frames = frames_of(payloads)
        sent = 0
        for connection_id in connections.of_workspace(workspace_id):
            for data in frames:
                if not self.send(connection_id, data):
                    break  # gone (forgotten) or failing: the console reloads what it missed
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
