"""One customer message through the real stack: webhook -> DynamoDB Local -> stream pump -> handlers -> fake
Telegram over HTTP, and the operator's REST API over HTTP."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
import requests

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 5_000_000 + secrets.randbelow(10**6)


def test_first_message_creates_conversation_greets_once_and_operator_reply_goes_out_once(stack):
    ws = new_workspace(stack)
    chat_id = chat()
    update = customer_message(chat_id, "Hi, my order #1234 has not arrived")
    assert ws.post_update(update).status_code == 200
    ws.drain()

    (conv,) = ws.conversations()
    assert conv["status"] == "new" and conv["unread_count"] == 1
    assert conv["contact_name"] == "Anna" and conv["last_message_preview"].startswith("Hi, my order")
    greetings = [c for c in ws.bot_sent if c["method"] == "sendMessage"]
    assert len(greetings) == 1
    assert greetings[0]["params"]["chat_id"] == chat_id and "Здравствуйте" in greetings[0]["params"]["text"]

    customer_msg = next(m for m in ws.messages(conv["id"]) if m["direction"] == "in")
    resp = ws.reply(conv["id"], "We are on it!", reply_to=customer_msg["id"])
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "pending"
    ws.drain()
    ws.drain()  # a second pass finds nothing new to send

    sends = [c for c in ws.bot_sent if c["method"] == "sendMessage"]
    assert len(sends) == 2
    reply = sends[1]["params"]
    assert reply["text"] == "We are on it!"
    assert reply["reply_parameters"]["message_id"] == update["message"]["message_id"]
    ours = [m for m in ws.messages(conv["id"]) if m["origin"] == "operator"]
    assert ours[0]["status"] == "sent" and ours[0]["external_message_id"]
    (after,) = ws.conversations(status="in_progress")
    assert after["unread_count"] == 0 and after["first_response_seconds"] is not None


def test_the_same_update_delivered_twice_is_stored_once(stack):
    ws = new_workspace(stack)
    update = customer_message(chat(), "duplicate me")
    assert ws.post_update(update).status_code == 200
    assert ws.post_update(update).status_code == 200
    ws.drain()
    (conv,) = ws.conversations()
    assert conv["message_count"] == 1
    assert [m["text"] for m in ws.messages(conv["id"]) if m["direction"] == "in"] == ["duplicate me"]
    assert len(ws.bot_sent) == 1  # one greeting


def test_provider_429_is_retried_after_retry_after_and_sent_once(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "hello"))
    stack.fake_telegram.fail_next("sendMessage", status=429, times=1, retry_after=1)
    ws.drain()
    (conv,) = ws.conversations()
    greeting = next(m for m in ws.messages(conv["id"]) if m["origin"] == "greeting")
    assert greeting["status"] == "sent" and greeting["attempts"] == 2
    assert len([c for c in ws.bot_sent if c["method"] == "sendMessage"]) == 2  # the refused call and the retry


def test_provider_down_ends_in_a_visible_failed_state_and_retry_sends_it(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "hello"))
    ws.drain()
    (conv,) = ws.conversations()
    stack.fake_telegram.fail_next("sendMessage", status=500, times=4)  # SEND_MAX_ATTEMPTS in tests
    ws.reply(conv["id"], "are you there?")
    ws.drain()
    failed = next(m for m in ws.messages(conv["id"]) if m["origin"] == "operator")
    assert failed["status"] == "failed" and failed["error"]["code"] == "provider_unavailable"
    assert failed["attempts"] == 4
    resp = ws.api("POST", f"/conversations/{conv['id']}/messages/{failed['id']}/retry")
    assert resp.status_code == 202, resp.text
    ws.drain()
    again = next(m for m in ws.messages(conv["id"]) if m["id"] == failed["id"])
    assert again["status"] == "sent"


def test_wrong_or_missing_secret_is_401_and_stores_nothing(stack):
    ws = new_workspace(stack)
    assert ws.post_update(customer_message(chat(), "x"), secret="wrong").status_code == 401
    assert ws.post_update(customer_message(chat(), "x"), secret="").status_code == 401
    ws.drain()
    assert ws.conversations() == []


def test_malformed_json_is_400_unknown_channel_404_oversized_413(stack):
    ws = new_workspace(stack)
    assert ws.post_update({}, raw=b"{not json").status_code == 400
    resp = requests.post(f"{stack.url}/api/webhooks/telegram/ch_nope", json={"update_id": 1}, timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    big = json.dumps(customer_message(chat(), "x" * 600_000)).encode()
    assert ws.post_update({}, raw=big).status_code == 413
    ws.drain()
    assert ws.conversations() == []


def test_customer_message_reopens_a_closed_conversation(stack):
    ws = new_workspace(stack)
    chat_id = chat()
    ws.post_update(customer_message(chat_id, "first"))
    ws.drain()
    (conv,) = ws.conversations()
    resp = ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "closed", "tags": ["delivery"]})
    assert resp.status_code == 200 and resp.json()["status"] == "closed"
    assert ws.conversations() == [] and len(ws.conversations(status="closed")) == 1
    ws.post_update(customer_message(chat_id, "again"))
    ws.drain()
    (reopened,) = ws.conversations()
    assert reopened["id"] == conv["id"] and reopened["tags"] == ["delivery"]
    assert len([c for c in ws.bot_sent if c["method"] == "sendMessage"]) == 1  # greeted once, not twice


def test_filters_by_tag_and_no_tag(stack):
    ws = new_workspace(stack)
    for text in ("a", "b"):
        ws.post_update(customer_message(chat(), text))
    ws.drain()
    first, second = ws.conversations()
    ws.api("PATCH", f"/conversations/{first['id']}", json={"tags": ["vip"]})
    assert [c["id"] for c in ws.conversations(tag="vip")] == [first["id"]]
    assert [c["id"] for c in ws.conversations(no_tag="1")] == [second["id"]]
    assert [c["id"] for c in ws.conversations(unassigned="1")] == [first["id"], second["id"]]


def test_cursor_pagination_walks_every_conversation_once(stack):
    ws = new_workspace(stack)
    for n in range(5):
        ws.post_update(customer_message(chat(), f"m{n}"))
    ws.drain()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ws.api("GET", "/conversations", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and len(set(seen)) == 5


def test_photo_is_fetched_from_the_provider_and_served_by_a_short_lived_link(stack):
    ws = new_workspace(stack)
    picture = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)
    stack.fake_telegram.add_file("AgAC-big", picture, "photos/file_7.png")
    update = customer_message(chat(), "", caption="the box was damaged",
                              photo=[{"file_id": "AgAC-small", "file_unique_id": "s", "width": 90, "height": 67},
                                     {"file_id": "AgAC-big", "file_unique_id": "b", "width": 1280, "height": 960}])
    ws.post_update(update)
    ws.drain()
    (conv,) = ws.conversations()
    (msg,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert msg["text"] == "the box was damaged"
    (att,) = msg["attachments"]
    assert att["kind"] == "image" and att["state"] == "ready"
    assert ws.bot_token not in att["url"]
    got = requests.get(att["url"], timeout=10)
    assert got.status_code == 200 and got.content == picture
    forged = att["url"][:-4] + "0000"
    assert requests.get(forged, timeout=10).status_code == 403


def test_operator_reply_with_an_uploaded_document_uses_send_document(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "send me the invoice"))
    ws.drain()
    (conv,) = ws.conversations()
    pdf = b"%PDF-1.4 fake invoice"
    up = ws.api("POST", "/uploads", json={"file_name": "invoice.pdf", "mime_type": "application/pdf",
                                          "data_base64": base64.b64encode(pdf).decode()})
    assert up.status_code == 201, up.text
    resp = ws.reply(conv["id"], "here it is", attachments=[up.json()["upload_id"]])
    assert resp.status_code == 202, resp.text
    ws.drain()
    (doc,) = [c for c in ws.bot_sent if c["method"] == "sendDocument"]
    assert doc["params"]["caption"] == "here it is"
    assert doc["files"]["document"][2] == pdf


def test_edited_message_replaces_the_text(stack):
    ws = new_workspace(stack)
    chat_id = chat()
    update = customer_message(chat_id, "order #1234")
    ws.post_update(update)
    ws.drain()
    edited = {"update_id": update["update_id"] + 1,
              "edited_message": {**update["message"], "text": "order #1243", "edit_date": 1_716_200_090}}
    assert ws.post_update(edited).status_code == 200
    ws.drain()
    (conv,) = ws.conversations()
    (msg,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert msg["text"] == "order #1243" and msg["edited"] is True


def test_inbound_api_creates_a_customer_message_once(stack):
    ws = new_workspace(stack)
    body = {"external_conversation_id": "crm-42", "external_message_id": "crm-msg-1",
            "sender": {"id": "client-7", "name": "Oleg", "email": "oleg@example.org"}, "text": "From the CRM"}
    first = ws.api("POST", "/inbound", json=body)
    second = ws.api("POST", "/inbound", json=body)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert second.status_code == 202 and second.json()["duplicate"] is True
    ws.drain()
    (conv,) = ws.conversations(channel_id=first.json()["channel_id"])
    assert conv["channel_kind"] == "api" and conv["message_count"] == 1
    bad = ws.api("POST", "/inbound", json={"sender": {"id": "x"}, "text": "no conversation"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


def test_api_requires_a_key_and_the_role_decides(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "hi"))
    ws.drain()
    (conv,) = ws.conversations()
    assert requests.get(f"{stack.url}/api/conversations", timeout=10).status_code == 401
    assert ws.api("GET", "/conversations", key="zb_nope_nope").status_code == 401
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    readonly = create_api_key(ws.id, "readonly", name="ro", now=deps().now())
    assert ws.api("GET", "/conversations", key=readonly).status_code == 200
    denied = ws.api("POST", f"/conversations/{conv['id']}/replies", key=readonly, json={"text": "x"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"


def test_another_workspace_sees_nothing_of_this_one(stack):
    mine, theirs = new_workspace(stack), new_workspace(stack)
    mine.post_update(customer_message(chat(), "private"))
    mine.drain()
    (conv,) = mine.conversations()
    assert theirs.conversations() == []
    assert theirs.api("GET", f"/conversations/{conv['id']}").status_code == 404
    assert theirs.api("GET", f"/conversations/{conv['id']}/messages").status_code == 404
    assert theirs.reply(conv["id"], "hijack").status_code == 404


def test_channel_list_never_returns_credentials(stack):
    ws = new_workspace(stack)
    resp = ws.api("GET", "/channels")
    assert resp.status_code == 200
    assert ws.bot_token not in resp.text and ws.webhook_secret not in resp.text
    assert resp.json()["items"][0]["has_credentials"] is True


def test_channel_credentials_are_stored_sealed_not_in_plain_text(stack):
    import boto3

    from chalicelib.services.deps import deps
    from chalicelib.store import keys

    ws = new_workspace(stack)
    pk, sk = keys.channel(ws.channel_id)
    raw = boto3.client("dynamodb", endpoint_url=stack.ddb.endpoint).get_item(
        TableName=deps().settings.main_table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    stored = json.dumps(raw)
    assert ws.bot_token not in stored and ws.webhook_secret not in stored
    assert "secrets" not in raw and "secrets_sealed" in raw


def test_every_change_of_a_conversation_raises_its_revision(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "hi"))
    ws.drain()
    (conv,) = ws.conversations()
    first = conv["revision"]
    closed = ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "closed"}).json()
    assert closed["revision"] > first
    reopened = ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "in_progress"}).json()
    assert reopened["revision"] > closed["revision"]


def test_an_operator_edits_and_then_deletes_a_sent_reply_at_the_provider(stack):
    ws = new_workspace(stack)
    chat_id = chat()
    ws.post_update(customer_message(chat_id, "hello"))
    ws.drain()
    (conv,) = ws.conversations()
    sent = ws.reply(conv["id"], "Your order ships tomorow").json()
    ws.drain()
    edit = ws.api("PATCH", f"/conversations/{conv['id']}/messages/{sent['id']}", json={"text": "Ships tomorrow"})
    assert edit.status_code == 202 and edit.json()["action"]["state"] == "pending"
    ws.drain()
    (edited,) = [m for m in ws.messages(conv["id"]) if m["id"] == sent["id"]]
    assert edited["text"] == "Ships tomorrow" and edited["edited"] and edited["action"]["state"] == "done"
    (call,) = [c for c in stack.fake_telegram.calls_of("editMessageText") if c["token"] == ws.bot_token]
    assert call["params"]["text"] == "Ships tomorrow" and str(call["params"]["message_id"]) == edited[
        "external_message_id"]
    assert ws.api("DELETE", f"/conversations/{conv['id']}/messages/{sent['id']}").status_code == 202
    ws.drain()
    (gone,) = [m for m in ws.messages(conv["id"]) if m["id"] == sent["id"]]
    assert gone["deleted"] is True
    assert [c for c in stack.fake_telegram.calls_of("deleteMessage") if c["token"] == ws.bot_token]


def test_a_customer_message_in_a_private_chat_cannot_be_edited_or_deleted(stack):
    ws = new_workspace(stack)
    ws.post_update(customer_message(chat(), "mine"))
    ws.drain()
    (conv,) = ws.conversations()
    (theirs,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    path = f"/conversations/{conv['id']}/messages/{theirs['id']}"
    assert ws.api("PATCH", path, json={"text": "x"}).status_code == 409
    assert ws.api("DELETE", path).status_code == 409


def test_a_blocked_customer_stays_out_of_the_inbox_and_cannot_be_answered_until_unblocked(stack):
    ws = new_workspace(stack)
    chat_id = chat()
    ws.post_update(customer_message(chat_id, "spam 1"))
    ws.drain()
    (conv,) = ws.conversations()
    ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "closed"})
    resp = ws.api("POST", f"/conversations/{conv['id']}/block", json={"blocked": True})
    assert resp.status_code == 200 and resp.json()["provider"] == "denylist"  # Telegram has no private-chat block
    ws.post_update(customer_message(chat_id, "spam 2"))
    ws.drain()
    assert ws.conversations() == []  # not reopened
    (closed,) = ws.conversations(status="closed")
    assert closed["blocked"] is True and closed["unread_count"] == 1 and closed["message_count"] == 1  # untouched
    assert [m["text"] for m in ws.messages(conv["id"]) if m["direction"] == "in"] == ["spam 1", "spam 2"]  # kept
    refused = ws.reply(conv["id"], "hello?")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "blocked"
    assert ws.api("POST", f"/conversations/{conv['id']}/block", json={"blocked": False}).status_code == 200
    assert ws.reply(conv["id"], "hello again").status_code == 202
