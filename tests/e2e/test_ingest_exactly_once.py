"""A customer's message is stored once and counted once without a transaction (issue 14).

The stream records it with conditional writes in a fixed order (pointer, conversation bump, message). These tests
kill the writer between the writes, replay records that already succeeded, and race two workers on one record,
on DynamoDB Local through the real stream pump; each checks the thread and the conversation's counters.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from typing import Any

import pytest

from chalicelib.domain.model import InboundEvent, conversation_id_for
from chalicelib.services import inbound
from chalicelib.services.deps import deps
from chalicelib.store import repo
from chalicelib.store.models import MessageItem
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


class Crash(RuntimeError):
    """The Lambda dying between two writes (the stream pump retries the record, as Lambda does)."""


def chat() -> int:
    return 6_000_000 + secrets.randbelow(10**6)


def recorded_events(monkeypatch: pytest.MonkeyPatch) -> list[InboundEvent]:
    """Every event the stream hands to ingest, in order (to replay them afterwards)."""
    seen: list[InboundEvent] = []
    real = inbound.process_inbound

    def recording(d: Any, event: InboundEvent, **kwargs: Any) -> None:
        seen.append(event)
        real(d, event, **kwargs)

    monkeypatch.setattr(inbound, "process_inbound", recording)
    return seen


def race(work: Any, workers: int = 4) -> list[BaseException]:
    """Run `work` in `workers` threads released at the same moment; what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def worker() -> None:
        try:
            barrier.wait()
            work()
        except BaseException as err:  # noqa: BLE001 - returned to the test
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def conversation_counts(ws: Any) -> tuple[int, int, int]:
    (conv,) = ws.conversations()
    stored = repo.get_conversation(ws.id, conv["id"], consistent=True)
    assert stored is not None
    messages = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    return len(messages), int(stored.message_count), int(stored.unread_count)


def test_a_crash_after_the_conversation_bump_and_before_the_message_is_finished_by_the_retry(stack, monkeypatch):
    ws = new_workspace(stack)
    chat_id = chat()
    assert ws.post_update(customer_message(chat_id, "first")).status_code == 200
    ws.drain()
    real_put_new = repo.put_new
    crashed: list[str] = []

    def dies_once_on_the_message(item: Any) -> bool:
        if isinstance(item, MessageItem) and item.text == "second" and not crashed:
            crashed.append(item.message_id)
            raise Crash("killed between the conversation bump and the message")
        return real_put_new(item)

    monkeypatch.setattr(repo, "put_new", dies_once_on_the_message)
    assert ws.post_update(customer_message(chat_id, "second")).status_code == 200
    ws.drain()

    assert crashed, "the crash was injected"
    assert conversation_counts(ws) == (2, 2, 2)  # the retry wrote the message and did not bump again
    (conv,) = ws.conversations()
    assert conv["last_message_preview"] == "second"


def test_a_crash_after_the_pointer_and_before_the_bump_is_finished_by_the_retry(stack, monkeypatch):
    ws = new_workspace(stack)
    chat_id = chat()
    real_count = repo._count_message
    crashed: list[bool] = []

    def dies_once(*args: Any, **kwargs: Any) -> None:
        if not crashed:
            crashed.append(True)
            raise Crash("killed after the pointer")
        real_count(*args, **kwargs)

    monkeypatch.setattr(repo, "_count_message", dies_once)
    assert ws.post_update(customer_message(chat_id, "hello")).status_code == 200
    ws.drain()
    assert crashed
    assert conversation_counts(ws) == (1, 1, 1)


def test_replaying_every_record_of_a_long_conversation_changes_nothing(stack, monkeypatch):
    """More messages than the conversation remembers (`RECENT_IDS`): a replay is still stopped by the message."""
    ws = new_workspace(stack)
    chat_id = chat()
    events = recorded_events(monkeypatch)
    total = repo.RECENT_IDS + 8
    for n in range(total):
        assert ws.post_update(customer_message(chat_id, f"message {n}")).status_code == 200
    ws.drain()
    assert len(events) == total
    (conv,) = ws.conversations()
    before = repo.get_conversation(ws.id, conv["id"], consistent=True)
    assert before is not None and int(before.message_count) == total

    for event in list(events):  # a whole batch redelivered, as after a partial failure
        inbound.process_inbound(deps(), event)

    after = repo.get_conversation(ws.id, conv["id"], consistent=True)
    assert after is not None
    assert int(after.revision) == int(before.revision)  # not one write to the conversation
    assert conversation_counts(ws) == (total, total, total)


