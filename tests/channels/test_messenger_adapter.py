"""MessengerAdapter against the fake Graph API over real HTTP: DMs, Page comments, the Send API and its window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.channels.base import CommentRef, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.messenger import CAPABILITIES, MessengerAdapter
from chalicelib.channels.meta import signature
from chalicelib.domain.model import Channel, InboundEvent, iso, utcnow
from chalicelib.local.fakes.graph import FakeGraph, FakeGraphServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "messenger"
TOKEN = "EAAG-page-access-token"
APP_SECRET = "meta-app-secret-2"
VERIFY = "verify-token-messenger"
PAGE, PSID = "104000000000001", "6500000000000001"
CHANNEL = Channel(id="ch_fb1", workspace_id="ws_1", kind="messenger", name="Facebook Page",
                  secrets={"page_access_token": TOKEN, "page_id": PAGE, "app_secret": APP_SECRET,
                           "webhook_secret": VERIFY}, settings={})
POST_ID = "104000000000001_900"


def conv(hours_ago: float = 1.0, user: str = PSID) -> ConvRef:
    return ConvRef(user, last_inbound_at=iso(utcnow() - timedelta(hours=hours_ago)))


@pytest.fixture
def server() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as running:
        running.fake.add_page(TOKEN, PAGE, "Demo shop")
        yield running


@pytest.fixture
def fake(server: FakeGraphServer) -> FakeGraph:
    return server.fake


@pytest.fixture
def adapter(server: FakeGraphServer) -> MessengerAdapter:
    return MessengerAdapter(server.url, "25.0", timeout=5.0)


def post(body: bytes, *, secret: str | None = APP_SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-hub-signature-256"] = signature(secret, body)
    return WebhookRequest("POST", headers, {}, body, request_id="req-2", received_at="2024-05-20T10:30:00.000Z")


def parse(adapter: MessengerAdapter, name: str) -> list[InboundEvent]:
    result = adapter.parse_webhook(CHANNEL, post((FIXTURES / f"{name}.json").read_bytes()))
    assert result.status == 200
    return result.events


def comment_ref(fake: FakeGraph, hours_ago: float = 1.0) -> CommentRef:
    request = fake.customer_comment(CHANNEL, post_id=POST_ID, user_id="6700000000000002", name="Ivan P.",
                                    text="Is the sale still on?")
    comment_id = json.loads(request.body)["entry"][0]["changes"][0]["value"]["comment_id"]
    return CommentRef(comment_id, POST_ID, conv(hours_ago, f"fbpost:{POST_ID}:6700000000000002"),
                      "6700000000000002")


# ---------------------------------------------------------------------------------------------- handshake, auth


def test_verification_get_echoes_the_challenge_only_for_the_channel_token(adapter):
    ok = adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, {
        "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "CHALLENGE_ACCEPTED"}, b""))
    assert (ok.status, ok.body, ok.content_type) == (200, "CHALLENGE_ACCEPTED", "text/plain")
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, {
            "hub.mode": "subscribe", "hub.verify_token": VERIFY + "x", "hub.challenge": "1"}, b""))


def test_a_post_with_a_missing_or_wrong_signature_is_unauthenticated(adapter):
    body = (FIXTURES / "text_reply_image.json").read_bytes()
    for secret in (None, "wrong-secret"):
        with pytest.raises(errors.Unauthenticated):
            adapter.parse_webhook(CHANNEL, post(body, secret=secret))


# ------------------------------------------------------------------------------------------------------ inbound


def test_two_messaging_items_give_a_reply_and_an_attachment_message(adapter):
    text, files = parse(adapter, "text_reply_image")
    assert text.event_type == "message" and text.external_event_id == text.external_message_id == "m_Abc1"
    assert text.external_conversation_id == PSID and text.sender.external_user_id == PSID
    assert text.text == "I was charged twice" and text.reply_to_external_message_id == "m_Out9"
    assert text.occurred_at == "2024-05-20T10:13:20.000Z"
    assert [(a.kind, a.file_ref) for a in files.attachments] == [
        ("image", "https://scontent.xx.fbcdn.net/v/t1/statement.png"),
        ("document", "https://cdn.fbsbx.com/v/t59/statement.pdf")]


def test_edit_delivery_and_read_become_an_edit_status_events_and_a_read_watermark(adapter):
    edit, delivered_10, delivered_11, read = parse(adapter, "edit_delivery_read")
    assert edit.event_type == "message_edited" and edit.external_message_id == "m_Abc1"
    assert edit.text == "I was charged three times" and edit.external_event_id == "m_Abc1:edit:1"
    assert [(e.event_type, e.status["message_id"], e.status["state"]) for e in (delivered_10, delivered_11)] == [
        ("status", "m_Out10", "delivered"), ("status", "m_Out11", "delivered")]
    assert delivered_10.external_event_id == "m_Out10:delivered"
    assert read.event_type == "read" and read.status["state"] == "read"
    assert read.status["watermark"] == "2024-05-20T10:18:19.000Z" and read.external_event_id.startswith("read:")


def test_an_echo_of_a_page_message_is_an_outbound_message_in_the_customer_conversation(adapter):
    (echo,) = parse(adapter, "echo")
    assert echo.direction == "out" and echo.external_conversation_id == PSID
    assert echo.external_message_id == "m_Echo1" and echo.text == "Answered from the Page inbox"


def test_a_postback_is_a_message_with_the_button_title(adapter):
    (event,) = parse(adapter, "postback")
    assert event.event_type == "message" and event.text == "Talk to an agent" and event.external_event_id == "m_Pb1"


def test_a_feed_comment_opens_a_comment_conversation_per_commenter_and_post(adapter):
    (event,) = parse(adapter, "feed_comment")
    assert event.event_type == "comment" and event.surface == "comment"
    assert event.external_conversation_id == f"fbpost:{POST_ID}:6700000000000002"
    assert event.external_thread_id == POST_ID and event.external_message_id == "104000000000001_900_3001"
    assert event.sender.display_name == "Ivan P." and event.text == "Is the sale still on?"
    assert event.comment == {"post_id": POST_ID, "comment_id": "104000000000001_900_3001", "parent_comment_id": "",
                             "permalink": "", "author_id": "6700000000000002",
                             "private_reply_until": "2024-05-27T10:19:59.000Z"}
    assert event.external_event_id == "104000000000001_900_3001:add"


def test_comment_edits_and_removals_are_their_own_events_with_stable_ids(adapter):
    (edited,) = parse(adapter, "feed_comment_edited")
    (again,) = parse(adapter, "feed_comment_edited")
    (removed,) = parse(adapter, "feed_comment_remove")
    assert edited.event_type == "comment_edited" and edited.text == "Is the sale still on? Until when?"
    assert edited.external_event_id == again.external_event_id != "104000000000001_900_3001:edited"
    assert removed.event_type == "comment_deleted" and removed.is_deleted
    assert removed.external_event_id == "104000000000001_900_3001:remove"


def test_a_reply_to_a_comment_names_its_parent_and_our_own_replies_are_ignored(adapter):
    (reply,) = parse(adapter, "feed_reply_to_comment")
    assert reply.reply_to_external_message_id == "104000000000001_900_3001"
    assert reply.comment["parent_comment_id"] == "104000000000001_900_3001"
    assert parse(adapter, "feed_own_reply") == []


def test_entries_of_another_page_are_ignored(adapter):
    assert parse(adapter, "other_page") == []


# ----------------------------------------------------------------------------------------------------- outbound


def test_send_text_inside_24_hours_is_a_response_to_the_psid(adapter, fake):
    result = adapter.send_text(CHANNEL, conv(), "We will refund it", reply_to="m_Abc1", idempotency_key="m1")
    (call,) = fake.api_calls("/me/messages")
    assert call["params"] == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                              "message": {"text": "We will refund it"}}
    assert call["token"] == TOKEN and call["version"] == "25.0"
    assert result.external_message_id == fake.sent(PSID)[0]["id"] and result.raw["recipient_id"] == PSID


def test_between_24_hours_and_7_days_the_human_agent_tag_is_used(adapter, fake):
    adapter.send_text(CHANNEL, conv(hours_ago=30), "Sorry for the wait", idempotency_key="m1")
    (call,) = fake.api_calls("/me/messages")
    assert call["params"]["messaging_type"] == "MESSAGE_TAG" and call["params"]["tag"] == "HUMAN_AGENT"


def test_after_7_days_or_without_the_tag_the_window_is_closed_before_any_call(adapter, fake):
    with pytest.raises(errors.WindowClosed):
        adapter.send_text(CHANNEL, conv(hours_ago=24 * 8), "late", idempotency_key="m1")
    no_tag = Channel(**{**CHANNEL.__dict__, "settings": {"human_agent_tag": False}})
    with pytest.raises(errors.WindowClosed, match="24 hours"):
        adapter.send_text(no_tag, conv(hours_ago=30), "late", idempotency_key="m2")
    assert fake.calls == []


def test_the_graph_outside_window_error_is_window_closed(adapter, fake):
    fake.fail_next("/me/messages", status=400, code=10, subcode=2018278)
    with pytest.raises(errors.WindowClosed):
        adapter.send_text(CHANNEL, conv(), "hi", idempotency_key="m1")


def test_a_long_text_is_split_at_2000_characters(adapter, fake):
    adapter.send_text(CHANNEL, conv(), "x" * 4500, idempotency_key="m1")
    assert [len(m["text"]) for m in fake.sent(PSID)] == [2000, 2000, 500]


def test_media_is_uploaded_as_a_reusable_attachment_then_sent_by_id_and_the_caption_follows(adapter, fake):
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    result = adapter.send_media(CHANNEL, conv(), OutboundMedia("image", "box.png", "image/png", png),
                                caption="the box", idempotency_key="m1")
    (upload,) = fake.api_calls("/me/message_attachments")
    assert upload["params"]["message"] == {"attachment": {"type": "image", "payload": {"is_reusable": True}}}
    assert upload["files"]["filedata"][2] == png
    image, caption = fake.sent(PSID)
    assert image["message"]["attachment"]["type"] == "image"
    assert image["message"]["attachment"]["payload"]["attachment_id"]
    assert caption["text"] == "the box" and result.external_message_id == image["id"]


@pytest.mark.parametrize(("status", "code", "expected"), [
    (429, 613, errors.RateLimited), (400, 4, errors.RateLimited), (400, 32, errors.RateLimited),
    (500, 2, errors.TransientError), (400, 551, errors.RecipientUnavailable), (400, 100, errors.PermanentError),
])
def test_send_api_errors_map_to_channel_errors(adapter, fake, status, code, expected):
    fake.fail_next("/me/messages", status=status, code=code)
    with pytest.raises(expected):
        adapter.send_text(CHANNEL, conv(), "hi", idempotency_key="m1")


# ----------------------------------------------------------------------------------------------------- comments


def test_a_public_reply_posts_under_the_comment(adapter, fake):
    ref = comment_ref(fake)
    result = adapter.reply_comment(CHANNEL, ref, "Yes, until Sunday", private=False, idempotency_key="m1")
    (call,) = fake.api_calls(f"/{ref.external_comment_id}/comments")
    assert call["method"] == "POST" and call["params"] == {"message": "Yes, until Sunday"}
    assert fake.comment(ref.external_comment_id)["replies"][0]["id"] == result.external_message_id
    assert result.external_message_id.startswith(POST_ID + "_")


def test_a_private_reply_goes_once_to_the_commenter_through_the_send_api(adapter, fake):
    ref = comment_ref(fake)
    result = adapter.reply_comment(CHANNEL, ref, "Check your inbox", private=True, idempotency_key="m1")
    (call,) = fake.api_calls("/me/messages")
    assert call["params"] == {"recipient": {"comment_id": ref.external_comment_id},
                              "message": {"text": "Check your inbox"}}
    assert result.raw["recipient_id"] == "6700000000000002"
    with pytest.raises(errors.PermanentError):
        adapter.reply_comment(CHANNEL, ref, "twice", private=True, idempotency_key="m2")


def test_a_private_reply_after_7_days_is_refused_before_any_call(adapter, fake):
    ref = comment_ref(fake, hours_ago=24 * 8)
    with pytest.raises(errors.WindowClosed):
        adapter.reply_comment(CHANNEL, ref, "too late", private=True, idempotency_key="m1")
    assert fake.api_calls("/me/messages") == []


def test_a_reply_without_a_quoted_comment_is_not_supported(adapter):
    ref = CommentRef("", POST_ID, conv(user=f"fbpost:{POST_ID}:1"))
    with pytest.raises(errors.NotSupported):
        adapter.reply_comment(CHANNEL, ref, "hello", private=False, idempotency_key="m1")


def test_hide_and_delete_a_comment(adapter, fake):
    ref = comment_ref(fake)
    adapter.hide_comment(CHANNEL, ref, True)
    assert fake.comment(ref.external_comment_id)["hidden"] is True
    assert fake.api_calls(f"/{ref.external_comment_id}", "POST")[0]["params"] == {"is_hidden": True}
    adapter.delete_comment(CHANNEL, ref)
    assert fake.comment(ref.external_comment_id)["deleted"] is True
    with pytest.raises(errors.PermanentError):
        adapter.hide_comment(CHANNEL, ref, False)


# -------------------------------------------------------------------------------------------------- media, setup


def test_fetch_media_downloads_the_cdn_url_without_sending_the_token(adapter, fake, server):
    pdf = b"%PDF-1.4 statement"
    url = server.url + fake.add_cdn_file(pdf, "application/pdf", "statement.pdf")
    fetched = adapter.fetch_media(CHANNEL, url)
    assert fetched.data == pdf and fetched.mime_type == "application/pdf" and fetched.file_name == "statement.pdf"
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "file:///etc/passwd")


def test_register_webhook_subscribes_the_page_to_the_documented_fields(adapter, fake):
    adapter.register_webhook(CHANNEL, "https://example.org/api/webhooks/messenger/ch_fb1")
    (call,) = fake.api_calls(f"/{PAGE}/subscribed_apps")
    assert call["params"]["subscribed_fields"].split(",") == [
        "messages", "message_echoes", "message_deliveries", "message_reads", "message_edits", "messaging_postbacks",
        "feed"]
    assert adapter.check_health(CHANNEL) == {"ok": True, "page_id": PAGE, "name": "Demo shop"}


def test_capabilities_state_comments_private_replies_and_the_window():
    assert CAPABILITIES["comments"] is True and CAPABILITIES["private_reply"]["within_days"] == 7
    assert CAPABILITIES["window_hours"] == 24 and CAPABILITIES["edit_out"] is False
    assert {"comments", "private_reply"} <= MessengerAdapter.capabilities
