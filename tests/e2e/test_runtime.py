"""The embedded runtime around the handlers: live updates over the WebSocket emulation, the schedule's
timers, parked records, and a pump that dies mid-batch."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import pytest

from chalicelib.domain.model import iso
from tests.integration.test_websocket_emulation import Client
from tests.support import customer_message, live_events, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 6_000_000 + secrets.randbelow(10**6)


def receive_json(client: Client, deadline_s: float = 10.0) -> list[dict]:
    """Every frame that arrives within the deadline (stops early once the socket goes quiet for 1 s)."""
    client.sock.settimeout(1.0)
    got: list[dict] = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            frame = client.receive()
        except (TimeoutError, OSError):
            if got:
                break
            continue
        got.extend(live_events(frame.payload))
    return got


def test_a_new_customer_message_is_pushed_to_the_workspace_console_and_not_to_others(stack):
    ws, other = new_workspace(stack), new_workspace(stack)
    port = int(stack.url.rsplit(":", 1)[1])
    mine = Client(port, f"/ws?token={ws.key}")
    theirs = Client(port, f"/ws?token={other.key}")
    assert mine.status == 101 and theirs.status == 101
    ws.post_update(customer_message(chat(), "live please"))
    ws.drain()
    events = receive_json(mine)
    kinds = {e["type"] for e in events}
    assert {"conversation.updated", "message.new"} <= kinds
    new_text = [e["message"]["text"] for e in events if e["type"] == "message.new"]
    assert "live please" in new_text
    assert receive_json(theirs, deadline_s=2.0) == []
    mine.drop()
    theirs.drop()


def test_a_bad_token_cannot_open_the_live_socket(stack):
    port = int(stack.url.rsplit(":", 1)[1])
    assert Client(port, "/ws?token=zb_bad_key").status in (401, 403)


def test_a_due_timer_fires_exactly_once(stack):
    from chalicelib.services import timers
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    fired: list[str] = []
    timers.HANDLERS["test-ping"] = lambda d, timer: fired.append(timer.target["id"])
    d = deps()
    ws = f"ws{secrets.token_hex(3)}"
    repo.put_timer(ws, "t1", "test-ping", iso(d.now() - timedelta(seconds=1)), {"id": "due"}, now=d.now())
    repo.put_timer(ws, "t2", "test-ping", iso(d.now() + timedelta(hours=1)), {"id": "later"}, now=d.now())
    stack.ticker.tick_now()
    stack.ticker.tick_now()
    assert fired == ["due"]


def test_a_record_that_keeps_failing_is_parked_and_shown_to_the_admin(stack):
    from chalicelib.services.deps import deps
    from chalicelib.store import keys
    from chalicelib.store.models import InboundItem

    ws = new_workspace(stack)
    pk, sk = keys.inbound(f"telegram#{ws.channel_id}#poison")
    InboundItem(pk, sk, type="inbound", workspace_id=ws.id, channel_id=ws.channel_id, event="{not json",
                created_at=iso(deps().now())).save()
    ws.post_update(customer_message(chat(), "after the poison"))
    ws.drain()
    parked = ws.api("GET", "/admin/parked").json()["items"]
    assert len(parked) == 1 and parked[0]["keys"]["pk"]["S"] == pk
    assert [c["last_message_preview"] for c in ws.conversations()] == ["after the poison"]


class Killed(BaseException):
    """Like SIGKILL for the pump: not an Exception, so nothing in the pump catches it."""


def test_a_pump_killed_mid_batch_and_restarted_loses_nothing_and_doubles_nothing(stack):
    from chalicelib.local.stream_pump import StreamPump

    ws = new_workspace(stack)
    chats = [chat() for _ in range(12)]
    for chat_id in chats:
        ws.post_update(customer_message(chat_id, f"hello from {chat_id}"))

    handler = stack.pump.handler
    calls = {"n": 0}

    def dies_on_third_batch(event, context):
        calls["n"] += 1
        if calls["n"] == 3:
            # half of this batch has been handled when the process dies: its checkpoint is not written
            half = {"Records": event["Records"][: len(event["Records"]) // 2]}
            handler(half, context)
            raise Killed()
        return handler(event, context)

    def pump(fn, **kwargs):
        return StreamPump(fn, table_names=stack.pump.table_names, endpoint=stack.ddb.endpoint,
                          checkpoint_path=stack.pump._checkpoints.path, park=stack._park, **kwargs)

    with pytest.raises(Killed):
        pump(dies_on_third_batch, batch_size=5).drain(timeout=30)
    stack.pump = pump(handler, backoff_base=0.05, max_attempts=3)  # the restarted runner: same checkpoint file
    ws.drain()

    convs = ws.conversations(limit=100)
    assert len(convs) == len(chats)
    assert all(c["message_count"] == 1 for c in convs)
    greetings = [c for c in ws.bot_sent if c["method"] == "sendMessage"]
    assert sorted(g["params"]["chat_id"] for g in greetings) == sorted(chats)
