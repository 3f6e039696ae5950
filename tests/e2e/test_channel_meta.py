"""WhatsApp, Messenger and Instagram through the real stack: signed webhook -> DynamoDB Local -> stream ->
adapters -> the fake Graph API mounted at /_fake/graph, and the operator's REST API over HTTP."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests

from chalicelib.local.fakes.graph import (
    FakeGraph,
    customer_payload,
    customer_view,
    page_text,
    signed,
    whatsapp_text,
    whatsapp_webhook,
)
from tests.support import fresh

pytestmark = pytest.mark.ddblocal


def digits(n: int) -> str:
    return str(10 ** (n - 1) + secrets.randbelow(9 * 10 ** (n - 1)))


@dataclass
class MetaShop:
    """A workspace with one Meta channel, its customer-side tools and the operator's API."""

    stack: Any
    kind: str
    id: str
    channel: Any
    key: str
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def fake(self) -> FakeGraph:
        return self.stack.fakes["graph"]

    @property
    def webhook_url(self) -> str:
        return f"{self.stack.url}/api/webhooks/{self.kind}/{self.channel.id}"

    def post(self, payload: dict[str, Any], *, signature: str | None = "") -> requests.Response:
        request = signed(self.channel, payload)
        headers = dict(request.headers)
        if signature is None:
            headers.pop("X-Hub-Signature-256")
        elif signature:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(self.webhook_url, data=request.body, headers=headers, timeout=30)

    def post_request(self, request: Any) -> requests.Response:
        return requests.post(self.webhook_url, data=request.body, headers=request.headers, timeout=30)

    def customer_writes(self, user_id: str, text: str, *, name: str = "Boris",
                        reply_to: str | None = None) -> dict[str, Any]:
        payload = customer_payload(self.channel, user_id=user_id, name=name, text=text, reply_to=reply_to)
        assert self.post(payload).status_code == 200
        return payload

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.stack.url}/api{path}",
                                    headers={"Authorization": f"Bearer {self.key}"}, timeout=30, **kwargs)

    def conversations(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.api("GET", "/conversations", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        resp = self.api("GET", f"/conversations/{conversation_id}/messages", params={"limit": 200})
        assert resp.status_code == 200, resp.text
        return list(reversed(resp.json()["items"]))

    def reply(self, conversation_id: str, text: str, **extra: Any) -> dict[str, Any]:
        resp = self.api("POST", f"/conversations/{conversation_id}/replies", json={"text": text, **extra})
        assert resp.status_code == 202, resp.text
        return resp.json()

    def drain(self) -> None:
        self.stack.pump.drain(timeout=30)

    def calls(self, path_part: str) -> list[dict[str, Any]]:
        token = self.channel.secrets.get("access_token") or self.channel.secrets.get("page_access_token")
        return [c for c in self.fake.api_calls(path_part) if c["token"] == token]


def open_shop(stack: Any, kind: str) -> MetaShop:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = fresh("ws")
    repo.put_workspace(ws, f"Shop {ws}", language="ru", now=d.now())
    fake: FakeGraph = stack.fakes["graph"]
    token = f"EAAG{secrets.token_hex(12)}"
    credentials = {"app_secret": secrets.token_hex(16)}
    if kind == "whatsapp":
        number, waba = digits(15), digits(15)
        fake.add_whatsapp_number(token, number, waba)
        credentials |= {"access_token": token, "phone_number_id": number, "waba_id": waba}
    elif kind == "messenger":
        page = digits(15)
        fake.add_page(token, page)
        credentials |= {"page_access_token": token, "page_id": page}
    else:
        page, ig = digits(15), "1784" + digits(13)
        fake.add_page(token, page, ig_user_id=ig, ig_username=f"{ws}.shop")
        credentials |= {"page_access_token": token, "page_id": page, "ig_user_id": ig}
    channel = channels.create_channel(d, ws, kind, f"{kind} of {ws}", credentials)
    key = create_api_key(ws, "admin", name="tests", now=d.now())
    return MetaShop(stack, kind, ws, channel, key)


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def set_last_inbound(shop: MetaShop, conversation_id: str, hours_ago: float) -> None:
    from chalicelib.domain.model import iso, utcnow
    from chalicelib.store import repo
    from chalicelib.store.models import ConversationItem

    conv = repo.get_conversation(shop.id, conversation_id, consistent=True)
    assert conv is not None
    conv.update(actions=[ConversationItem.last_inbound_at.set(iso(utcnow() - timedelta(hours=hours_ago)))])


def add_operator_message(shop: MetaShop, conversation_id: str, **attrs: Any) -> str:
    """An outbound message the API has no route for yet (template, private comment reply)."""
    from chalicelib.domain.model import iso, new_id, utcnow
    from chalicelib.store import repo

    conv = repo.get_conversation(shop.id, conversation_id, consistent=True)
    assert conv is not None
    now = utcnow()
    message = repo.new_message(shop.id, conversation_id, new_id("m", now), channel_id=conv.channel_id,
                               direction="out", origin="operator", author_id="tests", status="pending",
                               created_at=iso(now), **attrs)
    repo.add_outbound_message(conv, message, now=now, counts_as_response=True)
    return message.message_id


# ---------------------------------------------------------------------------------------------------- WhatsApp


def test_whatsapp_message_opens_a_conversation_greets_and_the_reply_quotes_the_customer(stack):
    shop = open_shop(stack, "whatsapp")
    assert shop.fake.subscriptions[-1]["id"] == shop.channel.secrets["waba_id"]  # register_webhook
    wa_id = "7916" + digits(7)
    payload = shop.customer_writes(wa_id, "Is the store open today?")
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    shop.drain()

    conv = only(shop.conversations())
    assert conv["channel_kind"] == "whatsapp" and conv["contact_name"] == "Boris"
    greeting = only(shop.fake.sent(wa_id))
    assert greeting["type"] == "text" and "Здравствуйте" in greeting["text"]

    customer = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")
    shop.reply(conv["id"], "Open till 9 pm", reply_to=customer["id"])
    shop.drain()
    sends = shop.calls(f"/{shop.channel.secrets['phone_number_id']}/messages")
    assert len(sends) == 2
    assert sends[1]["params"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id,
                                  "type": "text", "text": {"body": "Open till 9 pm", "preview_url": False},
                                  "context": {"message_id": wamid}}
    ours = next(m for m in shop.messages(conv["id"]) if m["origin"] == "operator")
    assert ours["status"] == "sent" and ours["external_message_id"] == shop.fake.sent(wa_id)[-1]["id"]
    assert [v["text"] for v in customer_view(shop.fake, wa_id)][-1] == "Open till 9 pm"


def test_whatsapp_delivery_statuses_show_on_our_message_and_never_go_back(stack):
    shop = open_shop(stack, "whatsapp")
    wa_id = "7916" + digits(7)
    shop.customer_writes(wa_id, "hello")
    shop.drain()
    conv = only(shop.conversations())
    greeting = next(m for m in shop.messages(conv["id"]) if m["origin"] == "greeting")
    number = shop.channel.secrets["phone_number_id"]

    def status(state: str) -> None:
        body = whatsapp_webhook(number, statuses=[{"id": greeting["external_message_id"], "status": state,
                                                   "timestamp": str(int(time.time())), "recipient_id": wa_id}])
        assert shop.post(body).status_code == 200
        shop.drain()

    status("delivered")
    assert next(m for m in shop.messages(conv["id"]) if m["id"] == greeting["id"])["delivery"] == "delivered"
    status("read")
    status("delivered")  # late and out of order
    assert next(m for m in shop.messages(conv["id"]) if m["id"] == greeting["id"])["delivery"] == "read"


def test_whatsapp_reply_outside_24_hours_fails_as_window_closed_and_a_template_goes_out(stack):
    shop = open_shop(stack, "whatsapp")
    wa_id = "7916" + digits(7)
    shop.customer_writes(wa_id, "where is my parcel?")
    shop.drain()
    conv = only(shop.conversations())
    set_last_inbound(shop, conv["id"], hours_ago=25)
    before = len(shop.fake.sent(wa_id))

    failed_id = shop.reply(conv["id"], "It ships tomorrow")["id"]
    shop.drain()
    failed = next(m for m in shop.messages(conv["id"]) if m["id"] == failed_id)
    assert failed["status"] == "failed" and failed["error"]["code"] == "window_closed"
    assert "24 hours" in failed["error"]["message"] and len(shop.fake.sent(wa_id)) == before

    template_id = add_operator_message(shop, conv["id"], text="", template={
        "name": "order_update", "language": "ru", "parameters": ["#1234"]})
    shop.drain()
    sent = next(m for m in shop.messages(conv["id"]) if m["id"] == template_id)
    assert sent["status"] == "sent"
    template = shop.fake.sent(wa_id)[-1]
    assert template["type"] == "template" and template["id"] == sent["external_message_id"]
    assert template["template"] == {"name": "order_update", "language": {"code": "ru"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "#1234"}]}]}


