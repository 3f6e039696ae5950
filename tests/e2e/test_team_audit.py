"""The action log: every reply, note, tag, close, assignment and admin change is recorded once with who, when, what,
before and after; filters; the lead's review of one operator; replayed stream records add nothing."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest

from tests.e2e.test_team_support import add_user
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 8_000_000 + secrets.randbelow(10**6)


def log(ws, **params) -> list[dict]:
    resp = ws.api("GET", "/audit", params={"limit": 200, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


@pytest.fixture(scope="module")
def story(stack):
    """One workspace where an operator and an admin do one of everything; the stream is drained twice."""
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "my parcel is late"))
    ws.drain()
    (conv,) = ws.conversations()
    op = add_user(stack, ws.id, "operator", name="Olga")
    colleague = add_user(stack, ws.id, "operator", name="Petr")
    admin = add_user(stack, ws.id, "admin", name="Lead")
    path = f"/conversations/{conv['id']}"
    assert op.api("PATCH", path, json={"tags": ["delivery"]}).status_code == 200
    tagged = _conversation_item(ws.id, conv["id"])
    assert op.api("POST", f"{path}/replies", json={"text": "We are checking"}).status_code == 202  # + auto-assign
    assert op.api("POST", f"{path}/notes", json={"text": "courier called"}).status_code == 201
    assert op.api("POST", f"{path}/assign", json={"assignee_id": colleague.user_id, "note": "your area"}
                  ).status_code == 200
    assert colleague.api("PATCH", path, json={"status": "closed"}).status_code == 200
    invite = admin.api("POST", "/invites", json={"email": "new@team.example", "role": "analyst"}).json()
    admin.api("DELETE", f"/invites/{invite['id']}")
    admin.api("PATCH", f"/members/{colleague.user_id}", json={"role": "moderator"})
    key = admin.api("POST", "/api-keys", json={"name": "CRM", "role": "readonly"}).json()
    admin.api("DELETE", f"/api-keys/{key['id']}")
    admin.api("PUT", "/team/settings", json={"round_robin": True})
    ws.drain()
    ws.drain()
    return ws, conv, op, colleague, admin, tagged


def _conversation_item(ws_id: str, conv_id: str):
    from chalicelib.store import repo

    return repo.get_conversation(ws_id, conv_id, consistent=True)


def test_each_action_is_recorded_exactly_once_with_who_and_what(story):
    ws, conv, op, colleague, admin, _ = story
    entries = log(ws)
    counts = Counter(e["action"] for e in entries)
    assert counts == Counter({"tag": 1, "reply": 1, "assign": 1, "note": 2, "handover": 1, "close": 1,
                              "invite.create": 1, "invite.revoke": 1, "member.role": 1, "apikey.create": 1,
                              "apikey.revoke": 1, "team.settings": 1, "channel.connect": 1})  # 2 notes: the
    # operator's and the hand-over's; the channel was connected when the workspace was set up
    by_action = {e["action"]: e for e in entries}
    reply = by_action["reply"]
    assert reply["actor"] == f"user:{op.user_id}" and reply["actor_name"] == "Olga"
    assert reply["after"]["text"] == "We are checking" and reply["conversation_id"] == conv["id"]
    assert by_action["tag"]["before"] == {"tags": []} and by_action["tag"]["after"] == {"tags": ["delivery"]}
    assert by_action["assign"]["after"] == {"assignee_id": op.user_id}  # auto-assigned by the first reply
    handover = by_action["handover"]
    assert handover["before"] == {"assignee_id": op.user_id} and handover["after"] == {"assignee_id": colleague.user_id}
    assert handover["note"] == "your area" and handover["actor"] == f"user:{op.user_id}"
    assert by_action["close"]["actor"] == f"user:{colleague.user_id}"
    assert by_action["close"]["before"] == {"status": "in_progress"} and by_action["close"]["after"] == {
        "status": "closed"}
    assert by_action["member.role"]["before"] == {"role": "operator"} and by_action["member.role"]["after"] == {
        "role": "moderator"}
    assert all(e["actor"] == f"user:{admin.user_id}" for e in entries if "." in e["action"]
               and e["action"] != "channel.connect")
    assert by_action["channel.connect"]["after"]["kind"] == "telegram"
    assert "bot_token" not in str(by_action["channel.connect"])  # credentials never reach the log
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)


def test_a_replayed_stream_record_adds_nothing(story):
    from chalicelib.services import audit
    from chalicelib.services.deps import deps
    from chalicelib.store import repo
    from chalicelib.store.models import ConversationItem

    ws, conv, _, _, _, tagged = story
    before = log(ws)
    reply = next(m for m in reversed(ws.messages(conv["id"])) if m["origin"] == "operator" and m["direction"] == "out")
    message = repo.get_message(ws.id, conv["id"], reply["id"])
    old = ConversationItem.from_raw_data(tagged.serialize())
    old.tags, old.changed_at, old.changed_by = [], None, None
    assert audit.record_change(deps(), "INSERT", message, None) == 0
    assert audit.record_change(deps(), "MODIFY", tagged, old) == 0
    assert log(ws) == before


def test_the_log_filters_by_actor_action_conversation_and_time(story):
    ws, conv, op, colleague, _, _ = story
    mine = log(ws, actor=op.user_id)
    assert mine and {e["actor"] for e in mine} == {f"user:{op.user_id}"}
    assert {e["action"] for e in log(ws, action="close,tag")} == {"close", "tag"}
    in_conv = log(ws, conversation_id=conv["id"])
    assert {e["conversation_id"] for e in in_conv} == {conv["id"]} and len(in_conv) == 7
    newest = log(ws)[0]["at"]
    assert log(ws, since=newest) and all(e["at"] >= newest for e in log(ws, since=newest))
    assert log(ws, until="2000-01-01T00:00:00Z") == []
    assert ws.api("GET", "/audit", params={"action": "hack"}).status_code == 400
    first = ws.api("GET", "/audit", params={"limit": 3}).json()
    second = ws.api("GET", "/audit", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert first["next_cursor"] and not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}


def test_the_lead_reviews_one_operators_actions_and_the_dialogs_they_handled(story):
    ws, conv, op, colleague, admin, _ = story
    review = admin.api("GET", "/audit/review", params={"user_id": op.user_id})
    assert review.status_code == 200, review.text
    body = review.json()
    assert body["member"]["user_id"] == op.user_id and body["member"]["name"] == "Olga"
    assert {e["action"] for e in body["actions"]} == {"tag", "reply", "assign", "note", "handover"}
    (handled,) = body["conversations"]
    assert handled["id"] == conv["id"] and handled["replies_by_them"] == 1
    assert body["assigned"] == []  # handed over to Petr
    petr = admin.api("GET", "/audit/review", params={"user_id": colleague.user_id}).json()
    assert [c["id"] for c in petr["assigned"]] == [conv["id"]]
    assert op.api("GET", "/audit").status_code == 403 and op.api("GET", "/audit/review").status_code == 403


def test_another_workspace_sees_none_of_it(story, stack):
    ws, conv, op, _, _, _ = story
    other = new_workspace(stack)
    assert log(other) == []
    assert log(other, conversation_id=conv["id"]) == [] and log(other, actor=op.user_id) == []
    assert other.api("GET", "/audit/review", params={"user_id": op.user_id}).status_code == 400


def test_a_conversations_log_finds_its_replies_and_notes_from_the_thread_and_pages_through_once(story):
    """A staff reply's or note's entry has no by-conversation index entry (1 write unit less each): the
    conversation's log finds it from the thread's operator messages, in time order with the indexed ones."""
    from chalicelib.store import keys
    from chalicelib.store.models import AuditItem

    ws, conv, _, _, _, _ = story
    whole = log(ws, conversation_id=conv["id"])
    reply = next(e for e in whole if e["action"] == "reply")
    stored = AuditItem.get(keys.audit(ws.id), f"{reply['at']}#{reply['id']}", consistent_read=True)
    assert stored.gsi2pk is None and stored.conversation_id == conv["id"]
    assert {e["action"] for e in whole} >= {"reply", "note", "tag", "close"}
    assert [e["at"] for e in whole] == sorted((e["at"] for e in whole), reverse=True)
    pages, cursor = [], None
    while True:
        params = {"conversation_id": conv["id"], "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = ws.api("GET", "/audit", params=params).json()
        pages.append([e["id"] for e in body["items"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [i for page in pages for i in page] == [e["id"] for e in whole] and len(pages) > 2
    assert [e["action"] for e in log(ws, conversation_id=conv["id"], action="note")] == ["note", "note"]
    bad = ws.api("GET", "/audit", params={"conversation_id": conv["id"], "cursor": '{"before": 1}'})
    assert bad.status_code == 400
