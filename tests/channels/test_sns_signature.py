"""SNS message signatures: versions 1 and 2, the canonical strings, certificate URL rules, topic allowlist."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.channels import sns
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.email import EmailAdapter
from chalicelib.domain.model import Channel
from chalicelib.local.fakes.email import Authority, certificate_url, make_authority

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:zabota-inbound-mail"
NOW = datetime.now(UTC).replace(microsecond=0)
SENT_AT = (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def signer() -> Authority:
    return make_authority("sns tests")


@pytest.fixture(scope="module")
def stranger() -> Authority:
    return make_authority("someone else")


class Certificates:
    """An injected fetcher: knows the test certificate at the SNS URL and records every fetch."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem


@pytest.fixture
def certificates(signer: Authority) -> Certificates:
    return Certificates(signer.certificate_pem)


@pytest.fixture
def verifier(certificates: Certificates) -> sns.SignatureVerifier:
    return sns.SignatureVerifier(certificates, clock=lambda: NOW)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def notification(**changes: Any) -> dict[str, Any]:
    return {**fixture("sns_notification.json"), "Timestamp": SENT_AT, **changes}


def confirmation(**changes: Any) -> dict[str, Any]:
    return {**fixture("sns_subscription_confirmation.json"), "Timestamp": SENT_AT, **changes}


def test_the_notification_string_to_sign_lists_its_fields_in_the_documented_order():
    body = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Subject": "S", "Message": "hello",
            "Timestamp": "2024-05-20T10:00:01.123Z", "Signature": "ignored", "SigningCertURL": "ignored"}
    assert sns.string_to_sign(body) == (b"Message\nhello\nMessageId\nm-1\nSubject\nS\n"
                                        b"Timestamp\n2024-05-20T10:00:01.123Z\nTopicArn\narn:t\nType\nNotification\n")


def test_a_notification_without_subject_signs_no_subject_line():
    body = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Message": "hello",
            "Timestamp": "2024-05-20T10:00:01.123Z"}
    assert b"Subject" not in sns.string_to_sign(body)


def test_the_confirmation_string_to_sign_includes_subscribe_url_and_token():
    body = confirmation()
    signed = sns.string_to_sign(body).decode()
    names = [line for line in signed.split("\n") if line in body]
    assert names == ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_notification_signed_with_either_version_verifies(version, signer, verifier):
    verified = verifier.verify(signer.sign(notification(), version=version, region="eu-west-1"))
    assert verified.type == "Notification" and verified.topic_arn == TOPIC
    assert verified.message_id == "2b5a7c1e-0d7f-5a8e-9c1b-7e6f5d4c3b2a"
    assert json.loads(verified.message)["mail"]["messageId"] == "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_subscription_confirmation_signed_with_either_version_verifies(version, signer, verifier):
    verified = verifier.verify(signer.sign(confirmation(), version=version, region="eu-west-1"))
    assert verified.subscribe_url.startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")
    assert verified.token == confirmation()["Token"]


@pytest.mark.parametrize("field", ["Message", "MessageId", "TopicArn", "Timestamp", "Subject"])
def test_changing_any_signed_field_after_signing_is_refused(field, signer, verifier):
    body = signer.sign(notification(), region="eu-west-1")
    body[field] = body[field][:-1] + ("X" if body[field][-1] != "X" else "Y")
    with pytest.raises(errors.Forbidden):
        verifier.verify(body)


def test_a_signature_made_with_another_key_is_refused(stranger, verifier):
    with pytest.raises(errors.Forbidden, match="does not verify"):
        verifier.verify(stranger.sign(notification(), region="eu-west-1"))


def test_a_version_1_signature_presented_as_version_2_is_refused(signer, verifier):
    body = signer.sign(notification(), version="1", region="eu-west-1")
    body["SignatureVersion"] = "2"
    with pytest.raises(errors.Forbidden):
        verifier.verify(body)


