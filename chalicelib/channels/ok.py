"""Odnoklassniki (OK.ru) group messages through the Bot API (CHANNELS.md §5).

OK signs nothing: no signature, no secret header, no handshake. A webhook is accepted only when
1. the `k` query parameter equals the channel's random `webhook_secret` (constant-time compare), else 403;
2. (log only until the list is confirmed current) the source IP is in OK's documented ranges;
3. the chat is the group's: the first message seen from a chat (per warm process) is fetched back with the
   group's own token (`GET graph/me/messages/{chat_id}`). A chat the group cannot read, or a message id the chat
   does not hold, is refused with 403; OK resends non-200 answers, so a message not yet visible comes back later.
   The fetch also gives the sender's name, which webhooks do not carry. If OK cannot answer (5xx, timeout), the
   message is accepted on the URL token alone and a warning is logged.

Outbound: `POST {api_url}/graph/me/messages/{chat_id}?access_token=` with JSON; files go through
`graph/me/fileUploadUrl` -> upload -> `payload.token`. The access token is part of every URL, so no exception text
or log line built here contains a URL, and provider exceptions are not chained.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import mimetypes
import posixpath
import re
import time
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import quote, urlencode, urlsplit

import requests

from chalicelib import errors, safejson
from chalicelib.channels.base import ConvRef, FetchedMedia, OutboundMedia, SendResult, WebhookRequest, WebhookResult
from chalicelib.channels.http import json_or_none, raise_transport, redact_in_urllib3_logs
from chalicelib.domain.model import Attachment, Channel, InboundEvent, Sender, iso, iso_from_epoch, stable_hash, utcnow
from chalicelib.observability import logger

# OK's documented webhook source ranges (CHANNELS.md §5); checked log-only until confirmed current.
OK_SOURCE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "217.20.145.192/28", "217.20.151.160/28", "217.20.153.48/28"))

INBOUND_KINDS = {"IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "FILE": "document"}
UPLOAD_TYPES = {"image": "IMAGE", "document": "FILE", "audio": "AUDIO", "voice": "AUDIO", "video": "VIDEO"}
FETCH_BACK_COUNT = 50
VERIFY_TIMEOUT = 2.0  # the webhook must be answered within 5 s
DOWNLOAD_MAX_BYTES = 50 * 1024 * 1024
MEDIA_TIMEOUT_FLOOR = 60.0
ATTACHMENT_RETRIES = 3  # "wait a couple of seconds" after an upload: retried while OK says it is not ready
VERIFIED_CACHE_MAX = 10_000
_TRANSIENT_BODY_CODES = {2}  # OK's SERVICE error: "service temporarily unavailable"
_CHAT_ID = re.compile(r"^chat:[A-Za-z0-9]{1,64}$")
_USER_ID = re.compile(r"^user:[0-9A-Za-z]{1,64}$")
_TOKEN_RE = re.compile(r"(access_token=)[^&\s\"']+")
redact_in_urllib3_logs(_TOKEN_RE, r"\1<redacted>")

Json = dict[str, Any]


# ----------------------------------------------------------------------------------------------- inbound helpers


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _ms(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return iso_from_epoch(value / 1000)
    return ""


def _decode(raw_body: bytes) -> Json:
    payload = safejson.loads(raw_body)  # after the URL token: an OK request we cannot use is acknowledged
    if not isinstance(payload, dict):
        raise errors.InvalidPayload("ok webhook must be a JSON object")
    return payload


def _field(payload: Json, container: str, name: str, pattern: re.Pattern[str]) -> str:
    value = _str(_obj(payload.get(container)).get(name))
    if not pattern.match(value):
        raise errors.InvalidPayload(f"ok webhook has no valid {container}.{name}")
    return value


def _attachments(message: Json) -> tuple[list[Attachment], list[str]]:
    """Files become attachments (fetched later by the stream); SHARE links are kept as text."""
    found: list[Attachment] = []
    links: list[str] = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind = _str(item.get("type")).upper()
        payload = _obj(item.get("payload"))
        url = _str(payload.get("url"))
        if kind == "SHARE":
            if url:
                links.append(url)
        elif kind in INBOUND_KINDS:
            found.append(Attachment(kind=INBOUND_KINDS[kind], url=url, file_ref=url if _is_http(url) else "",
                                    file_name=_str(payload.get("name"))))
        else:
            found.append(Attachment(kind="other", caption=kind.lower() or "attachment"))
    return found, links


def _text(message: Json, links: list[str]) -> str:
    text = _str(message.get("text"))
    extra = [link for link in links if link not in text]
    return "\n".join([text, *extra]) if text and extra else text or "\n".join(extra)


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)


def _from_ok_network(source_ip: str) -> bool:
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(address in network for network in OK_SOURCE_NETWORKS)


def with_url_token(url: str, token: str) -> str:
    """Our webhook URL with the channel's `k` token (the only thing OK sends back that we chose)."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'k': token})}"


