"""WhatsAppAdapter against the fake Graph API over real HTTP: handshake, signature, parsing, sending, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.channels.base import ConvRef, OutboundMedia, Template, WebhookRequest
from chalicelib.channels.meta import signature
from chalicelib.channels.whatsapp import CAPABILITIES, WhatsAppAdapter
from chalicelib.domain.model import Channel, InboundEvent, iso, utcnow
from chalicelib.local.fakes.graph import FakeGraph, FakeGraphServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "whatsapp"
TOKEN = "EAAG-whatsapp-system-user-token"
APP_SECRET = "meta-app-secret-1"
VERIFY = "verify-token-0123456789"
NUMBER, WABA = "106540352242922", "102290129340398"
CHANNEL = Channel(id="ch_wa1", workspace_id="ws_1", kind="whatsapp", name="WhatsApp",
                  secrets={"access_token": TOKEN, "phone_number_id": NUMBER, "waba_id": WABA,
                           "app_secret": APP_SECRET, "webhook_secret": VERIFY}, settings={})
CUSTOMER = "79161234567"


def conv(hours_ago: float = 1.0) -> ConvRef:
    return ConvRef(CUSTOMER, last_inbound_at=iso(utcnow() - timedelta(hours=hours_ago)))


@pytest.fixture
def server() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as running:
        running.fake.add_whatsapp_number(TOKEN, NUMBER, WABA)
        yield running


@pytest.fixture
def fake(server: FakeGraphServer) -> FakeGraph:
    return server.fake


@pytest.fixture
def adapter(server: FakeGraphServer) -> WhatsAppAdapter:
    return WhatsAppAdapter(server.url, "25.0", timeout=5.0)


def post(body: bytes, *, secret: str | None = APP_SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-hub-signature-256"] = signature(secret, body)
    return WebhookRequest("POST", headers, {}, body, request_id="req-1", received_at="2024-05-20T10:30:00.000Z")


def parse(adapter: WhatsAppAdapter, name: str) -> list[InboundEvent]:
    result = adapter.parse_webhook(CHANNEL, post((FIXTURES / f"{name}.json").read_bytes()))
    assert result.status == 200
    return result.events


# ---------------------------------------------------------------------------------------------- handshake, auth


def test_verification_get_with_the_channel_token_echoes_the_challenge(adapter):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    result = adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, query, b""))
    assert (result.status, result.body, result.content_type, result.events) == (200, "1158201444", "text/plain", [])


@pytest.mark.parametrize("query", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_verification_get_with_a_wrong_token_or_mode_is_forbidden(adapter, query):
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, WebhookRequest("GET", {}, query, b""))


def test_a_post_without_or_with_a_wrong_signature_is_unauthenticated(adapter):
    body = (FIXTURES / "text.json").read_bytes()
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(CHANNEL, post(body, secret=None))
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(CHANNEL, post(body, secret="another-app-secret"))
    tampered = post(body)
    with pytest.raises(errors.Unauthenticated):
        adapter.parse_webhook(CHANNEL, WebhookRequest("POST", tampered.headers, {}, body.replace(b"open", b"shut")))


def test_a_signed_body_that_is_not_a_whatsapp_webhook_is_invalid_input(adapter):
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, post(b'{"object": "page", "entry": []}'))
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, post(b"not json"))


# ------------------------------------------------------------------------------------------------------ inbound


def test_text_message_becomes_a_message_event_with_the_contact_name_and_phone(adapter):
    (event,) = parse(adapter, "text")
    assert event.event_type == "message" and event.channel_kind == "whatsapp"
    assert event.external_event_id == event.external_message_id == "wamid.HBgLNzkxNjEyMzQ1NjcVAgASGBQzQUFBQjE="
    assert event.external_conversation_id == CUSTOMER
    assert event.sender.display_name == "Boris" and event.sender.phone == "+79161234567"
    assert event.text == "Hello, is the store open today?"
    assert event.occurred_at == "2024-05-20T10:13:20.000Z" and event.correlation_id == "req-1"


def test_media_messages_carry_the_media_id_as_file_ref_and_audio_with_voice_is_a_voice_note(adapter):
    image, document, voice, video, sticker = parse(adapter, "media")
    assert (image.attachments[0].kind, image.attachments[0].file_ref, image.text) == ("image", "1298765432101",
                                                                                      "receipt")
    assert (document.attachments[0].kind, document.attachments[0].file_name) == ("document", "invoice.pdf")
    assert (voice.attachments[0].kind, voice.attachments[0].mime_type) == ("voice", "audio/ogg; codecs=opus")
    assert video.attachments[0].kind == "video" and sticker.attachments[0].kind == "sticker"
    assert [e.external_message_id for e in (image, document, voice, video, sticker)] == [
        "wamid.IMG1", "wamid.DOC1", "wamid.VOC1", "wamid.VID1", "wamid.STK1"]


def test_a_reply_names_the_quoted_message(adapter):
    (event,) = parse(adapter, "reply")
    assert event.reply_to_external_message_id == "wamid.OUT1" and event.text == "Yes, please"


def test_an_edit_points_at_the_original_message_and_carries_the_new_text(adapter):
    (event,) = parse(adapter, "edit")
    assert event.event_type == "message_edited" and event.is_edited
    assert event.external_message_id == "wamid.RPL1" and event.external_event_id == "wamid.EDT1"
    assert event.text == "Yes, please, today"


def test_a_revoke_deletes_the_original_message(adapter):
    (event,) = parse(adapter, "revoke")
    assert event.event_type == "message_deleted" and event.is_deleted
    assert event.external_message_id == "wamid.IMG1" and event.external_event_id == "wamid.REV1"


def test_location_and_contacts_are_attachments_and_reactions_are_not_messages(adapter):
    location, contact = parse(adapter, "location_contacts")
    assert location.attachments[0].kind == "location"
    assert location.attachments[0].caption == "Red Square, Moscow, 55.751244, 37.618423"
    assert contact.attachments[0].caption == "Anna Petrova, +7 916 000-00-01"


def test_statuses_become_status_events_deduped_per_message_and_state(adapter):
    sent, delivered, read, failed = parse(adapter, "statuses")
    assert [e.event_type for e in (sent, delivered, read, failed)] == ["status"] * 4
    assert [e.external_event_id for e in (sent, delivered, read)] == [
        "wamid.OUT1:sent", "wamid.OUT1:delivered", "wamid.OUT1:read"]
    assert read.status == {"message_id": "wamid.OUT1", "state": "read", "error_code": "", "error_title": ""}
    assert failed.status == {"message_id": "wamid.OUT2", "state": "failed", "error_code": "131047",
                             "error_title": "Re-engagement message"}
    assert failed.external_conversation_id == CUSTOMER


def test_changes_for_another_phone_number_are_ignored(adapter):
    assert parse(adapter, "other_number") == []


def test_one_post_with_many_entries_gives_every_event(adapter):
    first = json.loads((FIXTURES / "text.json").read_text())
    second = json.loads((FIXTURES / "reply.json").read_text())
    first["entry"] += second["entry"]
    body = json.dumps(first).encode()
    events = adapter.parse_webhook(CHANNEL, post(body)).events
    assert [e.external_message_id for e in events] == ["wamid.HBgLNzkxNjEyMzQ1NjcVAgASGBQzQUFBQjE=", "wamid.RPL1"]


# ----------------------------------------------------------------------------------------------------- outbound


def test_send_text_posts_the_documented_message_with_the_reply_context(adapter, fake):
    result = adapter.send_text(CHANNEL, conv(), "We are open till 9", reply_to="wamid.IN1", idempotency_key="m1")
    (call,) = fake.api_calls("/messages")
    assert call["method"] == "POST" and call["version"] == "25.0" and call["path"] == f"/{NUMBER}/messages"
    assert call["token"] == TOKEN
    assert call["params"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
                              "type": "text", "text": {"body": "We are open till 9", "preview_url": False},
                              "context": {"message_id": "wamid.IN1"}}
    assert result.external_message_id == fake.sent(CUSTOMER)[0]["id"] and result.external_message_id.startswith(
        "wamid.")


def test_a_long_text_goes_out_in_4096_character_parts(adapter, fake):
    adapter.send_text(CHANNEL, conv(), "word " * 1000, idempotency_key="m1")
    assert [len(m["text"]) <= 4096 for m in fake.sent(CUSTOMER)] == [True, True]


def test_outside_the_24_hour_window_free_form_is_refused_before_any_call(adapter, fake):
    with pytest.raises(errors.WindowClosed, match="24 hours"):
        adapter.send_text(CHANNEL, conv(hours_ago=25), "hello again", idempotency_key="m1")
    with pytest.raises(errors.WindowClosed):
        adapter.send_media(CHANNEL, conv(hours_ago=25), OutboundMedia("image", "a.png", "image/png", b"png"),
                           idempotency_key="m2")
    assert fake.calls == []


def test_a_template_goes_out_outside_the_window_with_its_body_parameters(adapter, fake):
    result = adapter.send_template(CHANNEL, conv(hours_ago=72), Template("order_update", "ru", ("#1234", "today")),
                                   idempotency_key="m1")
    (call,) = fake.api_calls("/messages")
    assert call["params"]["type"] == "template"
    assert call["params"]["template"] == {"name": "order_update", "language": {"code": "ru"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "#1234"}, {"type": "text", "text": "today"}]}]}
    assert result.raw["messages"][0]["message_status"] == "accepted"


def test_graph_re_engagement_error_is_window_closed(adapter, fake):
    fake.fail_next("/messages", status=400, code=131047, message="(#131047) Re-engagement message")
    with pytest.raises(errors.WindowClosed):
        adapter.send_text(CHANNEL, ConvRef(CUSTOMER), "hi", idempotency_key="m1")


def test_media_is_uploaded_then_sent_by_id_with_caption_and_file_name(adapter, fake):
    pdf = b"%PDF-1.4 invoice"
    adapter.send_media(CHANNEL, conv(), OutboundMedia("document", "invoice.pdf", "application/pdf", pdf),
                       caption="your invoice", reply_to="wamid.IN1", idempotency_key="m1")
    upload, send = fake.api_calls(f"/{NUMBER}/")
    assert upload["path"] == f"/{NUMBER}/media"
    assert upload["params"] == {"messaging_product": "whatsapp", "type": "application/pdf"}
    assert upload["files"]["file"][0] == "invoice.pdf" and upload["files"]["file"][2] == pdf
    media_id = send["params"]["document"]["id"]
    assert send["params"]["document"] == {"id": media_id, "caption": "your invoice", "filename": "invoice.pdf"}
    assert send["params"]["context"] == {"message_id": "wamid.IN1"}


def test_a_voice_note_goes_out_as_audio_and_its_caption_as_a_following_text(adapter, fake):
    adapter.send_media(CHANNEL, conv(), OutboundMedia("voice", "note.ogg", "audio/ogg", b"OggS"), caption="listen",
                       idempotency_key="m1")
    audio, text = fake.sent(CUSTOMER)
    assert audio["type"] == "audio" and "caption" not in audio["audio"]
    assert text["type"] == "text" and text["text"] == "listen"


@pytest.mark.parametrize(("status", "code", "expected"), [
    (429, 4, errors.RateLimited),
    (400, 80007, errors.RateLimited),
    (400, 130429, errors.RateLimited),
    (400, 131056, errors.RateLimited),
    (500, 1, errors.TransientError),
    (400, 2, errors.TransientError),
    (503, 131016, errors.TransientError),
    (400, 131026, errors.RecipientUnavailable),
    (401, 190, errors.PermanentError),
    (400, 131051, errors.PermanentError),
])
def test_graph_errors_map_to_channel_errors(adapter, fake, status, code, expected):
    fake.fail_next("/messages", status=status, code=code)
    with pytest.raises(expected) as caught:
        adapter.send_text(CHANNEL, conv(), "hi", idempotency_key="m1")
    assert type(caught.value) is expected or expected is errors.TransientError
    assert TOKEN not in str(caught.value)


def test_an_unknown_token_is_a_permanent_auth_failure(server):
    channel = Channel(**{**CHANNEL.__dict__, "secrets": {**CHANNEL.secrets, "access_token": "revoked"}})
    adapter = WhatsAppAdapter(server.url, "25.0", timeout=5.0)
    with pytest.raises(errors.PermanentError) as caught:
        adapter.send_text(channel, conv(), "hi", idempotency_key="m1")
    assert caught.value.code == "provider_auth_failed"


def test_a_closed_port_is_a_transient_error_without_the_url():
    adapter = WhatsAppAdapter("http://127.0.0.1:9", "25.0", timeout=1.0)
    with pytest.raises(errors.TransientError) as caught:
        adapter.send_text(CHANNEL, conv(), "hi", idempotency_key="m1")
    assert "127.0.0.1" not in str(caught.value) and caught.value.__cause__ is None


# -------------------------------------------------------------------------------------------------- media, setup


def test_fetch_media_resolves_the_url_and_downloads_it_with_the_token(adapter, fake):
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(200))
    fake.add_media("1298765432101", jpeg, "image/jpeg", phone_number_id=NUMBER)
    fetched = adapter.fetch_media(CHANNEL, "1298765432101")
    assert fetched.data == jpeg and fetched.mime_type == "image/jpeg" and fetched.file_name.endswith(".jpg")
    lookup = fake.api_calls("/1298765432101")[0]
    assert lookup["method"] == "GET" and lookup["token"] == TOKEN


def test_fetch_media_of_an_unknown_id_is_a_permanent_error(adapter):
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "404404")


def test_register_webhook_subscribes_the_app_to_the_waba_and_health_reads_the_number(adapter, fake):
    adapter.register_webhook(CHANNEL, "https://example.org/api/webhooks/whatsapp/ch_wa1")
    assert fake.api_calls(f"/{WABA}/subscribed_apps", "POST") and fake.subscriptions[0]["id"] == WABA
    health = adapter.check_health(CHANNEL)
    assert health == {"ok": True, "display_phone_number": "15550001111", "quality_rating": "GREEN",
                      "verified_name": "Zabota shop"}


def test_health_reports_a_provider_error_instead_of_raising(adapter, fake):
    fake.fail_next(f"/{NUMBER}", status=401, code=190, message="Error validating access token")
    health = adapter.check_health(CHANNEL)
    assert health["ok"] is False and "Error validating access token" in health["error"]


def test_capabilities_state_the_window_and_templates():
    assert CAPABILITIES["window_hours"] == 24 and CAPABILITIES["templates"] is True
    assert CAPABILITIES["edit_out"] is False and CAPABILITIES["delete_in"] is True
    assert "templates" in WhatsAppAdapter.capabilities