@pytest.mark.parametrize("url", [
    "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
    "https://evil.example/SimpleNotificationService-1.pem",
    "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
    "https://user@sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.txt",
    "https://sns.x.amazonaws.com/SimpleNotificationService-1.pem",
    "https://s3.amazonaws.com/sns.eu-west-1.amazonaws.com/cert.pem",
])
def test_a_certificate_outside_the_sns_host_is_refused_before_any_fetch(url, signer, verifier, certificates):
    body = signer.sign(notification(), region="eu-west-1")
    body["SigningCertURL"] = url
    with pytest.raises(errors.Forbidden, match="SigningCertURL"):
        verifier.verify(body)
    assert certificates.fetched == []


def test_the_china_partition_host_is_accepted():
    assert sns.is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", path_suffix=".pem")


def test_the_certificate_is_fetched_once_and_then_cached(signer, verifier, certificates):
    verifier.verify(signer.sign(notification(), region="eu-west-1"))
    verifier.verify(signer.sign(confirmation(), region="eu-west-1"))
    assert certificates.fetched == [certificate_url("eu-west-1")]


def test_a_message_older_than_an_hour_is_refused(signer, certificates):
    late = sns.SignatureVerifier(certificates, clock=lambda: NOW + timedelta(hours=2))
    with pytest.raises(errors.Forbidden, match="too old"):
        late.verify(signer.sign(notification(), region="eu-west-1"))


@pytest.mark.parametrize("version", ["", "3", None])
def test_an_unknown_signature_version_is_refused(version, signer, verifier):
    body = signer.sign(notification(), region="eu-west-1")
    body["SignatureVersion"] = version
    with pytest.raises(errors.Forbidden, match="SignatureVersion"):
        verifier.verify(body)


def test_an_unsigned_message_is_refused(signer, verifier):
    body = signer.sign(notification(), region="eu-west-1")
    body.pop("Signature")
    with pytest.raises(errors.Forbidden, match="not signed"):
        verifier.verify(body)


def test_something_that_is_not_a_certificate_is_refused(signer):
    verifier = sns.SignatureVerifier(lambda url: b"<html>not a cert</html>", clock=lambda: NOW)
    with pytest.raises(errors.Forbidden, match="PEM"):
        verifier.verify(signer.sign(notification(), region="eu-west-1"))


def test_the_production_fetcher_refuses_a_non_sns_url_without_a_request():
    class NoNetwork:
        def get(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no request may be made")

    fetch = sns.https_certificate_fetcher(NoNetwork())
    with pytest.raises(errors.Forbidden):
        fetch("https://evil.example/SimpleNotificationService-1.pem")


# --- the adapter applies the topic allowlist after the signature --------------------------------------------------


def adapter_for(signer: Authority) -> tuple[EmailAdapter, list[str]]:
    confirmed: list[str] = []
    verifier = sns.SignatureVerifier(Certificates(signer.certificate_pem), clock=lambda: NOW)
    return EmailAdapter("eu-west-1", verifier=verifier, confirm_subscription=confirmed.append), confirmed


def channel(topics: str) -> Channel:
    return Channel(id="ch_mail", workspace_id="ws_1", kind="email", name="Support",
                   secrets={"from_address": "support@brand.example", "topic_arns": topics,
                            "webhook_secret": "x"}, settings={})


def post(body: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={"content-type": "text/plain; charset=UTF-8",
                                                  "x-amz-sns-message-type": body["Type"]},
                          query={}, raw_body=json.dumps(body).encode(), received_at=SENT_AT)


def test_a_correctly_signed_message_from_a_topic_not_on_the_allowlist_is_refused(signer):
    adapter, confirmed = adapter_for(signer)
    other = channel("arn:aws:sns:eu-west-1:123456789012:someone-elses-topic")
    with pytest.raises(errors.Forbidden, match="topic"):
        adapter.parse_webhook(other, post(signer.sign(confirmation(), region="eu-west-1")))
    with pytest.raises(errors.Forbidden, match="topic"):
        adapter.parse_webhook(other, post(signer.sign(notification(), region="eu-west-1")))
    assert confirmed == []


def test_a_topic_on_the_allowlist_among_several_is_accepted(signer):
    adapter, confirmed = adapter_for(signer)
    result = adapter.parse_webhook(channel(f"arn:aws:sns:eu-west-1:1:other, {TOPIC}"),
                                   post(signer.sign(confirmation(), region="eu-west-1")))
    assert result.status == 200 and result.events == []
    assert confirmed == [confirmation()["SubscribeURL"]]
