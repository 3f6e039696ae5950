"""EmailAdapter: SES receipts through signed SNS deliveries, MIME parsing, HTML sanitising, threading, attachments,
and sending through SES v2 (the fake over real HTTP with boto3, and once through moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.channels.base import ChannelAdapter, ConvRef, OutboundMedia, WebhookRequest
from chalicelib.channels.email import (
    EmailAdapter,
    header_id,
    mailto,
    message_ids,
    normalize_id,
    parse_mailto,
    reply_subject,
    sanitize_html,
)
from chalicelib.domain.model import Channel, InboundEvent, conversation_id_for
from chalicelib.local.fakes.email import (
    Authority,
    FakeEmail,
    FakeEmailServer,
    make_authority,
    ses_notification,
    sns_envelope,
    subscription_confirmation,
)
from chalicelib.store.files import LocalFileStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:zabota-inbound-mail"
OUR_ADDRESS = "support@brand.example"
CHANNEL = Channel(id="ch_mail1", workspace_id="ws_1", kind="email", name="Brand",
                  secrets={"from_address": OUR_ADDRESS, "topic_arns": TOPIC, "webhook_secret": "w"},
                  settings={"plus_addressing": "true", "from_name": "Brand support"})
ROOT = "CAF=abc123@mail.example.org"
OLGA = ConvRef(ROOT, mailto("olga@example.org", "Where is my order 1234?"))


@pytest.fixture(scope="module")
def signer() -> Authority:
    return make_authority("adapter tests")


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(str(tmp_path / "files"), "test-key", "http://files.test")


class Threads:
    """An in-memory `thread_lookup`: our conversation id -> its root, recording the questions."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []

    def __call__(self, channel: Channel, conversation_id: str) -> str | None:
        self.asked.append(conversation_id)
        return self.known.get(conversation_id)


@pytest.fixture
def threads() -> Threads:
    return Threads({})


@pytest.fixture
def confirmed() -> list[str]:
    return []


@pytest.fixture
def adapter(signer: Authority, store: LocalFileStore, threads: Threads, confirmed: list[str]) -> EmailAdapter:
    return EmailAdapter("eu-west-1", certificate_fetcher=lambda url: signer.certificate_pem,
                        confirm_subscription=confirmed.append, mail_store=lambda: store, thread_lookup=threads)


