"""SLA alerts, the notification service and working hours (E1, E2, D3) on DynamoDB Local with the real stream:
time travels with an injectable clock, the one-minute tick is called as the schedule would, and what people are
told is read back through the API, the local outbox and their WebSocket."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, timedelta

import pytest

from tests.e2e.conftest import tick
from tests.e2e.test_team_support import Socket, add_user
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def chat_id() -> int:
    return 600_000_000 + secrets.randbelow(10**8)


def customer_writes(ws, chat: int, text: str, **kwargs) -> str:
    """The customer of this chat writes through the Telegram webhook; their conversation's id."""
    name = f"Customer {chat}"
    assert ws.post_update(customer_message(chat, text, first_name=name, **kwargs)).status_code == 200
    ws.drain()
    found = [c for s in ("new", "in_progress", "closed") for c in ws.conversations(status=s, limit=100)
             if c["contact_name"] == name]
    assert len(found) == 1, found
    return found[0]["id"]


def notes_of(user, **params) -> dict:
    resp = user.api("GET", "/notifications", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def kinds(user) -> list[str]:
    return [n["kind"] for n in notes_of(user)["items"]]


def mails(email: str, kind: str) -> list:
    from chalicelib.auth.mail import OUTBOX

    return [m for m in OUTBOX.to(email) if m.kind == kind]


def set_settings(ws, **body):
    resp = ws.api("PUT", "/team/settings", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def timer_of(ws, conv_id: str):
    """The conversation's SLA timer, kept in due order on the table (`repo.put_due_timer`), if any."""
    from chalicelib.store import keys
    from chalicelib.store.models import TimerItem

    found = [t for shard in range(keys.TIMER_SHARDS) for t in TimerItem.query(
        keys.due_timers(shard), filter_condition=(TimerItem.workspace_id == ws.id)
        & (TimerItem.timer_id == f"sla#{conv_id}"), consistent_read=True)]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_sla_warning_at_80_percent_and_breach_at_100_fire_once_each_at_the_right_minute(stack, clock):
    ws = new_workspace(stack)
    lead = add_user(stack, ws.id, "admin", name="Lena Lead")
    set_settings(ws, sla_minutes=10)
    conv_id = customer_writes(ws, chat_id(), "where is my order?")
    timer = timer_of(ws, conv_id)
    assert timer is not None and timer.target["stage"] == "warning"

    clock.advance(minutes=7, seconds=59)
    assert tick() == 0 and kinds(lead) == []
    clock.advance(seconds=1)  # 8 minutes: 80 % of 10
    assert tick() == 1
    ws.drain()
    assert kinds(lead) == ["sla_warning"]
    assert tick() == 0  # the timer moved on to the breach time
    clock.advance(minutes=1, seconds=59)
    assert tick() == 0
    clock.advance(seconds=1)
    assert tick() == 1
    ws.drain()
    assert kinds(lead) == ["sla_breach", "sla_warning"]
    conv = ws.api("GET", f"/conversations/{conv_id}").json()
    assert conv["sla_breached"] is True and conv["sla_breaches"] == 1
    assert timer_of(ws, conv_id) is None
    assert len(mails(lead.email, "notification")) == 1  # the breach by e-mail (the warning: console only)
    clock.advance(hours=2)
    assert tick() == 0 and len(notes_of(lead)["items"]) == 2


def test_an_answer_removes_the_timer_and_a_stale_timer_fires_nothing(stack, clock):
    from chalicelib.store import repo
    from chalicelib.store.models import plain

    ws = new_workspace(stack)
    lead = add_user(stack, ws.id, "admin")
    conv_id = customer_writes(ws, chat_id(), "hello")
    timer = timer_of(ws, conv_id)
    assert timer is not None
    assert ws.reply(conv_id, "Hi, how can I help?").status_code in (200, 201, 202)
    ws.drain()
    assert timer_of(ws, conv_id) is None
    # a replayed record could write the timer back: its handler sees that the wait is over
    repo.put_due_timer(ws.id, f"sla#{conv_id}", "sla", timer.due_at, plain(timer.target), now=clock())
    clock.advance(hours=1)
    assert tick() == 1
    ws.drain()
    assert kinds(lead) == []


def waiting_customer(stack, text: str, *, sla_minutes: int):
    """A workspace with a lead and this SLA, and a customer who just wrote: (workspace, lead, conversation id)."""
    ws = new_workspace(stack)
    lead = add_user(stack, ws.id, "admin")
    set_settings(ws, sla_minutes=sla_minutes)
    return ws, lead, customer_writes(ws, chat_id(), text)


def test_an_answer_after_the_warning_removes_the_breach_timer(stack, clock):
    ws, lead, conv_id = waiting_customer(stack, "anyone?", sla_minutes=10)
    clock.advance(minutes=8)
    assert tick() == 1  # the warning; the timer moves to the breach time
    ws.drain()
    assert timer_of(ws, conv_id).target["stage"] == "breach"
    assert ws.reply(conv_id, "Sorry for the wait").status_code in (200, 201, 202)
    ws.drain()
    assert timer_of(ws, conv_id) is None  # removed where it was (a second put of the wait would show here too)
    clock.advance(hours=1)
    assert tick() == 0 and kinds(lead) == ["sla_warning"]


def test_two_overlapping_ticks_fire_a_breach_once(stack, clock):
    ws, lead, conv_id = waiting_customer(stack, "are you there?", sla_minutes=5)
    clock.advance(minutes=4)
    assert tick() == 1  # the warning
    clock.advance(minutes=1)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(tick())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    ws.drain()
    assert kinds(lead).count("sla_breach") == 1
    assert ws.api("GET", f"/conversations/{conv_id}").json()["sla_breaches"] == 1


def test_a_tick_that_dies_half_way_is_finished_by_a_later_tick_without_doubling(stack, clock):
    from chalicelib.services import sla, timers

    ws, lead, conv_id = waiting_customer(stack, "still waiting", sla_minutes=5)
    clock.advance(minutes=5)
    assert tick() == 1  # the warning (its breach is due now too)

    def dies_after_the_effect(d, timer):
        sla.fire(d, timer)
        raise RuntimeError("the tick's Lambda was killed")

    timers.HANDLERS["sla"] = dies_after_the_effect
    try:
        assert tick() == 0
    finally:
        timers.HANDLERS["sla"] = sla.fire
    assert timer_of(ws, conv_id) is not None  # leased, not lost
    assert tick() == 0  # another tick inside the lease leaves it alone
    clock.advance(seconds=51)
    assert tick() == 1
    ws.drain()
    assert kinds(lead).count("sla_breach") == 1
    assert ws.api("GET", f"/conversations/{conv_id}").json()["sla_breaches"] == 1
    assert timer_of(ws, conv_id) is None


def test_sla_policy_by_tag_and_next_response_target(stack, clock):
    ws = new_workspace(stack)
    set_settings(ws, sla_minutes=60, sla_policies=[
        {"id": "vip", "name": "VIP", "tags": ["vip"], "first_response_minutes": 5, "next_response_minutes": 20}])
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "first")
    assert timer_of(ws, conv_id).target["minutes"] == "60"  # no tag yet: the default policy
    assert ws.reply(conv_id, "answer").status_code in (200, 201, 202)
    ws.drain()
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"tags": ["vip"]}).status_code == 200
    customer_writes(ws, chat, "second")
    timer = timer_of(ws, conv_id)
    assert timer.target["policy_id"] == "vip" and timer.target["target"] == "next_response"
    assert timer.target["minutes"] == "20"


