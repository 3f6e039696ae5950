"""Task lists (F3) on DynamoDB Local: current / overdue / done, mine / team / all, every sort with its ties, and
paging that neither repeats nor skips while tasks change. The clock is the app's injectable one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.model import iso
from tests.e2e.conftest import Clock
from tests.e2e.test_tasks_api import member
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal

T0 = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    from chalicelib.services.deps import deps

    at = Clock(T0)
    monkeypatch.setattr(deps(), "clock", at)
    return at


@pytest.fixture
def ws(stack, clock):
    return new_workspace(stack)


def at(hours: float) -> str:
    return iso(T0 + timedelta(hours=hours))


def make(ws, title: str, **body) -> dict:
    resp = ws.api("POST", "/tasks", json={"title": title, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def titles(ws, **params) -> list[str]:
    resp = ws.api("GET", "/tasks", params={"limit": 100, **params})
    assert resp.status_code == 200, resp.text
    return [t["title"] for t in resp.json()["items"]]


def every_page(ws, limit: int, between=None, **params) -> list[str]:
    """Walk the pages; `between(n)` runs after page n (edits while someone pages)."""
    seen, cursor, n = [], None, 0
    while True:
        resp = ws.api("GET", "/tasks", params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += [t["title"] for t in body["items"]]
        cursor, n = body["next_cursor"], n + 1
        if not cursor:
            return seen
        if between:
            between(n)


def patch(ws, task: dict, **body) -> dict:
    resp = ws.api("PATCH", f"/tasks/{task['id']}", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_current_overdue_and_done_are_separate_lists(ws, clock):
    make(ws, "soon", deadline=at(1))
    late = make(ws, "later", deadline=at(3))
    make(ws, "no deadline")
    finished = make(ws, "finished", deadline=at(2))
    patch(ws, finished, status="done")
    cancelled = make(ws, "cancelled")
    patch(ws, cancelled, status="cancelled")
    assert titles(ws) == ["soon", "later", "no deadline"]
    assert titles(ws, view="overdue") == []
    clock.now = T0 + timedelta(hours=2)
    assert titles(ws, view="overdue") == ["soon"]
    overdue = ws.api("GET", "/tasks", params={"view": "overdue"}).json()["items"]
    assert overdue[0]["overdue"] is True
    patch(ws, late, status="waiting")
    clock.now = T0 + timedelta(hours=4)
    assert titles(ws, view="overdue") == ["soon", "later"]
    assert titles(ws, view="done") == ["cancelled", "finished"]


def test_mine_my_team_and_all(ws, stack):
    from tests.e2e.test_team_support import add_user

    me = add_user(stack, ws.id, "operator", name="Me")
    other = member(ws, name="Other")
    team = ws.api("POST", "/teams", json={"name": "Engineering", "member_ids": [me.user_id]}).json()
    ws.api("POST", "/teams", json={"name": "Support"})
    make(ws, "mine", assignee_id=me.user_id, deadline=at(1))
    make(ws, "theirs", assignee_id=other, team_id=team["id"], deadline=at(2))
    make(ws, "nobody's")
    mine = me.api("GET", "/tasks", params={"scope": "mine"})
    assert mine.status_code == 200, mine.text
    assert [t["title"] for t in mine.json()["items"]] == ["mine"]
    my_team = me.api("GET", "/tasks", params={"scope": "team"}).json()
    assert [t["title"] for t in my_team["items"]] == ["theirs"] and my_team["team_id"] == team["id"]
    assert titles(ws, scope="all") == ["mine", "theirs", "nobody's"]
    assert titles(ws, assignee=other) == ["theirs"]
    refused = ws.api("GET", "/tasks", params={"scope": "mine"})  # an API key is nobody
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "user_required"


def test_the_top_bar_counts_my_overdue_tasks(ws, stack, clock):
    from tests.e2e.test_team_support import add_user

    me = add_user(stack, ws.id, "operator", name="Me")
    for hours in (1, 2, 5):
        make(ws, f"due in {hours} h", assignee_id=me.user_id, deadline=at(hours))
    make(ws, "someone else's", assignee_id=member(ws), deadline=at(1))
    done = make(ws, "done", assignee_id=me.user_id, deadline=at(1))
    patch(ws, done, status="done")
    clock.now = T0 + timedelta(hours=3)
    assert me.api("GET", "/task-summary").json() == {"my_overdue": 2}
    assert ws.api("GET", "/task-summary").json() == {"my_overdue": 0}


def test_every_sort_orders_ties_by_number(ws):
    anna, boris = member(ws, name="Anna"), member(ws, name="Boris")
    make(ws, "1 boris tomorrow", assignee_id=boris, deadline=at(24))
    make(ws, "2 anna tomorrow", assignee_id=anna, deadline=at(24))
    third = make(ws, "3 nobody tomorrow", deadline=at(24))
    make(ws, "4 anna none", assignee_id=anna)
    fifth = make(ws, "5 boris today", assignee_id=boris, deadline=at(2))
    patch(ws, third, status="in_progress")
    patch(ws, fifth, status="waiting")
    assert titles(ws, sort="deadline") == ["5 boris today", "1 boris tomorrow", "2 anna tomorrow",
                                           "3 nobody tomorrow", "4 anna none"]
    assert titles(ws, sort="created") == ["5 boris today", "4 anna none", "3 nobody tomorrow", "2 anna tomorrow",
                                          "1 boris tomorrow"]
    assert titles(ws, sort="status") == ["1 boris tomorrow", "2 anna tomorrow", "4 anna none",
                                         "3 nobody tomorrow", "5 boris today"]
    assert titles(ws, sort="assignee") == ["2 anna tomorrow", "4 anna none", "1 boris tomorrow", "5 boris today",
                                           "3 nobody tomorrow"]


@pytest.mark.parametrize("sort", ["deadline", "created", "status", "assignee"])
def test_paging_while_tasks_are_edited_never_repeats_or_skips_the_others(ws, sort):
    people = [member(ws, name=n) for n in ("Anna", "Boris", "Vera")]
    made = [make(ws, f"t{i:02d}", deadline=at(10 + i % 4), assignee_id=people[i % 3]) for i in range(12)]

    def edit(page: int) -> None:
        if page == 1:  # one moves to the very front, one to the very back, and a new one arrives
            patch(ws, made[8], deadline=at(1), assignee_id=people[0], status="open")
            patch(ws, made[9], deadline=None, assignee_id=None, status="waiting")
            make(ws, "new", deadline=at(1))

    seen = every_page(ws, 4, between=edit, sort=sort)
    unchanged = [t["title"] for t in made if t["title"] not in ("t08", "t09")]
    assert sorted(t for t in seen if t in unchanged) == sorted(unchanged)  # each unchanged one exactly once
    assert all(seen.count(t) <= 2 for t in ("t08", "t09"))  # an edited one may show again where it moved to


def test_the_done_list_pages_newest_first_while_more_are_finished(ws):
    made = [make(ws, f"d{i}") for i in range(7)]
    for task in made:
        patch(ws, task, status="done")

    def finish_another(page: int) -> None:
        if page == 1:
            patch(ws, make(ws, "finished meanwhile"), status="done")

    seen = every_page(ws, 3, between=finish_another, view="done")
    assert seen == ["d6", "d5", "d4", "d3", "d2", "d1", "d0"]  # the newer one is before the cursor: next reload


def test_a_cursor_of_another_list_is_refused(ws):
    for i in range(3):
        make(ws, f"c{i}")
    cursor = ws.api("GET", "/tasks", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    resp = ws.api("GET", "/tasks", params={"limit": 1, "cursor": cursor, "sort": "created"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_cursor"
    assert ws.api("GET", "/tasks", params={"cursor": "!!"}).status_code == 400
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps({"v": "current", "s": "status", "k": ["a", 1, None]}).encode())
    resp = ws.api("GET", "/tasks", params={"sort": "status", "cursor": forged.decode()})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_cursor"