def raw_mail(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def delivery(body: dict[str, Any]) -> WebhookRequest:
    headers, payload = sns_envelope(body)
    return WebhookRequest(method="POST", headers={k.lower(): v for k, v in headers.items()}, query={},
                          raw_body=payload, request_id="req-1", received_at="2024-05-20T10:01:00.000Z")


def receive(adapter: EmailAdapter, signer: Authority, mime: bytes, **options: Any) -> InboundEvent:
    recipients = options.pop("recipients", [OUR_ADDRESS])
    result = adapter.parse_webhook(CHANNEL, delivery(ses_notification(TOPIC, mime, recipients=recipients,
                                                                      signer=signer, **options)))
    assert result.status == 200
    (event,) = result.events
    return event


# --------------------------------------------------------------------------------------------------- inbound


def test_the_adapter_satisfies_the_channel_protocol(adapter):
    assert isinstance(adapter, EmailAdapter)
    protocol: ChannelAdapter = adapter
    assert protocol.kind == "email" and "reply_to" in protocol.capabilities


def test_a_russian_multipart_mail_becomes_one_message_with_decoded_sender_and_subject(adapter, signer):
    event = receive(adapter, signer, raw_mail("multipart_alternative_ru.eml"), ses_message_id="sesid0001")
    assert event.event_type == "message" and event.channel_kind == "email"
    assert event.sender.display_name == "Ольга Петрова"
    assert event.sender.external_user_id == event.sender.email == "olga@example.org"
    assert event.conversation_title == "Где мой заказ №1234?"
    assert event.text == "Здравствуйте! Заказ №1234 до сих пор не пришёл.\n\nОльга"
    assert event.text_format == "plain"
    assert event.external_event_id == "sesid0001"
    assert event.external_message_id == ROOT and event.external_conversation_id == ROOT
    assert event.occurred_at == "2024-05-20T10:00:00.000Z"
    assert parse_mailto(event.external_thread_id) == ("olga@example.org", "Где мой заказ №1234?")
    assert event.attachments == [] and event.sender.is_bot is False


def test_the_html_part_is_sanitised_before_it_is_kept(adapter, signer):
    from chalicelib.channels.email import parse_mime

    html = parse_mime(raw_mail("multipart_alternative_ru.eml")).html
    assert "<b>Заказ №1234</b>" in html and 'href="https://shop.example/orders/1234"' in html
    for banned in ("<script", "onclick", "onload", "onerror", "javascript:", "<style", "<iframe", "<img", "style="):
        assert banned not in html.lower()


def test_a_mail_encoded_utf8_in_the_notification_parses_like_base64(adapter, signer):
    event = receive(adapter, signer, raw_mail("reply_with_references.eml"), encoding="UTF8")
    assert event.text.startswith("Thank you, it has arrived.")


def test_the_same_mail_redelivered_under_a_new_sns_message_id_keeps_its_dedupe_key(adapter, signer):
    mime = raw_mail("multipart_alternative_ru.eml")
    first = receive(adapter, signer, mime, ses_message_id="sesid0002", sns_message_id="sns-a")
    again = receive(adapter, signer, mime, ses_message_id="sesid0002", sns_message_id="sns-b")
    assert first.dedupe_key == again.dedupe_key == "email#ch_mail1#sesid0002"


def test_a_reply_threads_on_the_first_reference_and_points_at_our_mail(adapter, signer, threads):
    event = receive(adapter, signer, raw_mail("reply_with_references.eml"))
    assert event.external_conversation_id == ROOT
    assert event.reply_to_external_message_id == "0102018f9a1b-out1"  # SES's id as our send returned it
    assert event.external_message_id == "CAF=reply2@mail.example.org"
    assert threads.asked == []  # the root was in the mail: no lookup


def test_a_reply_that_lost_the_root_threads_through_our_plus_address(adapter, signer, threads):
    threads.known["c_0123456789abcdef0123"] = ROOT
    event = receive(adapter, signer, raw_mail("reply_lost_root.eml"),
                    recipients=["support+c_0123456789abcdef0123@brand.example"])
    assert threads.asked == ["c_0123456789abcdef0123"]
    assert event.external_conversation_id == ROOT
    assert event.reply_to_external_message_id == "0102018f9a1b-out1"


def test_a_reply_that_lost_the_root_to_an_unknown_conversation_threads_on_our_mail(adapter, signer, threads):
    event = receive(adapter, signer, raw_mail("reply_lost_root.eml"))
    assert event.external_conversation_id == "0102018f9a1b-out1"


def test_an_html_only_auto_reply_gets_text_from_the_html_and_is_marked_automated(adapter, signer):
    event = receive(adapter, signer, raw_mail("auto_reply_html_only.eml"))
    assert event.text == "I am out of the office\nuntil Monday."
    assert event.sender.is_bot is True


def test_attachments_reference_parts_of_the_kept_mail_and_fetch_back_byte_for_byte(adapter, signer, store):
    mime = raw_mail("attachments.eml")
    event = receive(adapter, signer, mime, ses_message_id="sesattach01")
    pdf, png = event.attachments
    assert (pdf.kind, pdf.mime_type, pdf.file_name) == ("document", "application/pdf", "счёт №1234.pdf")
    assert (png.kind, png.mime_type, png.file_name) == ("image", "image/png", "photo.png")
    assert pdf.file_ref.startswith("mime:sesattach01:") and png.file_ref.startswith("mime:sesattach01:")
    assert event.text == "Please see the invoice and the photo attached."
    assert store.get("mail/ch_mail1/sesattach01.eml")[0] == mime
    fetched = adapter.fetch_media(CHANNEL, pdf.file_ref)
    assert fetched.data == b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" and len(fetched.data) == pdf.size_bytes
    assert fetched.mime_type == "application/pdf" and fetched.file_name == "счёт №1234.pdf"
    image = adapter.fetch_media(CHANNEL, png.file_ref)
    assert image.data.startswith(b"\x89PNG") and len(image.data) == png.size_bytes


def test_a_mail_without_attachments_keeps_nothing_in_the_file_store(adapter, signer, tmp_path):
    receive(adapter, signer, raw_mail("multipart_alternative_ru.eml"), ses_message_id="sesnoatt01")
    assert not (tmp_path / "files" / "mail").exists()


def test_attachments_of_a_mail_that_failed_the_virus_scan_are_not_kept(adapter, signer, tmp_path):
    body = ses_notification(TOPIC, raw_mail("attachments.eml"), recipients=[OUR_ADDRESS], signer=signer)
    message = json.loads(body["Message"])
    message["receipt"]["virusVerdict"] = {"status": "FAIL"}
    body = signer.sign({**body, "Message": json.dumps(message)}, region="eu-west-1")
    (event,) = adapter.parse_webhook(CHANNEL, delivery(body)).events
    assert [a.kind for a in event.attachments] == ["other"] and not event.attachments[0].file_ref
    assert not (tmp_path / "files" / "mail").exists()


@pytest.mark.parametrize("ref", ["mime:../../etc/passwd:1", "mime:sesattach01:x", "telegram-file-id", "mime:a:99"])
def test_fetch_media_refuses_references_it_did_not_make(adapter, signer, ref):
    receive(adapter, signer, raw_mail("attachments.eml"), ses_message_id="a")
    with pytest.raises(errors.PermanentError):
        adapter.fetch_media(CHANNEL, ref)


def test_an_s3_action_notification_without_content_is_acknowledged_with_no_event(adapter, signer):
    body = ses_notification(TOPIC, raw_mail("reply_with_references.eml"), recipients=[OUR_ADDRESS], signer=signer)
    message = json.loads(body["Message"])
    message.pop("content")
    message["receipt"]["action"] = {"type": "S3", "topicArn": TOPIC, "bucketName": "b", "objectKey": "k"}
    result = adapter.parse_webhook(CHANNEL, delivery(signer.sign({**body, "Message": json.dumps(message)},
                                                                 region="eu-west-1")))
    assert result.status == 200 and result.events == []


def test_a_subscription_confirmation_is_confirmed_at_its_subscribe_url(adapter, signer, confirmed):
    body = subscription_confirmation(TOPIC, "token-1", signer=signer)
    result = adapter.parse_webhook(CHANNEL, delivery(body))
    assert result.status == 200 and result.events == []
    assert confirmed == [body["SubscribeURL"]]


def test_a_subscribe_url_outside_sns_is_never_visited(adapter, signer, confirmed):
    body = subscription_confirmation(TOPIC, "token-2", signer=signer)
    body["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription&TopicArn=" + TOPIC
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, delivery(signer.sign(body, region="eu-west-1")))
    assert confirmed == []


def test_an_unsubscribe_confirmation_is_acknowledged(adapter, signer, confirmed):
    body = {**subscription_confirmation(TOPIC, "token-3", signer=signer), "Type": "UnsubscribeConfirmation"}
    result = adapter.parse_webhook(CHANNEL, delivery(signer.sign(body, region="eu-west-1")))
    assert result.status == 200 and result.events == [] and confirmed == []


def test_a_forged_notification_is_refused(adapter):
    forger = make_authority("forger")
    with pytest.raises(errors.Forbidden):
        receive(adapter, forger, raw_mail("multipart_alternative_ru.eml"))


def test_a_message_type_header_that_contradicts_the_body_is_refused(adapter, signer):
    request = delivery(subscription_confirmation(TOPIC, "token-4", signer=signer))
    lying = WebhookRequest(request.method, {**request.headers, "x-amz-sns-message-type": "Notification"}, {},
                           request.raw_body)
    with pytest.raises(errors.Forbidden):
        adapter.parse_webhook(CHANNEL, lying)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"Type": "Surprise"}'])
