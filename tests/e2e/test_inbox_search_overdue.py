"""The inbox's search and overdue filter (B1) over the REST API, on DynamoDB Local with the stream running:
what starts a customer's wait and what ends it, the SLA from team settings, search by name / @username / tags /
last message in any case and with ё, and never another workspace's conversations."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def new_chat() -> int:
    return 500_000_000 + secrets.randbelow(10**8)


def write(ws, chat: int, text: str, *, name: str = "Anna", username: str = "") -> dict:
    """The customer writes through the Telegram webhook; their conversation once the stream has run."""
    update = customer_message(chat, text, first_name=name)
    if username:
        update["message"]["from"]["username"] = username
    assert ws.post_update(update).status_code == 200
    ws.drain()
    found = [c for s in ("new", "in_progress", "closed") for c in ws.conversations(status=s, limit=100)
             if c["contact_name"] == name]
    assert len(found) == 1, f"conversations of {name}: {found}"
    return found[0]


def conversation(ws, conversation_id: str) -> dict:
    resp = ws.api("GET", f"/conversations/{conversation_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def waited(ws, conversation_id: str, minutes: int) -> None:
    """The customer has been waiting `minutes` (what the clock would have done meanwhile)."""
    from chalicelib.domain.model import iso
    from chalicelib.services.deps import deps
    from chalicelib.store import keys
    from chalicelib.store.models import ConversationItem

    pk, sk = keys.conversation(ws.id, conversation_id)
    since = iso(deps().now() - timedelta(minutes=minutes))
    ConversationItem(pk, sk).update(actions=[ConversationItem.awaiting_since.set(since)])


def overdue(ws) -> list[str]:
    resp = ws.api("GET", "/conversations", params={"overdue": "true"})
    assert resp.status_code == 200, resp.text
    return [c["contact_name"] for c in resp.json()["items"]]


def search(ws, q: str, **params) -> list[str]:
    resp = ws.api("GET", "/conversations", params={"q": q, **params})
    assert resp.status_code == 200, resp.text
    return sorted(c["contact_name"] for c in resp.json()["items"])


def test_a_wait_starts_with_the_first_unanswered_message_and_ends_with_a_reply_or_closing(stack):
    ws = new_workspace(stack)
    wanda = new_chat()
    first = write(ws, wanda, "hello?", name="Wanda")
    started = first["awaiting_since"]
    assert started is not None
    write(ws, wanda, "anyone?", name="Wanda")
    assert conversation(ws, first["id"])["awaiting_since"] == started  # the wait began with the first message

    assert ws.reply(first["id"], "Here!").status_code == 202
    ws.drain()
    assert conversation(ws, first["id"])["awaiting_since"] is None
    again = write(ws, wanda, "thanks, and one more thing", name="Wanda")
    assert again["awaiting_since"] is not None and again["awaiting_since"] > started  # a new wait

    clara = write(ws, new_chat(), "one more question", name="Clara")
    assert clara["awaiting_since"] is not None
    assert ws.api("PATCH", f"/conversations/{clara['id']}", json={"status": "closed"}).status_code == 200
    assert conversation(ws, clara["id"])["awaiting_since"] is None
    note = ws.api("POST", f"/conversations/{again['id']}/notes", json={"text": "checking the warehouse"})
    assert note.status_code == 201
    assert conversation(ws, again["id"])["awaiting_since"] is not None  # a note answers nobody


def test_overdue_lists_open_conversations_waiting_longer_than_the_sla_longest_first(stack):
    ws, other = new_workspace(stack), new_workspace(stack)
    olga, petr, rita, sam = (write(ws, new_chat(), "?", name=n) for n in ("Olga", "Petr", "Rita", "Sam"))
    waited(ws, olga["id"], 45)
    waited(ws, petr["id"], 90)
    waited(ws, rita["id"], 10)
    waited(ws, sam["id"], 120)
    assert ws.api("PATCH", f"/conversations/{sam['id']}", json={"status": "closed"}).status_code == 200
    stranger = write(other, new_chat(), "?", name="Stranger")
    waited(other, stranger["id"], 500)

    assert overdue(ws) == ["Petr", "Olga"]  # the default SLA is 30 minutes; closed and other workspaces never
    settings = ws.api("PUT", "/team/settings", json={"sla_minutes": 5})
    assert settings.status_code == 200 and settings.json()["sla_minutes"] == 5
    assert overdue(ws) == ["Petr", "Olga", "Rita"]
    assert ws.reply(petr["id"], "Sorry for the wait").status_code == 202
    assert overdue(ws) == ["Olga", "Rita"]

    for bad in (0, -1, 10081, "30", True):
        resp = ws.api("PUT", "/team/settings", json={"sla_minutes": bad})
        assert resp.status_code == 400, (bad, resp.text)
    assert ws.api("GET", "/team/settings").json()["sla_minutes"] == 5


def test_search_finds_by_name_username_tag_and_last_message_in_any_case_and_status(stack):
    ws, other = new_workspace(stack), new_workspace(stack)
    fyodor = write(ws, new_chat(), "Где мой заказ?", name="Фёдор Ёлкин", username="Fedya_Shop")
    write(ws, new_chat(), "Do you SHIP to Almaty?", name="Aigerim")
    closed = write(ws, new_chat(), "thanks", name="Boris Closed")
    assert ws.api("PATCH", f"/conversations/{closed['id']}", json={"status": "closed", "tags": ["Возврат"]}
                  ).status_code == 200
    write(other, new_chat(), "Где мой заказ?", name="Фёдор Чужой")
    ws.drain()  # the tag change re-indexes the conversation from the stream

    assert search(ws, "фёдор") == ["Фёдор Ёлкин"]
    assert search(ws, "федор елкин") == ["Фёдор Ёлкин"]  # ё typed as е, and the other way round
    assert search(ws, "FEDYA") == ["Фёдор Ёлкин"]  # @username
    assert search(ws, "где мой") == ["Фёдор Ёлкин"]  # the last message, lower case
    assert search(ws, "ship") == ["Aigerim"] == search(ws, "almaty")  # as typed, lower, Capitalised or UPPER
    assert search(ws, "возврат") == ["Boris Closed"]  # a tag, in the closed tab too
    assert search(ws, "возврат", status="new") == []
    assert search(ws, "nobody-like-this") == []
    assert "Фёдор Чужой" not in search(ws, "Фёдор")

    assert ws.api("PATCH", f"/conversations/{fyodor['id']}", json={"tags": ["VIP"]}).status_code == 200
    ws.drain()
    assert search(ws, "vip") == ["Фёдор Ёлкин"]
    for bad in ("x", "y" * 101):
        assert ws.api("GET", "/conversations", params={"q": bad}).status_code == 400
