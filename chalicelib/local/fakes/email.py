"""A fake of the AWS side of e-mail: the SES v2 endpoint we send through and the SNS topic that delivers mail.

`FakeEmail.handle(method, path, headers, body)` serves, under the runner's `/_fake/email` prefix (which is
`AWS_ENDPOINT_URL_SESV2` in embedded mode, so boto3's real `sesv2` client talks to it):

- `POST /v2/email/outbound-emails`: SES v2 `SendEmail` (JSON, `Content.Raw.Data` base64). The mail is kept as
  the customer would receive it: SES's own `Message-ID` `<{MessageId}@{region}.amazonses.com>` replaces ours.
  Errors come back as SES does (`x-amzn-ErrorType` header, HTTP 4xx/5xx) when queued with `fail_next`.
- `GET /v2/email/identities/{identity}`: `GetEmailIdentity` (always verified).
- `GET /SimpleNotificationService-*.pem`: the signing certificate of the fake SNS.
- `GET /?Action=ConfirmSubscription&TopicArn=&Token=`: what SNS's `SubscribeURL` does.
- `GET /_sent`, `POST /_reset`: introspection for the simulator and tests.

The fake SNS signs with a key and certificate (issued by its own test CA) made once per process, and names the
certificate by an ordinary `https://sns.<region>.amazonaws.com/...pem` URL. The e-mail adapter accepts only such
URLs, in embedded mode too; `embedded_sns_hooks` gives it a fetcher and a confirmer that take the same path
from this fake instead of from AWS.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chalicelib.channels import email as mail_adapter
from chalicelib.channels import sns
from chalicelib.local.fakes.server import FakeServer

Json = dict[str, Any]
Response = tuple[int, dict[str, str], bytes]

CERT_NAME = "SimpleNotificationService-zabota-fake.pem"
DEFAULT_REGION = "us-east-1"
_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


# -------------------------------------------------------------------------------------------- the fake SNS key


@dataclass(frozen=True)
class Authority:
    """A test CA and the SNS signing certificate it issued (PEM), with the signing key."""

    key: Any
    certificate_pem: bytes
    ca_pem: bytes

    def sign(self, body: Json, *, version: str = "2", region: str = DEFAULT_REGION) -> Json:
        """`body` with SignatureVersion, SigningCertURL and Signature set as SNS does."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signed = {**body, "SignatureVersion": version, "SigningCertURL": certificate_url(region)}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns.string_to_sign(signed), padding.PKCS1v15(), digest)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


def make_authority(common_name: str = "Zabota fake SNS") -> Authority:
    """A fresh CA and signing certificate (tests make their own; embedded mode uses `authority()`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .sign(ca_key, hashes.SHA256()))
    return Authority(key=key, certificate_pem=leaf.public_bytes(serialization.Encoding.PEM),
                     ca_pem=ca.public_bytes(serialization.Encoding.PEM))


@lru_cache(maxsize=1)
def authority() -> Authority:
    """The fake SNS's key for this process (never a key from the source tree)."""
    return make_authority()


def certificate_url(region: str = DEFAULT_REGION) -> str:
    return f"https://sns.{region}.amazonaws.com/{CERT_NAME}"


def region_of(topic_arn: str) -> str:
    parts = topic_arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] else DEFAULT_REGION


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------- SNS deliveries we make


def sns_envelope(body: Json) -> tuple[dict[str, str], bytes]:
    """Headers and body of SNS's HTTP POST for a signed message."""
    headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": body["Type"],
               "x-amz-sns-message-id": body["MessageId"], "x-amz-sns-topic-arn": body["TopicArn"]}
    return headers, json.dumps(body).encode()


def subscription_confirmation(topic_arn: str, token: str, *, signer: Authority | None = None,
                              version: str = "2") -> Json:
    region = region_of(topic_arn)
    query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token})
    body = {"Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": token,
            "TopicArn": topic_arn, "Timestamp": _timestamp(),
            "Message": f"You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, "
                       "visit the SubscribeURL included in this message.",
            "SubscribeURL": f"https://sns.{region}.amazonaws.com/?{query}"}
    return (signer or authority()).sign(body, version=version, region=region)