def test_two_workers_racing_on_one_record_store_and_count_it_once(stack, monkeypatch):
    ws = new_workspace(stack)
    chat_id = chat()
    events = recorded_events(monkeypatch)
    assert ws.post_update(customer_message(chat_id, "first")).status_code == 200
    ws.drain()
    assert ws.post_update(customer_message(chat_id, "raced")).status_code == 200
    ws.drain()
    raced = events[-1]
    assert not race(lambda: inbound.process_inbound(deps(), raced))  # four redeliveries of a done record at once
    assert conversation_counts(ws) == (2, 2, 2)


def test_racing_first_deliveries_of_one_message_store_and_count_it_once(stack, monkeypatch):
    """Four workers get the same new message at once (no earlier attempt): one message, one bump."""
    ws = new_workspace(stack)
    chat_id = chat()
    events = recorded_events(monkeypatch)
    assert ws.post_update(customer_message(chat_id, "first")).status_code == 200
    ws.drain()
    template = events[-1]
    fresh = dataclasses.replace(template, external_message_id=template.external_message_id + "7",
                                external_event_id=template.external_event_id + "7", text="concurrent")
    errors = race(lambda: inbound.process_inbound(deps(), fresh))
    ws.drain()
    assert not errors
    assert conversation_counts(ws) == (2, 2, 2)


def counts_of(ws: Any, conv_id: str) -> tuple[int, int, int, int]:
    """(messages in the thread from the customer, message_count, unread_count, revision) of one conversation."""
    stored = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert stored is not None
    messages = [m for m in ws.messages(conv_id) if m["direction"] == "in"]
    return len(messages), int(stored.message_count), int(stored.unread_count), int(stored.revision)


def test_a_new_conversation_is_stored_once_with_its_first_message_counted(stack):
    """One write for the conversation (no put then update): its revision is 1, and the customer waits from it."""
    ws = new_workspace(stack)
    assert ws.post_update(customer_message(chat(), "hello there")).status_code == 200
    ws.drain()
    (conv,) = ws.conversations()
    stored = repo.get_conversation(ws.id, conv["id"], consistent=True)
    assert stored is not None
    assert counts_of(ws, conv["id"]) == (1, 1, 1, 1)
    assert stored.awaiting_since == stored.first_inbound_at == stored.last_inbound_at == stored.created_at
    assert stored.last_message_preview == "hello there"
    assert stored.recent_ids == [repo.counted_tag(ws.messages(conv["id"])[0]["id"])]


@pytest.mark.parametrize("where", ["before_the_conversation", "after_the_conversation"])
def test_a_crash_around_a_new_conversation_is_finished_by_the_retry(stack, monkeypatch, where):
    ws = new_workspace(stack)
    crashed: list[str] = []
    real_create, real_put_new = repo._create_conversation, repo.put_new

    def create(conv: Any) -> Any:
        if where == "before_the_conversation" and not crashed:
            crashed.append(where)
            raise Crash("killed before the conversation was written")
        return real_create(conv)

    def put_new(item: Any) -> bool:
        if where == "after_the_conversation" and isinstance(item, MessageItem) and not crashed:
            crashed.append(where)
            raise Crash("killed between the new conversation and its first message")
        return real_put_new(item)

    monkeypatch.setattr(repo, "_create_conversation", create)
    monkeypatch.setattr(repo, "put_new", put_new)
    assert ws.post_update(customer_message(chat(), "hello")).status_code == 200
    ws.drain()
    assert crashed == [where]
    (conv,) = ws.conversations()
    assert counts_of(ws, conv["id"])[:3] == (1, 1, 1)


