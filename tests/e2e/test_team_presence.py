"""Presence over the console's WebSocket: heartbeats make an operator online or away, viewing and typing reach
colleagues, closing the last console makes them offline; a signed-in socket must come from our own site."""

from __future__ import annotations

import pytest

from tests.e2e.test_team_support import Socket, add_user, wait_until
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


def states(ws) -> dict[str, dict]:
    return {p["user_id"]: p for p in ws.api("GET", "/presence").json()["items"]}


def test_heartbeats_viewing_and_typing_reach_colleagues_and_closing_makes_one_offline(stack):
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator"), add_user(stack, ws.id, "operator")
    anna_socket, boris_socket = Socket.of(anna), Socket.of(boris)
    assert (anna_socket.status, boris_socket.status) == (101, 101)
    try:
        wait_until(lambda: states(ws).get(anna.user_id, {}).get("state") == "online")

        anna_socket.send_json({"type": "viewing", "conversation_id": "c_123"})
        seen = boris_socket.receive_json(until=lambda e: e.get("type") == "presence.updated"
                                         and e.get("viewing") == "c_123")
        assert seen[-1]["user_id"] == anna.user_id
        assert states(ws)[anna.user_id]["viewing"] == "c_123"
        members = {m["user_id"]: m for m in ws.api("GET", "/members").json()["items"]}
        assert members[anna.user_id]["presence"]["viewing"] == "c_123"

        anna_socket.send_json({"type": "typing", "conversation_id": "c_123"})
        typing = boris_socket.receive_json(until=lambda e: e.get("type") == "presence.typing")
        assert typing[-1] == {**typing[-1], "user_id": anna.user_id, "conversation_id": "c_123"}

        anna_socket.send_json({"type": "heartbeat", "state": "away"})
        wait_until(lambda: states(ws)[anna.user_id]["state"] == "away")
    finally:
        anna_socket.drop()
    wait_until(lambda: states(ws)[anna.user_id]["state"] == "offline")
    assert states(ws)[anna.user_id]["viewing"] is None
    assert states(ws)[boris.user_id]["state"] == "online"
    boris_socket.drop()


def test_a_signed_in_socket_from_another_site_or_without_a_session_is_refused(stack):
    ws = new_workspace(stack)
    anna = add_user(stack, ws.id, "operator")
    assert Socket.of(anna, origin="https://evil.example").status == 403
    assert Socket(stack, f"/ws?workspace={ws.id}", {"Origin": stack.url}).status == 403  # API Gateway says 403
    other = new_workspace(stack)
    cookie = "; ".join(f"{c.name}={c.value}" for c in anna.http.cookies)
    assert Socket(stack, f"/ws?workspace={other.id}", {"Cookie": cookie, "Origin": stack.url}).status == 403


def test_a_heartbeat_that_read_before_a_viewing_message_does_not_undo_it(stack, monkeypatch):
    """Two messages of one operator handled at once (two Lambdas, or two tabs): the heartbeat read the item before
    `viewing` was written. Its write sets only what it owns, so the conversation being viewed stays."""
    from datetime import timedelta

    from chalicelib.services import presence
    from chalicelib.services.deps import deps
    from chalicelib.store import team

    d = deps()
    ws = new_workspace(stack)
    anna = add_user(stack, ws.id, "operator")
    presence.heartbeat(d, ws.id, anna.user_id)
    before_viewing = team.get_presence(ws.id, anna.user_id)
    assert before_viewing is not None and before_viewing.viewing is None
    before_viewing.last_seen_at = (d.now() - timedelta(minutes=5)).isoformat()  # stale: the heartbeat writes
    presence.viewing(d, ws.id, anna.user_id, "c_race")

    monkeypatch.setattr(team, "get_presence", lambda *_args: before_viewing)
    presence.heartbeat(d, ws.id, anna.user_id, "online")
    monkeypatch.undo()

    after = team.get_presence(ws.id, anna.user_id)
    assert after is not None and after.viewing == "c_race"
    assert states(ws)[anna.user_id]["viewing"] == "c_race"
