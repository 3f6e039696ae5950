"""Amazon SNS HTTP(S) deliveries: message signature verification (CHANNELS.md §9, AWS "Verifying the signatures
of Amazon SNS messages").

The signing certificate is fetched only from `https://sns.<region>.amazonaws.com/…pem` (the host pattern is
hard-coded, never loosened through the environment) and cached in the process. Tests and embedded mode inject a
`CertificateFetcher` that answers for such URLs with their own certificate; the URL check runs before it.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib import errors, safejson

CertificateFetcher = Callable[[str], bytes]  # URL -> PEM bytes

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
SNS_HOST = re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$")
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
MAX_AGE = timedelta(hours=1, minutes=5)  # SNS retries an HTTP delivery for at most an hour; 5 min of clock skew
MAX_FUTURE = timedelta(minutes=5)
CERT_CACHE_SIZE = 16
CERT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS delivery."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    subject: str = ""
    subscribe_url: str = ""
    token: str = ""

    @property
    def region(self) -> str:
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) > 5 else ""


def decode(raw_body: bytes) -> dict[str, Any]:
    try:
        body = safejson.loads(raw_body)
    except errors.AppError as err:
        raise errors.InvalidInput(f"SNS delivery is not valid JSON: {err.message}", code=err.code) from None
    if not isinstance(body, dict) or body.get("Type") not in MESSAGE_TYPES:
        raise errors.InvalidInput("SNS delivery has no known Type")
    return body


def is_sns_url(url: str, *, path_suffix: str = "") -> bool:
    """An `https://sns.<region>.amazonaws.com/...` URL with no user info or port (AWS's own validators' rule)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (parts.scheme == "https" and port is None and not parts.username and not parts.password
            and parts.netloc == host and bool(SNS_HOST.fullmatch(host)) and parts.path.endswith(path_suffix))


def string_to_sign(body: dict[str, Any]) -> bytes:
    fields = NOTIFICATION_FIELDS if body.get("Type") == "Notification" else CONFIRMATION_FIELDS
    lines: list[str] = []
    for name in fields:
        value = body.get(name)
        if value is None:
            if name == "Subject":
                continue  # Subject is signed only when present
            raise errors.Forbidden(f"SNS message has no {name}")
        if not isinstance(value, str):
            raise errors.Forbidden(f"SNS field {name} is not a string")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


class SignatureVerifier:
    """Verifies SNS signatures (versions 1 and 2) with certificates fetched from the SNS host only."""

    def __init__(self, fetch_certificate: CertificateFetcher, *, clock: Callable[[], datetime] | None = None,
                 max_age: timedelta = MAX_AGE) -> None:
        self._fetch = fetch_certificate
        self._clock = clock or (lambda: datetime.now(UTC))
        self._max_age = max_age
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def verify(self, body: dict[str, Any]) -> SnsMessage:
        """The verified message, or `errors.Forbidden` (bad certificate URL, signature, or stale timestamp)."""
        version = body.get("SignatureVersion")
        if version not in ("1", "2"):
            raise errors.Forbidden("SNS SignatureVersion must be 1 or 2")
        cert_url = body.get("SigningCertURL") or body.get("SigningCertUrl") or ""
        if not isinstance(cert_url, str) or not is_sns_url(cert_url, path_suffix=".pem"):
            raise errors.Forbidden("SNS SigningCertURL is not an https://sns.<region>.amazonaws.com/….pem URL")
        signature = _signature(body.get("Signature"))
        key = self._public_key(cert_url)
        self._check_signature(key, signature, string_to_sign(body), version)
        message = _message(body)
        self._check_fresh(message.timestamp)
        return message

    def _public_key(self, url: str) -> Any:
        with self._lock:
            cached = self._keys.get(url)
        if cached is not None:
            return cached
        key = _load_key(self._fetch(url), self._clock())
        with self._lock:
            if len(self._keys) >= CERT_CACHE_SIZE:
                self._keys.pop(next(iter(self._keys)))
            self._keys[url] = key
        return key

    @staticmethod
    def _check_signature(key: Any, signature: bytes, signed: bytes, version: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if not isinstance(key, rsa.RSAPublicKey):
            raise errors.Forbidden("SNS certificate does not hold an RSA key")
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # SignatureVersion 1 is SHA1 by definition
        try:
            key.verify(signature, signed, padding.PKCS1v15(), digest)
        except InvalidSignature:
            raise errors.Forbidden("SNS signature does not verify") from None

    def _check_fresh(self, timestamp: str) -> None:
        try:
            sent = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            raise errors.Forbidden("SNS Timestamp is not ISO-8601") from None
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        now = self._clock()
        if now - sent > self._max_age or sent - now > MAX_FUTURE:
            raise errors.Forbidden("SNS Timestamp is too old or in the future")


def _signature(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise errors.Forbidden("SNS message is not signed")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.Forbidden("SNS Signature is not base64") from None


def _load_key(pem: bytes, now: datetime) -> Any:
    from cryptography import x509

    if not pem or len(pem) > CERT_MAX_BYTES:
        raise errors.Forbidden("SNS signing certificate is empty or too large")
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise errors.Forbidden("SNS signing certificate is not a PEM certificate") from None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise errors.Forbidden("SNS signing certificate is expired or not yet valid")
    return cert.public_key()


def _message(body: dict[str, Any]) -> SnsMessage:
    def text(name: str) -> str:
        value = body.get(name, "")
        return value if isinstance(value, str) else ""

    return SnsMessage(type=text("Type"), message_id=text("MessageId"), topic_arn=text("TopicArn"),
                      message=text("Message"), timestamp=text("Timestamp"), subject=text("Subject"),
                      subscribe_url=text("SubscribeURL"), token=text("Token"))


def https_certificate_fetcher(session: Any, *, timeout: float = 5.0) -> CertificateFetcher:
    """The production fetcher: GET over HTTPS (certificate-checked by `requests`), refusing non-SNS URLs again."""

    def fetch(url: str) -> bytes:
        if not is_sns_url(url, path_suffix=".pem"):
            raise errors.Forbidden("refusing to fetch a certificate outside the SNS host")
        import requests

        try:
            response = session.get(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise errors.TransientError(f"SNS certificate fetch failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise errors.TransientError(f"SNS certificate fetch answered HTTP {response.status_code}")
        return bytes(response.content[: CERT_MAX_BYTES + 1])

    return fetch