def test_bad_sla_and_hours_settings_are_refused_and_change_nothing(stack):
    ws = new_workspace(stack)
    before = ws.api("GET", "/team/settings").json()
    for body in ({"working_hours": {"time_zone": "Mars/Olympus", "week": {}}},
                 {"working_hours": {"time_zone": "Europe/Moscow", "week": {"mon": [["09:00", "13:00"],
                                                                                  ["12:00", "18:00"]]}}},
                 {"working_hours": {"time_zone": "Europe/Moscow", "week": {"mon": [["18:00", "09:00"]]}}},
                 {"working_hours": {"time_zone": "Europe/Moscow", "week": {"funday": []}}},
                 {"working_hours": {"time_zone": "UTC", "holidays": ["31.12.2026"]}},
                 {"sla_policies": [{"id": "a", "first_response_minutes": 0}]},
                 {"sla_policies": [{"id": "a", "first_response_minutes": 5}, {"id": "a", "first_response_minutes": 6}]},
                 {"sla_minutes": 15, "working_hours": {"time_zone": "../etc/passwd"}}):
        resp = ws.api("PUT", "/team/settings", json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["message"]
    assert ws.api("GET", "/team/settings").json() == before


def test_off_hours_message_once_per_closed_period_in_the_customers_language(stack, clock):
    ws = new_workspace(stack)
    # closed every day but 09:00-18:00 Moscow time on weekdays; the clock is set to a Saturday 12:00 there
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")
    local = clock().astimezone(moscow)
    saturday = local + timedelta(days=(5 - local.weekday()) % 7)
    clock.now = saturday.replace(hour=12, minute=0, second=0, microsecond=0).astimezone(UTC)
    week = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    set_settings(ws, working_hours={"time_zone": "Europe/Moscow", "week": week},
                 off_hours_messages={"en": "We are off until Monday."})
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "hello?", language="en")
    ws.drain()
    texts = [m["text"] for m in ws.messages(conv_id) if m["direction"] == "out"]
    assert texts == ["We are off until Monday."]  # no greeting outside hours: the off-hours message instead
    clock.advance(hours=3)
    customer_writes(ws, chat, "anyone?", language="en")
    ws.drain()
    assert [m["text"] for m in ws.messages(conv_id) if m["direction"] == "out"] == texts
    clock.advance(days=2)  # Monday 15:00: open, nothing automatic
    customer_writes(ws, chat, "monday now", language="en")
    ws.drain()
    assert len([m for m in ws.messages(conv_id) if m["direction"] == "out"]) == 1
    clock.advance(hours=5)  # Monday 20:00: a new closed period
    customer_writes(ws, chat, "evening", language="en")
    ws.drain()
    out = [m["text"] for m in ws.messages(conv_id) if m["direction"] == "out"]
    assert out == ["We are off until Monday.", "We are off until Monday."]
    sent = [c for c in ws.bot_sent if c["params"].get("text") == "We are off until Monday."]
    assert len(sent) == 2