def test_a_body_that_is_not_an_sns_delivery_is_invalid_input(adapter, body):
    with pytest.raises(errors.InvalidInput):
        adapter.parse_webhook(CHANNEL, WebhookRequest("POST", {}, {}, body))


# --------------------------------------------------------------------------------------------- HTML and ids


@pytest.mark.parametrize("dirty", [
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  JAVA&#x09;SCRIPT:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<p onmouseover="alert(1)">x</p>',
    '<script>alert(1)</script>',
    '<svg><script>alert(1)</script></svg>',
    '<img src=x onerror=alert(1)>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<style>@import "javascript:alert(1)";</style>',
])
def test_the_sanitiser_leaves_nothing_that_can_run(dirty):
    clean = sanitize_html(dirty).lower()
    for banned in ("javascript", "vbscript", "data:", "<script", "onmouseover", "onerror", "<img", "<iframe",
                   "style", "<svg", "alert"):
        assert banned not in clean, (dirty, clean)


def test_the_sanitiser_keeps_text_escaped_and_closes_what_it_opened():
    assert sanitize_html("<p>1 &lt; 2 <b>bold <i>both</p> after") == "<p>1 &lt; 2 <b>bold <i>both</i></b></p> after"


def test_the_sanitiser_keeps_safe_links_with_rel_and_drops_unknown_attributes():
    assert sanitize_html('<a href="https://x.example/?a=1&amp;b=2" target="_blank" class="c">x</a>') == (
        '<a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer nofollow">x</a>')


