"""E-mail through the real stack: signed SNS deliveries -> webhook -> DynamoDB Local -> stream -> boto3 SES v2 ->
the fake SES over HTTP, and the operator's REST API over HTTP."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from chalicelib.channels.email import message_ids
from chalicelib.local.fakes.email import (
    FakeEmail,
    MailAttachment,
    SentMail,
    customer_mime,
    customer_view,
    make_authority,
    ses_notification,
    simulate_customer,
    sns_envelope,
    subscription_confirmation,
)
from tests.support import Workspace, fresh

pytestmark = pytest.mark.ddblocal


@dataclass
class Mailbox:
    """A workspace with an e-mail channel, and the customer's side of the mail."""

    ws: Workspace
    channel: Any
    topic: str
    address: str

    @property
    def outbox(self) -> FakeEmail:
        return self.ws.stack.fakes["email"]

    def deliver(self, body: dict[str, Any]) -> requests.Response:
        headers, payload = sns_envelope(body)
        return requests.post(f"{self.ws.stack.url}/api/webhooks/email/{self.channel.id}", data=payload,
                             headers=headers, timeout=30)

    def customer_writes(self, text: str, *, subject: str = "Where is my order 1234?", in_reply_to: str = "",
                        references: list[str] | None = None, to: str = "", ses_message_id: str = "",
                        attachments: list[MailAttachment] | None = None,
                        message_id: str = "") -> tuple[str, dict[str, Any]]:
        message_id = f"<{message_id}>" if message_id else f"<{secrets.token_hex(6)}@mail.customer.example>"
        mime = customer_mime(from_address="olga@customer.example", name="Ольга", to=to or self.address,
                             subject=subject, text=text, message_id=message_id, in_reply_to=in_reply_to,
                             references=references, attachments=attachments)
        body = ses_notification(self.topic, mime, recipients=[to or self.address], ses_message_id=ses_message_id)
        assert self.deliver(body).status_code == 200
        return message_id.strip("<>"), body

    def mails_to_customer(self) -> list[SentMail]:
        return [m for m in self.outbox.sent("olga@customer.example") if m.from_address == self.address]


def new_mailbox(stack: Any, *, plus_addressing: bool = True) -> Mailbox:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = fresh("ws")
    repo.put_workspace(ws, f"Shop {ws}", language="ru", now=d.now())
    topic = f"arn:aws:sns:us-east-1:123456789012:{ws}-inbound"
    address = f"support@{ws}.example"
    credentials = {"from_address": address, "topic_arns": topic}
    if plus_addressing:
        credentials["plus_addressing"] = "true"
    channel = channels.create_channel(d, ws, "email", "Support mailbox", credentials)
    key = create_api_key(ws, "admin", name="tests", now=d.now())
    return Mailbox(Workspace(stack, ws, channel.id, "", "", key), channel, topic, address)


def test_an_sns_subscription_is_confirmed_automatically_and_stores_nothing(stack):
    box = new_mailbox(stack)
    token = secrets.token_hex(16)
    assert box.deliver(subscription_confirmation(box.topic, token)).status_code == 200
    assert (box.topic, token) in box.outbox.confirmed
    box.ws.drain()
    assert box.ws.conversations() == []


def test_a_customer_mail_is_greeted_answered_and_the_reply_threads_back(stack):
    box = new_mailbox(stack)
    root, _ = box.customer_writes("Здравствуйте! Заказ №1234 не пришёл.")
    box.ws.drain()

    (conv,) = box.ws.conversations()
    assert conv["channel_kind"] == "email" and conv["title"] == "Where is my order 1234?"
    assert conv["contact_name"] == "Ольга" and conv["status"] == "new"
    (greeting,) = box.mails_to_customer()
    assert "Здравствуйте" in greeting.text
    assert message_ids(greeting.headers["in-reply-to"]) == [root]
    assert message_ids(greeting.headers["references"]) == [root]
    assert greeting.headers["subject"] == "Re: Where is my order 1234?"

    inbound = next(m for m in box.ws.messages(conv["id"]) if m["direction"] == "in")
    resp = box.ws.reply(conv["id"], "We have sent it again.", reply_to=inbound["id"])
    assert resp.status_code == 202, resp.text
    box.ws.drain()
    greeting_again, answer = box.mails_to_customer()
    assert greeting_again.message_id == greeting.message_id
    assert answer.text == "We have sent it again."
    assert message_ids(answer.headers["in-reply-to"]) == [root]
    assert message_ids(answer.headers["references"]) == [root]
    ours = next(m for m in box.ws.messages(conv["id"]) if m["origin"] == "operator")
    assert ours["status"] == "sent" and ours["external_message_id"] == answer.message_id

    box.customer_writes("Thank you, it has arrived.", subject="Re: Where is my order 1234?",
                        in_reply_to=answer.message_id_header, references=[f"<{root}>", answer.message_id_header])
    box.ws.drain()
    (same,) = box.ws.conversations(status="in_progress")
    assert same["id"] == conv["id"] and same["message_count"] == 2  # inbound messages
    thanks = box.ws.messages(conv["id"])[-1]
    assert thanks["text"] == "Thank you, it has arrived." and thanks["reply_to"] == ours["id"]
    assert [v["id"] for v in customer_view(box.outbox, root)] == [greeting.message_id, answer.message_id]


