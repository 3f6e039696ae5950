"""E-mail adapter (CHANNELS.md §9): SES receiving → SNS → our webhook in; SES v2 `SendEmail` with our own MIME out.

Inbound. `POST /api/webhooks/email/{channel}` gets SNS HTTP deliveries. Every one is signature-checked
(`chalicelib.channels.sns`) and its `TopicArn` must be on the channel's allowlist; a `SubscriptionConfirmation`
is then confirmed by GET of its `SubscribeURL` (only an `https://sns.<region>.amazonaws.com/` URL), a
`Notification` holding an SES receipt (action SNS, encoding BASE64 or UTF8) becomes one message event.
The dedupe id is SES `mail.messageId`, so a mail delivered twice by SNS (new SNS `MessageId`) is stored once.

Threading. The conversation is the thread's root Message-ID: the first id of `References`, else of
`In-Reply-To`, else the mail's own `Message-ID`. SES replaces the Message-ID of what we send with
`<{SES MessageId}@{region}.amazonses.com>`, so ids on an `amazonses.com` domain are kept as their local part,
which is the `external_message_id` our sends return (the core maps it to our message). A reply that lost the
root (some clients keep only `In-Reply-To`) comes back to the plus address `local+c_<conversation>@domain` we
set as `Reply-To` when `plus_addressing` is on; `thread_lookup` then maps that conversation to its root.

Attachments stay in the MIME: when a mail has any, the webhook keeps the raw MIME in the file store
(`mail/{channel}/{ses id}.eml`, one put) and each attachment's `file_ref` is `mime:{ses id}:{part index}`; the
stream's `fetch_media` cuts the part out. HTML is sanitised here with an allowlist (`sanitize_html`); `text` is
always plain. The conversation's `external_thread_id` is `mailto:<reply address>?subject=<subject>`, which is
what the outbound side needs to address a reply.

Channel configuration is read from `channel.settings`, then `channel.secrets` (connecting a channel stores its
credentials there): `from_address` (required), `from_name`, `topic_arns` (list or comma-separated), `region`
(SES region, default the app's), `configuration_set`, `plus_addressing` ("true" to use plus-address Reply-To).
Logs carry ids only, never addresses, subjects or bodies.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, parseaddr, parsedate_to_datetime
from html import escape
from html.parser import HTMLParser
from typing import Any, NoReturn
from urllib.parse import parse_qs, quote, unquote, urlsplit

from chalicelib import errors, safejson
from chalicelib.channels import sns
from chalicelib.channels.base import (
    ConvRef,
    FetchedMedia,
    OutboundMedia,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from chalicelib.domain.model import (
    Attachment,
    Channel,
    InboundEvent,
    Sender,
    conversation_id_for,
    iso,
    stable_hash,
    utcnow,
)
from chalicelib.observability import logger

KIND = "email"
TEXT_MAX = 100_000  # characters kept of a plain-text body
HTML_MAX = 200_000  # characters of sanitised HTML kept
MAX_ATTACHMENTS = 25
ID_MAX = 500  # longer Message-IDs are replaced by a hash (they end up in table keys)
SEND_MAX_BYTES = 10 * 1024 * 1024  # SES v2: 40 MB with a raised quota, 10 MB by default
CONFIRM_TIMEOUT = 10.0
PLUS_TOKEN = re.compile(r"^c_[0-9a-f]{20}$")
SES_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_MSG_ID = re.compile(r"<([^<>\s]{1,998})>")
_REPLY_PREFIX = re.compile(r"^\s*((re|ре|aw|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)

SMTP_POLICY = policy.SMTP.clone(refold_source="none")  # CRLF; headers we set raw are kept as folded
CAPABILITIES: dict[str, Any] = {"upload_max_bytes": SEND_MAX_BYTES, "text_max": TEXT_MAX}

Json = dict[str, Any]
ThreadLookup = Callable[[Channel, str], "str | None"]  # (channel, our conversation id) -> external conversation id
Confirmer = Callable[[str], None]  # GET a SubscribeURL
MailStore = Callable[[], Any]  # -> FileStore (put / get)


# ------------------------------------------------------------------------------------------- channel settings


def setting(channel: Channel, name: str, default: str = "") -> str:
    value = channel.settings.get(name)
    if value is None:
        value = channel.secrets.get(name)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value).strip() if value is not None else default


def topic_arns(channel: Channel) -> frozenset[str]:
    return frozenset(t for t in re.split(r"[\s,]+", setting(channel, "topic_arns")) if t)


def _enabled(channel: Channel, name: str) -> bool:
    return setting(channel, name).lower() in ("1", "true", "yes", "on")


def from_address(channel: Channel) -> str:
    address = setting(channel, "from_address").lower()
    if "@" not in address:
        raise errors.PermanentError("email channel has no from_address")
    return address


# ------------------------------------------------------------------------------------------------ HTML sanitiser

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
VOID_TAGS = frozenset({"br", "hr"})
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "head", "title", "iframe", "object", "embed", "applet", "noscript", "template", "svg",
    "math", "textarea", "select", "frameset", "frame", "noframes", "xmp",
})
ALLOWED_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
    "ol": frozenset({"start"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_URL_JUNK = re.compile(r"[\x00-\x20\x7f]+")
_BLOCKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
                     "table", "hr", "dt", "dd"})


def safe_url(value: str) -> str:
    """The URL if it is absolute http(s) or mailto (after removing what browsers ignore), else ""."""
    cleaned = _URL_JUNK.sub("", value)
    match = _SCHEME.match(cleaned)
    if not match or match.group(1).lower() not in URL_SCHEMES:
        return ""
    return cleaned


class _Sanitiser(HTMLParser):
    """Allowlist sanitiser: known tags and attributes only, text escaped, dangerous elements dropped whole."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping or tag in DROPPED_WITH_CONTENT:
            if tag in DROPPED_WITH_CONTENT:
                self.skipping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        self.out.append(f"<{tag}{_attributes(tag, attrs)}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_TAGS and not self.skipping:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in self.open:
            while self.open:
                closing = self.open.pop()
                self.out.append(f"</{closing}>")
                if closing == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        self.out.extend(f"</{tag}>" for tag in reversed(self.open))
        self.open.clear()
        return "".join(self.out)


def _attributes(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    allowed = ALLOWED_ATTRS.get(tag, frozenset())
    kept: list[str] = []
    for name, value in attrs:
        if name not in allowed or value is None:
            continue
        if name == "href":
            value = safe_url(value)
            if not value:
                continue
        elif name in ("colspan", "rowspan", "start") and not value.strip().isdigit():
            continue
        kept.append(f' {name}="{escape(value, quote=True)}"')
    if tag == "a" and any(k.startswith(" href=") for k in kept):
        kept.append(' rel="noopener noreferrer nofollow"')
    return "".join(kept)


def sanitize_html(html: str) -> str:
    """Safe HTML to show: allowlisted tags and attributes, no scripts, styles, event handlers or unsafe URLs."""
    sanitiser = _Sanitiser()
    sanitiser.feed(html)
    return sanitiser.result()


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------------------------------------------ MIME parsing


def normalize_id(value: str) -> str:
    """A Message-ID as we store it: no brackets; an SES-assigned id as its local part; very long ones hashed."""
    text = value.strip().strip("<>").strip()
    local, at, domain = text.rpartition("@")
    if at and (domain.lower() == "amazonses.com" or domain.lower().endswith(".amazonses.com")):
        text = local
    return text if len(text) <= ID_MAX else "h:" + stable_hash(text, length=40)


def message_ids(header: str | None) -> list[str]:
    """Message-IDs of an `In-Reply-To` / `References` value, in order, without duplicates."""
    if not header:
        return []
    found = _MSG_ID.findall(str(header)) or [t for t in str(header).split() if "@" in t]
    ids: list[str] = []
    for raw in found:
        normalized = normalize_id(raw)
        if normalized and normalized not in ids:
            ids.append(normalized)
    return ids


def header_id(normalized: str, ses_domain: str) -> str:
    """The header form of a stored id (SES ids get SES's domain back)."""
    normalized = re.sub(r"[\s<>]", "", normalized)
    return f"<{normalized}>" if "@" in normalized else f"<{normalized}@{ses_domain}>"


def ses_domain(region: str) -> str:
    """The domain of the Message-IDs SES assigns (us-east-1 uses email.amazonses.com; per region unconfirmed)."""
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"


@dataclass
class MailPart:
    index: int
    part: Message


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    from_address: str
    from_name: str
    reply_address: str
    recipients: list[str]
    subject: str
    occurred_at: str
    text: str
    html: str
    attachments: list[MailPart] = field(default_factory=list)
    automated: bool = False


def parse_mime(raw: bytes) -> ParsedMail:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    from_name, address = _address(msg, "from")
    reply_name, reply = _address(msg, "reply-to")
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    html_source = _part_text(html_part) if html_part is not None else ""
    html = sanitize_html(html_source)[:HTML_MAX] if html_source else ""
    text = _part_text(plain) if plain is not None else html_to_text(html_source)
    bodies = {id(p) for p in (plain, html_part) if p is not None}
    return ParsedMail(
        message_id=_clean(normalize_id(str(msg.get("message-id", "") or ""))),
        in_reply_to=[_clean(i) for i in message_ids(msg.get("in-reply-to"))],
        references=[_clean(i) for i in message_ids(msg.get("references"))],
        from_address=_clean(address),
        from_name=_clean(from_name),
        reply_address=_clean(reply or address),
        recipients=[_clean(r) for r in _recipients(msg)],
        subject=_clean(_header_text(msg, "subject")),
        occurred_at=_date(msg),
        text=_clean(text.strip()[:TEXT_MAX]),
        html=_clean(html),
        attachments=[p for p in leaf_parts(msg) if id(p.part) not in bodies and _is_attachment(p.part)],
        automated=_automated(msg, address),
    )


def _clean(text: str) -> str:
    """Header bytes that are not UTF-8 come out of `email` as surrogate escapes; they become U+FFFD here (DynamoDB
    and every encoder downstream take UTF-8 only)."""
    return text if text.isascii() else text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def leaf_parts(msg: Message) -> list[MailPart]:
    """Leaf parts in walk order with stable indexes; an attached message (message/rfc822) is one leaf."""
    return list(_walk(msg, [0]))


def _walk(part: Message, counter: list[int]) -> Iterator[MailPart]:
    index = counter[0]
    counter[0] += 1
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _walk(child, counter)
        return
    yield MailPart(index, part)


def _is_attachment(part: Message) -> bool:
    if part.get_filename():
        return True
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or part.get_content_maintype() not in ("text", "multipart")


def part_data(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        return inner.as_bytes() if isinstance(inner, Message) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, AttributeError):
        pass
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _header_text(msg: Message, name: str) -> str:
    try:
        return " ".join(str(msg.get(name, "") or "").split())
    except (ValueError, IndexError, TypeError):
        return ""


def _address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, lower-cased address) of a single-address header, RFC 2047 names decoded."""
    header = msg.get(name)
    if header is None:
        return "", ""
    try:
        addresses = getattr(header, "addresses", ())
        for addr in addresses:
            if addr.addr_spec and "@" in addr.addr_spec:
                return " ".join(addr.display_name.split()), addr.addr_spec.lower()
    except (ValueError, IndexError, TypeError):
        pass
    display, spec = parseaddr(str(header))
    return display, spec.lower() if "@" in spec else ""


def _recipients(msg: Message) -> list[str]:
    values = [str(v) for name in ("to", "cc", "delivered-to") for v in (msg.get_all(name) or [])]
    return [a.lower() for _, a in getaddresses(values) if "@" in a]


def _date(msg: Message) -> str:
    value = msg.get("date")
    if not value:
        return ""
    try:
        parsed = parsedate_to_datetime(str(value))
    except (ValueError, TypeError, IndexError):
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return iso(parsed)


def _automated(msg: Message, address: str) -> bool:
    """Auto-replies, bounces and bulk mail: never auto-answer them (mail loops)."""
    auto = str(msg.get("auto-submitted", "") or "").strip().lower()
    precedence = str(msg.get("precedence", "") or "").strip().lower()
    local = address.partition("@")[0]
    return bool(
        (auto and auto != "no") or precedence in ("bulk", "junk", "list", "auto_reply")
        or msg.get("x-autoreply") or msg.get("x-autorespond")
        or local in ("mailer-daemon", "postmaster") or msg.get_content_type() == "multipart/report"
    )


def attachment_kind(mime_type: str) -> str:
    major = mime_type.partition("/")[0]
    return {"image": "image", "audio": "audio", "video": "video"}.get(major, "document")


# ----------------------------------------------------------------------------------------------------- threading


def mailto(address: str, subject: str) -> str:
    return f"mailto:{quote(address, safe='@+')}?subject={quote(subject, safe='')}"


def parse_mailto(value: str) -> tuple[str, str]:
    """(address, subject) of a conversation's `external_thread_id`."""
    parts = urlsplit(value)
    if parts.scheme != "mailto":
        return "", ""
    subject = parse_qs(parts.query).get("subject", [""])[0]
    return unquote(parts.path).lower(), subject


def reply_subject(subject: str) -> str:
    stripped = _REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {stripped}" if stripped else "Re:"


def plus_address(channel: Channel, conv: ConvRef) -> str:
    local, _, domain = from_address(channel).partition("@")
    token = conversation_id_for(channel.workspace_id, channel.id, conv.external_conversation_id)
    return f"{local}+{token}@{domain}"


def plus_token(channel: Channel, recipients: list[str]) -> str:
    """The conversation id of a `local+c_<id>@domain` recipient of our address, or ""."""
    local, _, domain = from_address(channel).partition("@")
    for recipient in recipients:
        r_local, _, r_domain = recipient.partition("@")
        base, plus, token = r_local.partition("+")
        if plus and base == local and r_domain == domain and PLUS_TOKEN.fullmatch(token):
            return token
    return ""


def is_ours(message_id: str, own_domain: str) -> bool:
    """An id we (SES on our behalf) assigned: an SES local part, or our own domain."""
    return "@" not in message_id or message_id.rpartition("@")[2].lower() == own_domain


def thread_root(channel: Channel, mail: ParsedMail, fallback_id: str, lookup: ThreadLookup | None) -> str:
    own = mail.message_id or fallback_id
    root = (mail.references or mail.in_reply_to or [own])[0]
    domain = from_address(channel).partition("@")[2]
    lost_root = is_ours(root, domain) or not (mail.references or mail.in_reply_to)
    if lost_root and lookup is not None:
        token = plus_token(channel, mail.recipients)
        found = lookup(channel, token) if token else None
        if found:
            return found
    return root


# -------------------------------------------------------------------------------------------------- outbound MIME


def _id_part(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "", key) or stable_hash(key)


def build_reply(channel: Channel, conv: ConvRef, text: str, media: list[OutboundMedia], *, reply_to: str | None,
                idempotency_key: str, region: str) -> tuple[EmailMessage, str, str]:
    """Our mail as MIME, plus (from address, recipient). Threading headers point at the customer's thread."""
    recipient, subject = parse_mailto(conv.external_thread_id)
    sender = from_address(channel)
    if "@" not in recipient:
        raise errors.PermanentError("email conversation has no recipient address")
    if recipient == sender:
        raise errors.PermanentError("refusing to send to our own address")
    domain = ses_domain(region)
    root = conv.external_conversation_id
    parent = reply_to or root
    chain = [root] + ([parent] if parent and parent != root else [])
    msg = EmailMessage()
    msg["From"] = Address(setting(channel, "from_name") or channel.name, addr_spec=sender)
    msg["To"] = recipient
    msg["Subject"] = reply_subject(subject) if subject else channel.name
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{_id_part(idempotency_key)}@{sender.partition('@')[2]}>"
    if root:  # set raw and pre-folded: the header folder would RFC 2047-encode a long id and break threading
        msg.set_raw("In-Reply-To", header_id(parent, domain))
        msg.set_raw("References", "\n ".join(header_id(i, domain) for i in chain))
    if _enabled(channel, "plus_addressing") and root:
        msg["Reply-To"] = plus_address(channel, conv)
    msg.set_content(text or "", charset="utf-8", cte="quoted-printable")
    for item in media:
        maintype, _, subtype = (item.mime_type or "application/octet-stream").partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=item.file_name or f"{item.kind or 'file'}")
    return msg, sender, recipient


