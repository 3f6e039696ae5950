"""An operator's reply (and any outbound message) is stored once, bumps its conversation once and reaches the
provider once without a transaction (issue 14, the outbound path).

The writes are conditional and idempotent per message id, in an order chosen so a crash between any two is finished
by the retry (the stream's, or the API client's with the same message id). These tests kill the writer between the
writes, replay records that already succeeded and race writers, on DynamoDB Local through the real stream pump.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from chalicelib.domain.model import iso, new_id
from chalicelib.local.fakes.graph import whatsapp_webhook
from chalicelib.services import outbound
from chalicelib.services.deps import deps
from chalicelib.store import repo
from chalicelib.store.models import ConversationItem, MessageItem
from tests.e2e.test_channel_meta import digits, only, open_shop
from tests.e2e.test_ingest_exactly_once import Crash, race
from tests.e2e.test_runtime import receive_json
from tests.e2e.test_team_support import add_user
from tests.integration.test_websocket_emulation import Client
from tests.support import Workspace, customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def waiting_conversation(ws: Workspace, text: str = "where is my order?") -> tuple[str, ConversationItem]:
    """A customer's first message, greeted: its conversation waits for an answer (new, 1 unread)."""
    assert ws.post_update(customer_message(7_500_000 + secrets.randbelow(10**6), text)).status_code == 200
    ws.drain()
    (conv,) = ws.conversations()
    stored = repo.get_conversation(ws.id, conv["id"], consistent=True)
    assert stored is not None and stored.status == "new" and stored.unread_count == 1 and stored.awaiting_since
    return conv["id"], stored


def answered_once(ws: Workspace, conv_id: str, before: ConversationItem, message_id: str) -> ConversationItem:
    """The conversation moved exactly once for this reply."""
    after = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert after is not None
    assert int(after.revision) == int(before.revision) + 1  # one bump, not two
    assert list(after.recent_ids).count(repo.counted_tag(message_id)) == 1
    assert after.status == "in_progress" and after.unread_count == 0 and after.awaiting_since is None
    assert after.first_response_at is not None and after.first_response_seconds is not None
    return after


def replies_sent(ws: Workspace, text: str) -> int:
    return len([c for c in ws.bot_sent if c["params"].get("text") == text])


def crashing_once_before_the_bump(monkeypatch: pytest.MonkeyPatch, before: Any = None) -> list[str]:
    """The API's writer dies after storing the message, before bumping its conversation (once)."""
    real = repo.bump_for_outbound
    crashed: list[str] = []

    def dies_once(conv: Any, message: Any, **kwargs: Any) -> Any:
        if not crashed and not kwargs.get("unless_newer"):
            crashed.append(message.message_id)
            raise Crash("killed between the message and the conversation bump")
        return real(conv, message, **kwargs)

    monkeypatch.setattr(repo, "bump_for_outbound", dies_once)
    return crashed


def test_a_crash_after_the_reply_is_stored_is_finished_by_the_stream_and_nothing_claims_an_unsent_answer(
        stack, monkeypatch):
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    crashed = crashing_once_before_the_bump(monkeypatch)
    assert ws.reply(conv_id, "We are on it").status_code == 500
    assert crashed
    (stored,) = [m for m in ws.messages(conv_id) if m["origin"] == "operator"]
    assert stored["id"] == crashed[0] and stored["status"] == "pending"
    untouched = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert untouched is not None and int(untouched.revision) == int(before.revision)  # still waiting, as is true
    assert untouched.awaiting_since and untouched.first_response_at is None

    ws.drain()
    after = answered_once(ws, conv_id, before, crashed[0])
    assert after.last_message_preview == "We are on it"
    assert replies_sent(ws, "We are on it") == 1
    (sent,) = [m for m in ws.messages(conv_id) if m["origin"] == "operator"]
    assert sent["status"] == "sent"


