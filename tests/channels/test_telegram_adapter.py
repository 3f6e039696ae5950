"""TelegramAdapter against the fake Bot API over real HTTP: inbound parsing, sending, errors, files, setup."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib import errors
from chalicelib.channels.base import ChannelAdapter, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.telegram import CAPABILITIES, TelegramAdapter, split_text
from chalicelib.domain import surveys as survey_rules
from chalicelib.domain.model import Channel, InboundEvent
from chalicelib.local.fakes.telegram import FakeTelegram, FakeTelegramServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"
TOKEN = "123456789:AAH-test_Token-value"
SECRET = "s3cret_Webhook-token"
CHANNEL = Channel(id="ch_tg1", workspace_id="ws_1", kind="telegram", name="Support bot",
                  secrets={"bot_token": TOKEN, "webhook_secret": SECRET}, settings={})
PRIVATE = ConvRef("5550001")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + bytes(
    range(256)) * 4


@pytest.fixture
def server() -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer() as running:
        running.fake.add_bot(TOKEN, "shop_support_bot", "Shop")
        yield running


@pytest.fixture
def fake(server: FakeTelegramServer) -> FakeTelegram:
    return server.fake


@pytest.fixture
def adapter(server: FakeTelegramServer) -> TelegramAdapter:
    return TelegramAdapter(server.url, timeout=5.0)


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def webhook(body: bytes, secret: str | None = SECRET, received_at: str = "2024-05-20T10:20:00.000Z") -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest(method="POST", headers=headers, query={}, raw_body=body, request_id="req-1",
                          received_at=received_at)


def parse_one(adapter: TelegramAdapter, name: str) -> InboundEvent:
    result = adapter.parse_webhook(CHANNEL, webhook(fixture_body(name)))
    assert (result.status, result.body) == (200, "")
    assert len(result.events) == 1
    return result.events[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_token_free(exc: BaseException) -> None:
    assert TOKEN not in str(exc)
    assert TOKEN not in "".join(traceback.format_exception(exc))


# ------------------------------------------------------------------------------------------------------ inbound


def test_the_adapter_satisfies_the_channel_protocol_and_describes_its_limits() -> None:
    adapter: ChannelAdapter = TelegramAdapter("http://127.0.0.1:9")
    assert adapter.kind == "telegram"
    assert {"text", "images", "documents", "voice", "edit_out", "reply_to"} <= adapter.capabilities
    assert CAPABILITIES["text_max"] == 4096 and CAPABILITIES["caption_max"] == 1024
    assert CAPABILITIES["edit_out"] == {"max_age_hours": 48}
    assert CAPABILITIES["download_max_bytes"] == 20 * 1024 * 1024


def test_a_private_text_message_becomes_one_normalised_message_event(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "text")
    assert event.event_type == "message"
    assert (event.channel_kind, event.channel_id, event.workspace_id) == ("telegram", "ch_tg1", "ws_1")
    assert event.external_event_id == "815000101"
    assert event.dedupe_key == "telegram#ch_tg1#815000101"
    assert (event.external_conversation_id, event.external_message_id, event.external_thread_id) == (
        "5550001", "42", "")
    assert event.text == "Hi, my order #1234 has not arrived"
    assert event.sender.external_user_id == "5550001"
    assert event.sender.display_name == "Anna Karpova"
    assert (event.sender.username, event.sender.language, event.sender.is_bot) == ("anna_k", "ru", False)
    assert event.occurred_at == "2024-05-20T10:13:20.000Z"
    assert event.received_at == "2024-05-20T10:20:00.000Z"
    assert (event.surface, event.conversation_title, event.is_edited) == ("private", "", False)
    assert event.reply_to_external_message_id == ""
    assert event.attachments == []
    assert event.correlation_id == "req-1"


def test_a_photo_keeps_only_its_largest_size_and_its_caption_becomes_the_text(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "photo_caption")
    assert event.text == "the box was damaged"
    assert len(event.attachments) == 1
    photo = event.attachments[0]
    assert (photo.kind, photo.mime_type, photo.file_ref) == ("image", "image/jpeg", "AgAC-l")
    assert (photo.width, photo.height, photo.size_bytes) == (1280, 960, 98000)


def test_a_document_keeps_its_file_name_mime_type_and_size(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "document")
    assert event.text == ""
    [document] = event.attachments
    assert (document.kind, document.file_name, document.mime_type) == ("document", "invoice-1234.pdf",
                                                                       "application/pdf")
    assert (document.size_bytes, document.file_ref) == (52311, "BQAC-doc")


def test_a_voice_note_keeps_its_duration_and_ogg_mime_type(adapter: TelegramAdapter) -> None:
    [voice] = parse_one(adapter, "voice").attachments
    assert (voice.kind, voice.mime_type, voice.duration_s) == ("voice", "audio/ogg", 7)
    assert (voice.file_ref, voice.size_bytes) == ("AwAC-voice", 24576)


def test_an_edited_message_is_a_message_edited_event_dated_by_its_edit_date(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "edited_message")
    assert (event.event_type, event.is_edited) == ("message_edited", True)
    assert event.external_message_id == "42"
    assert event.text == "Hi, my order #1243 has not arrived"
    assert event.occurred_at == "2024-05-20T10:14:50.000Z"


def test_a_reply_to_our_message_points_at_the_replied_message_id(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "reply_to_bot")
    assert event.reply_to_external_message_id == "45"
    assert event.external_message_id == "46"
    assert event.text == "Yes, that address"


def test_a_group_message_has_the_group_surface_and_the_chat_title(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "group_message")
    assert (event.surface, event.conversation_title) == ("group", "Shop customers")
    assert event.external_conversation_id == "-1001234567890"
    assert (event.sender.external_user_id, event.sender.display_name) == ("5550002", "Boris Ivanov")


def test_a_forum_topic_message_keeps_its_topic_and_is_not_a_reply_to_the_topic_header(
        adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "forum_topic_message")
    assert event.external_thread_id == "500"
    assert event.reply_to_external_message_id == ""


def test_a_business_message_is_threaded_by_its_business_connection(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "business_message")
    assert event.event_type == "message"
    assert event.external_thread_id == "AAAbBBccDDeeFF1x"
    assert (event.external_conversation_id, event.external_message_id) == ("5550004", "9001")
    assert event.sender.language == "en"


def test_an_edited_business_message_is_an_edit_in_the_same_business_thread(adapter: TelegramAdapter) -> None:
    event = parse_one(adapter, "edited_business_message")
    assert (event.event_type, event.is_edited, event.external_thread_id) == (
        "message_edited", True, "AAAbBBccDDeeFF1x")
    assert event.occurred_at == "2024-05-20T10:24:20.000Z"


def test_deleted_business_messages_become_one_deletion_event_per_message(adapter: TelegramAdapter) -> None:
    result = adapter.parse_webhook(CHANNEL, webhook(fixture_body("deleted_business_messages")))
    assert [(e.event_type, e.external_message_id, e.is_deleted) for e in result.events] == [
        ("message_deleted", "9001", True), ("message_deleted", "9002", True)]
    assert [e.external_event_id for e in result.events] == ["815000111:9001", "815000111:9002"]
    assert {e.external_thread_id for e in result.events} == {"AAAbBBccDDeeFF1x"}


def test_a_location_is_an_attachment_with_readable_coordinates(adapter: TelegramAdapter) -> None:
    [location] = parse_one(adapter, "location").attachments
    assert (location.kind, location.caption) == ("location", "55.75, 37.61")


@pytest.mark.parametrize("name", ["channel_post", "my_chat_member"])
def test_channel_posts_and_other_update_kinds_are_acknowledged_without_events(
        adapter: TelegramAdapter, name: str) -> None:
    result = adapter.parse_webhook(CHANNEL, webhook(fixture_body(name)))
    assert (result.status, result.body, result.events) == (200, "", [])


def test_received_at_defaults_to_now_when_the_api_layer_did_not_set_it(adapter: TelegramAdapter) -> None:
    event = adapter.parse_webhook(CHANNEL, webhook(fixture_body("text"), received_at="")).events[0]
    assert event.received_at > "2024-05-21" and event.received_at.endswith("Z")


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_a_missing_or_wrong_secret_token_is_unauthenticated(adapter: TelegramAdapter, secret: str | None) -> None:
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(CHANNEL, webhook(fixture_body("text"), secret=secret))


def test_a_channel_without_a_webhook_secret_accepts_no_webhook(adapter: TelegramAdapter) -> None:
    channel = Channel(id="ch_x", workspace_id="ws_1", kind="telegram", name="x", secrets={"bot_token": TOKEN},
                      settings={})
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(channel, webhook(fixture_body("text"), secret=""))


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}',
                                  b'{"update_id": true}'])
def test_a_body_that_is_not_an_update_object_is_invalid_input(adapter: TelegramAdapter, body: bytes) -> None:
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, webhook(body))


# ----------------------------------------------------------------------------------------------------- outbound


def test_send_text_posts_the_chat_text_and_reply_parameters_exactly(adapter: TelegramAdapter,
                                                                     fake: FakeTelegram) -> None:
    fake.remember(TOKEN, {"message_id": 46, "date": 1716200200, "chat": {"id": 5550001, "type": "private"},
                          "text": "Yes, that address"})
    result = adapter.send_text(CHANNEL, PRIVATE, "We will ship today", reply_to="46", idempotency_key="m_1")
    [call] = fake.calls_of("sendMessage")
    assert call["token"] == TOKEN
    assert call["params"] == {"chat_id": 5550001, "text": "We will ship today",
                              "reply_parameters": {"message_id": 46, "allow_sending_without_reply": True}}
    assert result.external_message_id == "47"
    assert result.raw["reply_to_message"]["message_id"] == 46
    assert [m["text"] for m in fake.sent(5550001)] == ["We will ship today"]


def test_send_text_without_reply_to_sends_no_reply_parameters(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    first = adapter.send_text(CHANNEL, PRIVATE, "one", reply_to=None, idempotency_key="m_1")
    second = adapter.send_text(CHANNEL, PRIVATE, "two", reply_to=None, idempotency_key="m_2")
    assert [c["params"] for c in fake.calls_of("sendMessage")] == [{"chat_id": 5550001, "text": "one"},
                                                                   {"chat_id": 5550001, "text": "two"}]
    assert (first.external_message_id, second.external_message_id) == ("1", "2")


def test_send_text_goes_back_to_the_forum_topic_or_the_business_connection(adapter: TelegramAdapter,
                                                                            fake: FakeTelegram) -> None:
    adapter.send_text(CHANNEL, ConvRef("-1009876543210", "500"), "topic", reply_to=None, idempotency_key="a")
    adapter.send_text(CHANNEL, ConvRef("5550004", "AAAbBBccDDeeFF1x"), "business", reply_to=None,
                      idempotency_key="b")
    topic, business = (c["params"] for c in fake.calls_of("sendMessage"))
    assert topic == {"chat_id": -1009876543210, "text": "topic", "message_thread_id": 500}
    assert business == {"chat_id": 5550004, "text": "business", "business_connection_id": "AAAbBBccDDeeFF1x"}


def test_a_text_longer_than_4096_characters_is_split_on_whitespace_and_only_the_first_part_replies(
        adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    words = [f"word{i:04d}" for i in range(1000)]  # 9 characters each: 8999 with spaces
    result = adapter.send_text(CHANNEL, PRIVATE, " ".join(words), reply_to="3", idempotency_key="m_long")
    calls = fake.calls_of("sendMessage")
    assert len(calls) == 3
    texts = [c["params"]["text"] for c in calls]
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(texts).split(" ") == words  # nothing lost, no word cut in half
    assert "reply_parameters" in calls[0]["params"]
    assert all("reply_parameters" not in c["params"] for c in calls[1:])
    assert result.external_message_id == str(fake.sent(5550001)[0]["message_id"])


def test_split_text_counts_utf16_units_and_cuts_a_word_only_when_there_is_no_whitespace() -> None:
    assert [len(chunk) for chunk in split_text("😀" * 3000)] == [2048, 952]
    assert split_text("a" * 10, limit=4) == ["aaaa", "aaaa", "aa"]
    assert split_text("short") == ["short"]


def test_send_media_uploads_a_photo_as_multipart_with_caption_and_reply_parameters(
        adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    media = OutboundMedia(kind="image", file_name="box.png", mime_type="image/png", data=PNG)
    result = adapter.send_media(CHANNEL, PRIVATE, media, caption="Here is the label", reply_to="12",
                                idempotency_key="m_2")
    [call] = fake.calls_of("sendPhoto")
    assert call["params"] == {"chat_id": "5550001", "caption": "Here is the label",
                              "reply_parameters": '{"message_id": 12, "allow_sending_without_reply": true}'}
    assert call["files"] == {"photo": ("box.png", "image/png", PNG)}
    assert result.raw["caption"] == "Here is the label"
    assert (result.raw["photo"][-1]["width"], result.raw["photo"][-1]["height"]) == (640, 480)


def test_send_media_uploads_a_document_with_its_name_and_mime_type(adapter: TelegramAdapter,
                                                                    fake: FakeTelegram) -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"
    media = OutboundMedia(kind="document", file_name="invoice.pdf", mime_type="application/pdf", data=data)
    result = adapter.send_media(CHANNEL, PRIVATE, media, caption=None, reply_to=None, idempotency_key="m_3")
    [call] = fake.calls_of("sendDocument")
    assert call["files"] == {"document": ("invoice.pdf", "application/pdf", data)}
    assert call["params"] == {"chat_id": "5550001"}
    assert result.raw["document"]["file_name"] == "invoice.pdf"
    assert result.raw["document"]["file_size"] == len(data)


@pytest.mark.parametrize(("kind", "method"), [("voice", "sendVoice"), ("audio", "sendAudio"), ("video", "sendVideo"),
                                              ("other", "sendDocument")])
def test_send_media_picks_the_telegram_method_by_kind(adapter: TelegramAdapter, fake: FakeTelegram, kind: str,
                                                      method: str) -> None:
    media = OutboundMedia(kind=kind, file_name="clip.bin", mime_type="application/octet-stream", data=b"\x00\x01")
    adapter.send_media(CHANNEL, PRIVATE, media, caption=None, reply_to=None, idempotency_key="m")
    assert [c["method"] for c in fake.calls] == [method]


def test_a_caption_longer_than_1024_characters_continues_in_a_text_message(adapter: TelegramAdapter,
                                                                           fake: FakeTelegram) -> None:
    caption = " ".join(["label"] * 300)  # 1799 characters
    media = OutboundMedia(kind="image", file_name="a.png", mime_type="image/png", data=PNG)
    result = adapter.send_media(CHANNEL, PRIVATE, media, caption=caption, reply_to=None, idempotency_key="m_4")
    photo_caption = fake.calls_of("sendPhoto")[0]["params"]["caption"]
    [rest] = [c["params"]["text"] for c in fake.calls_of("sendMessage")]
    assert len(photo_caption) <= 1024
    assert f"{photo_caption} {rest}" == caption
    assert result.external_message_id == str(fake.sent(5550001)[0]["message_id"])


def test_edit_text_and_delete_act_on_our_sent_message(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    sent = adapter.send_text(CHANNEL, PRIVATE, "Price is 100", reply_to=None, idempotency_key="m_5")
    edited = adapter.edit_text(CHANNEL, PRIVATE, sent.external_message_id, "Price is 90")
    assert edited.raw["text"] == "Price is 90" and "edit_date" in edited.raw
    assert [m["text"] for m in fake.sent(5550001)] == ["Price is 90"]
    adapter.delete(CHANNEL, PRIVATE, sent.external_message_id)
    assert fake.sent(5550001) == []
    with pytest.raises(errors.PermanentError, match="message to delete not found"):
        adapter.delete(CHANNEL, PRIVATE, sent.external_message_id)


def test_typing_sends_the_typing_chat_action(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    adapter.typing(CHANNEL, PRIVATE)
    assert [c["params"] for c in fake.calls_of("sendChatAction")] == [{"chat_id": 5550001, "action": "typing"}]


# ------------------------------------------------------------------------------------------------------- errors


def test_a_429_answer_raises_rate_limited_with_telegrams_retry_after(adapter: TelegramAdapter,
                                                                     fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=17)
    with pytest.raises(errors.RateLimited) as caught:
        adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m")
    assert caught.value.retry_after == 17
    assert "retry after 17" in caught.value.message
    assert adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m").external_message_id == "1"


def test_a_blocked_recipient_raises_recipient_unavailable(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.set_blocked(5550001)
    with pytest.raises(errors.RecipientUnavailable, match="bot was blocked by the user"):
        adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m")


def test_a_403_on_upload_raises_recipient_unavailable(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.fail_next("sendDocument", status=403)
    media = OutboundMedia(kind="document", file_name="a.txt", mime_type="text/plain", data=b"abc")
    with pytest.raises(errors.RecipientUnavailable):
        adapter.send_media(CHANNEL, PRIVATE, media, caption=None, reply_to=None, idempotency_key="m")


def test_a_server_error_raises_transient_error(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(errors.TransientError) as caught:
        adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m")
    assert not isinstance(caught.value, errors.RateLimited)
    assert_token_free(caught.value)


def test_a_bad_request_raises_permanent_error_with_telegrams_description(adapter: TelegramAdapter) -> None:
    with pytest.raises(errors.PermanentError) as caught:
        adapter.send_text(CHANNEL, PRIVATE, "   ", reply_to=None, idempotency_key="m")
    assert caught.value.message == "telegram sendMessage: Bad Request: message text is empty"
    assert caught.value.details["error_code"] == 400


def test_an_unknown_token_raises_permanent_error_without_the_token(server: FakeTelegramServer) -> None:
    adapter = TelegramAdapter(server.url)
    channel = Channel(id="c", workspace_id="w", kind="telegram", name="n",
                      secrets={"bot_token": "999:unknown-TOKEN", "webhook_secret": SECRET}, settings={})
    with pytest.raises(errors.PermanentError, match="Unauthorized") as caught:
        adapter.send_text(channel, PRIVATE, "hi", reply_to=None, idempotency_key="m")
    assert "999:unknown-TOKEN" not in str(caught.value)


def test_a_refused_connection_raises_transient_error_without_the_token() -> None:
    adapter = TelegramAdapter(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    with pytest.raises(errors.TransientError) as caught:
        adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m")
    assert "connection failed" in caught.value.message
    assert_token_free(caught.value)


def test_request_logs_of_the_http_client_do_not_show_the_token(adapter: TelegramAdapter,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        adapter.send_text(CHANNEL, PRIVATE, "hi", reply_to=None, idempotency_key="m")
    request_lines = [r.getMessage() for r in caplog.records if "sendMessage" in r.getMessage()]
    assert request_lines and all(TOKEN not in line for line in request_lines)


# -------------------------------------------------------------------------------------------- files and setup


def test_fetch_media_downloads_a_customer_file_by_its_file_id(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    data = bytes(range(256)) * 100
    fake.add_file("AgAC-l", data, "photos/file_7.jpg")
    media = adapter.fetch_media(CHANNEL, "AgAC-l")
    assert (media.data, media.mime_type, media.file_name) == (data, "image/jpeg", "file_7.jpg")
    assert [c["method"] for c in fake.calls] == ["getFile", "file"]


def test_fetch_media_downloads_a_file_we_uploaded(adapter: TelegramAdapter) -> None:
    media = OutboundMedia(kind="document", file_name="terms.pdf", mime_type="application/pdf", data=b"%PDF terms")
    sent = adapter.send_media(CHANNEL, PRIVATE, media, caption=None, reply_to=None, idempotency_key="m")
    fetched = adapter.fetch_media(CHANNEL, sent.raw["document"]["file_id"])
    assert (fetched.data, fetched.mime_type) == (b"%PDF terms", "application/pdf")


def test_fetch_media_refuses_files_over_20_mb(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.download_max_bytes = 100 * 1024 * 1024  # as a local Bot API server would allow
    fake.add_file("big", b"\x00" * (20 * 1024 * 1024 + 1), "documents/big.bin")
    with pytest.raises(errors.PermanentError, match="20 MB"):
        adapter.fetch_media(CHANNEL, "big")
    assert [c["method"] for c in fake.calls] == ["getFile"]


def test_fetch_media_of_an_unknown_file_id_is_a_permanent_error(adapter: TelegramAdapter) -> None:
    with pytest.raises(errors.PermanentError, match="invalid file_id"):
        adapter.fetch_media(CHANNEL, "nope")


def test_a_failing_download_is_transient(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.add_file("f1", b"abc", "documents/a.txt")
    fake.fail_next("file", status=502)
    with pytest.raises(errors.TransientError) as caught:
        adapter.fetch_media(CHANNEL, "f1")
    assert_token_free(caught.value)


def test_register_webhook_sends_the_url_secret_token_and_allowed_updates(adapter: TelegramAdapter,
                                                                         fake: FakeTelegram) -> None:
    url = "https://inbox.example.com/api/webhooks/telegram/ch_tg1"
    adapter.register_webhook(CHANNEL, url)
    [call] = fake.calls_of("setWebhook")
    assert call["params"]["secret_token"] == SECRET
    assert fake.webhook(TOKEN) == {"url": url, "secret_token": SECRET, "allowed_updates": [
        "message", "edited_message", "business_message", "edited_business_message", "business_connection",
        "deleted_business_messages", "my_chat_member", "callback_query"]}


def test_check_health_reports_the_bot_the_backlog_and_the_last_delivery_error(adapter: TelegramAdapter,
                                                                              fake: FakeTelegram) -> None:
    adapter.register_webhook(CHANNEL, "https://inbox.example.com/hook")
    fake.set_webhook_status(TOKEN, pending_update_count=3, last_error_message="Connection timed out",
                            last_error_date=1716200000)
    assert adapter.check_health(CHANNEL) == {
        "ok": True, "username": "shop_support_bot", "webhook_url": "https://inbox.example.com/hook",
        "pending_update_count": 3, "last_error_message": "Connection timed out",
        "last_error_date": "2024-05-20T10:13:20.000Z"}


def test_check_health_reports_an_error_without_the_token() -> None:
    adapter = TelegramAdapter(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    health = adapter.check_health(CHANNEL)
    assert health["ok"] is False
    assert "getMe" in health["error"] and TOKEN not in health["error"]


def test_check_health_reports_a_rejected_token(adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    fake.fail_next("getWebhookInfo", status=401, description="Unauthorized")
    assert adapter.check_health(CHANNEL) == {"ok": False, "error": "telegram getWebhookInfo: Unauthorized"}


# --------------------------------------------------------------------------------------------------- the fake


def raw_call(server: FakeTelegramServer, method: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = requests.request(kwargs.pop("http_method", "POST"), f"{server.url}/bot{TOKEN}/{method}", timeout=5,
                                **kwargs)
    return response.status_code, response.json()


def test_the_fake_accepts_form_encoded_and_query_string_parameters(server: FakeTelegramServer) -> None:
    status, answer = raw_call(server, "sendMessage", data={"chat_id": "5550001", "text": "form"})
    assert (status, answer["result"]["text"], answer["result"]["chat"]["id"]) == (200, "form", 5550001)
    status, answer = raw_call(server, "sendMessage", http_method="GET", params={"chat_id": "5550001", "text": "q"})
    assert (status, answer["result"]["message_id"]) == (200, 2)
    assert answer["result"]["from"] == {"id": 123456789, "is_bot": True, "first_name": "Shop",
                                        "username": "shop_support_bot"}


def test_the_fake_answers_unknown_methods_tokens_and_missing_parameters_like_telegram(
        server: FakeTelegramServer) -> None:
    assert raw_call(server, "sendTelepathy", json={}) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
    assert raw_call(server, "sendMessage", json={"text": "x"}) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"})
    response = requests.post(f"{server.url}/bot1:nope/getMe", timeout=5)
    assert (response.status_code, response.json()) == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


def test_the_fake_shapes_rate_limits_like_telegram(server: FakeTelegramServer) -> None:
    server.fake.fail_next("getMe", status=429, times=2, retry_after=5)
    expected = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
                      "parameters": {"retry_after": 5}})
    assert raw_call(server, "getMe") == expected
    assert raw_call(server, "getMe") == expected
    assert raw_call(server, "getMe")[0] == 200


def test_the_fake_lists_sent_messages_and_resets_over_http(server: FakeTelegramServer) -> None:
    raw_call(server, "sendMessage", json={"chat_id": 1, "text": "to one"})
    raw_call(server, "sendMessage", json={"chat_id": 2, "text": "to two"})
    listed = requests.get(f"{server.url}/_sent", params={"chat_id": "2"}, timeout=5).json()
    assert [m["text"] for m in listed] == ["to two"]
    assert requests.post(f"{server.url}/_reset", timeout=5).json() == {"ok": True}
    assert requests.get(f"{server.url}/_sent", timeout=5).json() == []
    assert server.fake.calls == []


def test_the_fake_refuses_a_reply_to_an_unknown_message_unless_allowed(server: FakeTelegramServer) -> None:
    status, answer = raw_call(server, "sendMessage", json={"chat_id": 1, "text": "x",
                                                           "reply_parameters": {"message_id": 99}})
    assert (status, answer["description"]) == (400, "Bad Request: message to be replied not found")
    status, answer = raw_call(server, "sendMessage", data={
        "chat_id": 1, "text": "x", "reply_parameters": json.dumps({"message_id": 99,
                                                                   "allow_sending_without_reply": True})})
    assert status == 200 and "reply_to_message" not in answer["result"]


# --- survey buttons (G4) -----------------------------------------------------------------------------------------

SURVEY = "sc0190000000000abcdef0"
PROMPT = survey_rules.prompt(survey_rules.parse_settings(None, {"csat_enabled": True}), SURVEY, "csat", "en")


def callback(data: object, chat: dict | None = None) -> bytes:
    return json.dumps({"update_id": 77, "callback_query": {
        "id": "q1", "chat_instance": "1", "data": data, "from": {"id": 5550001, "is_bot": False, "first_name": "A",
                                                                  "language_code": "en"},
        "message": {"message_id": 9, "date": 1, "chat": chat or {"id": 5550001, "type": "private"}}}}).encode()


def test_telegram_sends_an_inline_keyboard_the_fake_accepts_and_a_press_is_an_answer_event(
        adapter: TelegramAdapter, fake: FakeTelegram) -> None:
    sent = adapter.send_survey(CHANNEL, PRIVATE, PROMPT, idempotency_key="m1")
    [message] = fake.sent(5550001)
    assert message["message_id"] == int(sent.external_message_id) and message["text"] == PROMPT.question
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons] == [survey_rules.answer_data(SURVEY, n) for n in range(1, 6)]
    update = fake.press(TOKEN, 5550001, message["message_id"], buttons[3]["callback_data"])
    [event] = adapter.parse_webhook(CHANNEL, webhook(json.dumps(update).encode())).events
    assert event.event_type == "survey_answer" and event.answer["score"] == 4
    assert event.answer["survey_id"] == SURVEY and event.external_conversation_id == "5550001"
    adapter.answer_callback(CHANNEL, event.answer["callback_id"], "Thanks!")
    assert fake.callback_answers()[0]["text"] == "Thanks!"
    with pytest.raises(Exception, match="query"):  # a callback query is answered once
        adapter.answer_callback(CHANNEL, event.answer["callback_id"], "again")


@pytest.mark.parametrize("data", [None, 5, "", "buy:1", "sv:../x:1", "sv:" + "a" * 60 + ":1", "sv:abc:999"])
def test_telegram_callbacks_that_are_not_our_answers_are_dropped(adapter: TelegramAdapter, data: object) -> None:
    assert adapter.parse_webhook(CHANNEL, webhook(callback(data))).events == []


def test_the_fake_refuses_keyboards_the_bot_api_refuses(adapter: TelegramAdapter) -> None:
    from chalicelib import errors

    with pytest.raises(errors.PermanentError, match="BUTTON_DATA_INVALID"):
        adapter._call(CHANNEL, "sendMessage", json_body={"chat_id": 5550001, "text": "x", "reply_markup": {
            "inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}})