def test_whatsapp_rate_limit_is_retried_and_the_greeting_goes_out_once(stack):
    shop = open_shop(stack, "whatsapp")
    wa_id = "7916" + digits(7)
    shop.fake.fail_next(f"/{shop.channel.secrets['phone_number_id']}/messages", status=429, code=130429)
    shop.customer_writes(wa_id, "hello")
    shop.drain()
    conv = only(shop.conversations())
    greeting = next(m for m in shop.messages(conv["id"]) if m["origin"] == "greeting")
    assert greeting["status"] == "sent" and greeting["attempts"] == 2
    assert len(shop.fake.sent(wa_id)) == 1
    assert len(shop.calls(f"/{shop.channel.secrets['phone_number_id']}/messages")) == 2


def test_whatsapp_image_is_fetched_through_the_media_url_and_served_by_our_link(stack):
    shop = open_shop(stack, "whatsapp")
    wa_id = "7916" + digits(7)
    jpeg = b"\xff\xd8\xff\xe0" + secrets.token_bytes(64)
    media_id = digits(13)
    shop.fake.add_media(media_id, jpeg, "image/jpeg", phone_number_id=shop.channel.secrets["phone_number_id"])
    message = {**whatsapp_text(wa_id, ""), "type": "image",
               "image": {"id": media_id, "mime_type": "image/jpeg", "sha256": "x", "caption": "the box"}}
    message.pop("text")
    shop.post(whatsapp_webhook(shop.channel.secrets["phone_number_id"], messages=[message],
                               contacts=[{"profile": {"name": "Boris"}, "wa_id": wa_id}]))
    shop.drain()
    conv = only(shop.conversations())
    customer = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")
    attachment = only(customer["attachments"])
    assert customer["text"] == "the box" and attachment["state"] == "ready"
    assert shop.channel.secrets["access_token"] not in attachment["url"]
    assert requests.get(attachment["url"], timeout=10).content == jpeg