def test_a_note_whose_writer_died_before_the_bump_is_shown_in_the_inbox_by_the_stream(stack, monkeypatch):
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    crashed = crashing_once_before_the_bump(monkeypatch)
    assert ws.api("POST", f"/conversations/{conv_id}/notes", json={"text": "VIP, call back"}).status_code == 500
    ws.drain()
    after = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert crashed and after is not None and int(after.revision) == int(before.revision) + 1
    assert after.last_message_preview == "VIP, call back" and after.last_message_direction == "note"
    assert after.unread_count == 1 and after.awaiting_since and after.status == "new"  # a note answers nobody


def test_replaying_the_records_of_a_reply_bumps_and_sends_nothing_again(stack):
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    resp = ws.reply(conv_id, "Replayed")
    assert resp.status_code == 202, resp.text
    ws.drain()
    message_id = resp.json()["id"]
    done = answered_once(ws, conv_id, before, message_id)

    stored = repo.get_message(ws.id, conv_id, message_id)
    assert stored is not None and stored.status == "sent"
    as_inserted = repo.get_message(ws.id, conv_id, message_id)
    assert as_inserted is not None
    as_inserted.status, as_inserted.external_message_id, as_inserted.sent_at = "pending", None, None
    for _ in range(3):  # the INSERT record handed over again, as after a partial batch failure
        outbound.on_message(deps(), as_inserted, None)

    again = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert again is not None and int(again.revision) == int(done.revision)
    assert replies_sent(ws, "Replayed") == 1
    final = repo.get_message(ws.id, conv_id, message_id)
    assert final is not None and final.status == "sent" and final.external_message_id == stored.external_message_id


def test_a_reply_reaches_each_console_once_already_sent(stack):
    """The send's own record (pending -> sent) is not pushed again: the batch that sent the reply pushed it with its
    outcome (API Gateway bills every message, per console)."""
    ws = new_workspace(stack)
    conv_id, _ = waiting_conversation(ws)
    console = Client(int(stack.url.rsplit(":", 1)[1]), f"/ws?token={ws.key}")
    assert console.status == 101
    try:
        resp = ws.reply(conv_id, "Pushed once")
        assert resp.status_code == 202, resp.text
        ws.drain()
        events = receive_json(console, deadline_s=5.0)
    finally:
        console.drop()
    mine = [e for e in events if (e.get("message") or {}).get("id") == resp.json()["id"]]
    assert [(e["type"], e["message"]["status"]) for e in mine] == [("message.new", "sent")], events
    assert replies_sent(ws, "Pushed once") == 1


def test_racing_writers_of_one_reply_store_it_once_and_bump_the_conversation_once(stack):
    """Four API calls with the same message id at once (a client's retry racing its first attempt)."""
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    now = deps().now()
    message_id = new_id("m", now)
    results: list[tuple[MessageItem, MessageItem]] = []

    def writer() -> None:
        conv = repo.get_conversation(ws.id, conv_id, consistent=True)
        assert conv is not None
        mine = repo.new_message(ws.id, conv_id, message_id, channel_id=conv.channel_id, direction="out",
                                origin="operator", author_id="tests", text="Raced", status="pending",
                                created_at=iso(now))
        results.append((mine, repo.add_outbound_message(conv, mine, now=now, counts_as_response=True)))

    assert not race(writer)
    assert sum(1 for mine, got in results if got is mine) == 1  # one call stored it; the others got the stored one
    assert all(got.message_id == message_id for _, got in results)
    answered_once(ws, conv_id, before, message_id)
    ws.drain()
    answered_once(ws, conv_id, before, message_id)  # the stream's INSERT found it counted: no second bump
    assert replies_sent(ws, "Raced") == 1


