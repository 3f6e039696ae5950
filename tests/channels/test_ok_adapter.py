"""OKAdapter against the fake OK Bot API over real HTTP: URL-token authentication, fetch-back, parsing, sending,
uploads, errors, subscription and health."""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from chalicelib import errors
from chalicelib.channels.base import ChannelAdapter, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.ok import OKAdapter, with_url_token
from chalicelib.domain.model import Channel
from chalicelib.local.fakes.ok import FakeOK, FakeOKServer, customer_view, simulate_customer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ok"
TOKEN = "tkn1TestGroupToken:CQABPOJKAKEKEKEKE"
SECRET = "k-7Yx2d9QzT1mNcV8bR4sL0pW6eH3fJ5aG2uK9iO1yEq"
PUBLIC = "https://zabota.example"
CHANNEL = Channel(id="ch_ok1", workspace_id="ws_1", kind="ok", name="OK group",
                  secrets={"access_token": TOKEN, "webhook_secret": SECRET}, settings={})
CHAT = "chat:C3ecb9d02a600"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def server() -> Iterator[FakeOKServer]:
    with FakeOKServer() as running:
        running.fake.add_group(TOKEN, "group:57000000000042", "Shop")
        yield running


@pytest.fixture
def fake(server: FakeOKServer) -> FakeOK:
    return server.fake


@pytest.fixture
def adapter(server: FakeOKServer) -> OKAdapter:
    return OKAdapter(server.url, PUBLIC, timeout=5.0, attachment_wait=0.0)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def webhook(payload: dict | bytes, k: str | None = SECRET, source_ip: str = "217.20.145.200") -> WebhookRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return WebhookRequest(method="POST", headers={"content-type": "application/json;charset=utf-8"},
                          query={"k": k} if k is not None else {}, raw_body=body, request_id="req-1",
                          received_at="2024-05-20T10:20:00.000Z", source_ip=source_ip)


def known(fake: FakeOK, name: str, sender_name: str = "Olga Petrova") -> dict:
    """A documented payload that is also a real message of the group's chat (so fetch-back finds it)."""
    payload = fixture(name)
    fake.add_chat_message(TOKEN, payload, sender_name)
    return payload


def assert_token_free(exc: BaseException) -> None:
    assert TOKEN not in str(exc)
    assert TOKEN not in "".join(traceback.format_exception(exc))


# ------------------------------------------------------------------------------------------------------ inbound


def test_the_adapter_satisfies_the_channel_protocol(adapter):
    assert isinstance(adapter, OKAdapter)
    protocol_methods = [m for m in vars(ChannelAdapter) if not m.startswith("_") and callable(getattr(
        ChannelAdapter, m))]
    assert all(callable(getattr(adapter, m)) for m in protocol_methods)


def test_a_documented_text_message_becomes_one_event_with_the_fetched_back_sender_name(adapter, fake):
    known(fake, "text")
    result = adapter.parse_webhook(CHANNEL, webhook(fixture("text")))
    assert (result.status, result.body) == (200, "")
    (event,) = result.events
    assert event.channel_kind == "ok" and event.event_type == "message"
    assert event.external_event_id == event.external_message_id == "mid:C3ecb9d02a600.15cea67d78d2059"
    assert event.dedupe_key == "ok#ch_ok1#mid:C3ecb9d02a600.15cea67d78d2059"
    assert event.external_conversation_id == CHAT and event.surface == "private"
    assert event.sender.external_user_id == "user:567890123456" and event.sender.display_name == "Olga Petrova"
    assert event.text == "Good afternoon, I need help with a return"
    assert event.occurred_at == "2024-05-20T10:13:20.000Z"
    assert event.correlation_id == "req-1"


@pytest.mark.parametrize("k", [None, "", "wrong", SECRET[:-1]])
def test_a_missing_or_wrong_url_token_is_forbidden_before_anything_else(adapter, fake, k):
    known(fake, "text")
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, webhook(fixture("text"), k=k))
    assert fake.calls == []


def test_a_chat_the_group_cannot_read_is_forbidden(adapter, fake):
    payload = fixture("text")  # never written to the group: OK does not know this chat for our token
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, webhook(payload))
    assert [c["name"] for c in fake.calls] == ["messages"]


def test_a_message_id_the_chat_does_not_hold_is_forbidden(adapter, fake):
    known(fake, "text")
    forged = fixture("text")
    forged["message"]["mid"] = "mid:C3ecb9d02a600.forged000000"
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, webhook(forged))


def test_the_chat_is_fetched_back_once_then_trusted_for_the_life_of_the_process(adapter, fake):
    known(fake, "text")
    known(fake, "image")
    adapter.parse_webhook(CHANNEL, webhook(fixture("text")))
    (event,) = adapter.parse_webhook(CHANNEL, webhook(fixture("image"))).events
    assert len(fake.calls_of("messages")) == 1
    assert event.sender.display_name == "Olga Petrova"