# ------------------------------------------------------------------------------------- webhook rules (all three)


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(stack, kind):
    shop = open_shop(stack, kind)
    payload = customer_payload(shop.channel, user_id=digits(12), name="Eve", text="forged")
    assert shop.post(payload, signature=None).status_code == 401
    assert shop.post(payload, signature="sha256=" + "0" * 64).status_code == 401
    shop.drain()
    assert shop.conversations() == []


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_the_verification_get_answers_the_challenge_only_for_the_verify_token(stack, kind):
    shop = open_shop(stack, kind)
    good = requests.get(shop.webhook_url, params={"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                                  "hub.verify_token": shop.channel.secrets["webhook_secret"]},
                        timeout=10)
    assert good.status_code == 200 and good.text == "1158201444"
    assert good.headers["Content-Type"].startswith("text/plain")
    bad = requests.get(shop.webhook_url, params={"hub.mode": "subscribe", "hub.challenge": "1",
                                                 "hub.verify_token": "guess"}, timeout=10)
    assert bad.status_code == 403


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_a_replayed_webhook_is_stored_once(stack, kind):
    shop = open_shop(stack, kind)
    payload = customer_payload(shop.channel, user_id=digits(12), name="Boris", text="only once")
    assert shop.post(payload).status_code == 200
    assert shop.post(payload).status_code == 200
    shop.drain()
    conv = only(shop.conversations())
    assert conv["message_count"] == 1
    assert [m["text"] for m in shop.messages(conv["id"]) if m["direction"] == "in"] == ["only once"]


# ---------------------------------------------------------------------------------------------------- Messenger


def test_messenger_message_greets_and_the_operator_reply_is_a_response_to_the_psid(stack):
    shop = open_shop(stack, "messenger")
    page, psid = shop.channel.secrets["page_id"], digits(16)
    assert shop.fake.subscriptions[-1]["id"] == page
    shop.customer_writes(psid, "I was charged twice")
    shop.drain()
    conv = only(shop.conversations())
    assert "Здравствуйте" in only(shop.fake.sent(psid))["text"]

    shop.reply(conv["id"], "We will refund it")
    shop.drain()
    call = shop.calls("/me/messages")[-1]
    assert call["params"] == {"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                              "message": {"text": "We will refund it"}}
    ours = next(m for m in shop.messages(conv["id"]) if m["origin"] == "operator")
    assert ours["status"] == "sent"

    echo = {"sender": {"id": page}, "recipient": {"id": psid}, "timestamp": int(time.time() * 1000),
            "message": {"mid": ours["external_message_id"], "is_echo": True, "text": "We will refund it"}}
    assert shop.post({"object": "page", "entry": [{"id": page, "time": 1, "messaging": [echo]}]}).status_code == 200
    shop.drain()
    after = only(shop.conversations(status="in_progress"))
    assert after["message_count"] == conv["message_count"]  # our own echo is not a new message


def test_messenger_delivery_marks_our_message_delivered(stack):
    shop = open_shop(stack, "messenger")
    page, psid = shop.channel.secrets["page_id"], digits(16)
    shop.customer_writes(psid, "hi")
    shop.drain()
    conv = only(shop.conversations())
    greeting = next(m for m in shop.messages(conv["id"]) if m["origin"] == "greeting")
    item = {"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": int(time.time() * 1000),
            "delivery": {"mids": [greeting["external_message_id"]], "watermark": int(time.time() * 1000)}}
    shop.post({"object": "page", "entry": [{"id": page, "time": 1, "messaging": [item]}]})
    shop.drain()
    assert next(m for m in shop.messages(conv["id"]) if m["id"] == greeting["id"])["delivery"] == "delivered"


def test_facebook_comment_is_answered_publicly_and_privately(stack):
    shop = open_shop(stack, "messenger")
    page = shop.channel.secrets["page_id"]
    post_id, author = f"{page}_{digits(6)}", digits(16)
    request = shop.fake.customer_comment(shop.channel, post_id=post_id, user_id=author, name="Ivan P.",
                                         text="Is the sale still on?")
    comment_id = json.loads(request.body)["entry"][0]["changes"][0]["value"]["comment_id"]
    assert shop.post_request(request).status_code == 200
    shop.drain()
    conv = only(shop.conversations())
    assert conv["surface"] == "comment" and conv["contact_name"] == "Ivan P."
    customer = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")
    assert customer["comment"]["comment_id"] == comment_id and customer["comment"]["post_id"] == post_id

    shop.reply(conv["id"], "Yes, until Sunday", reply_to=customer["id"])
    private_id = add_operator_message(shop, conv["id"], text="Here is your discount code", private=True,
                                      reply_to_external_id=comment_id)
    shop.drain()
    (public,) = shop.calls(f"/{comment_id}/comments")
    assert public["params"] == {"message": "Yes, until Sunday"}
    private = only([c for c in shop.calls("/me/messages") if "comment_id" in c["params"]["recipient"]])
    assert private["params"] == {"recipient": {"comment_id": comment_id},
                                 "message": {"text": "Here is your discount code"}}
    assert next(m for m in shop.messages(conv["id"]) if m["id"] == private_id)["status"] == "sent"
    seen = customer_view(shop.fake, f"fbpost:{post_id}:{author}")
    assert [v["text"] for v in seen] == ["Yes, until Sunday", "Here is your discount code"]


# ---------------------------------------------------------------------------------------------------- Instagram


def test_instagram_dm_greets_and_the_operator_reply_goes_to_me_messages(stack):
    shop = open_shop(stack, "instagram")
    igsid = digits(16)
    shop.customer_writes(igsid, "Do you ship to Kazan?")
    shop.drain()
    conv = only(shop.conversations())
    shop.reply(conv["id"], "Yes, in 3 days")
    shop.drain()
    greeting, reply = shop.fake.sent(igsid)
    assert "Здравствуйте" in greeting["text"] and reply["text"] == "Yes, in 3 days"
    assert shop.calls("/me/messages")[-1]["params"]["messaging_type"] == "RESPONSE"


def test_instagram_comment_is_answered_publicly_and_privately(stack):
    shop = open_shop(stack, "instagram")
    media, author = digits(17), digits(16)
    request = shop.fake.customer_comment(shop.channel, post_id=media, user_id=author, name="boris.shop",
                                         text="Price?")
    comment_id = json.loads(request.body)["entry"][0]["changes"][0]["value"]["id"]
    shop.post_request(request)
    shop.drain()
    conv = only(shop.conversations())
    assert conv["surface"] == "comment"
    customer = next(m for m in shop.messages(conv["id"]) if m["direction"] == "in")

    shop.reply(conv["id"], "1990 rub", reply_to=customer["id"])
    add_operator_message(shop, conv["id"], text="Sizes in stock: S, M", private=True,
                         reply_to_external_id=comment_id)
    shop.drain()
    assert only(shop.calls(f"/{comment_id}/replies"))["params"] == {"message": "1990 rub"}
    private = only([c for c in shop.calls("/me/messages") if "comment_id" in c["params"]["recipient"]])
    assert private["params"]["recipient"] == {"comment_id": comment_id}
    assert [v["text"] for v in customer_view(shop.fake, f"igpost:{media}:{author}")] == [
        "1990 rub", "Sizes in stock: S, M"]
    assert shop.fake.comment(comment_id)["private_reply"]


def test_instagram_customer_reply_quotes_our_message_in_the_thread(stack):
    shop = open_shop(stack, "instagram")
    igsid = digits(16)
    shop.customer_writes(igsid, "hello")
    shop.drain()
    conv = only(shop.conversations())
    greeting = next(m for m in shop.messages(conv["id"]) if m["origin"] == "greeting")
    item = page_text(igsid, shop.channel.secrets["ig_user_id"], "thanks!", reply_to=greeting["external_message_id"])
    shop.post({"object": "instagram", "entry": [{"id": shop.channel.secrets["ig_user_id"], "time": 1,
                                                 "messaging": [item]}]})
    shop.drain()
    answer = next(m for m in shop.messages(conv["id"]) if m["text"] == "thanks!")
    assert answer["reply_to"] == greeting["id"]


# ------------------------------------------------------------------------------------- hiding comments (B4)


def comment_in(shop: MetaShop, text: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A customer's comment under one of the shop's posts: (conversation, the comment message, provider id)."""
    account = shop.channel.secrets["page_id"] if shop.kind == "messenger" else shop.channel.secrets["ig_user_id"]
    post_id = f"{account}_{digits(6)}" if shop.kind == "messenger" else digits(17)
    request = shop.fake.customer_comment(shop.channel, post_id=post_id, user_id=digits(16), name="Spammer",
                                         text=text)
    assert shop.post_request(request).status_code == 200
    shop.drain()
    conv = only(shop.conversations())
    message = only([m for m in shop.messages(conv["id"]) if m["direction"] == "in"])
    return conv, message, message["external_message_id"]


def hide(shop: MetaShop, conv_id: str, message_id: str, hidden: Any) -> requests.Response:
    return shop.api("POST", f"/conversations/{conv_id}/messages/{message_id}/hide", json={"hidden": hidden})


def message_now(shop: MetaShop, conv_id: str, message_id: str) -> dict[str, Any]:
    return only([m for m in shop.messages(conv_id) if m["id"] == message_id])


@pytest.mark.parametrize("kind,field_name", [("messenger", "is_hidden"), ("instagram", "hide")])
def test_a_comment_is_hidden_then_shown_again_at_the_provider_through_the_stream(stack, kind, field_name):
    shop = open_shop(stack, kind)
    conv, comment, comment_id = comment_in(shop, "cheap watches at spam.example")
    asked = hide(shop, conv["id"], comment["id"], True)
    assert asked.status_code == 202, asked.text
    assert asked.json()["action"]["kind"] == "hide" and asked.json()["action"]["state"] == "pending"
    assert asked.json()["hidden"] is False  # not yet: the stream carries it out
    shop.drain()
    after = message_now(shop, conv["id"], comment["id"])
    assert after["hidden"] is True and after["action"]["state"] == "done"
    (call,) = [c for c in shop.calls(f"/{comment_id}") if c["method"] == "POST"]
    assert call["path"] == f"/{comment_id}" and call["params"] == {field_name: True}
    assert shop.fake.comment(comment_id)["hidden"] is True

    assert hide(shop, conv["id"], comment["id"], False).status_code == 202
    shop.drain()
    shown = message_now(shop, conv["id"], comment["id"])
    assert shown["hidden"] is False and shown["action"]["state"] == "done"
    assert shop.fake.comment(comment_id)["hidden"] is False
    assert [c["params"] for c in shop.calls(f"/{comment_id}") if c["method"] == "POST"] == [
        {field_name: True}, {field_name: False}]
    log = shop.api("GET", "/audit", params={"limit": 50}).json()["items"]
    moderation_log = [(e["action"], e["target"]["id"], e["after"]) for e in log if e["action"] in ("hide", "unhide")]
    assert sorted(moderation_log) == [("hide", comment["id"], {"hidden": True}),
                                      ("unhide", comment["id"], {"hidden": False})]
    assert all(e["actor"].startswith("key:") for e in log if e["action"] in ("hide", "unhide"))


def test_the_fake_graph_answers_like_graph_for_an_unknown_comment_and_a_wrong_parameter(stack):
    shop = open_shop(stack, "instagram")
    _conv, _message, comment_id = comment_in(shop, "hello")
    token = shop.channel.secrets["page_access_token"]
    base = f"{stack.url}/_fake/graph/v25.0"
    unknown = requests.post(f"{base}/17999999999999999", json={"hide": True}, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == 100 and unknown.json()["error"]["error_subcode"] == 33
    wrong = requests.post(f"{base}/{comment_id}", json={"is_hidden": True}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 400 and shop.fake.comment(comment_id)["hidden"] is False


def test_a_refusal_by_the_provider_ends_failed_with_its_reason_and_the_comment_stays_visible(stack):
    shop = open_shop(stack, "messenger")
    conv, comment, comment_id = comment_in(shop, "rude words")
    shop.fake.fail_next(f"/{comment_id}", 400, code=10, message="(#10) Permission denied: pages_manage_engagement")
    assert hide(shop, conv["id"], comment["id"], True).status_code == 202
    shop.drain()
    after = message_now(shop, conv["id"], comment["id"])
    assert after["hidden"] is False and after["action"]["state"] == "failed"
    assert "pages_manage_engagement" in after["action"]["error"]["message"]
    assert shop.fake.comment(comment_id)["hidden"] is False
    # the operator may try again once the permission is granted
    assert hide(shop, conv["id"], comment["id"], True).status_code == 202
    shop.drain()
    assert message_now(shop, conv["id"], comment["id"])["hidden"] is True


def test_a_comment_the_provider_no_longer_knows_ends_failed(stack):
    shop = open_shop(stack, "instagram")
    conv, comment, comment_id = comment_in(shop, "soon gone")
    shop.fake.comment_deleted_by_author(comment_id)
    assert hide(shop, conv["id"], comment["id"], True).status_code == 202
    shop.drain()
    after = message_now(shop, conv["id"], comment["id"])
    assert after["action"]["state"] == "failed" and "does not exist" in after["action"]["error"]["message"]
    assert after["hidden"] is False


def test_hiding_is_refused_for_a_private_message_our_reply_bad_input_and_another_workspace(stack):
    shop = open_shop(stack, "messenger")
    psid = digits(16)
    shop.customer_writes(psid, "a private question")
    shop.drain()
    dm = only(shop.conversations())
    private = only([m for m in shop.messages(dm["id"]) if m["direction"] == "in"])
    refused = hide(shop, dm["id"], private["id"], True)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_comment"
    ours = next(m for m in shop.messages(dm["id"]) if m["direction"] == "out")
    assert hide(shop, dm["id"], ours["id"], True).json()["error"]["code"] == "not_a_comment"
    assert hide(shop, dm["id"], private["id"], "yes").status_code == 400

    other = open_shop(stack, "messenger")
    conv, comment, comment_id = comment_in(other, "not yours")
    assert hide(shop, conv["id"], comment["id"], True).status_code == 404
    assert shop.api("POST", f"/conversations/{dm['id']}/messages/{comment['id']}/hide",
                    json={"hidden": True}).status_code == 404
    shop.drain()
    assert shop.fake.api_calls(comment_id) == [] and other.fake.comment(comment_id)["hidden"] is False


def test_a_bulk_reply_reports_a_blocked_customer_per_item_and_a_retry_sends_nothing_twice(stack):
    shop = open_shop(stack, "messenger")
    users = [digits(16) for _ in range(3)]
    for user in users:
        shop.customer_writes(user, "when is the sale?")
    shop.drain()
    convs = {c["id"]: c for c in shop.conversations()}
    assert len(convs) == 3
    blocked_id = next(iter(convs))
    assert shop.api("POST", f"/conversations/{blocked_id}/block", json={"blocked": True}).status_code == 200
    body = {"request_id": f"bulk-{secrets.token_hex(6)}", "text": "Sale until Sunday",
            "items": [{"conversation_id": c} for c in convs]}
    first = shop.api("POST", "/replies/bulk", json=body)
    assert first.status_code == 202, first.text
    results = {r["conversation_id"]: r for r in first.json()["items"]}
    assert results[blocked_id]["error"]["code"] == "blocked" and "message_id" not in results[blocked_id]
    assert all(r["status"] == "pending" for c, r in results.items() if c != blocked_id)
    again = shop.api("POST", "/replies/bulk", json=body)
    assert {r.get("message_id") for r in again.json()["items"]} == {r.get("message_id") for r in results.values()}
    shop.drain()
    answered = [u for u in users if any(m["text"] == "Sale until Sunday" for m in shop.fake.sent(u))]
    assert len(answered) == 2
    assert all(len([m for m in shop.fake.sent(u) if m["text"] == "Sale until Sunday"]) == 1 for u in answered)
