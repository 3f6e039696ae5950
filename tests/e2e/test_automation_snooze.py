"""Snooze, reminders and stale conversations (E4) through the API, the real stream and the one-minute tick."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.model import iso
from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes, kinds
from tests.e2e.test_team_support import add_user
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


def workspace(stack):
    """A workspace whose SLA (a week) never fires inside these tests, so each tick counts only what they test."""
    ws = new_workspace(stack)
    assert ws.api("PUT", "/team/settings", json={"sla_minutes": 10080}).status_code == 200
    return ws


def status_of(ws, conv_id: str) -> str:
    return ws.api("GET", f"/conversations/{conv_id}").json()["status"]


def inbox(ws, status: str) -> list[str]:
    return [c["id"] for c in ws.conversations(status=status, limit=100)]


def test_a_snoozed_conversation_leaves_the_queue_and_comes_back_at_its_time(stack, clock):
    ws = workspace(stack)
    op = add_user(stack, ws.id, "operator")
    conv_id = customer_writes(ws, chat_id(), "call me tomorrow")
    assert op.api("POST", f"/conversations/{conv_id}/claim").status_code == 200
    ws.drain()
    until = iso(clock() + timedelta(hours=3))
    resp = op.api("POST", f"/conversations/{conv_id}/snooze", json={"until": until})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "snoozed" and resp.json()["snoozed_until"] == until
    ws.drain()
    assert conv_id not in inbox(ws, "new") and conv_id in inbox(ws, "snoozed")
    clock.advance(hours=2, minutes=59)
    assert tick() == 0
    clock.advance(minutes=1)
    assert tick() == 1
    ws.drain()
    assert status_of(ws, conv_id) == "new" and conv_id in inbox(ws, "new")
    assert "reminder" in kinds(op)  # the assignee hears it is back


def test_the_customer_writing_wakes_a_snoozed_conversation_early_and_the_timer_then_does_nothing(stack, clock):
    ws = workspace(stack)
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "first")
    resp = ws.api("POST", f"/conversations/{conv_id}/snooze", json={"until": iso(clock() + timedelta(days=1))})
    assert resp.status_code == 200, resp.text
    ws.drain()
    clock.advance(hours=1)
    customer_writes(ws, chat, "actually, now please")
    assert status_of(ws, conv_id) == "in_progress"
    clock.advance(days=1)
    tick()
    ws.drain()
    assert status_of(ws, conv_id) == "in_progress"


def test_snooze_refuses_bad_times_and_closed_conversations(stack, clock):
    ws = workspace(stack)
    conv_id = customer_writes(ws, chat_id(), "hello")
    for until in (iso(clock() - timedelta(minutes=1)), "tomorrow", "2030-01-01T10:00:00",
                  iso(clock() + timedelta(days=91)), 5):
        resp = ws.api("POST", f"/conversations/{conv_id}/snooze", json={"until": until})
        assert resp.status_code == 400, (until, resp.text)
    assert ws.api("POST", f"/conversations/{conv_id}/snooze", json={}).status_code == 400
    assert status_of(ws, conv_id) == "new"
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"status": "closed"}).status_code == 200
    resp = ws.api("POST", f"/conversations/{conv_id}/snooze", json={"until": iso(clock() + timedelta(hours=1))})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "closed"
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"status": "snoozed"}).status_code == 400


def test_a_reminder_tells_only_its_owner_once_when_due_and_a_cancelled_one_never(stack, clock):
    ws = workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator"), add_user(stack, ws.id, "operator")
    conv_id = customer_writes(ws, chat_id(), "order 42")
    at = iso(clock() + timedelta(minutes=30))
    made = anna.api("POST", f"/conversations/{conv_id}/reminders", json={"at": at, "note": "check the courier"})
    assert made.status_code == 201, made.text
    other = anna.api("POST", f"/conversations/{conv_id}/reminders", json={"at": iso(clock() + timedelta(hours=1))})
    assert [r["id"] for r in anna.api("GET", "/reminders").json()["items"]] == [made.json()["id"], other.json()["id"]]
    assert boris.api("GET", "/reminders").json()["items"] == []
    assert boris.api("DELETE", f"/reminders/{other.json()['id']}").status_code == 404
    assert anna.api("DELETE", f"/reminders/{other.json()['id']}").status_code == 204
    bad = anna.api("POST", f"/conversations/{conv_id}/reminders", json={"at": iso(clock() - timedelta(hours=1))})
    assert bad.status_code == 400
    clock.advance(minutes=29)
    assert tick() == 0
    clock.advance(minutes=1)
    assert tick() == 1
    ws.drain()
    clock.advance(hours=2)
    tick()
    ws.drain()
    assert kinds(anna) == ["reminder"] and kinds(boris) == []
    assert anna.api("GET", "/reminders").json()["items"] == []


def test_in_progress_conversations_without_activity_for_the_teams_hours_are_stale(stack, clock):
    ws = workspace(stack)
    assert ws.api("PUT", "/team/settings", json={"stale_hours": 4}).status_code == 200
    quiet, busy = customer_writes(ws, chat_id(), "one"), customer_writes(ws, chat_id(), "two")
    for conv_id in (quiet, busy):
        assert ws.reply(conv_id, "looking into it").status_code == 202
    ws.drain()
    clock.advance(hours=3)
    assert ws.reply(busy, "still on it").status_code == 202
    ws.drain()
    clock.advance(hours=1, minutes=30)
    stale = ws.api("GET", "/conversations", params={"stale": "1"}).json()
    assert [c["id"] for c in stale["items"]] == [quiet] and stale["stale_hours"] == 4
    assert ws.api("PUT", "/team/settings", json={"stale_hours": -1}).status_code == 400
    assert ws.api("PUT", "/team/settings", json={"stale_hours": 0}).status_code == 200
    assert ws.api("GET", "/conversations", params={"stale": "1"}).json()["items"] == []
