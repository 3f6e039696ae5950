"""An operator's reply (and any outbound message) is stored once, bumps its conversation once and reaches the
provider once without a transaction (issue 14, the outbound path).

The writes are conditional and idempotent per message id, in an order chosen so a crash between any two is finished
by the retry (the stream's, or the API client's with the same message id). These tests kill the writer between the
writes, replay records that already succeeded and race writers, on DynamoDB Local through the real stream pump.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.local.fakes.graph import whatsapp_webhook
from chalicelib.store import repo
from chalicelib.store.models import MessageItem
from tests.e2e.test_channel_meta import digits, only, open_shop

pytestmark = pytest.mark.ddblocal


class Crash(RuntimeError):
    """The Lambda dying between two writes (the stream pump retries the record, as Lambda does)."""


def test_a_crash_between_the_pointer_and_the_sent_status_is_finished_by_the_retry_and_sends_once(stack, monkeypatch):
    """mark_sent: the pointer first, then `sent`. Killed in between, the message is still `pending`, but a delivery
    status the provider reports at that moment finds it through the pointer; the stream's retry records `sent`
    from the idempotent sender's saved outcome, without calling the provider again."""
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
    assert greeting["status"] == "sent" and greeting["delivery"] == "delivered"
    assert greeting["external_message_id"] == shop.fake.sent(wa_id)[-1]["id"]
    assert len(shop.fake.sent(wa_id)) == 1  # the retry did not send it again
