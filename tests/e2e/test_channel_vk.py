"""A VK community through the real stack: Callback API webhook -> DynamoDB Local -> stream -> VKAdapter -> the fake
VK API mounted by the runner at /_fake/vk, and the operator's REST API over HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from chalicelib.channels.vk import random_id_for
from chalicelib.domain.model import Channel
from chalicelib.local.fakes import vk as fake_vk
from tests.support import Workspace, fresh

pytestmark = pytest.mark.ddblocal


class VKShop(Workspace):
    """A workspace with one VK community channel (the fake knows its token)."""

    channel: Channel
    group_id: int

    def post_event(self, event: dict[str, Any], *, raw: bytes | None = None) -> requests.Response:
        body = raw if raw is not None else json.dumps(event).encode()
        return requests.post(f"{self.stack.url}/api/webhooks/vk/{self.channel_id}", data=body,
                             headers={"Content-Type": "application/json"}, timeout=30)

    @property
    def fake(self) -> fake_vk.FakeVK:
        return self.stack.fakes["vk"]

    def vk_calls(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.fake.calls if c["method"] == method and c.get("group_id") == self.group_id]

    def only_conversation(self) -> dict[str, Any]:
        (conv,) = self.conversations()
        return conv


def vk_shop(stack: Any) -> VKShop:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = fresh("ws")
    repo.put_workspace(ws, f"Shop {ws}", language="ru", now=d.now())
    group_id = 100_000_000 + secrets.randbelow(10**8)
    token = f"vk1.a.{secrets.token_urlsafe(24)}"
    stack.fakes["vk"].add_group(group_id, token, f"Shop {ws}")
    channel = channels.create_channel(d, ws, "vk", "VK community", {"access_token": token, "group_id": str(group_id)})
    shop = VKShop(stack, ws, channel.id, "", channel.secrets["webhook_secret"], create_api_key(ws, "admin",
                                                                                              name="tests",
                                                                                              now=d.now()))
    shop.channel, shop.group_id = channel, group_id
    return shop


def customer() -> int:
    return 300_000_000 + secrets.randbelow(10**8)


def test_the_confirmation_handshake_returns_the_communitys_code_and_registration_used_our_secret(stack):
    shop = vk_shop(stack)
    (server,) = shop.fake.callback_servers(shop.group_id)
    assert server["url"].endswith(f"/api/webhooks/vk/{shop.channel_id}")
    assert server["secret_key"] == shop.webhook_secret
    resp = shop.post_event(fake_vk.callback(shop.channel, "confirmation", {}))
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == shop.fake.confirmation_code(shop.group_id)
    shop.drain()
    assert shop.conversations() == []


def test_first_message_greets_once_and_the_operator_reply_quotes_the_customer_with_a_stable_random_id(stack):
    shop = vk_shop(stack)
    user = customer()
    event = fake_vk.message_new(shop.channel, user_id=user, text="Where is my parcel?")
    resp = shop.post_event(event)
    assert (resp.status_code, resp.text) == (200, "ok")
    shop.drain()

    conv = shop.only_conversation()
    assert conv["channel_kind"] == "vk" and conv["surface"] == "private" and conv["unread_count"] == 1
    assert conv["last_message_preview"] == "Where is my parcel?"
    (greeting,) = shop.vk_calls("messages.send")
    assert greeting["params"]["peer_id"] == str(user) and "Здравствуйте" in greeting["params"]["message"]

    customer_msg = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")
    assert shop.reply(conv["id"], "We are on it!", reply_to=customer_msg["id"]).status_code == 202
    shop.drain()
    shop.drain()  # a second pass finds nothing new to send

    greeting_call, reply_call = shop.vk_calls("messages.send")
    assert greeting_call == greeting
    ours = next(m for m in shop.messages(conv["id"]) if m["origin"] == "operator")
    assert reply_call["params"]["message"] == "We are on it!"
    assert reply_call["params"]["reply_to"] == str(event["object"]["message"]["id"])
    assert reply_call["params"]["random_id"] == str(random_id_for(ours["id"]))
    assert ours["status"] == "sent"
    assert [m["text"] for m in fake_vk.customer_view(shop.fake, str(user))][1] == "We are on it!"
    assert ours["external_message_id"] == fake_vk.customer_view(shop.fake, str(user))[1]["id"]


def test_a_replayed_callback_is_stored_once_and_answered_ok_each_time(stack):
    shop = vk_shop(stack)
    event = fake_vk.message_new(shop.channel, user_id=customer(), text="duplicate me")
    assert shop.post_event(event).text == "ok"
    assert shop.post_event(event).text == "ok"
    shop.drain()
    conv = shop.only_conversation()
    assert [m["text"] for m in shop.messages(conv["id"]) if m["direction"] == "in"] == ["duplicate me"]
    assert len(shop.vk_calls("messages.send")) == 1  # one greeting


def test_a_wrong_secret_or_another_community_is_403_and_stores_nothing(stack):
    shop = vk_shop(stack)
    forged = {**fake_vk.message_new(shop.channel, user_id=customer(), text="x"), "secret": "guess"}
    assert shop.post_event(forged).status_code == 403
    other = {**fake_vk.message_new(shop.channel, user_id=customer(), text="x"), "group_id": shop.group_id + 1}
    assert shop.post_event(other).status_code == 403
    assert shop.post_event({}, raw=b"{not json").status_code == 400
    shop.drain()
    assert shop.conversations() == []


def test_vk_error_6_is_retried_and_the_greeting_is_sent_once(stack):
    shop = vk_shop(stack)
    user = customer()
    shop.fake.fail_next("messages.send", error_code=6, times=1)
    shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="hello"))
    shop.drain()
    conv = shop.only_conversation()
    greeting = next(m for m in shop.messages(conv["id"]) if m["origin"] == "greeting")
    assert greeting["status"] == "sent" and greeting["attempts"] == 2
    refused, accepted = shop.vk_calls("messages.send")
    assert (refused["error_code"], accepted["error_code"]) == (6, None)
    assert refused["params"]["random_id"] == accepted["params"]["random_id"]
    assert len(shop.fake.sent(user)) == 1


def test_a_customer_who_denied_messages_gets_a_visible_failure_not_a_retry_loop(stack):
    shop = vk_shop(stack)
    user = customer()
    shop.fake.deny_messages(shop.group_id, user)
    shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="hi"))
    shop.drain()
    greeting = next(m for m in shop.messages(shop.only_conversation()["id"]) if m["origin"] == "greeting")
    assert greeting["status"] == "failed" and greeting["error"]["code"] == "recipient_unavailable"
    assert greeting["attempts"] == 1


def test_a_wall_comment_becomes_a_comment_conversation_answered_with_a_nested_comment(stack):
    shop = vk_shop(stack)
    user = customer()
    event = fake_vk.wall_reply_new(shop.channel, user_id=user, post_id=77, text="Delivery is too slow!",
                                   comment_id=4501, fake=shop.fake)
    assert shop.post_event(event).text == "ok"
    shop.drain()
    conv = shop.only_conversation()
    assert conv["surface"] == "comment" and conv["last_message_preview"] == "Delivery is too slow!"
    comment_msg = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")
    assert comment_msg["comment"]["permalink"] == f"https://vk.com/wall-{shop.group_id}_77?reply=4501"

    assert shop.reply(conv["id"], "Sorry! We are checking", reply_to=comment_msg["id"]).status_code == 202
    shop.drain()
    (answer,) = shop.vk_calls("wall.createComment")  # the auto-greeting is not posted publicly on the post
    assert (answer["params"]["owner_id"], answer["params"]["post_id"]) == (f"-{shop.group_id}", "77")
    assert answer["params"]["reply_to_comment"] == "4501" and answer["params"]["message"] == "Sorry! We are checking"
    ours = next(m for m in shop.messages(conv["id"]) if m["origin"] == "operator")
    assert ours["status"] == "sent"
    seen = fake_vk.customer_view(shop.fake, f"wall-{shop.group_id}_77_{user}")
    assert [c["text"] for c in seen] == ["Sorry! We are checking"] and seen[0]["id"] == ours["external_message_id"]


def test_the_echo_of_our_own_send_is_not_shown_twice_but_an_answer_typed_in_vk_is_recorded(stack):
    shop = vk_shop(stack)
    user = customer()
    shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="hello"))
    shop.drain()
    conv = shop.only_conversation()
    (sent,) = shop.fake.sent(user)
    assert shop.post_event(fake_vk.message_reply(shop.channel, sent)).text == "ok"
    shop.drain()
    assert [m["origin"] for m in shop.messages(conv["id"])] == ["customer", "greeting"]

    typed = {**sent, "id": sent["id"] + 50_000, "text": "Typed by an admin in VK", "random_id": 0}
    shop.post_event(fake_vk.message_reply(shop.channel, typed, admin_author_id=777888))
    shop.drain()
    thread = shop.messages(conv["id"])
    assert [m["origin"] for m in thread] == ["customer", "greeting", "provider"]
    assert thread[-1]["direction"] == "out" and thread[-1]["text"] == "Typed by an admin in VK"


def test_a_customer_photo_is_copied_from_vk_and_served_by_our_own_link(stack):
    shop = vk_shop(stack)
    picture = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)
    url = shop.fake.add_file(picture, "box.png", "image/png")
    photo = {"type": "photo", "photo": {"id": 457239017, "owner_id": 1, "access_key": "k",
                                        "sizes": [{"type": "x", "url": url, "width": 604, "height": 453}]}}
    shop.post_event(fake_vk.message_new(shop.channel, user_id=customer(), text="the box", attachments=[photo]))
    shop.drain()
    (msg,) = [m for m in shop.messages(shop.only_conversation()["id"]) if m["direction"] == "in"]
    (att,) = msg["attachments"]
    assert att["kind"] == "image" and att["state"] == "ready"
    assert "/_fake/vk" not in att["url"]
    assert requests.get(att["url"], timeout=10).content == picture


def test_the_simulator_writes_as_a_vk_customer_through_the_real_webhook(stack):
    shop = vk_shop(stack)
    request = fake_vk.simulate_customer(shop.channel, user_id="4242", name="Anna", text="from the simulator")
    resp = requests.post(f"{stack.url}/api/webhooks/vk/{shop.channel_id}", data=request.body,
                         headers=request.headers, timeout=30)
    assert resp.text == "ok"
    shop.drain()
    assert shop.only_conversation()["last_message_preview"] == "from the simulator"
    (greeting,) = fake_vk.customer_view(shop.fake, "4242")
    assert "Здравствуйте" in greeting["text"]


def test_a_new_customer_is_named_from_users_get_once_from_the_stream(stack):
    shop = vk_shop(stack)
    user = customer()
    shop.fake.add_user(user, "Ольга", "Петрова", "olga_p")
    shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="Здравствуйте"))
    shop.post_event(fake_vk.message_new(shop.channel, user_id=user, text="Вы здесь?"))
    shop.drain()
    conv = shop.only_conversation()
    assert conv["contact_name"] == "Ольга Петрова"
    card = shop.api("GET", f"/conversations/{conv['id']}").json()["contact"]
    assert card["username"] == "olga_p"
    lookups = [c for c in shop.vk_calls("users.get") if str(user) in json.dumps(c)]
    assert len(lookups) == 1  # the second message finds the identity: no second call


def test_a_bulk_reply_answers_several_comments_once_even_when_the_request_is_retried(stack):
    import uuid

    shop = vk_shop(stack)
    post_id = 7000 + secrets.randbelow(1000)
    authors = [customer(), customer(), customer()]
    for author in authors:
        shop.post_event(fake_vk.wall_reply_new(shop.channel, post_id=post_id, user_id=author, text="Цена?",
                                               fake=shop.fake))
    shop.drain()
    convs = shop.conversations()
    assert len(convs) == 3
    body = {"request_id": str(uuid.uuid4()), "text": "Цена в профиле",
            "items": [{"conversation_id": c["id"]} for c in convs] + [{"conversation_id": "c_missing"}]}
    first = shop.api("POST", "/replies/bulk", json=body)
    again = shop.api("POST", "/replies/bulk", json=body)  # a retry of the same request
    assert first.status_code == 202, first.text
    assert [i.get("message_id") for i in first.json()["items"]] == [i.get("message_id") for i in again.json()["items"]]
    assert first.json()["items"][-1]["error"]["code"] == "not_found"
    shop.drain()
    created = shop.vk_calls("wall.createComment")
    answers = [c for c in created if "Цена в профиле" in json.dumps(c, ensure_ascii=False)]
    assert len(answers) == 3


def test_deleting_a_comment_without_an_admin_user_token_ends_failed_with_the_reason(stack):
    shop = vk_shop(stack)
    shop.post_event(fake_vk.wall_reply_new(shop.channel, post_id=91, user_id=customer(), text="spam",
                                           fake=shop.fake))
    shop.drain()
    conv = shop.only_conversation()
    (comment,) = [m for m in shop.messages(conv["id"]) if m["direction"] == "in"]
    assert shop.api("DELETE", f"/conversations/{conv['id']}/messages/{comment['id']}").status_code == 202
    shop.drain()
    (after,) = [m for m in shop.messages(conv["id"]) if m["id"] == comment["id"]]
    assert after["deleted"] is False
    assert after["action"]["state"] == "failed" and after["action"]["error"]["code"] == "not_supported"


def test_a_vk_wall_comment_cannot_be_hidden_and_nothing_is_asked_of_vk(stack):
    shop = vk_shop(stack)
    shop.post_event(fake_vk.wall_reply_new(shop.channel, post_id=92, user_id=customer(), text="spam again",
                                           fake=shop.fake))
    shop.drain()
    conv = shop.only_conversation()
    (comment,) = [m for m in shop.messages(conv["id"]) if m["direction"] == "in"]
    before = [c for c in shop.fake.calls if c.get("group_id") == shop.group_id]
    refused = shop.api("POST", f"/conversations/{conv['id']}/messages/{comment['id']}/hide", json={"hidden": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "hide_not_supported"
    shop.drain()
    (after,) = [m for m in shop.messages(conv["id"]) if m["id"] == comment["id"]]
    assert after["hidden"] is False and after["action"] is None
    assert [c for c in shop.fake.calls if c.get("group_id") == shop.group_id] == before