def ses_notification(topic_arn: str, raw_mime: bytes, *, recipients: list[str], ses_message_id: str = "",
                     encoding: str = "BASE64", signer: Authority | None = None, version: str = "2",
                     sns_message_id: str = "") -> Json:
    """A signed SNS Notification carrying an SES receipt (action SNS) with the raw MIME as content."""
    ses_id = ses_message_id or new_ses_id()
    parsed = BytesParser(policy=policy.default).parsebytes(raw_mime)
    content = base64.b64encode(raw_mime).decode() if encoding == "BASE64" else raw_mime.decode("utf-8", "replace")
    received = _timestamp()
    message = {
        "notificationType": "Received",
        "mail": {"timestamp": received, "source": str(parsed.get("from", "")), "messageId": ses_id,
                 "destination": recipients, "headersTruncated": False,
                 "headers": [{"name": k, "value": str(v)} for k, v in parsed.items()],
                 "commonHeaders": {"from": [str(parsed.get("from", ""))], "to": recipients,
                                   "messageId": str(parsed.get("message-id", "")),
                                   "subject": str(parsed.get("subject", ""))}},
        "receipt": {"timestamp": received, "processingTimeMillis": 250, "recipients": recipients,
                    "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                    "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                    "dmarcVerdict": {"status": "PASS"},
                    "action": {"type": "SNS", "topicArn": topic_arn, "encoding": encoding}},
        "content": content,
    }
    body = {"Type": "Notification", "MessageId": sns_message_id or str(uuid.uuid4()), "TopicArn": topic_arn,
            "Subject": "Amazon SES Email Receipt Notification", "Message": json.dumps(message),
            "Timestamp": received}
    return (signer or authority()).sign(body, version=version, region=region_of(topic_arn))


def new_ses_id() -> str:
    return secrets.token_hex(20)[:40]


@dataclass(frozen=True)
class MailAttachment:
    file_name: str
    mime_type: str
    data: bytes


