"""Repeat-request detection (H2) on DynamoDB Local with the stream: customers writing about the same problem show
as one cluster with their conversations, a bulk reply reaches all of them, a sudden cluster tells the admins once,
unrelated messages stay out, and another workspace sees nothing of it."""

from __future__ import annotations

import secrets

import pytest

from tests.e2e.conftest import tick
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

SAME = ["Не проходит оплата картой, ошибка 500", "оплата картой не проходит, пишет ошибка 500",
        "Ошибка 500 при оплате картой", "не проходит оплата картой!! ошибка 500", "у меня ошибка 500, оплата картой",
        "Опять ошибка 500 — не проходит оплата картой", "оплата картой: ошибка 500"]
OTHER = ["Где мой заказ номер 4821?", "Хочу вернуть куртку, не подошёл размер", "Как сменить пароль в кабинете"]


def write(ws, texts: list[str]) -> None:
    for text in texts:
        chat = 820_000_000 + secrets.randbelow(10**8)
        assert ws.post_update(customer_message(chat, text, first_name=f"C{chat % 1000}")).status_code == 200
    ws.drain()


def told(ws_id: str, user_id: str) -> list:
    from chalicelib.store import notifications

    return [n for n in notifications.list_of(ws_id, user_id, limit=200) if n.kind == "repeat_requests"]


def test_same_problem_from_many_customers_is_one_cluster_answered_in_bulk_and_the_leads_are_told_once(stack, clock):
    from chalicelib.services.team import ensure_member

    ws, other = new_workspace(stack), new_workspace(stack)
    lead = ensure_member(ws.id, f"lead-{ws.id}@example.org", "admin", now=clock())
    write(ws, SAME[:6] + OTHER)
    write(other, OTHER)

    resp = ws.api("GET", "/clusters")
    assert resp.status_code == 200, resp.text
    (cluster,) = resp.json()["items"]
    assert cluster["customers"] == 6 and cluster["sudden"] is True
    assert {c["text"] for c in cluster["conversations"]} == set(SAME[:6])
    assert other.api("GET", "/clusters").json()["items"] == []  # nothing of another workspace

    clock.advance(minutes=2)
    tick()
    ws.drain()
    (note,) = told(ws.id, lead.user_id)
    assert note.params["count"] == "6"

    write(ws, SAME[6:])  # the cluster grows: the leads heard of it already
    clock.advance(minutes=2)
    tick()
    assert len(told(ws.id, lead.user_id)) == 1
    assert ws.api("GET", "/clusters").json()["items"][0]["customers"] == 7

    ids = [c["id"] for c in ws.api("GET", "/clusters").json()["items"][0]["conversations"]]
    sent_before = len(ws.bot_sent)
    bulk = ws.api("POST", "/replies/bulk", json={"request_id": f"cluster-{secrets.token_hex(4)}",
                                                 "items": [{"conversation_id": i} for i in ids],
                                                 "text": "We know, fixing it now"})
    assert bulk.status_code == 202, bulk.text
    ws.drain()
    replies = [c for c in ws.bot_sent[sent_before:] if c["params"].get("text") == "We know, fixing it now"]
    assert len(replies) == 7


def test_a_slow_trickle_is_a_cluster_but_not_sudden_and_bad_windows_are_refused(stack, clock):
    ws = new_workspace(stack)
    for text in SAME[:3]:
        write(ws, [text])
        clock.advance(minutes=10)
    (cluster,) = ws.api("GET", "/clusters").json()["items"]
    assert cluster["customers"] == 3 and cluster["sudden"] is False
    assert ws.api("GET", "/clusters", params={"minutes": 5}).json()["items"] == []
    clock.advance(minutes=61)
    assert ws.api("GET", "/clusters").json()["items"] == []  # an hour later it is history
    for bad in ("0", "121", "abc"):
        resp = ws.api("GET", "/clusters", params={"minutes": bad})
        assert resp.status_code == 400, bad