# ------------------------------------------------------------------------------------------------------ adapter


class EmailAdapter:
    """`ChannelAdapter` for e-mail through Amazon SES (inbound via SNS, outbound SES v2)."""

    kind = KIND
    capabilities: frozenset[str] = frozenset({"text", "images", "documents", "reply_to"})

    def __init__(self, region: str, *, session: Any = None,
                 certificate_fetcher: sns.CertificateFetcher | None = None,
                 confirm_subscription: Confirmer | None = None, mail_store: MailStore | None = None,
                 thread_lookup: ThreadLookup | None = None, verifier: sns.SignatureVerifier | None = None) -> None:
        if session is None:
            import requests

            session = requests.Session()
        self.region = region
        self.session = session
        self.verifier = verifier or sns.SignatureVerifier(certificate_fetcher or sns.https_certificate_fetcher(session))
        self.confirm_subscription = confirm_subscription or self._confirm_over_https
        self.mail_store = mail_store
        self.thread_lookup = thread_lookup
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------- inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        body = sns.decode(request.raw_body)
        declared = request.headers.get("x-amz-sns-message-type", "")
        if declared and declared != body.get("Type"):
            raise errors.Forbidden("x-amz-sns-message-type does not match the message")
        message = self.verifier.verify(body)
        if message.topic_arn not in topic_arns(channel):
            raise errors.Forbidden("SNS topic is not allowed for this channel")
        log = {"channel_id": channel.id, "sns_message_id": message.message_id, "sns_type": message.type}
        if message.type == "SubscriptionConfirmation":
            self._confirm(message)
            logger.info("sns subscription confirmed", extra=log)
            return WebhookResult(status=200, body="")
        if message.type == "UnsubscribeConfirmation":
            logger.warning("sns subscription ended", extra=log)
            return WebhookResult(status=200, body="")
        event = self._mail_event(channel, request, message)
        if event is None:
            logger.info("sns notification ignored", extra=log)
            return WebhookResult(status=200, body="")
        return WebhookResult(events=[event], status=200, body="")

    def _confirm(self, message: sns.SnsMessage) -> None:
        if not sns.is_sns_url(message.subscribe_url):
            raise errors.Forbidden("SubscribeURL is not an https://sns.<region>.amazonaws.com/ URL")
        query = parse_qs(urlsplit(message.subscribe_url).query)
        if query.get("Action", [""])[0] != "ConfirmSubscription" or query.get("TopicArn", [""])[0] != \
                message.topic_arn:
            raise errors.Forbidden("SubscribeURL does not confirm this topic")
        self.confirm_subscription(message.subscribe_url)

    def _confirm_over_https(self, url: str) -> None:
        import requests

        try:
            response = self.session.get(url, timeout=CONFIRM_TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise errors.TransientError(f"SNS confirmation failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise errors.TransientError(f"SNS confirmation answered HTTP {response.status_code}")

    def _mail_event(self, channel: Channel, request: WebhookRequest, message: sns.SnsMessage) -> InboundEvent | None:
        receipt = _ses_receipt(message.message)
        if receipt is None:
            return None
        notification, raw = receipt
        mail_meta: Json = notification["mail"] if isinstance(notification.get("mail"), dict) else {}
        ses_id = str(mail_meta.get("messageId") or "") or message.message_id
        event_id = ses_id if SES_ID.fullmatch(ses_id) else "h" + stable_hash(ses_id)
        mail = parse_mime(raw)
        if not mail.from_address:  # a broken From: answer to the envelope sender SES saw
            mail.from_address = mail.reply_address = parseaddr(str(mail_meta.get("source") or ""))[1].lower()
        if "@" not in mail.from_address:
            raise errors.InvalidPayload("mail has no sender address")
        received_at = request.received_at or iso(utcnow())
        attachments = self._attachments(channel, notification, mail, event_id, raw)
        # sanitised HTML rides along once InboundEvent has an `html` field (asked for in the channel's report)
        extra: dict[str, Any] = {"html": mail.html} if "html" in InboundEvent.__dataclass_fields__ else {}
        return InboundEvent(
            channel_kind=KIND, channel_id=channel.id, workspace_id=channel.workspace_id, event_type="message",
            external_event_id=event_id,
            external_conversation_id=thread_root(channel, mail, f"ses:{event_id}", self.thread_lookup),
            external_message_id=mail.message_id or f"ses:{event_id}",
            external_thread_id=mailto(mail.reply_address, mail.subject),
            reply_to_external_message_id=(mail.in_reply_to or mail.references[-1:] or [""])[0],
            sender=Sender(external_user_id=mail.from_address, display_name=mail.from_name,
                          email=mail.from_address, is_bot=mail.automated),
            occurred_at=mail.occurred_at or str(mail_meta.get("timestamp") or "") or received_at,
            received_at=received_at, text=mail.text, attachments=attachments, surface="private",
            conversation_title=mail.subject, correlation_id=request.request_id, **extra,
        )

    def _attachments(self, channel: Channel, notification: Json, mail: ParsedMail, event_id: str,
                     raw: bytes) -> list[Attachment]:
        if not mail.attachments:
            return []
        verdict = (notification.get("receipt") or {}).get("virusVerdict") or {}
        if isinstance(verdict, dict) and str(verdict.get("status", "")).upper() == "FAIL":
            logger.warning("mail attachments dropped: virus verdict FAIL", extra={"channel_id": channel.id,
                                                                                  "external_event_id": event_id})
            return [Attachment(kind="other", caption="attachments removed: the virus scan failed")]
        if self.mail_store is None:
            raise errors.TransientError("email adapter has no mail store for attachments")
        self.mail_store().put(mail_key(channel.id, event_id), raw, "message/rfc822")
        return [_attachment(p, event_id) for p in mail.attachments[:MAX_ATTACHMENTS]]

    # ------------------------------------------------------------------------------------------------ outbound

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        return self._send(channel, conv, text, [], reply_to, idempotency_key)

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        return self._send(channel, conv, caption or "", [media], reply_to, idempotency_key)

    def send_bundle(self, channel: Channel, conv: ConvRef, text: str, medias: list[OutboundMedia], *,
                    reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        """Text and every attachment in one mail (the outbound service prefers this when an adapter has it)."""
        return self._send(channel, conv, text, medias, reply_to, idempotency_key)

    def _send(self, channel: Channel, conv: ConvRef, text: str, media: list[OutboundMedia], reply_to: str | None,
              idempotency_key: str) -> SendResult:
        region = self._region(channel)
        try:
            msg, sender, recipient = build_reply(channel, conv, text, media, reply_to=reply_to,
                                                 idempotency_key=idempotency_key, region=region)
        except ValueError as exc:  # a header the e-mail package refuses (malformed address)
            raise errors.PermanentError(f"mail could not be built ({type(exc).__name__})") from None
        data = msg.as_bytes(policy=SMTP_POLICY)
        if len(data) > SEND_MAX_BYTES:
            raise errors.PermanentError("mail is larger than SES accepts", details={"size": len(data)})
        params: Json = {"FromEmailAddress": sender, "Destination": {"ToAddresses": [recipient]},
                        "Content": {"Raw": {"Data": data}}}
        configuration_set = setting(channel, "configuration_set")
        if configuration_set:
            params["ConfigurationSetName"] = configuration_set
        answer = self._call(region, "send_email", params)
        ses_id = str(answer.get("MessageId") or "")
        if not ses_id:
            raise errors.PermanentError("SES answered without a MessageId")
        logger.info("mail sent", extra={"channel_id": channel.id, "idempotency_key": idempotency_key,
                                        "external_message_id": ses_id})
        return SendResult(external_message_id=ses_id, raw={"message_id_header": header_id(ses_id, ses_domain(region))})

    # ------------------------------------------------------------------------------------------ files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        scheme, _, rest = file_ref.partition(":")
        event_id, _, index_text = rest.rpartition(":")
        if scheme != "mime" or not SES_ID.fullmatch(event_id) or not index_text.isdigit():
            raise errors.PermanentError("not an e-mail attachment reference")
        if self.mail_store is None:
            raise errors.PermanentError("email adapter has no mail store")
        try:
            raw, _ = self.mail_store().get(mail_key(channel.id, event_id))
        except errors.NotFound:
            raise errors.PermanentError("the mail of this attachment is no longer stored") from None
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        index = int(index_text)
        part = next((p.part for p in leaf_parts(msg) if p.index == index), None)
        if part is None:
            raise errors.PermanentError("the mail has no such part")
        mime = part.get_content_type()
        return FetchedMedia(data=part_data(part), mime_type=mime, file_name=_file_name(part, index))

    def register_webhook(self, channel: Channel, url: str) -> None:
        """SNS subscriptions are made on the topic (infra or the AWS console); the webhook confirms them."""
        from_address(channel)
        if not topic_arns(channel):
            raise errors.InvalidInput("email channel needs topic_arns (the SNS topics of its SES receipt rules)")

    def check_health(self, channel: Channel) -> dict[str, Any]:
        try:
            domain = from_address(channel).partition("@")[2]
            identity = self._call(self._region(channel), "get_email_identity", {"EmailIdentity": domain})
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        verified = bool(identity.get("VerifiedForSendingStatus"))
        return {"ok": verified, "from_domain": domain, "verified_for_sending": verified,
                "topics": sorted(topic_arns(channel))}

    # -------------------------------------------------------------------------------------------------- SES

    def _region(self, channel: Channel) -> str:
        return setting(channel, "region") or self.region

    def _client(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                import boto3
                from botocore.config import Config

                config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
                client = boto3.session.Session().client("sesv2", region_name=region, config=config)
                self._clients[region] = client
            return client

    def _call(self, region: str, operation: str, params: Json) -> Json:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = getattr(self._client(region), operation)(**params)
        except ClientError as exc:
            _raise_ses(operation, exc.response)
        except BotoCoreError as exc:
            _raise_transport(operation, exc)
        return answer if isinstance(answer, dict) else {}


def mail_key(channel_id: str, event_id: str) -> str:
    return f"mail/{channel_id}/{event_id}.eml"


def _attachment(found: MailPart, event_id: str) -> Attachment:
    part = found.part
    mime = part.get_content_type()
    return Attachment(kind=attachment_kind(mime), mime_type=mime, file_name=_file_name(part, found.index),
                      size_bytes=len(part_data(part)), file_ref=f"mime:{event_id}:{found.index}")


def _file_name(part: Message, index: int) -> str:
    name = part.get_filename()
    if name:
        return " ".join(str(name).split())
    if part.get_content_type() == "message/rfc822":
        return f"message-{index}.eml"
    return f"attachment-{index}"


def _ses_receipt(message: str) -> tuple[Json, bytes] | None:
    """(SES notification, raw MIME) of a `Received` notification with content; None for anything else."""
    try:
        notification = safejson.loads(message)
    except errors.AppError:  # a text published to the topic by hand, not an SES notification: ignored
        return None
    if not isinstance(notification, dict) or notification.get("notificationType") != "Received":
        return None
    content = notification.get("content")
    if not isinstance(content, str):
        return None  # the S3 action: no content in the notification (not supported yet)
    action = (notification.get("receipt") or {}).get("action") or {}
    encoding = str(action.get("encoding") or "UTF8").upper() if isinstance(action, dict) else "UTF8"
    if encoding == "BASE64":
        try:
            return notification, base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            raise errors.InvalidPayload("SES content is not base64") from None
    return notification, content.encode("utf-8")


_RATE_LIMITED = ("TooManyRequestsException", "Throttling", "ThrottlingException")
_TRANSIENT = ("LimitExceededException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException")


def _raise_ses(operation: str, response: Json) -> NoReturn:
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    message = f"SES {operation}: {code or 'error'} (HTTP {status})"
    details = {"error_code": code, "status": status}
    if code in _RATE_LIMITED or status == 429:
        raise errors.RateLimited(message, retry_after=1.0)
    if code in _TRANSIENT or status >= 500:
        raise errors.TransientError(message, details=details)
    raise errors.PermanentError(message, details=details)


def _raise_transport(operation: str, exc: Exception) -> NoReturn:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        raise errors.TransientError(f"SES {operation}: {type(exc).__name__}") from None
    raise errors.PermanentError(f"SES {operation}: {type(exc).__name__}") from None
