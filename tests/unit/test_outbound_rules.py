"""Which stream records the outbound path acts on (issue 14): sends once per generation, bumps after a writer's
crash only for the operator's own replies and notes (greetings, auto-replies and surveys never bump)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services import outbound
from chalicelib.store import repo
from chalicelib.store.models import MessageItem


def message(**attrs: Any) -> MessageItem:
    base = {"direction": "out", "origin": "operator", "status": "pending", "generation": 0, "text": "hi"}
    return repo.new_message("ws_1", "c_1", "m_1", channel_id="ch_1", **(base | attrs))


def test_a_new_pending_reply_is_sent_and_its_conversation_bump_checked():
    new = message()
    assert outbound.needs_delivery(new, None) and outbound.bumped_by_writer(new, None)
    assert outbound.needs_work(new, None)


def test_a_note_is_never_sent_but_its_bump_is_checked():
    note = message(direction="note", status="received")
    assert not outbound.needs_delivery(note, None)
    assert outbound.bumped_by_writer(note, None) and outbound.needs_work(note, None)
    assert not repo.answers_customer(note) and repo.answers_customer(message())


@pytest.mark.parametrize("origin", ["greeting", "rule", "survey", "provider"])
def test_messages_written_without_a_bump_are_only_sent(origin: str):
    new = message(origin=origin)
    assert not outbound.bumped_by_writer(new, None)
    assert outbound.needs_work(new, None) == outbound.needs_delivery(new, None)


def test_a_modify_is_sent_again_only_for_a_new_generation_and_never_bumps():
    old = message()
    assert not outbound.needs_work(message(), old)  # the same pending generation again (e.g. a delivery status)
    assert not outbound.needs_work(message(status="sent"), old)
    retried = message(generation=1)
    assert outbound.needs_delivery(retried, message(status="failed")) and not outbound.bumped_by_writer(retried, old)
