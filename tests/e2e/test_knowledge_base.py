"""The knowledge base (H1) over the real API: admins and moderators write articles (ru / en, draft / published,
categories), everyone reads the published ones, the full-text search finds them, and a sent reply that used an
article counts one use, once."""

from __future__ import annotations

import secrets

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def article(**extra) -> dict:
    return {"category": "Доставка", "status": "published", "url": "https://help.example.org/delivery",
            "versions": {"ru": {"title": "Сроки доставки", "body": "Доставляем **за 2 дня** по Москве"},
                         "en": {"title": "Delivery times", "body": "We deliver in *two days*"}}, **extra}


def key(ws, role: str) -> str:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    return create_api_key(ws.id, role, name=role, now=deps().now())


@pytest.fixture
def ws(stack):
    return new_workspace(stack)


def test_a_moderator_writes_publishes_changes_and_deletes_an_article(ws):
    moderator = key(ws, "moderator")
    created = ws.api("POST", "/articles", json=article(status="draft"), key=moderator)
    assert created.status_code == 201, created.text
    art = created.json()
    assert (art["status"], art["revision"], art["uses"]) == ("draft", 1, 0)
    assert art["versions"]["en"]["title"] == "Delivery times"

    operator = key(ws, "operator")
    assert ws.api("GET", "/articles", key=operator).json()["items"] == []  # drafts: only for editors
    assert ws.api("GET", f"/articles/{art['id']}", key=operator).status_code == 404
    ws.drain()
    assert ws.api("GET", "/search", params={"q": "сроки", "kind": "article"}, key=operator).json()["items"] == []
    assert len(ws.api("GET", "/search", params={"q": "сроки", "kind": "article"}, key=moderator).json()["items"]) == 1

    published = ws.api("PUT", f"/articles/{art['id']}", json=article(revision=1), key=moderator)
    assert published.status_code == 200, published.text
    assert published.json()["revision"] == 2
    stale = ws.api("PUT", f"/articles/{art['id']}", json=article(revision=1, category="Оплата"), key=moderator)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    listed = ws.api("GET", "/articles", key=operator).json()
    assert [a["id"] for a in listed["items"]] == [art["id"]] and listed["categories"] == ["Доставка"]
    ws.drain()
    hits = ws.api("GET", "/search", params={"q": "delivery", "kind": "article"}, key=operator).json()["items"]
    assert [(h["article"]["id"], h["article"]["language"]) for h in hits] == [(art["id"], "en")]
    assert [hits[0]["snippet"][s:e] for s, e in hits[0]["marks"]] == ["Delivery"]

    assert ws.api("DELETE", f"/articles/{art['id']}", key=moderator).status_code == 200
    assert ws.api("GET", f"/articles/{art['id']}", key=moderator).status_code == 404
    ws.drain()
    assert ws.api("GET", "/search", params={"q": "delivery"}, key=moderator).json()["items"] == []


def test_operators_and_analysts_cannot_write_articles(ws):
    for role in ("operator", "analyst", "readonly"):
        resp = ws.api("POST", "/articles", json=article(), key=key(ws, role))
        assert resp.status_code == 403, role
    assert ws.api("GET", "/articles").json()["items"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"versions": {}}, "versions"),
    ({"versions": {"de": {"title": "x"}}}, "versions"),
    ({"versions": {"ru": {"title": ""}}}, "title"),
    ({"versions": {"ru": {"title": "t" * 201}}}, "title"),
    ({"versions": {"ru": {"title": "ok", "body": "b" * 20_001}}}, "body"),
    ({"status": "live"}, "status"),
    ({"category": "c" * 61}, "category"),
    ({"url": "javascript:alert(1)"}, "url"),
])
def test_a_wrong_article_field_is_refused_with_400_and_nothing_is_stored(ws, change, field):
    resp = ws.api("POST", "/articles", json={**article(), **change})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["details"]["field"] == field
    assert ws.api("GET", "/articles").json()["items"] == []


def test_another_workspaces_article_is_not_found_and_not_searchable(ws, stack):
    mine = ws.api("POST", "/articles", json=article()).json()
    ws.drain()
    other = new_workspace(stack)
    assert other.api("GET", f"/articles/{mine['id']}").status_code == 404
    assert other.api("PUT", f"/articles/{mine['id']}", json=article()).status_code == 404
    assert other.api("DELETE", f"/articles/{mine['id']}").status_code == 404
    assert other.api("GET", "/search", params={"q": "доставки"}).json()["items"] == []
    assert ws.api("GET", f"/articles/{mine['id']}").json()["revision"] == 1


def test_a_sent_reply_counts_each_article_it_used_exactly_once(ws):
    from chalicelib.services import knowledge
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    art = ws.api("POST", "/articles", json=article()).json()
    ws.post_update(customer_message(7_400_000 + secrets.randbelow(10**6), "когда доставка?"))
    ws.drain()
    (conv,) = ws.conversations()
    sent = ws.reply(conv["id"], "Доставляем за 2 дня", articles=[art["id"], art["id"]])
    assert sent.status_code == 202, sent.text
    ws.drain()
    assert ws.api("GET", f"/articles/{art['id']}").json()["uses"] == 1

    message = repo.get_message(ws.id, conv["id"], sent.json()["id"])
    assert message is not None and message.status == "sent"
    pending = repo.get_message(ws.id, conv["id"], sent.json()["id"])
    assert pending is not None
    pending.status = "pending"
    knowledge.on_message(deps(), message, pending)  # the stream delivers the same change again
    assert ws.api("GET", f"/articles/{art['id']}").json()["uses"] == 1

    plain = ws.reply(conv["id"], "Ещё вопросы?")
    ws.drain()
    assert plain.status_code == 202 and ws.api("GET", f"/articles/{art['id']}").json()["uses"] == 1
    bad = ws.reply(conv["id"], "x", articles=["not-an-article"])
    assert bad.status_code == 400