def test_message_ids_are_stored_without_brackets_and_ses_ids_by_their_local_part():
    assert message_ids("<a@b.example>\r\n <0102018f-x@eu-west-1.amazonses.com> <a@b.example>") == [
        "a@b.example", "0102018f-x"]
    assert normalize_id(" <0102018f-x@email.amazonses.com> ") == "0102018f-x"
    assert header_id("0102018f-x", "eu-west-1.amazonses.com") == "<0102018f-x@eu-west-1.amazonses.com>"
    assert header_id("a@b.example", "eu-west-1.amazonses.com") == "<a@b.example>"
    assert normalize_id("<" + "x" * 600 + "@y>").startswith("h:")


@pytest.mark.parametrize(("subject", "expected"), [
    ("Where is my order?", "Re: Where is my order?"), ("Re: RE: Re[2]: Order", "Re: Order"),
    ("Ре: Заказ", "Re: Заказ"), ("AW: Bestellung", "Re: Bestellung"),
])
def test_the_reply_subject_gets_exactly_one_re_prefix(subject, expected):
    assert reply_subject(subject) == expected


# --------------------------------------------------------------------------------------------------- outbound


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEmailServer]:
    with FakeEmailServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield server


@pytest.fixture
def outbox(ses: FakeEmailServer) -> FakeEmail:
    return ses.fake


def test_a_reply_goes_out_as_raw_mime_with_threading_headers(adapter, outbox):
    result = adapter.send_text(CHANNEL, OLGA, "Здравствуйте! Мы уже проверяем.", idempotency_key="m00001")
    (mail,) = outbox.sent()
    assert result.external_message_id == mail.message_id
    assert result.raw["message_id_header"] == f"<{mail.message_id}@eu-west-1.amazonses.com>"
    request = outbox.calls[0]["request"]
    assert request["FromEmailAddress"] == OUR_ADDRESS and request["Destination"] == {"ToAddresses": [
        "olga@example.org"]}
    message = mail.message
    assert str(message["From"]) == f"Brand support <{OUR_ADDRESS}>" and str(message["To"]) == "olga@example.org"
    assert str(message["Subject"]) == "Re: Where is my order 1234?"
    assert str(message["In-Reply-To"]) == f"<{ROOT}>" and str(message["References"]) == f"<{ROOT}>"
    assert str(message["Message-ID"]) == f"<{mail.message_id}@eu-west-1.amazonses.com>"  # SES replaced ours
    conv_id = conversation_id_for("ws_1", "ch_mail1", ROOT)
    assert str(message["Reply-To"]) == f"support+{conv_id}@brand.example"
    assert mail.text == "Здравствуйте! Мы уже проверяем."
    assert ROOT in mail.thread_ids


def test_a_quoted_reply_points_in_reply_to_at_the_quoted_mail_and_keeps_the_root_first(adapter, outbox):
    adapter.send_text(CHANNEL, OLGA, "See above", reply_to="0102018f9a1b-out1", idempotency_key="m00002")
    message = outbox.sent()[0].message
    assert str(message["In-Reply-To"]) == "<0102018f9a1b-out1@eu-west-1.amazonses.com>"
    assert message_ids(str(message["References"])) == [ROOT, "0102018f9a1b-out1"]


def test_a_long_root_message_id_is_not_mangled_by_header_folding(adapter, outbox):
    root = "CAOb" + "q" * 150 + "@mail.gmail.com"
    adapter.send_text(CHANNEL, ConvRef(root, OLGA.external_thread_id), "hi", idempotency_key="m00003")
    assert outbox.sent()[0].thread_ids == [root]
    assert b"=?" not in outbox.sent()[0].raw.split(b"\r\n\r\n")[0].split(b"References:")[1][:200]


