"""InstagramAdapter against the fake Graph API over real HTTP: DMs, comments on media, replies public and private."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.channels.base import CommentRef, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.instagram import CAPABILITIES, InstagramAdapter
from chalicelib.channels.meta import signature
from chalicelib.domain.model import Channel, InboundEvent, iso, utcnow
from chalicelib.local.fakes.graph import FakeGraph, FakeGraphServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "instagram"
TOKEN = "EAAG-ig-page-token"
APP_SECRET = "meta-app-secret-3"
VERIFY = "verify-token-instagram"
PAGE, IG, IGSID = "104000000000002", "17841400000000001", "1122334455667788"
MEDIA = "17950000000000001"
CHANNEL = Channel(id="ch_ig1", workspace_id="ws_1", kind="instagram", name="Instagram",
                  secrets={"page_access_token": TOKEN, "page_id": PAGE, "ig_user_id": IG, "app_secret": APP_SECRET,
                           "webhook_secret": VERIFY}, settings={})


def conv(hours_ago: float = 1.0, user: str = IGSID) -> ConvRef:
    return ConvRef(user, last_inbound_at=iso(utcnow() - timedelta(hours=hours_ago)))


@pytest.fixture
def server() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as running:
        running.fake.add_page(TOKEN, PAGE, "Demo shop", ig_user_id=IG, ig_username="demo.shop")
        yield running


@pytest.fixture
def fake(server: FakeGraphServer) -> FakeGraph:
    return server.fake


@pytest.fixture
def adapter(server: FakeGraphServer) -> InstagramAdapter:
    return InstagramAdapter(server.url, "25.0", timeout=5.0)


def post(body: bytes, *, secret: str | None = APP_SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-hub-signature-256"] = signature(secret, body)
    return WebhookRequest("POST", headers, {}, body, request_id="req-3", received_at="2024-05-20T10:30:00.000Z")


def parse(adapter: InstagramAdapter, name: str) -> list[InboundEvent]:
    result = adapter.parse_webhook(CHANNEL, post((FIXTURES / f"{name}.json").read_bytes()))
    assert result.status == 200
    return result.events


def comment_ref(fake: FakeGraph) -> CommentRef:
    request = fake.customer_comment(CHANNEL, post_id=MEDIA, user_id=IGSID, name="boris.shop", text="Price?")
    comment_id = json.loads(request.body)["entry"][0]["changes"][0]["value"]["id"]
    return CommentRef(comment_id, MEDIA, conv(user=f"igpost:{MEDIA}:{IGSID}"), IGSID)


# ---------------------------------------------------------------------------------------------- handshake, auth


def test_verification_and_signature_follow_the_meta_rules(adapter):
    ok = adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, {
        "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}, b""))
    assert (ok.status, ok.body) == (200, "42")
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, {"hub.mode": "subscribe", "hub.challenge": "1"},
                                                      b""))
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(CHANNEL, post((FIXTURES / "comment.json").read_bytes(), secret="wrong"))


def test_a_page_object_is_not_accepted_on_an_instagram_channel(adapter):
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, post(b'{"object": "page", "entry": []}'))


# ------------------------------------------------------------------------------------------------------ inbound


def test_text_and_image_dms_become_messages_with_the_cdn_url_as_file_ref(adapter):
    text, image = parse(adapter, "text_image")
    assert text.external_conversation_id == IGSID and text.external_message_id == "m_IG1"
    assert text.text == "Do you ship to Kazan?" and text.surface == "private"
    assert image.attachments[0].kind == "image"
    assert image.attachments[0].file_ref == "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"


def test_reply_edit_unsend_and_seen_are_each_normalised(adapter):
    reply, edit, unsend, seen = parse(adapter, "reply_edit_unsend_seen")
    assert reply.reply_to_external_message_id == "m_OUT1"
    assert (edit.event_type, edit.external_message_id, edit.text) == (
        "message_edited", "m_IG1", "Do you ship to Kazan and Ufa?")
    assert (unsend.event_type, unsend.external_message_id, unsend.external_event_id) == (
        "message_deleted", "m_IG2", "m_IG2:deleted")
    assert seen.event_type == "status" and seen.status["message_id"] == "m_OUT1" and seen.status["state"] == "read"


def test_audio_video_and_shared_posts_are_attachments(adapter):
    media, share = parse(adapter, "audio_video_share")
    assert [a.kind for a in media.attachments] == ["audio", "video"]
    assert share.attachments[0].kind == "other" and share.attachments[0].caption == "Spring collection"


def test_an_echo_from_the_instagram_app_is_an_outbound_message(adapter):
    (echo,) = parse(adapter, "echo")
    assert echo.direction == "out" and echo.external_conversation_id == IGSID


def test_a_comment_on_our_media_is_a_comment_conversation_with_the_media_as_post(adapter):
    (event,) = parse(adapter, "comment")
    assert event.event_type == "comment" and event.surface == "comment"
    assert event.external_conversation_id == f"igpost:{MEDIA}:{IGSID}" and event.external_thread_id == MEDIA
    assert event.external_event_id == event.external_message_id == "17900000000000001"
    assert event.sender.username == "boris.shop" and event.text == "Price?"
    assert event.comment["private_reply_until"] == "2024-05-27T10:25:00.000Z"
    assert event.comment["post_id"] == MEDIA and event.comment["author_id"] == IGSID


def test_a_reply_comment_names_its_parent_and_our_own_comments_are_ignored(adapter):
    (reply,) = parse(adapter, "comment_reply")
    assert reply.reply_to_external_message_id == "17900000000000001"
    assert parse(adapter, "own_comment") == []


# ----------------------------------------------------------------------------------------------------- outbound


def test_send_text_goes_to_me_messages_with_the_page_token_and_1000_character_parts(adapter, fake):
    adapter.send_text(CHANNEL, conv(), "y" * 1500, idempotency_key="m1")
    first, second = fake.api_calls("/me/messages")
    assert first["params"] == {"recipient": {"id": IGSID}, "messaging_type": "RESPONSE",
                               "message": {"text": "y" * 1000}}
    assert len(second["params"]["message"]["text"]) == 500 and first["token"] == TOKEN


def test_human_agent_tag_after_24_hours_and_window_closed_after_7_days(adapter, fake):
    adapter.send_text(CHANNEL, conv(hours_ago=48), "following up", idempotency_key="m1")
    assert fake.api_calls("/me/messages")[0]["params"]["tag"] == "HUMAN_AGENT"
    with pytest.raises(errors.WindowClosed):
        adapter.send_text(CHANNEL, conv(hours_ago=24 * 7 + 1), "too late", idempotency_key="m2")


def test_media_upload_names_the_instagram_platform_and_documents_other_than_pdf_are_refused(adapter, fake):
    adapter.send_media(CHANNEL, conv(), OutboundMedia("image", "a.png", "image/png", b"\x89PNG"),
                       idempotency_key="m1")
    (upload,) = fake.api_calls("/me/message_attachments")
    assert upload["params"]["platform"] == "instagram"
    with pytest.raises(errors.NotSupported):
        adapter.send_media(CHANNEL, conv(), OutboundMedia("document", "a.docx", "application/msword", b"doc"),
                           idempotency_key="m2")


def test_a_public_reply_uses_the_replies_edge(adapter, fake):
    ref = comment_ref(fake)
    result = adapter.reply_comment(CHANNEL, ref, "1990 rub", private=False, idempotency_key="m1")
    (call,) = fake.api_calls(f"/{ref.external_comment_id}/replies")
    assert call["params"] == {"message": "1990 rub"}
    assert fake.comment(ref.external_comment_id)["replies"][0]["id"] == result.external_message_id


def test_a_private_reply_reaches_the_commenter_once(adapter, fake):
    ref = comment_ref(fake)
    result = adapter.reply_comment(CHANNEL, ref, "Sent you the price list", private=True, idempotency_key="m1")
    assert result.raw["recipient_id"] == IGSID
    assert fake.sent(IGSID)[0]["comment_id"] == ref.external_comment_id
    with pytest.raises(errors.PermanentError):
        adapter.reply_comment(CHANNEL, ref, "again", private=True, idempotency_key="m2")


def test_hide_uses_the_hide_field_and_delete_removes_the_comment(adapter, fake):
    ref = comment_ref(fake)
    adapter.hide_comment(CHANNEL, ref, True)
    assert fake.api_calls(f"/{ref.external_comment_id}", "POST")[0]["params"] == {"hide": True}
    adapter.delete_comment(CHANNEL, ref)
    assert fake.comment(ref.external_comment_id)["deleted"] is True


def test_rate_limits_are_retryable(adapter, fake):
    fake.fail_next("/replies", status=400, code=17)
    with pytest.raises(errors.RateLimited):
        adapter.reply_comment(CHANNEL, comment_ref(fake), "hi", private=False, idempotency_key="m1")


def test_health_reads_the_instagram_account(adapter):
    assert adapter.check_health(CHANNEL) == {"ok": True, "ig_user_id": IG, "username": "demo.shop"}


def test_capabilities_state_no_documents_except_pdf_and_comments():
    assert CAPABILITIES["documents_out"] == "pdf only" and CAPABILITIES["comments"] is True
    assert CAPABILITIES["text_max"] == 1000 and "documents" not in InstagramAdapter.capabilities