# ----------------------------------------------------------------------------------------------------- adapter


class OKAdapter:
    """`ChannelAdapter` for OK group messages. Secrets: `access_token` (the group's Bot API key), `webhook_secret`."""

    kind = "ok"
    capabilities: frozenset[str] = frozenset({"text", "images", "documents", "voice_in", "typing", "read_out"})

    def __init__(self, api_url: str, public_url: str = "", session: requests.Session | None = None,
                 timeout: float = 10.0, attachment_wait: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api_url = api_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.attachment_wait = attachment_wait
        self.sleep = sleep
        self._verified: dict[tuple[str, str], str] = {}  # (channel, chat) -> sender name, per warm process

    # ------------------------------------------------------------------------------------------------ inbound

    def parse_webhook(self, channel: Channel, request: WebhookRequest) -> WebhookResult:
        self._authenticate(channel, request)
        if request.source_ip and not _from_ok_network(request.source_ip):
            logger.warning("ok webhook from outside OK's documented ranges",
                           extra={"channel_id": channel.id, "source_ip": request.source_ip})
        payload = _decode(request.raw_body)
        message = payload.get("message")
        if not isinstance(message, dict) or not _str(message.get("mid")):
            logger.info("ok webhook without a new message ignored", extra={"channel_id": channel.id})
            return WebhookResult(status=200)
        chat_id = _field(payload, "recipient", "chat_id", _CHAT_ID)
        user_id = _field(payload, "sender", "user_id", _USER_ID)
        name = self._verify_chat(channel, chat_id, message["mid"], user_id)
        received_at = request.received_at or iso(utcnow())
        attachments, links = _attachments(message)
        event = InboundEvent(
            channel_kind=self.kind, channel_id=channel.id, workspace_id=channel.workspace_id, event_type="message",
            external_event_id=message["mid"], external_conversation_id=chat_id, external_message_id=message["mid"],
            sender=Sender(external_user_id=user_id, display_name=name),
            occurred_at=_ms(payload.get("timestamp")) or received_at, received_at=received_at,
            text=_text(message, links), attachments=attachments, surface="private",
            correlation_id=request.request_id,
        )
        return WebhookResult(events=[event], status=200)

    @staticmethod
    def _authenticate(channel: Channel, request: WebhookRequest) -> None:
        expected = channel.secrets.get("webhook_secret", "")
        given = request.query.get("k", "")
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise errors.Forbidden("ok webhook URL token is missing or wrong")

    def _verify_chat(self, channel: Channel, chat_id: str, mid: str, user_id: str) -> str:
        """The sender's name once the chat is known to be the group's (fetched back on first sight)."""
        key = (channel.id, chat_id)
        if key in self._verified:
            return self._verified[key]
        try:
            found = self._call(channel, "fetch-back", "GET", f"graph/me/messages/{quote(chat_id, safe=':')}",
                               params={"count": str(FETCH_BACK_COUNT)}, timeout=VERIFY_TIMEOUT)
        except errors.TransientError as exc:
            logger.warning("ok fetch-back unavailable: accepted on the URL token",
                           extra={"channel_id": channel.id, "error_code": exc.code})
            return ""
        except errors.ChannelError as exc:
            logger.warning("ok chat refused: the group cannot read it",
                           extra={"channel_id": channel.id, "error_code": exc.code})
            raise errors.Forbidden("ok chat is not one of the group's chats") from None
        match = _find_message(found, mid)
        if match is None or _str((match.get("sender") or {}).get("user_id")) not in ("", user_id):
            logger.warning("ok message refused: not in the group's chat", extra={"channel_id": channel.id})
            raise errors.Forbidden("ok message is not in the group's chat")
        name = _str((match.get("sender") or {}).get("name"))
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified[key] = name
        return name

    # ----------------------------------------------------------------------------------------------- outbound

    def send_text(self, channel: Channel, conv: ConvRef, text: str, *, reply_to: str | None = None,
                  idempotency_key: str = "") -> SendResult:
        """OK documents no reply-to: the text goes out without the quote."""
        return self._send(channel, conv, {"text": text}, idempotency_key)

    def send_media(self, channel: Channel, conv: ConvRef, media: OutboundMedia, *, caption: str | None = None,
                   reply_to: str | None = None, idempotency_key: str = "") -> SendResult:
        kind = UPLOAD_TYPES.get(media.kind, "FILE")
        token = self._upload(channel, kind, media)
        message: Json = {"attachment": {"type": kind, "payload": {"token": token}}}
        if caption:
            message["text"] = caption
        for attempt in range(ATTACHMENT_RETRIES + 1):
            try:
                return self._send(channel, conv, message, idempotency_key)
            except errors.PermanentError as exc:
                if attempt == ATTACHMENT_RETRIES or not _not_ready(exc):
                    raise
            self.sleep(self.attachment_wait * (2 ** attempt))
        raise errors.TransientError("ok attachment never became ready")  # pragma: no cover - loop returns or raises

    def typing(self, channel: Channel, conv: ConvRef) -> None:
        self._action(channel, conv, "typing_on")

    def mark_read(self, channel: Channel, conv: ConvRef, last_message: str | None = None) -> None:
        self._action(channel, conv, "mark_seen")

    def _send(self, channel: Channel, conv: ConvRef, message: Json, idempotency_key: str) -> SendResult:
        body = {"recipient": _recipient(conv), "message": message}
        result = self._call(channel, "send", "POST", _messages_path(conv), json_body=body)
        return SendResult(external_message_id=_message_id(result, idempotency_key), raw=_safe_raw(result))

    def _action(self, channel: Channel, conv: ConvRef, action: str) -> None:
        self._call(channel, action, "POST", _messages_path(conv),
                   json_body={"recipient": _recipient(conv), "sender_action": action})

    def _upload(self, channel: Channel, kind: str, media: OutboundMedia) -> str:
        target = self._call(channel, "fileUploadUrl", "GET", "graph/me/fileUploadUrl", params={"type": kind})
        upload_url = _str(target.get("url")) if isinstance(target, dict) else ""
        if not _is_http(upload_url):
            raise errors.PermanentError("ok fileUploadUrl returned no upload url")
        file_name = media.file_name or f"{media.kind or 'file'}{mimetypes.guess_extension(media.mime_type) or ''}"
        files = {"data": (file_name, media.data, media.mime_type or "application/octet-stream")}
        try:
            response = self.session.post(upload_url, files=files, timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR))
        except requests.RequestException as exc:
            raise_transport("ok upload", exc)
        body = json_or_none(response)
        if response.status_code != 200:
            _raise_provider("upload", response.status_code, body, response.headers.get("Retry-After"))
        token = _upload_token(body) or _str(target.get("token"))
        if not token:
            raise errors.PermanentError("ok upload returned no token")
        return token

    # ---------------------------------------------------------------------------------------- files and setup

    def fetch_media(self, channel: Channel, file_ref: str) -> FetchedMedia:
        """Download an inbound file from OK's CDN (public URLs: the access token is never added)."""
        if not _is_http(file_ref):
            raise errors.PermanentError("ok attachment has no downloadable URL")
        try:
            with self.session.get(file_ref, stream=True, timeout=max(self.timeout, MEDIA_TIMEOUT_FLOOR)) as response:
                if response.status_code != 200:
                    _raise_provider("media download", response.status_code, None, None)
                data = bytearray()
                for block in response.iter_content(chunk_size=64 * 1024):
                    data.extend(block)
                    if len(data) > DOWNLOAD_MAX_BYTES:
                        raise errors.PermanentError("ok attachment is larger than 50 MB")
                mime = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        except requests.RequestException as exc:
            raise_transport("ok media download", exc)
        if mime == "text/html":
            raise errors.PermanentError("ok attachment is a page, not a file")
        mime = mime or "application/octet-stream"
        name = posixpath.basename(urlsplit(file_ref).path) or "attachment"
        if "." not in name:
            name += mimetypes.guess_extension(mime) or ""
        return FetchedMedia(data=bytes(data), mime_type=mime, file_name=name)

    def register_webhook(self, channel: Channel, url: str) -> dict[str, Any]:
        """Subscribe our URL (with `?k=`); returns the URL without the token, to keep on the channel."""
        self._subscribe(channel, self._webhook_url(channel, url))
        return {"webhook_url": url}

    def check_health(self, channel: Channel) -> dict[str, Any]:
        """OK if our URL is subscribed; a subscription OK dropped (8 h of failures) is made again."""
        url = self._webhook_url(channel)
        try:
            found = self._call(channel, "subscriptions", "GET", "graph/me/subscriptions")
        except errors.ChannelError as exc:
            return {"ok": False, "error": exc.message}
        listed = [_str(s.get("url")) for s in (found.get("subscriptions") or []) if isinstance(s, dict)] \
            if isinstance(found, dict) else []
        if any(_same_url(u, url) for u in listed):
            return {"ok": True, "webhook": "subscribed", "subscriptions": len(listed)}
        try:
            self._subscribe(channel, url)
        except errors.ChannelError as exc:
            return {"ok": False, "webhook": "missing", "error": exc.message}
        logger.warning("ok webhook was not subscribed: subscribed again", extra={"channel_id": channel.id})
        return {"ok": True, "webhook": "resubscribed", "subscriptions": len(listed) + 1}

    def _subscribe(self, channel: Channel, url_with_token: str) -> None:
        result = self._call(channel, "subscribe", "POST", "graph/me/subscribe", json_body={"url": url_with_token})
        if not isinstance(result, dict) or result.get("success") is not True:
            raise errors.PermanentError("ok subscribe did not succeed")

    def _webhook_url(self, channel: Channel, url: str = "") -> str:
        secret = channel.secrets.get("webhook_secret", "")
        if not secret:
            raise errors.InvalidInput("ok channel has no webhook_secret")
        base = url or _str(channel.settings.get("webhook_url")) or \
            f"{self.public_url}/api/webhooks/{self.kind}/{channel.id}"
        return with_url_token(base, secret)

    # ------------------------------------------------------------------------------------------------- HTTP

    @staticmethod
    def _token(channel: Channel) -> str:
        token = channel.secrets.get("access_token", "")
        if not token:
            raise errors.PermanentError("ok channel has no access_token")
        return token

    def _call(self, channel: Channel, name: str, method: str, path: str, *, params: dict[str, str] | None = None,
              json_body: Json | None = None, timeout: float | None = None) -> Any:
        query = {**(params or {}), "access_token": self._token(channel)}
        url = f"{self.api_url}/{path}?{urlencode(query)}"
        try:
            if method == "GET":
                response = self.session.get(url, timeout=timeout or self.timeout)
            else:
                data = json.dumps(json_body or {}, ensure_ascii=False).encode()
                response = self.session.post(url, data=data, timeout=timeout or self.timeout,
                                             headers={"Content-Type": "application/json;charset=utf-8"})
        except requests.RequestException as exc:
            raise_transport(f"ok {name}", exc)
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and "error_code" not in body:
            return body
        _raise_provider(name, response.status_code, body, response.headers.get("Retry-After"))