def test_without_plus_addressing_there_is_no_reply_to_header(adapter, outbox):
    plain = Channel(**{**CHANNEL.__dict__, "settings": {}})
    adapter.send_text(plain, OLGA, "hi", idempotency_key="m00004")
    assert outbox.sent()[0].message["Reply-To"] is None


def test_media_is_sent_as_an_attachment_of_one_mail_with_the_caption_as_body(adapter, outbox):
    media = OutboundMedia(kind="document", file_name="накладная.pdf", mime_type="application/pdf", data=b"%PDF-1.7")
    adapter.send_media(CHANNEL, OLGA, media, caption="The invoice", idempotency_key="m00005-0")
    (mail,) = outbox.sent()
    assert mail.text == "The invoice" and mail.attachment_names == ["накладная.pdf"]
    (part,) = mail.message.iter_attachments()
    assert part.get_content() == b"%PDF-1.7"


@pytest.mark.parametrize(("status", "code", "error"), [
    (429, "TooManyRequestsException", errors.RateLimited),
    (400, "MessageRejected", errors.PermanentError),
    (400, "MailFromDomainNotVerifiedException", errors.PermanentError),
    (400, "SendingPausedException", errors.PermanentError),
    (500, "InternalFailure", errors.TransientError),
    (503, "ServiceUnavailable", errors.TransientError),
])
def test_ses_errors_map_to_channel_errors(adapter, outbox, status, code, error):
    outbox.fail_next(status=status, code=code)
    with pytest.raises(error) as raised:
        adapter.send_text(CHANNEL, OLGA, "hi", idempotency_key="m00006")
    assert type(raised.value) is error
    assert code in raised.value.message and "olga" not in raised.value.message
    assert outbox.sent() == []


def test_an_unreachable_ses_endpoint_is_a_transient_error(adapter, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(errors.TransientError):
        adapter.send_text(CHANNEL, OLGA, "hi", idempotency_key="m00007")


def test_a_conversation_without_an_address_is_refused_before_calling_ses(adapter, outbox):
    with pytest.raises(errors.PermanentError, match="recipient"):
        adapter.send_text(CHANNEL, ConvRef(ROOT), "hi", idempotency_key="m00008")
    assert outbox.calls == []


def test_health_reports_the_sending_domain_verified(adapter, outbox):
    health = adapter.check_health(CHANNEL)
    assert health == {"ok": True, "from_domain": "brand.example", "verified_for_sending": True, "topics": [TOPIC]}


def test_connecting_a_channel_without_topics_is_refused(adapter):
    bare = Channel(**{**CHANNEL.__dict__, "secrets": {"from_address": OUR_ADDRESS}})
    with pytest.raises(errors.InvalidInput, match="topic_arns"):
        adapter.register_webhook(bare, "https://zabota.example/api/webhooks/email/ch_mail1")


def test_the_same_call_shape_is_accepted_by_moto_ses_v2(adapter, monkeypatch):
    """moto implements SES v2 from the AWS model: the raw send and its MessageId work against it too."""
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    monkeypatch.delenv("AWS_ENDPOINT_URL_SESV2", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        with pytest.raises(errors.PermanentError, match="MessageRejected"):  # not verified yet
            adapter.send_text(CHANNEL, OLGA, "hi", idempotency_key="m00009")
        boto3.client("sesv2", region_name="eu-west-1").create_email_identity(EmailIdentity="brand.example")
        result = adapter.send_text(CHANNEL, OLGA, "Hello from moto", idempotency_key="m00010")
        (sent,) = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
        assert sent.id == result.external_message_id
        assert f"In-Reply-To: <{ROOT}>" in sent.raw_data and "olga@example.org" in sent.destinations[0]


def test_a_mail_with_a_broken_from_header_is_answered_to_the_envelope_sender(adapter, signer):
    mime = raw_mail("reply_with_references.eml").replace(b"From: Olga <olga@example.org>", b"From: undisclosed")
    body = ses_notification(TOPIC, mime, recipients=[OUR_ADDRESS], signer=signer)
    message = json.loads(body["Message"])
    message["mail"]["source"] = "Bounce-Olga@Example.org"
    (event,) = adapter.parse_webhook(CHANNEL, delivery(signer.sign({**body, "Message": json.dumps(message)},
                                                                   region="eu-west-1"))).events
    assert event.sender.external_user_id == "bounce-olga@example.org"
    assert parse_mailto(event.external_thread_id)[0] == "bounce-olga@example.org"