def test_greeting_inside_hours_in_russian_by_default(stack, clock):
    ws = new_workspace(stack)
    set_settings(ws, working_hours={"time_zone": "UTC", "week": {d: [["00:00", "24:00"]] for d in
                                                                 ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}})
    conv_id = customer_writes(ws, chat_id(), "привет", language="ru")
    ws.drain()
    out = [m for m in ws.messages(conv_id) if m["direction"] == "out"]
    assert len(out) == 1 and out[0]["text"].startswith("Здравствуйте")


def test_notifications_are_per_user_marked_read_and_pushed_live(stack, clock):
    ws = new_workspace(stack)
    anna = add_user(stack, ws.id, "operator", name="Anna Smirnova")
    boris = add_user(stack, ws.id, "operator", name="Boris")
    conv_id = customer_writes(ws, chat_id(), "help me")
    socket = Socket.of(anna)
    try:
        resp = boris.api("POST", f"/conversations/{conv_id}/notes", json={"text": "@anna can you take this?"})
        assert resp.status_code in (200, 201), resp.text
        ws.drain()
        pushed = socket.receive_json(5, until=lambda m: m.get("type") == "notification.new")
        assert any(m.get("type") == "notification.new" and m["notification"]["kind"] == "mention" for m in pushed)
    finally:
        socket.drop()
    mine = notes_of(anna)
    assert [n["kind"] for n in mine["items"]] == ["mention"] and mine["unread"] == 1
    assert mine["items"][0]["link"] == {"conversation_id": conv_id}
    assert notes_of(boris)["items"] == []  # the author is not told of their own note
    other = boris.api("POST", "/notifications/read", json={"ids": [mine["items"][0]["id"]]})
    assert other.status_code == 404  # someone else's notification does not exist for Boris
    assert notes_of(anna)["unread"] == 1
    done = anna.api("POST", "/notifications/read", json={"ids": [mine["items"][0]["id"]]})
    assert done.status_code == 200 and done.json() == {"marked": 1, "unread": 0}
    assert notes_of(anna)["items"][0]["read"] is True
    assert anna.api("POST", "/notifications/read", json={"ids": []}).status_code == 400
    # handing the conversation to Anna tells her; taking it herself would not
    clock.advance(seconds=5)
    resp = boris.api("POST", f"/conversations/{conv_id}/assign", json={"assignee_id": anna.user_id})
    assert resp.status_code == 200, resp.text
    ws.drain()
    assert kinds(anna) == ["assigned_to_me", "mention"]
    assert anna.api("POST", "/notifications/read", json={"all": True}).json()["unread"] == 0


