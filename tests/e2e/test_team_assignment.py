"""Assignment over real HTTP: concurrent claims (one wins, the other is told who), auto-assignment on the first
reply, the colleague-replied warning, hand-over with a note, the mine / unassigned views and round-robin."""

from __future__ import annotations

import secrets
import threading

import pytest

from tests.e2e.test_team_support import Socket, User, add_user, wait_until
from tests.support import Workspace, customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 7_000_000 + secrets.randbelow(10**6)


def conversation(ws: Workspace, text: str = "help") -> dict:
    ws.post_update(customer_message(chat(), text))
    ws.drain()
    return next(c for c in ws.conversations(limit=100) if c["last_message_preview"] == text)


def at_once(*calls):
    """Run the calls in threads released together; their answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def test_two_operators_claiming_at_once_one_wins_and_the_other_is_told_who(stack):
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator", name="Anna"), add_user(stack, ws.id, "operator", name="Boris")
    for round_ in range(3):
        conv = conversation(ws, f"race {round_}")
        path = f"/conversations/{conv['id']}/claim"
        first, second = at_once(lambda p=path: anna.api("POST", p), lambda p=path: boris.api("POST", p))
        codes = sorted([first.status_code, second.status_code])
        assert codes == [200, 409], (first.text, second.text)
        winner, loser = (anna, second) if first.status_code == 200 else (boris, first)
        error = loser.json()["error"]
        assert error["code"] == "already_assigned" and error["details"]["assignee_id"] == winner.user_id
        assert error["details"]["assignee_name"] == ("Anna" if winner is anna else "Boris")
        assert ws.api("GET", f"/conversations/{conv['id']}").json()["assignee_id"] == winner.user_id
        assert winner.api("POST", path).status_code == 200  # claiming your own again changes nothing


def test_the_first_reply_assigns_and_a_later_colleague_reply_does_not_take_it_over(stack):
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator"), add_user(stack, ws.id, "operator")
    conv = conversation(ws)
    assert anna.api("POST", f"/conversations/{conv['id']}/replies", json={"text": "On it"}).status_code == 202
    assert ws.api("GET", f"/conversations/{conv['id']}").json()["assignee_id"] == anna.user_id
    assert boris.api("POST", f"/conversations/{conv['id']}/replies", json={"text": "Me too", "force": True}
                     ).status_code == 202
    assert ws.api("GET", f"/conversations/{conv['id']}").json()["assignee_id"] == anna.user_id
    key_reply = ws.reply(conv["id"], "from the CRM")  # an API key answers without taking the conversation
    assert key_reply.status_code == 202


def test_a_reply_after_a_colleague_answered_meanwhile_is_held_back_unless_forced(stack):
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator", name="Anna"), add_user(stack, ws.id, "operator")
    conv = conversation(ws)
    seen = ws.messages(conv["id"])[-1]["id"]  # both operators have seen the customer's message (and greeting)
    assert anna.api("POST", f"/conversations/{conv['id']}/replies",
                    json={"text": "Anna here", "last_seen_message_id": seen}).status_code == 202
    late = boris.api("POST", f"/conversations/{conv['id']}/replies",
                     json={"text": "Boris here", "last_seen_message_id": seen})
    assert late.status_code == 409
    error = late.json()["error"]
    assert error["code"] == "colleague_replied" and error["details"]["author_id"] == f"user:{anna.user_id}"
    assert error["details"]["author_name"] == "Anna"
    assert [m["text"] for m in ws.messages(conv["id"]) if m["origin"] == "operator"] == ["Anna here"]
    forced = boris.api("POST", f"/conversations/{conv['id']}/replies",
                       json={"text": "Boris here", "last_seen_message_id": seen, "force": True})
    assert forced.status_code == 202
    newest = ws.messages(conv["id"])[-1]["id"]
    assert anna.api("POST", f"/conversations/{conv['id']}/replies",
                    json={"text": "thanks", "last_seen_message_id": newest}).status_code == 202


def test_hand_over_to_a_colleague_with_a_note_is_for_the_assignee_or_an_admin(stack):
    ws = new_workspace(stack)
    anna, boris, carl = (add_user(stack, ws.id, "operator") for _ in range(3))
    admin = add_user(stack, ws.id, "admin")
    readonly = add_user(stack, ws.id, "readonly")
    conv = conversation(ws)
    path = f"/conversations/{conv['id']}/assign"
    assert anna.api("POST", f"/conversations/{conv['id']}/claim").status_code == 200

    stolen = carl.api("POST", path, json={"assignee_id": carl.user_id})
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == "not_assignee"
    to_reader = anna.api("POST", path, json={"assignee_id": readonly.user_id})
    assert to_reader.status_code == 400 and to_reader.json()["error"]["code"] == "not_an_operator"
    handed = anna.api("POST", path, json={"assignee_id": boris.user_id, "note": "VIP, refund approved"})
    assert handed.status_code == 200 and handed.json()["assignee_id"] == boris.user_id
    notes = [m for m in ws.messages(conv["id"]) if m["direction"] == "note"]
    assert [n["text"] for n in notes] == ["VIP, refund approved"] and notes[0]["author_id"] == f"user:{anna.user_id}"
    assert admin.api("POST", path, json={"assignee_id": None}).json()["assignee_id"] is None
    moderator = add_user(stack, ws.id, "moderator")
    assert moderator.api("POST", path, json={"assignee_id": boris.user_id}).status_code == 403


def test_mine_and_unassigned_views_follow_claims(stack):
    ws = new_workspace(stack)
    anna = add_user(stack, ws.id, "operator")
    mine, other = conversation(ws, "mine"), conversation(ws, "not yet")
    anna.api("POST", f"/conversations/{mine['id']}/claim")
    listed = anna.api("GET", "/conversations", params={"assignee": anna.user_id}).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    queue = anna.api("GET", "/conversations", params={"unassigned": 1}).json()["items"]
    assert [c["id"] for c in queue] == [other["id"]]


def test_round_robin_gives_new_conversations_to_online_operators_within_their_capacity(stack):
    ws = new_workspace(stack)
    anna, boris = add_user(stack, ws.id, "operator"), add_user(stack, ws.id, "operator")
    offline: User = add_user(stack, ws.id, "operator")
    assert ws.api("PUT", "/team/settings", json={"round_robin": True, "default_capacity": 1}).status_code == 200
    sockets = [Socket.of(anna), Socket.of(boris)]
    assert [s.status for s in sockets] == [101, 101]
    try:
        wait_until(lambda: {p["user_id"] for p in ws.api("GET", "/presence").json()["items"]
                            if p["state"] == "online"} == {anna.user_id, boris.user_id})
        convs = [conversation(ws, f"rr {i}") for i in range(3)]
        assignees = [ws.api("GET", f"/conversations/{c['id']}").json()["assignee_id"] for c in convs]
        assert sorted(a for a in assignees[:2]) == sorted([anna.user_id, boris.user_id])
        assert assignees[2] is None  # both are at capacity: it waits in the queue
        assert offline.user_id not in assignees
        trail = ws.api("GET", "/audit", params={"action": "assign", "actor": "system:round_robin"}).json()["items"]
        assert {e["conversation_id"] for e in trail} == {c["id"] for c in convs[:2]}
    finally:
        for s in sockets:
            s.drop()
