"""Task reminders and notifications (F2) with the app's injectable clock: the reminder comes once, at its minute,
from the one-minute schedule; a moved deadline moves it; a finished task has none. Assignment, comments,
escalation and "Engineering fixed it" reach the right people once, through the notification service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.model import iso
from tests.e2e.conftest import Clock
from tests.e2e.test_tasks_api import member
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal

T0 = datetime(2032, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    from chalicelib.services.deps import deps

    at = Clock(T0)
    monkeypatch.setattr(deps(), "clock", at)
    return at


@pytest.fixture
def ws(stack, clock):
    return new_workspace(stack)


def told(ws, user_id: str, kind: str | None = None) -> list[dict]:
    """What the notification service told this member, oldest first (the bell's items)."""
    from chalicelib.store import notifications
    from chalicelib.store.models import plain

    items = reversed(notifications.list_of(ws.id, user_id, limit=200))
    return [{"kind": n.kind, "title": n.title, "link": plain(n.link), "text_key": n.text_key,
             "params": plain(n.params)} for n in items
            if kind is None or n.kind == kind]


def tick(ws, clock, when: datetime) -> None:
    """The one-minute schedule runs at `when`."""
    from chalicelib.services import timers
    from chalicelib.services.deps import deps

    clock.now = when
    ws.drain()
    timers.fire_due(deps())
    ws.drain()


def create(ws, **body) -> dict:
    resp = ws.api("POST", "/tasks", json={"title": "Check the refund", **body})
    assert resp.status_code == 201, resp.text
    ws.drain()
    return resp.json()


def patch(ws, task: dict, **body) -> dict:
    resp = ws.api("PATCH", f"/tasks/{task['id']}", json=body)
    assert resp.status_code == 200, resp.text
    ws.drain()
    return resp.json()


def timer_due(ws, timer_id: str) -> str | None:
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.store import keys
    from chalicelib.store.models import TimerItem

    try:
        return TimerItem.get(*keys.timer(ws.id, timer_id), consistent_read=True).due_at
    except DoesNotExist:
        return None


def test_the_reminder_fires_once_at_its_minute_and_the_due_notice_at_the_deadline(ws, clock):
    anna = member(ws, name="Anna")
    task = create(ws, assignee_id=anna, deadline=iso(T0 + timedelta(hours=2)), remind_minutes=60)
    assert timer_due(ws, f"task-reminder#{task['id']}") == iso(T0 + timedelta(hours=1))
    tick(ws, clock, T0 + timedelta(minutes=59))
    assert told(ws, anna, "task_due_soon") == []
    tick(ws, clock, T0 + timedelta(minutes=60))
    soon = told(ws, anna, "task_due_soon")
    assert [n["title"] for n in soon] == ["№1 Check the refund: скоро срок"]  # the workspace speaks Russian
    assert soon[0]["text_key"] == "task_due_soon" and soon[0]["params"]["number"] == "1"  # each reader's language
    tick(ws, clock, T0 + timedelta(minutes=61))
    tick(ws, clock, T0 + timedelta(minutes=119))
    assert len(told(ws, anna, "task_due_soon")) == 1 and told(ws, anna, "task_due") == []
    tick(ws, clock, T0 + timedelta(minutes=120))
    tick(ws, clock, T0 + timedelta(minutes=125))
    assert len(told(ws, anna, "task_due")) == 1 and len(told(ws, anna, "task_due_soon")) == 1


def test_a_handler_run_twice_for_one_timer_tells_nobody_twice(ws, clock):
    """A tick that dies after the handler ran leaves the timer; the next tick runs the handler again."""
    from chalicelib.services import tasks
    from chalicelib.services.deps import deps
    from chalicelib.store import keys
    from chalicelib.store.models import TimerItem

    anna = member(ws, name="Anna")
    task = create(ws, assignee_id=anna, deadline=iso(T0 + timedelta(hours=2)))
    timer = TimerItem.get(*keys.timer(ws.id, f"task-due#{task['id']}"), consistent_read=True)
    clock.now = T0 + timedelta(hours=2)
    tasks._on_timer(deps(), timer)
    tasks._on_timer(deps(), timer)
    assert len(told(ws, anna, "task_due")) == 1


def test_a_deadline_moved_later_or_earlier_moves_its_reminder(ws, clock):
    anna = member(ws, name="Anna")
    task = create(ws, assignee_id=anna, deadline=iso(T0 + timedelta(hours=2)), remind_minutes=30)
    later = patch(ws, task, deadline=iso(T0 + timedelta(hours=4)))
    assert timer_due(ws, f"task-reminder#{task['id']}") == iso(T0 + timedelta(hours=3, minutes=30))
    tick(ws, clock, T0 + timedelta(hours=1, minutes=30))  # the old reminder's minute: nothing
    assert told(ws, anna) == [n for n in told(ws, anna) if n["kind"] == "task_assigned"]
    clock.now = T0 + timedelta(hours=1, minutes=31)
    patch(ws, later, deadline=iso(T0 + timedelta(hours=2)), remind_minutes=15)
    assert timer_due(ws, f"task-reminder#{task['id']}") == iso(T0 + timedelta(hours=1, minutes=45))
    tick(ws, clock, T0 + timedelta(hours=1, minutes=44))
    assert told(ws, anna, "task_due_soon") == []
    tick(ws, clock, T0 + timedelta(hours=1, minutes=45))
    assert len(told(ws, anna, "task_due_soon")) == 1


def test_a_done_tasks_reminder_is_gone(ws, clock):
    anna = member(ws, name="Anna")
    task = create(ws, assignee_id=anna, deadline=iso(T0 + timedelta(hours=2)))
    patch(ws, task, status="done")
    assert timer_due(ws, f"task-reminder#{task['id']}") is None
    assert timer_due(ws, f"task-due#{task['id']}") is None
    tick(ws, clock, T0 + timedelta(hours=3))
    assert told(ws, anna, "task_due_soon") == [] and told(ws, anna, "task_due") == []
    reopened = patch(ws, task, status="open")
    assert reopened["status"] == "open" and timer_due(ws, f"task-due#{task['id']}") == iso(T0 + timedelta(hours=2))


def test_the_new_assignee_is_told_once_and_the_previous_one_not_again(ws, clock):
    anna, boris = member(ws, name="Anna"), member(ws, name="Boris")
    task = create(ws, assignee_id=anna)
    patch(ws, task, title="Check the refund today")
    patch(ws, task, assignee_id=boris)
    assert [n["kind"] for n in told(ws, anna)] == ["task_assigned"]
    assert [n["kind"] for n in told(ws, boris)] == ["task_assigned"]
    assert told(ws, anna)[0]["link"] == {"task_id": task["id"]}


def test_a_comment_tells_the_assignee_and_watchers_but_not_its_author(ws, stack, clock):
    from tests.e2e.test_team_support import add_user

    author = add_user(stack, ws.id, "operator", name="Author")
    watcher = member(ws, name="Watcher")
    task = create(ws, assignee_id=author.user_id, watchers=[watcher])
    resp = author.api("POST", f"/tasks/{task['id']}/comments", json={"text": "Refund sent"})
    assert resp.status_code == 201, resp.text
    ws.drain()
    assert [n["kind"] for n in told(ws, watcher)] == ["task_comment"]
    assert told(ws, author.user_id, "task_comment") == []


def test_escalation_tells_the_other_team_and_its_done_tells_the_operator_who_escalated(ws, stack, clock):
    from tests.e2e.test_team_support import add_user

    operator = add_user(stack, ws.id, "operator", name="Olga")
    engineer = add_user(stack, ws.id, "operator", name="Egor")
    engineering = ws.api("POST", "/teams", json={"name": "Engineering", "member_ids": [engineer.user_id]}).json()
    made = operator.api("POST", "/tasks", json={"title": "Widget crashes"}).json()
    resp = operator.api("POST", f"/tasks/{made['id']}/escalate", json={"team_id": engineering["id"],
                                                                       "note": "Safari 17 only"})
    assert resp.status_code == 200, resp.text
    ws.drain()
    assert [n["kind"] for n in told(ws, engineer.user_id)] == ["task_escalated"]
    assert told(ws, operator.user_id) == []
    done = engineer.api("PATCH", f"/tasks/{made['id']}", json={"status": "done"})
    assert done.status_code == 200, done.text
    ws.drain()
    news = told(ws, operator.user_id, "task_done")
    assert [n["title"] for n in news] == ["Engineering: готово, сообщите клиенту"]  # the workspace speaks Russian
    assert news[0]["text_key"] == "task_fixed" and news[0]["params"]["team"] == "Engineering"
    assert told(ws, engineer.user_id, "task_done") == []