def test_a_reply_that_kept_only_in_reply_to_comes_back_through_the_plus_address(stack):
    box = new_mailbox(stack)
    box.customer_writes("Hello?")
    box.ws.drain()
    (conv,) = box.ws.conversations()
    (greeting,) = box.mails_to_customer()
    reply_to = str(greeting.message["Reply-To"])
    assert reply_to.startswith("support+c_")
    box.customer_writes("Still nothing.", subject="Re: Where is my order 1234?", to=reply_to,
                        in_reply_to=greeting.message_id_header, references=[greeting.message_id_header])
    box.ws.drain()
    (same,) = box.ws.conversations()
    assert same["id"] == conv["id"] and same["message_count"] == 2


def test_a_replayed_notification_is_stored_once(stack):
    box = new_mailbox(stack)
    header_id, body = box.customer_writes("Is anyone there?")
    assert box.deliver(body).status_code == 200  # SNS retried the same delivery
    ses_id = json.loads(body["Message"])["mail"]["messageId"]
    # a new SNS delivery of the same mail: the same SES id and the same message (its Message-ID header)
    box.customer_writes("Is anyone there?", ses_message_id=ses_id, message_id=header_id)
    box.ws.drain()
    (conv,) = box.ws.conversations()
    assert [m["text"] for m in box.ws.messages(conv["id"]) if m["direction"] == "in"] == ["Is anyone there?"]
    assert len(box.mails_to_customer()) == 1


def test_a_notification_with_a_bad_signature_is_refused_and_nothing_is_stored(stack):
    box = new_mailbox(stack)
    mime = customer_mime(from_address="olga@customer.example", name="Olga", to=box.address, subject="Hi", text="x")
    forged = ses_notification(box.topic, mime, recipients=[box.address], signer=make_authority("forger"))
    assert box.deliver(forged).status_code == 403
    tampered = ses_notification(box.topic, mime, recipients=[box.address])
    tampered["Message"] = tampered["Message"].replace('"PASS"', '"FAIL"', 1)
    assert box.deliver(tampered).status_code == 403
    other_topic = ses_notification("arn:aws:sns:us-east-1:123456789012:not-ours", mime, recipients=[box.address])
    assert box.deliver(other_topic).status_code == 403
    box.ws.drain()
    assert box.ws.conversations() == []


def test_a_mail_attachment_is_copied_into_our_file_store_and_downloadable(stack):
    box = new_mailbox(stack)
    pdf = b"%PDF-1.4 invoice 1234"
    box.customer_writes("Invoice attached", attachments=[MailAttachment("invoice-1234.pdf", "application/pdf", pdf)])
    box.ws.drain()
    (conv,) = box.ws.conversations()
    inbound = next(m for m in box.ws.messages(conv["id"]) if m["direction"] == "in")
    (attachment,) = inbound["attachments"]
    assert attachment["state"] == "ready" and attachment["file_name"] == "invoice-1234.pdf"
    assert requests.get(attachment["url"], timeout=30).content == pdf


def test_the_simulator_writes_as_a_customer_and_shows_what_the_customer_got(stack):
    box = new_mailbox(stack)
    request = simulate_customer(box.channel, user_id="anna@customer.example", name="Anna", text="Hi from the sim")
    resp = requests.post(f"{stack.url}/api/webhooks/email/{box.channel.id}", data=request.body,
                         headers=request.headers, timeout=30)
    assert resp.status_code == 200
    box.ws.drain()
    (conv,) = box.ws.conversations()
    view = customer_view(box.outbox, _root_of(box, conv["id"]))
    assert len(view) == 1 and "Здравствуйте" in view[0]["text"]
    again = simulate_customer(box.channel, user_id="anna@customer.example", name="Anna", text="Thanks",
                              reply_to=view[0]["id"])
    requests.post(f"{stack.url}/api/webhooks/email/{box.channel.id}", data=again.body, headers=again.headers,
                  timeout=30)
    box.ws.drain()
    (same,) = box.ws.conversations()
    assert same["id"] == conv["id"] and same["message_count"] == 2


def _root_of(box: Mailbox, conversation_id: str) -> str:
    from chalicelib.store import repo

    conv = repo.get_conversation(box.ws.id, conversation_id)
    assert conv is not None
    return str(conv.external_conversation_id)
