"""Count the app's DynamoDB API calls with botocore event hooks (`before-call.dynamodb`).

pynamodb builds its own botocore session and client per model connection (`pynamodb/connection/base.py`:
`Connection.session` calls `botocore.session.get_session()`, which returns a NEW session, and `Connection.client`
creates the client from it), so a hook on a global session would see nothing. Instead the counter

- hooks every DynamoDB client that already exists (found through the garbage collector: pynamodb's per-model
  clients, Powertools' idempotency client, ...), and
- wraps `botocore.session.Session.create_client` while installed, so clients created later (pynamodb creates a
  model's client on its first call) are hooked too.

Clients passed to `exclude` (the stream pump's own polling client, the benchmark's baseline client) are skipped.
Counts are keyed `Operation` and `Operation:table`.
"""

from __future__ import annotations

import gc
import json
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import botocore.client
import botocore.session

EVENT = "before-call.dynamodb"


class DynamoCallCounter:
    """Counts DynamoDB API calls (one per botocore API call, retries not included) of every hooked client."""

    def __init__(self, exclude: Iterable[Any] = ()) -> None:
        self._exclude = {id(client) for client in exclude}
        self._hooked: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._ops: Counter[str] = Counter()
        self._tables: Counter[str] = Counter()
        self._original_create: Any = None

    def install(self) -> DynamoCallCounter:
        self._original_create = botocore.session.Session.create_client
        original = self._original_create
        counter = self

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            counter.hook(client)
            return client

        botocore.session.Session.create_client = create_client
        for obj in gc.get_objects():
            if isinstance(obj, botocore.client.BaseClient):
                self.hook(obj)
        return self

    def uninstall(self) -> None:
        if self._original_create is not None:
            botocore.session.Session.create_client = self._original_create
            self._original_create = None
        for key, client in list(self._hooked.items()):
            client.meta.events.unregister(EVENT, unique_id=self._unique_id(key))
        self._hooked.clear()

    def hook(self, client: Any) -> None:
        key = id(client)
        if key in self._exclude or key in self._hooked:
            return
        if client.meta.service_model.service_name != "dynamodb":
            return
        client.meta.events.register(EVENT, self._on_call, unique_id=self._unique_id(key))
        self._hooked[key] = client

    @property
    def clients(self) -> int:
        return len(self._hooked)

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """(calls by operation, calls by operation:table) since the last take; resets both."""
        with self._lock:
            ops, tables = self._ops, self._tables
            self._ops, self._tables = Counter(), Counter()
        return ops, tables

    def _on_call(self, model: Any, params: Any = None, **_: Any) -> None:
        table = _table_of(params)
        with self._lock:
            self._ops[model.name] += 1
            self._tables[f"{model.name}:{table}" if table else model.name] += 1

    def _unique_id(self, key: int) -> str:
        return f"bench-ddb-counter-{id(self)}-{key}"


def _table_of(request: Any) -> str:
    """The TableName of a serialized request (JSON protocol: the body is bytes by `before-call`)."""
    body = request.get("body") if isinstance(request, dict) else None
    if isinstance(body, bytes | str) and body:
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    return str(body.get("TableName", "")) if isinstance(body, dict) else ""
