"""A push that reaches a console while its `$connect` is still running gets 410 Gone (as from API Gateway): the
connection must stay remembered, or that console would never hear another update. One that answers 410 long after
connecting is gone and is forgotten."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

pytestmark = pytest.mark.ddblocal


def test_a_410_while_connecting_keeps_the_connection_and_a_410_later_forgets_it(stack):
    from chalicelib.services.deps import deps
    from chalicelib.store import connections

    d = deps()
    assert d.settings.websocket_endpoint, "the embedded stack answers post-to-connection like API Gateway"
    connecting, stale = f"conn-{secrets.token_hex(6)}", f"conn-{secrets.token_hex(6)}"
    workspace = f"ws-{secrets.token_hex(4)}"
    connections.remember(connecting, workspace, "key:k1", now=d.now())  # inside $connect: not reachable yet
    connections.remember(stale, workspace, "key:k2", now=d.now() - timedelta(minutes=5))

    sent = d.live.broadcast(workspace, {"type": "conversation.updated"})

    assert sent == 0  # neither is reachable through the hub
    assert connections.get(connecting) is not None  # kept: it is about to open
    assert connections.get(stale) is None  # forgotten: it is gone
    assert connections.of_workspace(workspace) == [connecting]