def test_racing_first_deliveries_of_a_conversations_first_message_create_and_count_it_once(stack, monkeypatch):
    """Four workers get the first message of a chat nobody wrote from before: one conversation, counted once."""
    ws = new_workspace(stack)
    events = recorded_events(monkeypatch)
    assert ws.post_update(customer_message(chat(), "first")).status_code == 200
    ws.drain()
    template = events[-1]
    other_chat = str(chat())
    fresh = dataclasses.replace(template, external_conversation_id=other_chat,
                                external_message_id=template.external_message_id + "9",
                                external_event_id=template.external_event_id + "9", text="a new chat")
    assert not race(lambda: inbound.process_inbound(deps(), fresh))
    ws.drain()
    new_id = conversation_id_for(ws.id, template.channel_id, other_chat)
    assert counts_of(ws, new_id)[:3] == (1, 1, 1)
    assert len(ws.conversations()) == 2


def stored_under_pointer(ws: Any, event: InboundEvent) -> dict[str, Any] | None:
    """The raw item at the event's provider-id pointer key."""
    from chalicelib.store import keys
    from chalicelib.store.base import connection
    from chalicelib.store.models import MainItem

    pk, sk = keys.external_message(ws.id, event.channel_id, event.external_conversation_id, event.external_message_id)
    got = connection().client.get_item(TableName=str(MainItem.Meta.table_name), ConsistentRead=True,
                                       Key={"pk": {"S": pk}, "sk": {"S": sk}})
    return got.get("Item")


def test_a_customers_message_is_one_webhook_item_under_its_pointer_and_a_redelivery_is_a_duplicate(stack,
                                                                                                  monkeypatch):
    from chalicelib.store import keys
    from chalicelib.store.models import InboundItem

    ws = new_workspace(stack)
    events = recorded_events(monkeypatch)
    update = customer_message(chat(), "where is my parcel?")
    assert ws.post_update(update).status_code == 200
    ws.drain()
    (event,) = events
    item = stored_under_pointer(ws, event)
    assert item is not None and item["type"]["S"] == "inmsg"  # the webhook's item: the stream wrote no pointer
    (conv,) = ws.conversations()
    (message,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert item["message_id"]["S"] == message["id"] and item["conversation_id"]["S"] == conv["id"]
    with pytest.raises(InboundItem.DoesNotExist):  # no IN# item beside it
        InboundItem.get(*keys.inbound(event.dedupe_key), consistent_read=True)

    again = {**update, "update_id": update["update_id"] + 1_000_000}  # the same message, another delivery id
    assert ws.post_update(again).status_code == 200
    ws.drain()
    assert len(events) == 1 and conversation_counts(ws) == (1, 1, 1)
    inbound.process_inbound(deps(), event, queued=message["id"])  # its record replayed, as the stream would
    assert conversation_counts(ws) == (1, 1, 1)


def test_an_edit_handled_before_its_queued_original_is_the_message_and_the_original_adds_nothing(stack,
                                                                                                monkeypatch):
    """The original is stored under its pointer by the webhook, but its record is handled after the edit's (two
    shards): the edit becomes the message under the pointer's id, counted once; the original then writes nothing."""
    ws = new_workspace(stack)
    chat_id = chat()
    real = inbound.process_inbound
    order: list[str] = []

    def edit_first(d: Any, event: InboundEvent, **kwargs: Any) -> None:
        if kwargs.get("queued") and event.text == "Где мой заказ":
            edit = dataclasses.replace(event, event_type="message_edited", text="Где мой заказ №5", is_edited=True,
                                       external_event_id=event.external_event_id + "e")
            order.append("edit")
            real(d, edit)  # the edit's record, on another shard, first
        order.append(event.event_type)
        real(d, event, **kwargs)

    monkeypatch.setattr(inbound, "process_inbound", edit_first)
    assert ws.post_update(customer_message(chat_id, "Где мой заказ")).status_code == 200
    ws.drain()
    assert order == ["edit", "message"]
    assert conversation_counts(ws) == (1, 1, 1)
    (conv,) = ws.conversations()
    (message,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert message["text"] == "Где мой заказ №5" and message["edited"] is True