def test_digest_and_quiet_hours_hold_e_mail_and_send_one_message(stack, clock):
    ws = new_workspace(stack)
    lead = add_user(stack, ws.id, "admin")
    resp = lead.api("PUT", "/me/notifications", json={"email_mode": "digest"})
    assert resp.status_code == 200 and resp.json()["email_mode"] == "digest"
    set_settings(ws, sla_minutes=5)
    for text in ("one", "two"):
        customer_writes(ws, chat_id(), text)
    clock.advance(minutes=5)
    tick()
    tick()
    ws.drain()
    assert kinds(lead).count("sla_breach") == 2
    assert mails(lead.email, "notification") == [] and mails(lead.email, "digest") == []
    clock.advance(hours=1)
    tick()
    digests = mails(lead.email, "digest")
    # the workspace speaks Russian: the digest does too
    assert len(digests) == 1 and digests[0].text.count("SLA нарушен") == 2 and "уведомлений — 2" in digests[0].subject
    clock.advance(hours=1)
    tick()
    assert len(mails(lead.email, "digest")) == 1
    bad = lead.api("PUT", "/me/notifications", json={"quiet_hours": {"start": "22:00", "end": "22:00",
                                                                     "time_zone": "UTC"}})
    assert bad.status_code == 400
    bad = lead.api("PUT", "/me/notifications", json={"quiet_hours": {"start": "22:00", "end": "07:00",
                                                                     "time_zone": "Nowhere/City"}})
    assert bad.status_code == 400 and lead.api("GET", "/me/notifications").json()["quiet_hours"] is None


def test_a_channel_may_keep_hours_of_its_own(stack, clock):
    from zoneinfo import ZoneInfo

    ws = new_workspace(stack)
    bad = ws.api("PATCH", f"/channels/{ws.channel_id}", json={"settings": {"working_hours": {"time_zone": "Nowhere"}}})
    assert bad.status_code == 400 and "time zone" in bad.json()["error"]["message"]
    local = clock().astimezone(ZoneInfo("Asia/Tokyo")).replace(hour=3, minute=0, second=0, microsecond=0)
    clock.now = local.astimezone(UTC)  # 03:00 in Tokyo: the channel is closed, the workspace (no hours) is open
    resp = ws.api("PATCH", f"/channels/{ws.channel_id}", json={"settings": {"working_hours": {
        "time_zone": "Asia/Tokyo", "week": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri",
                                                                               "sat", "sun")}}}})
    assert resp.status_code == 200, resp.text
    from chalicelib.store import repo

    repo.forget_cached_channels()
    conv_id = customer_writes(ws, chat_id(), "hello at night", language="en")
    ws.drain()
    out = [m["text"] for m in ws.messages(conv_id) if m["direction"] == "out"]
    assert len(out) == 1 and out[0].startswith("Hello! We are away")