def test_the_stream_bumping_before_the_slow_writer_leaves_one_bump(stack, monkeypatch):
    """The message's INSERT reaches the stream before the API's bump: whichever comes second changes nothing."""
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    real = repo.bump_for_outbound
    stream_first: list[int] = []

    def slow_writer(conv: Any, message: Any, **kwargs: Any) -> Any:
        if not kwargs.get("unless_newer") and not stream_first:
            stream_first.append(ws.drain())  # the stream runs in between (and finishes the bump itself)
        return real(conv, message, **kwargs)

    monkeypatch.setattr(repo, "bump_for_outbound", slow_writer)
    resp = ws.reply(conv_id, "Slow writer")
    assert resp.status_code == 202, resp.text
    assert stream_first and stream_first[0] >= 1
    answered_once(ws, conv_id, before, resp.json()["id"])
    ws.drain()
    answered_once(ws, conv_id, before, resp.json()["id"])
    assert replies_sent(ws, "Slow writer") == 1


def test_a_colleagues_reply_whose_bump_crashed_still_holds_back_a_late_reply(stack, monkeypatch):
    """B10 reads the thread, and the message is the first write: a colleague's reply counts from the moment it is
    stored, before (or without) its conversation's move."""
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator", name="Anna"), add_user(stack, ws.id, "operator")
    conv_id, _ = waiting_conversation(ws)
    seen = ws.messages(conv_id)[-1]["id"]
    crashed = crashing_once_before_the_bump(monkeypatch)
    assert anna.api("POST", f"/conversations/{conv_id}/replies",
                    json={"text": "Anna here", "last_seen_message_id": seen}).status_code == 500
    assert crashed
    late = boris.api("POST", f"/conversations/{conv_id}/replies",
                     json={"text": "Boris here", "last_seen_message_id": seen})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "colleague_replied"
    assert late.json()["error"]["details"]["author_id"] == f"user:{anna.user_id}"
    ws.drain()
    assert [m["text"] for m in ws.messages(conv_id) if m["origin"] == "operator"] == ["Anna here"]
    assert replies_sent(ws, "Anna here") == 1 and replies_sent(ws, "Boris here") == 0


def test_a_bulk_reply_retried_after_a_crash_between_the_writes_is_stored_sent_and_counted_once(stack, monkeypatch):
    """The API client's retry (same request_id, so the same message ids) finds the message and writes nothing;
    the stream finished the conversation's move."""
    ws = new_workspace(stack)
    conv_id, before = waiting_conversation(ws)
    crashed = crashing_once_before_the_bump(monkeypatch)
    body = {"request_id": f"bulk-{secrets.token_hex(6)}", "items": [{"conversation_id": conv_id}], "text": "Bulk"}
    assert ws.api("POST", "/replies/bulk", json=body).status_code == 500
    assert crashed
    retried = ws.api("POST", "/replies/bulk", json=body)
    assert retried.status_code == 202, retried.text
    assert retried.json()["items"][0]["message_id"] == crashed[0]
    ws.drain()
    answered_once(ws, conv_id, before, crashed[0])
    assert [m["id"] for m in ws.messages(conv_id) if m["origin"] == "operator"] == crashed
    assert replies_sent(ws, "Bulk") == 1


def test_a_crash_between_the_pointer_and_the_sent_status_leaves_the_message_findable_and_sends_nothing_twice(
        stack, monkeypatch):
    """mark_sent: the pointer first, then `sent`. Killed in between, the message is still `pending`, but a delivery
    status the provider reports at that moment finds it through the pointer. The stream's retries find the dead
    worker's send lease and the message pending: they do not call the provider again (the record is parked while
    the lease holds: the one window where the outcome is not on the message yet, see outbound.take_send)."""
    shop = open_shop(stack, "whatsapp")
    wa_id = "7916" + digits(7)
    number = shop.channel.secrets["phone_number_id"]
    real_update_if = repo.update_if
    window: list[str | None] = []

    def dies_once_after_the_pointer(item: Any, actions: list[Any], condition: Any) -> bool:
        if isinstance(item, MessageItem) and item.origin == "greeting" and not window:
            ext_id = shop.fake.sent(wa_id)[-1]["id"]  # the provider took it; the pointer is written
            window.append(repo.find_message_id(shop.id, item.channel_id, wa_id, ext_id))
            body = whatsapp_webhook(number, statuses=[{"id": ext_id, "status": "delivered",
                                                       "timestamp": str(int(time.time())), "recipient_id": wa_id}])
            assert shop.post(body).status_code == 200  # the provider's "delivered" arrives in the window
            raise Crash("killed between the pointer and the sent status")
        return real_update_if(item, actions, condition)

    monkeypatch.setattr(repo, "update_if", dies_once_after_the_pointer)
    shop.customer_writes(wa_id, "hello")
    shop.drain()
    shop.drain()

    conv = only(shop.conversations())
    (greeting,) = [m for m in shop.messages(conv["id"]) if m["origin"] == "greeting"]
    assert window == [greeting["id"]]  # in the window, the provider's id already led to our message
    assert greeting["delivery"] == "delivered"  # ... and the status was recorded on it
    assert greeting["status"] == "pending"
    assert len(shop.fake.sent(wa_id)) == 1  # the retries did not send it again


