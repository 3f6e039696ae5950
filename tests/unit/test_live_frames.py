"""Live updates of one stream batch go out as one frame per console (issue 14): what `frames_of` sends."""

from __future__ import annotations

import json

from chalicelib.services.live import FRAME_BYTES, frames_of


def events(frame: bytes) -> list[dict]:
    value = json.loads(frame)
    return value["events"] if value["type"] == "batch" else [value]


def test_one_event_is_sent_as_itself():
    (frame,) = frames_of([{"type": "message.new", "conversation_id": "c1"}])
    assert json.loads(frame) == {"type": "message.new", "conversation_id": "c1"}


def test_a_message_and_its_conversation_move_are_one_frame_in_order():
    batch = [{"type": "message.new", "conversation_id": "c1", "message": {"id": "m1"}},
             {"type": "conversation.updated", "conversation": {"id": "c1", "revision": 3}}]
    (frame,) = frames_of(batch)
    assert json.loads(frame)["type"] == "batch"
    assert events(frame) == batch


def test_a_conversation_updated_twice_in_a_batch_is_sent_once_as_it_is_last():
    batch = [{"type": "conversation.updated", "conversation": {"id": "c1", "revision": 3}},
             {"type": "message.new", "conversation_id": "c1"},
             {"type": "conversation.updated", "conversation": {"id": "c2", "revision": 1}},
             {"type": "conversation.updated", "conversation": {"id": "c1", "revision": 4}}]
    (frame,) = frames_of(batch)
    assert events(frame) == batch[1:]


def test_a_big_batch_is_split_into_frames_under_32_kb_and_keeps_every_event():
    batch = [{"type": "message.new", "conversation_id": f"c{i}", "text": "я" * 900} for i in range(100)]
    frames = frames_of(batch)
    assert len(frames) > 1
    assert all(len(f) <= FRAME_BYTES for f in frames)
    assert [e for f in frames for e in events(f)] == batch