def customer_mime(*, from_address: str, name: str, to: str, subject: str, text: str, html: str = "",
                  message_id: str = "", in_reply_to: str = "", references: list[str] | None = None,
                  attachments: list[MailAttachment] | None = None) -> bytes:
    """A customer's mail as their client would send it (ids in header form, `<...>`)."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{from_address}>" if name else from_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id or f"<sim-{secrets.token_hex(8)}@customer.example>"
    if in_reply_to:
        msg.set_raw("In-Reply-To", in_reply_to)
    if references:
        msg.set_raw("References", "\n ".join(references))
    msg.set_content(text, charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments or []:
        maintype, _, subtype = item.mime_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.file_name)
    return msg.as_bytes(policy=mail_adapter.SMTP_POLICY)


# ------------------------------------------------------------------------------------------------- the SES side


@dataclass
class SentMail:
    message_id: str  # SES MessageId
    region: str
    from_address: str
    to: list[str]
    raw: bytes  # as delivered: SES's Message-ID in place of ours
    at: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)  # type: ignore[return-value]

    @property
    def message_id_header(self) -> str:
        return self.headers.get("message-id", "")

    @property
    def thread_ids(self) -> list[str]:
        """Normalised ids of References and In-Reply-To (what a client threads on)."""
        ids = mail_adapter.message_ids(self.headers.get("references"))
        return ids + [i for i in mail_adapter.message_ids(self.headers.get("in-reply-to")) if i not in ids]

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content().strip() if body is not None else ""

    @property
    def attachment_names(self) -> list[str]:
        return [str(p.get_filename() or "") for p in self.message.iter_attachments()]


@dataclass
class _Failure:
    status: int
    code: str
    remaining: int


_DELIVERED: dict[str, SentMail] = {}  # every fake's sent mail by SES id: customers of the simulator reply to them
_delivered_lock = threading.Lock()


class FakeEmail:
    """SES v2 outbox + SNS topic owner for embedded mode and tests."""

    def __init__(self) -> None:
        self.outbox: list[SentMail] = []
        self.confirmed: list[tuple[str, str]] = []  # (topic ARN, token)
        self.calls: list[Json] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- test controls

    def fail_next(self, status: int = 429, code: str = "TooManyRequestsException", times: int = 1) -> None:
        with self._lock:
            self._failures.append(_Failure(status, code, times))

    def reset(self) -> None:
        with self._lock:
            self.outbox.clear()
            self.confirmed.clear()
            self.calls.clear()
            self._failures.clear()

    def sent(self, to: str | None = None) -> list[SentMail]:
        with self._lock:
            return [m for m in self.outbox if to is None or to.lower() in m.to]

    def in_thread(self, external_conversation_id: str) -> list[SentMail]:
        return [m for m in self.sent() if external_conversation_id in m.thread_ids]

    # ------------------------------------------------------------------------------------------------- HTTP

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(path)
        route = parts.path.rstrip("/") or "/"
        if method == "POST" and route == "/v2/email/outbound-emails":
            return self._send_email(headers, body)
        if method == "GET" and route.startswith("/v2/email/identities/"):
            return _json(200, {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True,
                               "VerificationStatus": "SUCCESS", "DkimAttributes": {"Status": "SUCCESS"}})
        if method == "GET" and route == f"/{CERT_NAME}":
            return 200, {"Content-Type": "application/x-x509-ca-cert"}, authority().certificate_pem
        if method == "GET" and route == "/":
            return self._confirm(parse_qs(parts.query))
        if method == "GET" and route == "/_sent":
            return _json(200, {"items": [_sent_json(m) for m in self.sent()]})
        if method == "POST" and route == "/_reset":
            self.reset()
            return _json(200, {"ok": True})
        return _error(404, "NotFoundException", f"no fake route {method} {route}")

    def _send_email(self, headers: dict[str, str], body: bytes) -> Response:
        try:
            request = json.loads(body)
            raw = base64.b64decode(request["Content"]["Raw"]["Data"], validate=True)
        except (ValueError, KeyError, TypeError):
            return _error(400, "BadRequestException", "Content.Raw.Data is required")
        self.calls.append({"operation": "SendEmail", "request": request})
        failure = self._take_failure()
        if failure is not None:
            return _error(failure.status, failure.code, "fake failure")
        region = _request_region(headers)
        ses_id = f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"
        delivered = _as_delivered(raw, ses_id, region)
        if delivered is None:
            return _error(400, "MessageRejected", "Email address is not verified or the message is malformed")
        recipients = request.get("Destination", {}).get("ToAddresses") or _addresses(delivered, "to")
        sender = request.get("FromEmailAddress") or _addresses(delivered, "from")[0]
        mail = SentMail(ses_id, region, str(sender).lower(), [str(r).lower() for r in recipients],
                        delivered.as_bytes(policy=mail_adapter.SMTP_POLICY), _timestamp(),
                        {k.lower(): str(v) for k, v in delivered.items()})
        with self._lock:
            self.outbox.append(mail)
        with _delivered_lock:
            _DELIVERED[ses_id] = mail
        return _json(200, {"MessageId": ses_id})

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.pop(0)
            return failure

    def _confirm(self, query: dict[str, list[str]]) -> Response:
        action = query.get("Action", [""])[0]
        topic, token = query.get("TopicArn", [""])[0], query.get("Token", [""])[0]
        if action != "ConfirmSubscription" or not topic or not token:
            return _error(400, "InvalidParameter", "Action=ConfirmSubscription, TopicArn and Token are required")
        with self._lock:
            self.confirmed.append((topic, token))
        arn = f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, token)}"
        xml = (f'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult>'
               f"<SubscriptionArn>{arn}</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>")
        return 200, {"Content-Type": "text/xml"}, xml.encode()


def _as_delivered(raw: bytes, ses_id: str, region: str) -> EmailMessage | None:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if not msg.get("from") or not msg.get("subject") and not msg.get_body():
        return None
    del msg["Message-ID"]
    msg["Message-ID"] = f"<{ses_id}@{mail_adapter.ses_domain(region)}>"
    return msg  # type: ignore[return-value]


def _addresses(msg: EmailMessage, name: str) -> list[str]:
    header = msg.get(name)
    return [a.addr_spec.lower() for a in getattr(header, "addresses", ())] if header is not None else []


def _request_region(headers: dict[str, str]) -> str:
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    match = _CREDENTIAL_REGION.search(auth)
    return match.group(1) if match else DEFAULT_REGION


def _json(status: int, payload: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _error(status: int, code: str, message: str) -> Response:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps(
        {"message": message}).encode()


def _sent_json(mail: SentMail) -> Json:
    return {"message_id": mail.message_id, "to": mail.to, "subject": mail.headers.get("subject", ""),
            "in_reply_to": mail.headers.get("in-reply-to", ""), "references": mail.headers.get("references", ""),
            "text": mail.text, "attachments": mail.attachment_names, "at": mail.at}


# ------------------------------------------------------------------------------------------------ test server


class FakeEmailServer(FakeServer[FakeEmail]):
    """`with FakeEmailServer() as ses:` serves a `FakeEmail` at `ses.url` (use it as AWS_ENDPOINT_URL_SESV2)."""

    def __init__(self, fake: FakeEmail | None = None) -> None:
        super().__init__(fake or FakeEmail(), name="fake-email")


# ---------------------------------------------------------------------------- embedded mode: the adapter's hooks


def embedded_sns_hooks(fake_url: str, session: Any) -> dict[str, Callable[[str], Any]]:
    """Certificate fetcher and subscription confirmer that take the SNS URL's path from the fake.

    The adapter checks both URLs against the SNS host pattern first, exactly as in AWS.
    """

    def on_fake(url: str) -> str:
        parts = urlsplit(url)
        return f"{fake_url.rstrip('/')}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    def fetch_certificate(url: str) -> bytes:
        response = session.get(on_fake(url), timeout=5)
        return bytes(response.content) if response.status_code == 200 else b""

    def confirm(url: str) -> None:
        response = session.get(on_fake(url), timeout=5)
        if response.status_code != 200:
            from chalicelib import errors

            raise errors.TransientError(f"fake SNS confirmation answered HTTP {response.status_code}")

    return {"certificate_fetcher": fetch_certificate, "confirm_subscription": confirm}


# --- the customer simulator (see chalicelib/local/fakes/__init__.py) ---------------------------------------------


def customer_address(user_id: str) -> str:
    if "@" in user_id:
        return user_id.strip().lower()
    return f"{re.sub(r'[^a-z0-9._-]', '', user_id.lower()) or 'customer'}@customer.example"


def simulate_customer(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Any:
    """The SNS delivery SES makes when a customer mails the channel's address (a reply when `reply_to` is set)."""
    from chalicelib.local.fakes import SimulatedRequest

    to = mail_adapter.setting(channel, "from_address")
    topic = sorted(mail_adapter.topic_arns(channel))[0]
    references: list[str] = []
    subject, in_reply_to = (text.strip().splitlines() or ["Question"])[0][:60], ""
    if reply_to:
        subject, in_reply_to, references = _reply_headers(reply_to, mail_adapter.ses_domain(region_of(topic)))
    raw = customer_mime(from_address=customer_address(user_id), name=name, to=to, subject=subject, text=text,
                        in_reply_to=in_reply_to, references=references)
    headers, body = sns_envelope(ses_notification(topic, raw, recipients=[to]))
    return SimulatedRequest("POST", "", headers, body)


def _reply_headers(reply_to: str, domain: str) -> tuple[str, str, list[str]]:
    with _delivered_lock:
        ours = _DELIVERED.get(reply_to)
    if ours is None:
        parent = mail_adapter.header_id(reply_to, domain)
        return "Re: your message", parent, [parent]
    chain = [mail_adapter.header_id(i, domain) for i in mail_adapter.message_ids(ours.headers.get("references"))]
    return ours.headers.get("subject", "Re:"), ours.message_id_header, [*chain, ours.message_id_header]


def customer_view(fake: FakeEmail, external_conversation_id: str) -> list[Json]:
    """The mails the customer got in that thread, oldest first."""
    return [{"id": m.message_id, "text": m.text, "attachments": m.attachment_names, "at": m.at}
            for m in fake.in_thread(external_conversation_id)]


__all__ = ["Authority", "FakeEmail", "FakeEmailServer", "MailAttachment", "authority", "certificate_url",
           "customer_mime", "customer_view", "embedded_sns_hooks", "make_authority", "ses_notification",
           "simulate_customer", "sns_envelope", "subscription_confirmation"]
