"""A fake OK.ru Bot API (the group messages part of the Graph API) that speaks the real HTTP protocol.

`FakeOK.handle(method, path, headers, body)` takes the path after the mount prefix and answers like OK
(CHANNELS.md §5): `graph/me/subscribe|unsubscribe|subscriptions|info`, `graph/me/chat/{chat_id}`,
`graph/me/messages/{chat_id}` (GET: the chat's messages, newest first; POST: send a message or a sender action),
`graph/me/fileUploadUrl?type=` and the upload URL it hands out. Every call needs `?access_token=` of a known group.
Errors are HTTP statuses with `{"error_code", "error_msg", "error_data"}` (OK's error object; the Graph API's exact
error shape is unconfirmed). Customer attachments are served under `/_media/<name>`.

Introspection under the same prefix: `GET /_sent?chat_id=` and `POST /_reset`. `FakeOKServer` serves a fake on
127.0.0.1 for tests; the embedded runner mounts `handle` under `/_fake/ok`.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from chalicelib.local.fakes.server import FakeServer
from chalicelib.local.fakes.telegram import parse_request

Json = dict[str, Any]
Response = tuple[int, dict[str, str], bytes]

UPLOAD_TYPES = ("IMAGE", "VIDEO", "AUDIO", "FILE")
MAX_ATTACHMENTS = 5
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen", "sending_photo", "sending_video", "sending_audio")

_GRAPH = re.compile(r"^/graph/me/(?P<method>[A-Za-z]+)(?:/(?P<arg>[^/]+))?/?$")
_UPLOAD = re.compile(r"^/_upload/(?P<upload_id>[A-Za-z0-9_-]+)$")
_MEDIA = re.compile(r"^/_media/(?P<name>[A-Za-z0-9_.-]+)$")
_INSTANCES: list[weakref.ref[FakeOK]] = []  # fakes of this process, oldest first (the simulator uses the newest)


class ApiError(Exception):
    def __init__(self, status: int, error_code: int, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.retry_after = retry_after


@dataclass
class _Group:
    token: str
    group_id: str
    name: str
    subscriptions: list[Json] = field(default_factory=list)


@dataclass
class _Chat:
    chat_id: str
    token: str
    user_id: str
    name: str
    messages: list[Json] = field(default_factory=list)  # the chat's messages as GET messages answers them


@dataclass
class _Failure:
    name: str
    status: int
    remaining: int
    retry_after: int


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json;charset=utf-8", "Content-Length": str(len(body)),
                    **(headers or {})}, body


def _error(err: ApiError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.status == 429 else {}
    return _json(err.status, {"error_code": err.error_code, "error_msg": err.message, "error_data": None}, headers)


def _chat_id_for(token: str, user_id: str) -> str:
    return "chat:C" + hashlib.sha256(f"{token}\x1f{user_id}".encode()).hexdigest()[:12]


def _user_id(user_id: str) -> str:
    text = user_id.strip()
    if text.startswith("user:"):
        return text
    digits = text if text.isdigit() else str(int(hashlib.sha256(text.encode()).hexdigest()[:10], 16))
    return f"user:{digits}"


class FakeOK:
    """In-memory OK groups: subscriptions, group-user chats and their messages, uploads, calls and failures."""

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url  # where this fake is reachable; upload URLs point here
        self._lock = threading.RLock()
        self._groups: dict[str, _Group] = {}
        self._chats: dict[str, _Chat] = {}
        self._uploads: dict[str, Json] = {}  # upload id -> {type, token, data}
        self._tokens: dict[str, Json] = {}  # attachment token -> {type, file_name, size}
        self._media: dict[str, tuple[bytes, str]] = {}
        self._sent: list[Json] = []
        self._failures: list[_Failure] = []
        self._seq = itertools.count(98211023614189660)
        self.calls: list[Json] = []
        _INSTANCES[:] = [ref for ref in _INSTANCES if ref() is not None]
        _INSTANCES.append(weakref.ref(self))

    # ---------------------------------------------------------------------------------------------- setup

    def add_group(self, token: str, group_id: str, name: str = "") -> None:
        """A group whose Bot API key is `token` (as "Get access token" in the group's settings gives it)."""
        with self._lock:
            existing = self._groups.get(token)
            self._groups[token] = _Group(token, group_id, name or group_id,
                                         existing.subscriptions if existing else [])

    def knows(self, token: str) -> bool:
        with self._lock:
            return token in self._groups

    def fail_next(self, name: str, status: int = 429, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `name` answer `status`. Names: send, typing_on, mark_seen, messages (GET),
        subscribe, unsubscribe, subscriptions, info, chat, fileUploadUrl, upload, media."""
        with self._lock:
            self._failures.append(_Failure(name, status, times, retry_after))

    def add_media(self, data: bytes, mime_type: str, extension: str = "") -> str:
        """A file a customer attached: returns its URL on this fake (what OK's CDN would serve)."""
        name = f"{secrets.token_hex(6)}{extension}"
        with self._lock:
            self._media[name] = (data, mime_type)
        return f"{self._base('')}/_media/{name}"

    def customer_message(self, token: str, user_id: str, name: str, text: str = "",
                         attachments: list[Json] | None = None) -> Json:
        """A customer writes to the group: the message joins the chat and the webhook payload OK would post is
        returned (webhooks carry no sender name; GET messages does)."""
        with self._lock:
            if token not in self._groups:
                raise KeyError("unknown group token")
            user = _user_id(user_id)
            chat_id = _chat_id_for(token, user)
            chat = self._chats.setdefault(chat_id, _Chat(chat_id, token, user, name))
            message: Json = {"text": text, "seq": next(self._seq), "mid": self._mid(chat_id)}
            if attachments:
                message["attachments"] = copy.deepcopy(attachments)
            payload = {"sender": {"user_id": user}, "recipient": {"chat_id": chat_id}, "message": message,
                       "timestamp": int(time.time() * 1000)}
            self._store(chat, payload, name)
            return copy.deepcopy(payload)

    def add_chat_message(self, token: str, payload: Json, name: str = "") -> None:
        """Make an existing webhook payload (e.g. a documented fixture) a real message of the group's chat."""
        with self._lock:
            chat_id = payload["recipient"]["chat_id"]
            user = payload["sender"]["user_id"]
            chat = self._chats.setdefault(chat_id, _Chat(chat_id, token, user, name))
            self._store(chat, payload, name)

    # ------------------------------------------------------------------------------------------- inspection

    def sent(self, chat_id: str | None = None) -> list[Json]:
        """Messages the groups sent, oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat_id"] == chat_id]

    def calls_of(self, name: str) -> list[Json]:
        with self._lock:
            return [copy.deepcopy(c) for c in self.calls if c["name"] == name]

    def subscriptions(self, token: str) -> list[str]:
        with self._lock:
            return [s["url"] for s in self._groups[token].subscriptions]

    def drop_subscriptions(self, token: str) -> None:
        """What OK does to a webhook that failed for 8 hours."""
        with self._lock:
            self._groups[token].subscriptions.clear()

    def reset(self) -> None:
        """Forget calls, sent messages, failures and subscriptions; groups, chats and media stay."""
        with self._lock:
            self.calls.clear()
            self._sent.clear()
            self._failures.clear()
            for group in self._groups.values():
                group.subscriptions.clear()

    # ------------------------------------------------------------------------------------------------ HTTP

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Serve one HTTP request; `path` starts after the mount prefix and may carry a query string."""
        parts = urlsplit(path)
        route = parts.path.rstrip("/") or "/"
        try:
            if route == "/_sent" and method == "GET":
                chat = parse_qs(parts.query).get("chat_id", [""])[-1]
                return _json(200, self.sent(chat or None))
            if route == "/_reset" and method == "POST":
                self.reset()
                return _json(200, {"success": True})
            if match := _MEDIA.match(parts.path):
                return self._serve_media(match["name"])
            if match := _UPLOAD.match(parts.path):
                return self._receive_upload(match["upload_id"], parts.query, headers, body)
            if match := _GRAPH.match(parts.path):
                return self._graph(method, match["method"], unquote(match["arg"] or ""), parts.query, headers, body)
            raise ApiError(404, 300, "NOT_FOUND : unknown path")
        except ApiError as err:
            return _error(err)

    def _graph(self, http: str, method: str, arg: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        payload = self._payload(body) if http == "POST" else {}
        name = self._call_name(http, method, payload)
        with self._lock:
            call: Json = {"name": name, "http": http, "method": method, "arg": arg,
                          "token": params.get("access_token", ""), "params": {k: v for k, v in params.items()
                                                                              if k != "access_token"},
                          "body": copy.deepcopy(payload), "status": 200}
            self.calls.append(call)
            try:
                group = self._group(params.get("access_token", ""))
                self._maybe_fail(name)
                return _json(200, self._dispatch(http, method, arg or params.get("chat_id", ""), params, payload,
                                                 group, headers))
            except ApiError as err:
                call["status"] = err.status
                raise

    def _dispatch(self, http: str, method: str, arg: str, params: Json, payload: Json, group: _Group,
                  headers: dict[str, str]) -> Json:
        handlers = {
            ("POST", "subscribe"): lambda: self._subscribe(group, payload),
            ("POST", "unsubscribe"): lambda: self._unsubscribe(group, payload),
            ("GET", "subscriptions"): lambda: {"subscriptions": copy.deepcopy(group.subscriptions)},
            ("GET", "info"): lambda: {"name": group.name, "group_id": group.group_id},
            ("GET", "chat"): lambda: self._chat_info(group, arg),
            ("GET", "messages"): lambda: self._history(group, arg, params),
            ("POST", "messages"): lambda: self._post_message(group, arg, payload),
            ("GET", "fileUploadUrl"): lambda: self._upload_url(params, headers),
        }
        handler = handlers.get((http, method))
        if handler is None:
            raise ApiError(404, 3, "METHOD : method not found")
        return handler()

    # ---------------------------------------------------------------------------------------------- methods

    @staticmethod
    def _subscribe(group: _Group, payload: Json) -> Json:
        url = str(payload.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise ApiError(400, 100, "PARAM : url must be an http: or https: URL")
        if url not in [s["url"] for s in group.subscriptions]:
            group.subscriptions.append({"time": int(time.time() * 1000), "url": url})
        return {"success": True}

    @staticmethod
    def _unsubscribe(group: _Group, payload: Json) -> Json:
        url = str(payload.get("url") or "")
        group.subscriptions[:] = [s for s in group.subscriptions if s["url"] != url]
        return {"success": True}

    def _chat_info(self, group: _Group, chat_id: str) -> Json:
        chat = self._own_chat(group, chat_id)
        last = chat.messages[-1]["timestamp"] if chat.messages else 0
        return {"type": "DIALOG", "status": "ACTIVE", "title": chat.name, "chat_id": chat.chat_id,
                "participants": {chat.user_id: last}, "lastEventTime": last, "owner_id": chat.user_id,
                "group_id": group.group_id}

    def _history(self, group: _Group, chat_id: str, params: Json) -> Json:
        chat = self._own_chat(group, chat_id)
        try:
            count = max(1, min(int(params.get("count") or 50), 100))
        except ValueError:
            raise ApiError(400, 100, "PARAM : count must be a number") from None
        return {"messages": copy.deepcopy(list(reversed(chat.messages))[:count])}

    def _post_message(self, group: _Group, chat_id: str, payload: Json) -> Json:
        recipient = _obj(payload.get("recipient"))
        target = str(recipient.get("chat_id") or chat_id)
        if chat_id and recipient.get("chat_id") and recipient["chat_id"] != chat_id:
            raise ApiError(400, 100, "PARAM : recipient.chat_id does not match the path")
        chat = self._own_chat(group, target)
        action = payload.get("sender_action")
        if action is not None:
            if action not in SENDER_ACTIONS:
                raise ApiError(400, 100, "PARAM : unknown sender_action")
            return {"success": True}
        message = payload.get("message")
        if not isinstance(message, dict):
            raise ApiError(400, 100, "PARAM : message is required")
        text = message.get("text")
        attachments = self._outbound_attachments(message)
        if not (isinstance(text, str) and text.strip()) and not attachments:
            raise ApiError(400, 100, "PARAM : message text or attachment is required")
        mid = self._mid(chat.chat_id)
        sent = {"chat_id": chat.chat_id, "mid": mid, "text": text if isinstance(text, str) else "",
                "attachments": attachments, "at": int(time.time() * 1000)}
        self._sent.append(sent)
        chat.messages.append({"sender": {"name": group.name, "user_id": group.group_id},
                              "recipient": {"chat_id": chat.chat_id},
                              "message": {"text": sent["text"], "seq": next(self._seq), "mid": mid},
                              "timestamp": sent["at"]})
        return {"success": True, "message_id": mid}

    def _outbound_attachments(self, message: Json) -> list[Json]:
        items = message.get("attachments") or ([message["attachment"]] if message.get("attachment") else [])
        if not isinstance(items, list) or len(items) > MAX_ATTACHMENTS:
            raise ApiError(400, 100, f"PARAM : at most {MAX_ATTACHMENTS} attachments")
        found = []
        for item in items:
            kind = str((item or {}).get("type") or "") if isinstance(item, dict) else ""
            payload = _obj(_obj(item).get("payload"))
            if kind not in (*UPLOAD_TYPES, "SHARE"):
                raise ApiError(400, 100, "PARAM : unknown attachment type")
            token = str(payload.get("token") or "")
            if token:
                uploaded = self._tokens.get(token)
                if uploaded is None:
                    raise ApiError(400, 100, "PARAM : attachment token is unknown or the file is not uploaded yet")
                found.append({"type": kind, **uploaded})  # name, mime type, size and sha256: never the bytes
            elif str(payload.get("url") or "").startswith(("http://", "https://")):
                found.append({"type": kind, "url": payload["url"]})
            else:
                raise ApiError(400, 100, "PARAM : attachment payload needs a token or a url")
        return found

    def _upload_url(self, params: Json, headers: dict[str, str]) -> Json:
        kind = str(params.get("type") or "")
        if kind not in UPLOAD_TYPES:
            raise ApiError(400, 100, "PARAM : type must be one of IMAGE, VIDEO, AUDIO, FILE")
        upload_id = secrets.token_hex(8)
        token = secrets.token_urlsafe(24)
        self._uploads[upload_id] = {"type": kind, "token": token}
        return {"url": f"{self._base(_host(headers))}/_upload/{upload_id}", "token": token}

    def _receive_upload(self, upload_id: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        with self._lock:
            call: Json = {"name": "upload", "http": "POST", "method": "upload", "arg": upload_id, "token": "",
                          "params": {}, "body": None, "status": 200}
            self.calls.append(call)
            try:
                self._maybe_fail("upload")
                upload = self._uploads.get(upload_id)
                if upload is None:
                    raise ApiError(404, 300, "NOT_FOUND : upload url expired")
                _params, files = parse_request(query, headers, body)
                if len(files) != 1:
                    raise ApiError(400, 100, "PARAM : exactly one file is expected")
                file_name, mime, data = next(iter(files.values()))
                if not data:
                    raise ApiError(400, 100, "PARAM : the file is empty")
                call["file"] = {"name": file_name, "mime_type": mime, "size": len(data)}
                self._tokens[upload["token"]] = {"file_name": file_name, "mime_type": mime, "size": len(data),
                                                 "sha256": hashlib.sha256(data).hexdigest()}
                return _json(200, {"token": upload["token"]})
            except ApiError as err:
                call["status"] = err.status
                return _error(err)

    def _serve_media(self, name: str) -> Response:
        with self._lock:
            self.calls.append({"name": "media", "http": "GET", "method": "media", "arg": name, "token": "",
                               "params": {}, "body": None, "status": 200})
            self._maybe_fail("media")
            found = self._media.get(name)
        if found is None:
            raise ApiError(404, 300, "NOT_FOUND : media not found")
        data, mime = found
        return 200, {"Content-Type": mime, "Content-Length": str(len(data))}, data

    # ---------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _payload(body: bytes) -> Json:
        if not body:
            return {}
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ApiError(400, 100, "PARAM : body is not valid JSON") from None
        if not isinstance(decoded, dict):
            raise ApiError(400, 100, "PARAM : body must be a JSON object")
        return decoded

    @staticmethod
    def _call_name(http: str, method: str, payload: Json) -> str:
        if http == "POST" and method == "messages":
            action = payload.get("sender_action")
            return str(action) if isinstance(action, str) else "send"
        return method

    def _group(self, token: str) -> _Group:
        group = self._groups.get(token)
        if group is None:
            raise ApiError(401, 102, "PARAM_SESSION_EXPIRED : invalid access_token")
        return group

    def _own_chat(self, group: _Group, chat_id: str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None or chat.token != group.token:
            raise ApiError(404, 300, "NOT_FOUND : chat not found")
        return chat

    def _maybe_fail(self, name: str) -> None:
        for failure in self._failures:
            if failure.name == name and failure.remaining > 0:
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                code = 2 if failure.status >= 500 else 100
                raise ApiError(failure.status, code, f"fake failure {failure.status}", failure.retry_after)

    def _mid(self, chat_id: str) -> str:
        return f"mid:{chat_id.removeprefix('chat:')}.{secrets.token_hex(7)[:13]}"

    @staticmethod
    def _store(chat: _Chat, payload: Json, name: str) -> None:
        stored = copy.deepcopy(payload)
        stored["sender"] = {"name": name or chat.name, **stored.get("sender", {})}
        chat.messages.append(stored)

    def _base(self, host: str) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        configured = os.environ.get("OK_API_URL", "")
        if configured:
            return configured.rstrip("/")
        return f"http://{host or '127.0.0.1'}"


def _obj(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _host(headers: dict[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "host"), "")


# ------------------------------------------------------------------------------------------------------ server


class FakeOKServer(FakeServer[FakeOK]):
    """`with FakeOKServer() as ok:` serves a `FakeOK` at `ok.url` (use it as OK_API_URL)."""

    def __init__(self, fake: FakeOK | None = None) -> None:
        super().__init__(fake or FakeOK(), name="fake-ok")


# --- the customer simulator (see chalicelib/local/fakes/__init__.py) ---------------------------------------------


def simulate_customer(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Any:
    """The webhook OK would post when a customer writes to the group (OK documents no reply-to: ignored).

    The message also joins the group's chat in this process's fake, so the adapter's fetch-back finds it.
    """
    from chalicelib.local.fakes import SimulatedRequest

    token = channel.secrets.get("access_token", "")
    alive = [ref() for ref in reversed(_INSTANCES)]
    fake = next((f for f in alive if f is not None and f.knows(token)), None)
    if fake is not None:
        payload = fake.customer_message(token, user_id, name, text)
    else:
        user = _user_id(user_id)
        chat_id = _chat_id_for(token, user)
        payload = {"sender": {"user_id": user}, "recipient": {"chat_id": chat_id},
                   "message": {"text": text, "seq": int(time.time() * 1000),
                               "mid": f"mid:{chat_id.removeprefix('chat:')}.{secrets.token_hex(6)}"},
                   "timestamp": int(time.time() * 1000)}
    body = json.dumps(payload, ensure_ascii=False).encode()
    query = urlencode({"k": channel.secrets.get("webhook_secret", "")})
    request = SimulatedRequest("POST", query, {"Content-Type": "application/json;charset=utf-8"}, body)
    request.external_conversation_id = payload["recipient"]["chat_id"]  # type: ignore[attr-defined]
    return request


def customer_view(fake: FakeOK, external_conversation_id: str) -> list[Json]:
    """What the customer sees from the group in that chat, oldest first."""
    return [{"id": m["mid"], "text": m["text"], "attachments": [a["type"] for a in m["attachments"]], "at": m["at"]}
            for m in fake.sent(external_conversation_id)]