def test_when_ok_cannot_answer_the_fetch_back_the_url_token_alone_admits_the_message(adapter, fake):
    fake.fail_next("messages", status=502)
    (event,) = adapter.parse_webhook(CHANNEL, webhook(fixture("text"))).events
    assert event.sender.display_name == ""
    known(fake, "image")
    adapter.parse_webhook(CHANNEL, webhook(fixture("image")))
    assert len(fake.calls_of("messages")) == 2  # not remembered as verified: checked again next time


def test_an_image_attachment_keeps_its_url_for_the_stream_to_fetch(adapter, fake):
    known(fake, "image")
    (event,) = adapter.parse_webhook(CHANNEL, webhook(fixture("image"))).events
    assert event.text == ""
    (att,) = event.attachments
    assert att.kind == "image" and att.url == att.file_ref == "https://i.mycdn.me/image?id=1"


def test_file_audio_and_video_attachments_map_to_our_kinds(adapter, fake):
    known(fake, "attachments")
    (event,) = adapter.parse_webhook(CHANNEL, webhook(fixture("attachments"))).events
    assert [a.kind for a in event.attachments] == ["document", "audio", "video"]
    assert event.text == "the receipt and a voice note"


def test_a_shared_link_is_kept_in_the_text_not_as_a_file(adapter, fake):
    known(fake, "share")
    (event,) = adapter.parse_webhook(CHANNEL, webhook(fixture("share"))).events
    assert event.attachments == [] and event.text == "look at this\nhttps://ya.ru/"


def test_a_payload_without_a_new_message_is_acknowledged_with_no_event(adapter, fake):
    result = adapter.parse_webhook(CHANNEL, webhook(fixture("chat_system")))
    assert result.status == 200 and result.events == []
    assert fake.calls == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_malformed_json_is_invalid_input(adapter, body):
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, webhook(body))


def test_a_recipient_that_is_not_a_chat_id_is_invalid_input(adapter, fake):
    payload = fixture("text")
    payload["recipient"] = {"chat_id": "../../graph/me/subscribe"}
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, webhook(payload))
    assert fake.calls == []


def test_a_source_ip_outside_oks_ranges_is_logged_but_admitted(adapter, fake, caplog):
    known(fake, "text")
    result = adapter.parse_webhook(CHANNEL, webhook(fixture("text"), source_ip="203.0.113.9"))
    assert len(result.events) == 1
    assert [r.source_ip for r in caplog.records if hasattr(r, "source_ip")] == ["203.0.113.9"]
    caplog.clear()
    adapter.parse_webhook(CHANNEL, webhook(fixture("text"), source_ip="217.20.153.50"))
    assert [r.source_ip for r in caplog.records if hasattr(r, "source_ip")] == []


# ----------------------------------------------------------------------------------------------------- outbound


def test_send_text_posts_the_documented_body_to_the_chat(adapter, fake):
    known(fake, "text")
    result = adapter.send_text(CHANNEL, ConvRef(CHAT), "Hello! We will check your return.", reply_to="x",
                               idempotency_key="m1")
    (call,) = fake.calls_of("send")
    assert call["http"] == "POST" and call["method"] == "messages" and call["arg"] == CHAT
    assert call["token"] == TOKEN
    assert call["body"] == {"recipient": {"chat_id": CHAT}, "message": {"text": "Hello! We will check your return."}}
    (sent,) = fake.sent(CHAT)
    assert result.external_message_id == sent["mid"]