def _find_message(found: Any, mid: str) -> Json | None:
    messages = found.get("messages") if isinstance(found, dict) else None
    for item in messages or []:
        if isinstance(item, dict) and isinstance(item.get("message"), dict) and item["message"].get("mid") == mid:
            return item
    return None


def _recipient(conv: ConvRef) -> Json:
    target = conv.external_conversation_id
    return {"user_id": target} if target.startswith("user:") else {"chat_id": target}


def _messages_path(conv: ConvRef) -> str:
    return f"graph/me/messages/{quote(conv.external_conversation_id, safe=':')}"


def _message_id(result: Any, idempotency_key: str) -> str:
    """The created message's id. OK's answer fields are unconfirmed: known shapes first, then a stable stand-in."""
    if isinstance(result, dict):
        nested = _obj(result.get("message"))
        for value in (result.get("message_id"), result.get("mid"), nested.get("mid")):
            if isinstance(value, str) and value:
                return value
    return f"ok-{stable_hash(idempotency_key or json.dumps(result, sort_keys=True, default=str))}"


def _safe_raw(result: Any) -> Json:
    return {k: v for k, v in result.items() if isinstance(v, (str, int, bool))} if isinstance(result, dict) else {}


def _upload_token(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("token"), str):
        return str(body["token"])
    photos = body.get("photos")
    if isinstance(photos, dict):
        for photo in photos.values():
            if isinstance(photo, dict) and isinstance(photo.get("token"), str):
                return str(photo["token"])
    return ""


def _not_ready(exc: errors.ChannelError) -> bool:
    text = f"{exc.message} {exc.details.get('error_code', '')}".lower()
    return "not.ready" in text or "not ready" in text or "not_ready" in text


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value or "")
    except ValueError:
        return 1.0
    return seconds if seconds > 0 else 1.0


def _raise_provider(name: str, status: int, body: Any, retry_after: str | None) -> NoReturn:
    body = body if isinstance(body, dict) else {}
    code = body.get("error_code", body.get("code"))
    description = _str(body.get("error_msg")) or _str(body.get("message")) or f"HTTP {status}"
    description = _TOKEN_RE.sub(r"\1<redacted>", description)
    message = f"ok {name}: {description}"
    details: Json = {"status": status, "error_code": code}
    if status == 429:
        raise errors.RateLimited(message, retry_after=_retry_after(retry_after))
    if status >= 500 or (status == 200 and (code is None or code in _TRANSIENT_BODY_CODES)):
        raise errors.TransientError(message, details=details)
    if status in (403, 404) and name == "send":
        raise errors.RecipientUnavailable(message, details=details)
    raise errors.PermanentError(message, details=details)
