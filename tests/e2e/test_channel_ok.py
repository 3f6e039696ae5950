"""An OK.ru group on the real stack: our webhook URL with its token -> DynamoDB Local -> stream -> handlers -> the
fake OK Bot API over HTTP, and the operator's REST API over HTTP."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support import Workspace, fresh

pytestmark = pytest.mark.ddblocal

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@dataclass
class OKGroup:
    ws: Workspace
    token: str
    fake: Any

    @property
    def secret(self) -> str:
        return self.ws.webhook_secret

    def webhook(self, payload: dict[str, Any], *, k: str | None = None) -> requests.Response:
        params = {} if k == "" else {"k": self.secret if k is None else k}
        return requests.post(f"{self.ws.stack.url}/api/webhooks/ok/{self.ws.channel_id}", params=params,
                             json=payload, timeout=30)

    def customer_writes(self, text: str, *, user: str = "user:5550001", name: str = "Olga", **extra: Any) -> dict:
        return self.fake.customer_message(self.token, user, name, text, **extra)

    def sends(self) -> list[dict]:
        return [c for c in self.fake.calls_of("send") if c["token"] == self.token]


def ok_group(stack) -> OKGroup:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws_id = fresh("ws")
    repo.put_workspace(ws_id, f"Shop {ws_id}", language="ru", now=d.now())
    token = f"tkn1{secrets.token_hex(16)}:CKAAAAAAAAAAAAAAA"
    fake = stack.fakes["ok"]
    fake.add_group(token, f"group:{secrets.randbelow(10**14)}", f"Shop {ws_id}")
    channel = channels.create_channel(d, ws_id, "ok", "OK group", {"access_token": token})
    key = create_api_key(ws_id, "admin", name="tests", now=d.now())
    return OKGroup(Workspace(stack, ws_id, channel.id, "", channel.secrets["webhook_secret"], key), token, fake)


def test_connecting_an_ok_group_subscribes_our_url_with_its_token(stack):
    group = ok_group(stack)
    expected = f"{stack.url}/api/webhooks/ok/{group.ws.channel_id}?k={group.secret}"
    assert group.fake.subscriptions(group.token) == [expected]
    listed = group.ws.api("GET", "/channels").json()["items"][0]
    assert listed["kind"] == "ok" and listed["health"]["ok"] is True
    assert group.secret not in str(listed) and group.token not in str(listed)


@pytest.mark.parametrize("k", ["", "wrong-token"])
def test_a_missing_or_wrong_url_token_is_403_and_stores_nothing(stack, k):
    group = ok_group(stack)
    resp = group.webhook(group.customer_writes("let me in"), k=k)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    group.ws.drain()
    assert group.ws.conversations() == []


def test_a_forged_message_with_the_right_token_is_403_and_stores_nothing(stack):
    group = ok_group(stack)
    payload = group.customer_writes("real")
    payload["message"]["mid"] = payload["message"]["mid"][:-4] + "beef"
    assert group.webhook(payload).status_code == 403
    group.ws.drain()
    assert group.ws.conversations() == []


def test_a_message_gets_a_greeting_and_the_operator_reply_goes_out_as_ok_documents_it(stack):
    group = ok_group(stack)
    payload = group.customer_writes("Hi, where is my order?")
    chat = payload["recipient"]["chat_id"]
    assert group.webhook(payload).status_code == 200
    group.ws.drain()

    (conv,) = group.ws.conversations()
    assert conv["channel_kind"] == "ok" and conv["contact_name"] == "Olga" and conv["unread_count"] == 1
    (greeting,) = group.fake.sent(chat)
    assert "Здравствуйте" in greeting["text"]

    resp = group.ws.reply(conv["id"], "We are on it!")
    assert resp.status_code == 202, resp.text
    group.ws.drain()
    last = group.sends()[-1]
    assert last["arg"] == chat
    assert last["body"] == {"recipient": {"chat_id": chat}, "message": {"text": "We are on it!"}}
    reply = next(m for m in group.ws.messages(conv["id"]) if m["origin"] == "operator")
    assert reply["status"] == "sent" and reply["external_message_id"] == group.fake.sent(chat)[-1]["mid"]


def test_the_same_webhook_delivered_twice_is_stored_once(stack):
    group = ok_group(stack)
    payload = group.customer_writes("only once")
    assert group.webhook(payload).status_code == 200
    assert group.webhook(payload).status_code == 200
    group.ws.drain()
    (conv,) = group.ws.conversations()
    assert conv["message_count"] == 1
    assert [m["text"] for m in group.ws.messages(conv["id"]) if m["direction"] == "in"] == ["only once"]
    assert len(group.sends()) == 1  # one greeting


def test_ok_answering_429_is_retried_and_sent_once(stack):
    group = ok_group(stack)
    group.fake.fail_next("send", status=429, retry_after=1)
    group.webhook(group.customer_writes("hello"))
    group.ws.drain()
    (conv,) = group.ws.conversations()
    greeting = next(m for m in group.ws.messages(conv["id"]) if m["origin"] == "greeting")
    assert greeting["status"] == "sent" and greeting["attempts"] == 2
    assert [c["status"] for c in group.sends()] == [429, 200]


def test_a_customer_photo_is_copied_into_our_storage(stack):
    group = ok_group(stack)
    url = group.fake.add_media(PNG, "image/png", ".png")
    group.webhook(group.customer_writes("", attachments=[{"type": "IMAGE", "payload": {"url": url}}]))
    group.ws.drain()
    (conv,) = group.ws.conversations()
    (msg,) = [m for m in group.ws.messages(conv["id"]) if m["direction"] == "in"]
    (att,) = msg["attachments"]
    assert att["kind"] == "image" and att["state"] == "ready"
    assert requests.get(att["url"], timeout=10).content == PNG


def test_health_subscribes_again_when_ok_dropped_our_webhook(stack):
    group = ok_group(stack)
    group.fake.drop_subscriptions(group.token)
    resp = group.ws.api("POST", f"/channels/{group.ws.channel_id}/health")
    assert resp.status_code == 200 and resp.json()["webhook"] == "resubscribed"
    assert group.fake.subscriptions(group.token) == [
        f"{stack.url}/api/webhooks/ok/{group.ws.channel_id}?k={group.secret}"]
    assert group.secret not in resp.text