def pending_reply(ws: Workspace, conv_id: str, text: str) -> MessageItem:
    """An operator's reply stored `pending`, its record not yet taken by the stream."""
    resp = ws.reply(conv_id, text)
    assert resp.status_code == 202, resp.text
    message = repo.get_message(ws.id, conv_id, resp.json()["id"])
    assert message is not None and message.status == "pending"
    return message


def test_racing_duplicate_records_of_a_send_call_the_provider_once(stack, monkeypatch):
    """Four workers hand the same pending message to the sender at once (a duplicate record, a retry racing the
    first attempt): one takes the lease and sends; the others see it held and come back later."""
    ws = new_workspace(stack)
    conv_id, _ = waiting_conversation(ws)
    message = pending_reply(ws, conv_id, "Only once")
    real = outbound._send
    finished: list[bool] = []

    def slow_provider(*args: Any, **kwargs: Any) -> str:  # answers once the three others have given up
        deadline = time.monotonic() + 20
        while len(finished) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return str(real(*args, **kwargs))

    monkeypatch.setattr(outbound, "_send", slow_provider)

    def worker() -> None:
        copy = repo.get_message(ws.id, conv_id, message.message_id)
        assert copy is not None
        try:
            outbound.deliver(deps(), copy)
        finally:
            finished.append(True)

    errors = race(worker)
    assert len(errors) == 3 and all(isinstance(e, outbound.SendInProgress) for e in errors)  # one sent
    assert replies_sent(ws, "Only once") == 1
    ws.drain()  # the stream's own record of the INSERT: the lease is there, the message sent: nothing to do
    assert replies_sent(ws, "Only once") == 1
    final = repo.get_message(ws.id, conv_id, message.message_id)
    assert final is not None and final.status == "sent"


def test_a_sender_that_died_holding_the_lease_is_taken_over_once_the_lease_runs_out(stack, clock, monkeypatch):
    """Killed after taking the lease and before calling the provider: nobody sends while the lease holds (the
    records come back in progress and are parked); a replay after it ran out sends the message, once."""
    ws = new_workspace(stack)
    conv_id, _ = waiting_conversation(ws)
    real = outbound._call_provider
    died: list[bool] = []

    def dies_once(*args: Any, **kwargs: Any) -> Any:
        if not died:
            died.append(True)
            raise Crash("killed holding the lease")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbound, "_call_provider", dies_once)
    message = pending_reply(ws, conv_id, "After the lease")
    ws.drain()
    assert died and replies_sent(ws, "After the lease") == 0
    with pytest.raises(outbound.SendInProgress):
        outbound.deliver(deps(), message)  # still held: a replay now waits
    clock.advance(minutes=16)  # past the longest lease (a Lambda's 15 minutes)
    outbound.deliver(deps(), message)
    outbound.deliver(deps(), message)  # and once more: it is sent, nothing to do
    assert replies_sent(ws, "After the lease") == 1
    final = repo.get_message(ws.id, conv_id, message.message_id)
    assert final is not None and final.status == "sent"