def test_send_media_uploads_the_file_then_sends_its_token(adapter, fake):
    known(fake, "text")
    media = OutboundMedia(kind="image", file_name="box.png", mime_type="image/png", data=PNG)
    result = adapter.send_media(CHANNEL, ConvRef(CHAT), media, caption="your box", idempotency_key="m2-0")
    assert fake.calls_of("fileUploadUrl")[0]["params"] == {"type": "IMAGE"}
    (upload,) = fake.calls_of("upload")
    assert upload["file"] == {"name": "box.png", "mime_type": "image/png", "size": len(PNG)}
    (send,) = fake.calls_of("send")
    assert send["body"]["message"]["attachment"]["type"] == "IMAGE"
    assert send["body"]["message"]["text"] == "your box"
    (sent,) = fake.sent(CHAT)
    assert sent["attachments"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert result.external_message_id == sent["mid"]


def test_a_document_goes_out_as_a_file_attachment(adapter, fake):
    known(fake, "text")
    media = OutboundMedia(kind="document", file_name="invoice.pdf", mime_type="application/pdf", data=b"%PDF-1.4")
    adapter.send_media(CHANNEL, ConvRef(CHAT), media, idempotency_key="m3-0")
    assert fake.calls_of("fileUploadUrl")[0]["params"] == {"type": "FILE"}
    assert "text" not in fake.calls_of("send")[0]["body"]["message"]


def test_typing_sends_the_typing_on_sender_action(adapter, fake):
    known(fake, "text")
    adapter.typing(CHANNEL, ConvRef(CHAT))
    (call,) = fake.calls_of("typing_on")
    assert call["body"] == {"recipient": {"chat_id": CHAT}, "sender_action": "typing_on"}


def test_429_is_rate_limited_with_retry_after(adapter, fake):
    known(fake, "text")
    fake.fail_next("send", status=429, retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        adapter.send_text(CHANNEL, ConvRef(CHAT), "hi", idempotency_key="m4")
    assert caught.value.retry_after == 7.0
    assert_token_free(caught.value)


def test_5xx_is_transient_and_a_bad_token_is_permanent_and_neither_leaks_the_token(adapter, fake):
    known(fake, "text")
    fake.fail_next("send", status=503)
    with pytest.raises(errors.TransientError) as transient:
        adapter.send_text(CHANNEL, ConvRef(CHAT), "hi", idempotency_key="m5")
    assert not isinstance(transient.value, errors.RateLimited)
    assert_token_free(transient.value)
    revoked = Channel(**{**CHANNEL.__dict__, "secrets": {"access_token": "tkn1revoked", "webhook_secret": SECRET}})
    with pytest.raises(errors.PermanentError) as permanent:
        adapter.send_text(revoked, ConvRef(CHAT), "hi", idempotency_key="m6")
    assert "tkn1revoked" not in "".join(traceback.format_exception(permanent.value))


def test_a_chat_that_is_gone_makes_the_recipient_unavailable(adapter):
    with pytest.raises(errors.RecipientUnavailable):
        adapter.send_text(CHANNEL, ConvRef("chat:Cdeleted0000"), "hi", idempotency_key="m7")


def test_a_provider_that_is_down_is_transient(fake):
    down = OKAdapter("http://127.0.0.1:9", PUBLIC, timeout=1.0)
    with pytest.raises(errors.TransientError) as caught:
        down.send_text(CHANNEL, ConvRef(CHAT), "hi", idempotency_key="m8")
    assert_token_free(caught.value)


# ------------------------------------------------------------------------------------------- files and setup


def test_an_inbound_file_is_downloaded_from_its_url_without_the_token(adapter, fake):
    url = fake.add_media(PNG, "image/png", ".png")
    fetched = adapter.fetch_media(CHANNEL, url)
    assert fetched.data == PNG and fetched.mime_type == "image/png" and fetched.file_name.endswith(".png")
    (call,) = fake.calls_of("media")
    assert call["token"] == ""
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, url.rsplit("/", 1)[0] + "/missing.png")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, "file:///etc/passwd")


def test_register_webhook_subscribes_our_url_with_the_token_and_keeps_it_without(adapter, fake):
    url = f"{PUBLIC}/api/webhooks/ok/{CHANNEL.id}"
    kept = adapter.register_webhook(CHANNEL, url)
    assert kept == {"webhook_url": url}
    assert fake.subscriptions(TOKEN) == [with_url_token(url, SECRET)]
    assert fake.calls_of("subscribe")[0]["body"] == {"url": f"{url}?k={SECRET}"}


def test_health_is_ok_while_subscribed_and_resubscribes_when_ok_dropped_us(adapter, fake):
    adapter.register_webhook(CHANNEL, f"{PUBLIC}/api/webhooks/ok/{CHANNEL.id}")
    health = adapter.check_health(CHANNEL)
    assert health["ok"] is True and health["webhook"] == "subscribed"
    fake.drop_subscriptions(TOKEN)
    again = adapter.check_health(CHANNEL)
    assert again["ok"] is True and again["webhook"] == "resubscribed"
    assert fake.subscriptions(TOKEN) == [f"{PUBLIC}/api/webhooks/ok/{CHANNEL.id}?k={SECRET}"]
    assert SECRET not in json.dumps(again) and TOKEN not in json.dumps(again)


def test_health_reports_a_failure_without_the_token(adapter, fake):
    fake.fail_next("subscriptions", status=500)
    health = adapter.check_health(CHANNEL)
    assert health["ok"] is False and TOKEN not in json.dumps(health)


# ------------------------------------------------------------------------------------------ customer simulator


def test_a_simulated_customer_message_passes_the_adapters_checks_and_the_customer_sees_the_answer(adapter, fake):
    simulated = simulate_customer(CHANNEL, user_id="5550001", name="Anna", text="Is the shop open?")
    request = WebhookRequest(method=simulated.method, headers={k.lower(): v for k, v in simulated.headers.items()},
                             query=dict(parse_qsl(simulated.query)), raw_body=simulated.body)
    (event,) = adapter.parse_webhook(CHANNEL, request).events
    assert event.text == "Is the shop open?" and event.sender.display_name == "Anna"
    assert event.external_conversation_id == simulated.external_conversation_id
    adapter.send_text(CHANNEL, ConvRef(event.external_conversation_id), "Yes, until 20:00", idempotency_key="m9")
    assert [m["text"] for m in customer_view(fake, event.external_conversation_id)] == ["Yes, until 20:00"]
