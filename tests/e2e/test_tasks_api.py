"""Tasks over the real HTTP API on DynamoDB Local: numbering under concurrency, links to conversations and
messages, bad input refused with nothing stored, history and the action log, comments, escalation, teams."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib.domain.model import iso
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def later(**delta: float) -> str:
    from chalicelib.services.deps import deps

    return iso(deps().now() + timedelta(**delta))


def member(ws, role: str = "operator", name: str = "") -> str:
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    email = f"{secrets.token_hex(4)}@team.example"
    return team.ensure_member(ws.id, email, role, now=deps().now(), name=name or email).user_id


def conversation_with_message(ws, text: str = "My order 4821 never came") -> tuple[dict, dict]:
    ws.post_update(customer_message(5_200_000 + secrets.randbelow(10**6), text))
    ws.drain()
    conv = ws.conversations()[0]
    return conv, ws.messages(conv["id"])[0]


def create(ws, **body):
    resp = ws.api("POST", "/tasks", json={"title": "Call the courier", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def ws(stack):
    return new_workspace(stack)


def stored_tasks(ws) -> int:
    from chalicelib.store import tasks as store

    return store.last_number(ws.id)


def test_100_parallel_creates_are_numbered_1_to_100_without_gap_or_duplicate(ws):
    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(lambda i: ws.api("POST", "/tasks", json={"title": f"task {i}"}), range(100)))
    assert [r.status_code for r in answers] == [201] * 100, [r.text for r in answers if r.status_code != 201][:3]
    numbers = sorted(r.json()["number"] for r in answers)
    assert numbers == list(range(1, 101))
    assert stored_tasks(ws) == 100
    listed = ws.api("GET", "/tasks", params={"sort": "created", "limit": 100}).json()["items"]
    assert [t["number"] for t in listed] == list(range(100, 0, -1))


def test_creates_racing_from_separate_processes_still_get_unique_gapless_numbers(ws, monkeypatch):
    """No in-process queue (as 30 Lambdas at once): each create guesses the number, the counter's condition refuses
    all but one, and the losers learn the number and try the next."""
    from chalicelib.auth.keys import Principal
    from chalicelib.services import tasks
    from chalicelib.services.deps import deps

    monkeypatch.setattr(tasks, "SERIALIZE", False)
    monkeypatch.setattr(tasks, "_last_known", {})
    caller = Principal(ws.id, "operator", "key:race")
    with ThreadPoolExecutor(max_workers=10) as pool:
        made = list(pool.map(lambda i: tasks.create_task(deps(), caller, {"title": f"race {i}"}), range(30)))
    assert sorted(int(t.number) for t in made) == list(range(1, 31))
    assert stored_tasks(ws) == 30


def test_a_task_created_from_a_message_quotes_and_links_it_and_the_conversation_lists_it(ws):
    conv, message = conversation_with_message(ws)
    assignee = member(ws)
    task = create(ws, description="Check **DHL** tracking", deadline=later(hours=5), timezone="Europe/Moscow",
                  assignee_id=assignee, priority="high", tags=["delivery"],
                  links=[{"conversation_id": conv["id"], "message_id": message["id"]}])
    assert task["number"] == 1 and task["status"] == "open" and task["timezone"] == "Europe/Moscow"
    assert task["links"] == [{"conversation_id": conv["id"], "message_id": message["id"],
                              "quote": "My order 4821 never came"}]
    assert [c["id"] for c in task["conversations"]] == [conv["id"]]
    second = create(ws, title="Refund", links=[{"conversation_id": conv["id"]}])
    listed = ws.api("GET", f"/conversations/{conv['id']}/tasks").json()["items"]
    assert [t["number"] for t in listed] == [second["number"], task["number"]]
    assert ws.api("GET", "/tasks/1").json()["title"] == "Call the courier"


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"deadline": "2020-01-01T10:00:00+03:00"}, 400, "deadline_in_past"),
    ({"deadline": "2030-01-01T10:00:00"}, 400, "invalid_deadline"),
    ({"assignee_id": "u_nobody"}, 400, "unknown_assignee"),
    ({"links": [{"conversation_id": "cv_elsewhere"}]}, 400, "unknown_conversation"),
    ({"title": "x" * 100_000}, 400, "invalid_title"),
    ({"status": "finished"}, 400, "invalid_status"),
    ({"remind_minutes": -5}, 400, "invalid_remind_minutes"),
    ({"team_id": "tm_none"}, 400, "unknown_team"),
    ({"title": ""}, 400, "invalid_title"),
])
def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(ws, change, status, code):
    resp = ws.api("POST", "/tasks", json={"title": "Valid", **change})
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["message"]
    assert stored_tasks(ws) == 0
    assert ws.api("GET", "/tasks").json()["items"] == []


def test_another_workspaces_conversation_cannot_be_linked_and_its_tasks_are_not_found(ws, stack):
    other = new_workspace(stack)
    conv, _ = conversation_with_message(other)
    resp = ws.api("POST", "/tasks", json={"title": "Steal", "links": [{"conversation_id": conv["id"]}]})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "unknown_conversation"
    theirs = create(other, title="Secret")
    assert ws.api("GET", f"/tasks/{theirs['id']}").status_code == 404
    assert ws.api("PATCH", f"/tasks/{theirs['id']}", json={"title": "mine"}).status_code == 404
    assert ws.api("GET", f"/conversations/{conv['id']}/tasks").status_code == 404
    assert other.api("GET", f"/tasks/{theirs['id']}").json()["title"] == "Secret"


def test_changes_are_in_the_history_and_the_action_log_with_who_and_what(ws):
    task = create(ws)
    assignee = member(ws, name="Olga")
    changed = ws.api("PATCH", f"/tasks/{task['id']}", json={"status": "in_progress", "assignee_id": assignee,
                                                            "revision": task["revision"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["revision"] == 2
    kinds = [(e["kind"], [c["field"] for c in e["changes"]]) for e in body["timeline"]]
    assert kinds[-1] == ("changed", ["status", "assignee_id"])
    assert body["timeline"][-1]["actor"].startswith("key:")
    stale = ws.api("PATCH", f"/tasks/{task['id']}", json={"title": "Old view", "revision": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    log = ws.api("GET", "/audit", params={"action": "task.create,task.change"}).json()["items"]
    assert [e["action"] for e in log] == ["task.change", "task.create"]
    assert log[0]["before"] == {"status": "open", "assignee_id": None}
    assert log[0]["after"] == {"status": "in_progress", "assignee_id": assignee}


def test_a_comment_joins_the_timeline_and_the_log(ws):
    task = create(ws)
    resp = ws.api("POST", f"/tasks/{task['id']}/comments", json={"text": "Courier called back"})
    assert resp.status_code == 201, resp.text
    detail = ws.api("GET", f"/tasks/{task['id']}").json()
    assert [(e["kind"], e["text"]) for e in detail["timeline"]][-1] == ("comment", "Courier called back")
    assert detail["comment_count"] == 1
    assert ws.api("POST", f"/tasks/{task['id']}/comments", json={"text": " "}).status_code == 400
    log = ws.api("GET", "/audit", params={"action": "task.comment"}).json()["items"]
    assert len(log) == 1 and log[0]["target"] == {"type": "task", "id": task["id"]}


def test_escalation_moves_the_task_to_the_other_teams_queue_and_keeps_the_conversation(ws):
    conv, message = conversation_with_message(ws)
    support = ws.api("POST", "/teams", json={"name": "Support"}).json()
    engineer = member(ws, name="Egor")
    engineering = ws.api("POST", "/teams", json={"name": "Engineering", "member_ids": [engineer]}).json()
    assert ws.api("POST", "/teams", json={"name": "engineering"}).status_code == 409
    task = create(ws, team_id=support["id"], links=[{"conversation_id": conv["id"], "message_id": message["id"]}])
    resp = ws.api("POST", f"/tasks/{task['id']}/escalate", json={"team_id": engineering["id"],
                                                                 "note": "Widget crashes on Safari"})
    assert resp.status_code == 200, resp.text
    moved = resp.json()
    assert moved["team_id"] == engineering["id"] and moved["links"] == task["links"]
    assert moved["escalation"]["note"] == "Widget crashes on Safari" and moved["escalated_by"].startswith("key:")
    queue = ws.api("GET", "/tasks", params={"scope": "team", "team": engineering["id"]}).json()["items"]
    assert [t["id"] for t in queue] == [task["id"]]
    assert ws.api("GET", "/tasks", params={"scope": "team", "team": support["id"]}).json()["items"] == []
    again = ws.api("POST", f"/tasks/{task['id']}/escalate", json={"team_id": engineering["id"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "same_team"
    done = ws.api("PATCH", f"/tasks/{task['id']}", json={"status": "done"}).json()
    assert done["done_note"] == "Engineering fixed it: tell the customer"
    in_conversation = ws.api("GET", f"/conversations/{conv['id']}/tasks").json()["items"]
    assert in_conversation[0]["done_note"] == "Engineering fixed it: tell the customer"
    busy = ws.api("DELETE", f"/teams/{support['id']}")
    assert busy.status_code == 204  # its only task left for Engineering's queue and is done


def test_a_team_with_open_tasks_cannot_be_removed(ws):
    team = ws.api("POST", "/teams", json={"name": "Billing"}).json()
    create(ws, team_id=team["id"])
    resp = ws.api("DELETE", f"/teams/{team['id']}")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "team_in_use"
    assert [t["name"] for t in ws.api("GET", "/teams").json()["items"]] == ["Billing"]


def test_a_deleted_task_is_gone_its_number_is_not_reused(ws):
    from chalicelib.store import repo
    from chalicelib.store import tasks as store

    conv, _ = conversation_with_message(ws)
    first = create(ws, deadline=later(hours=3), links=[{"conversation_id": conv["id"]}])
    ws.api("POST", f"/tasks/{first['id']}/comments", json={"text": "soon gone"})
    ws.drain()
    assert repo.get_timer(ws.id, f"task-due#{first['id']}") is not None
    assert ws.api("DELETE", f"/tasks/{first['id']}").status_code == 204
    assert repo.get_timer(ws.id, f"task-due#{first['id']}") is None
    assert ws.api("GET", f"/tasks/{first['id']}").status_code == 404
    assert ws.api("GET", f"/conversations/{conv['id']}/tasks").json()["items"] == []
    assert store.timeline(ws.id, first["id"]) == []
    assert [e["action"] for e in ws.api("GET", "/audit", params={"action": "task.delete"}).json()["items"]] == [
        "task.delete"]
    assert create(ws)["number"] == 2


def test_read_only_roles_see_tasks_operators_work_them_admins_manage_teams(ws):
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    readonly = create_api_key(ws.id, "readonly", name="ro", now=deps().now())
    operator = create_api_key(ws.id, "operator", name="op", now=deps().now())
    task = create(ws)
    assert ws.api("GET", f"/tasks/{task['id']}", key=readonly).status_code == 200
    assert ws.api("POST", "/tasks", key=readonly, json={"title": "no"}).status_code == 403
    assert ws.api("POST", "/tasks", key=operator, json={"title": "yes"}).status_code == 201
    assert ws.api("POST", "/teams", key=operator, json={"name": "Ops"}).status_code == 403


def test_the_demo_seed_adds_its_teams_once(stack):
    from chalicelib.local import demo
    from chalicelib.services.deps import deps
    from chalicelib.store import tasks as store

    demo.seed(deps(), stack.fakes)
    demo.seed(deps(), stack.fakes)
    names = [t.name for t in store.list_teams(demo.WORKSPACE)]
    assert names.count("Support") == 1 and names.count("Engineering") == 1
