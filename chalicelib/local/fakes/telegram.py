"""A fake Telegram Bot API that speaks the real HTTP protocol.

`FakeTelegram` is transport-independent: `handle(method, path, headers, body)` takes the path after the mount
prefix (`/bot{token}/{method}`, `/file/bot{token}/{file_path}`) and returns `(status, headers, body)`.
Parameters arrive as JSON, url-encoded forms, multipart forms or a query string, as with the real API, and
answers have the real shapes: `{"ok": true, "result": …}` or `{"ok": false, "error_code": …, "description": …}`.
`FakeTelegramServer` serves it on 127.0.0.1 for tests; the embedded runner mounts `handle` under its own prefix.

Introspection for the simulator, under the same prefix: `GET /_sent?chat_id=` and `POST /_reset`.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import mimetypes
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.local.fakes import forms
from chalicelib.local.fakes.server import FakeServer

Json = forms.Json
Files = forms.Files
Response = tuple[int, dict[str, str], bytes]

TEXT_MAX = 4096
CAPTION_MAX = 1024
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_MAX_BYTES = 50 * 1024 * 1024

_BOT_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z_]+)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<file_path>.+)$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: request failed",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# method -> (upload field, message key, file path folder, default extension, default mime)
_MEDIA = {
    "sendphoto": ("photo", "photo", "photos", ".jpg", "image/jpeg"),
    "senddocument": ("document", "document", "documents", "", "application/octet-stream"),
    "sendvoice": ("voice", "voice", "voice", ".oga", "audio/ogg"),
    "sendaudio": ("audio", "audio", "music", ".mp3", "audio/mpeg"),
    "sendvideo": ("video", "video", "videos", ".mp4", "video/mp4"),
}


class ApiError(Exception):
    """An error answer of the fake API (status, description, optional `parameters`)."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


@dataclass
class _Bot:
    token: str
    user: Json
    webhook: Json = field(default_factory=dict)
    webhook_status: Json = field(default_factory=dict)


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class _Failure:
    method: str
    status: int
    remaining: int
    description: str
    retry_after: int


# ------------------------------------------------------------------------------------------------ request parsing


def parse_request(query: str, headers: dict[str, str], body: bytes) -> tuple[Json, Files]:
    """Parameters and uploaded files of a Bot API request, whatever its encoding."""
    try:
        return forms.parse_request(query, headers, body)
    except forms.FormError as err:
        raise ApiError(400, f"Bad Request: {err}") from None


def _int_param(params: Json, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"Bad Request: {name} is empty")
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _json_param(params: Json, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name.replace('_', ' ')} JSON object") from None
    return value


def _chat_key(chat_id: Any) -> int | str:
    if chat_id is None or chat_id == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    text = str(chat_id).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text.startswith("@") and len(text) > 1:
        return text
    raise ApiError(400, "Bad Request: chat not found")


def _chat_object(chat_id: int | str) -> Json:
    if isinstance(chat_id, str):
        return {"id": -1000000000000 - abs(hash(chat_id)) % 10**9, "type": "channel", "username": chat_id[1:]}
    if chat_id > 0:
        return {"id": chat_id, "type": "private"}
    return {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group"}


def _json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body


def _error_response(error: ApiError) -> Response:
    payload: Json = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        payload["parameters"] = error.parameters
    return _json_response(error.status, payload)


def _bot_id(token: str) -> int:
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 7_000_000_000 + sum(map(ord, token)) % 10**6


# ------------------------------------------------------------------------------------------------------ the fake


class FakeTelegram:
    """In-memory Bot API: bots, chats, sent messages, files, recorded calls and programmable failures."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._bots: dict[str, _Bot] = {}
        self._files: dict[str, _File] = {}
        self._counters: dict[tuple[str, int | str], int] = {}
        self._messages: dict[tuple[str, int, int], Json] = {}
        self._sent: list[Json] = []
        self._failures: list[_Failure] = []
        self._blocked: set[int | str] = set()
        self._file_seq = 0
        self._callbacks: dict[str, Json] = {}  # callback query id -> {token, answered, text}
        self.calls: list[Json] = []
        self.download_max_bytes = DOWNLOAD_MAX_BYTES  # raise it to act like a local Bot API server
        self._methods: dict[str, Callable[[_Bot, Json, Files], Any]] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "deletemessage": self._delete_message,
            "deletebusinessmessages": self._delete_business_messages,
            "sendchataction": self._send_chat_action,
            "banchatmember": self._ban_chat_member,
            "getfile": self._get_file,
            "answercallbackquery": self._answer_callback_query,
            **{name: functools.partial(self._send_media, name) for name in _MEDIA},
        }

    # ---------------------------------------------------------------------------------------------- setup

    def add_bot(self, token: str, username: str, first_name: str = "") -> Json:
        """Register a bot token; returns its User object (as getMe answers)."""
        user = {"id": _bot_id(token), "is_bot": True, "first_name": first_name or username, "username": username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
                "can_connect_to_business": True}
        with self._lock:
            self._bots[token] = _Bot(token=token, user=user)
        return dict(user)

    def add_file(self, file_id: str, data: bytes, file_path: str) -> None:
        """A file the bot can `getFile` and download (e.g. a photo a customer sent)."""
        with self._lock:
            self._files[file_id] = _File(file_id, f"u{file_id}"[:16], file_path, data)

    def fail_next(self, method: str, status: int = 429, times: int = 1, retry_after: int = 1,
                  description: str | None = None) -> None:
        """The next `times` calls of `method` (`file` for downloads) answer `status` with a Telegram error."""
        text = description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        with self._lock:
            self._failures.append(_Failure(method.lower(), status, times, text.format(retry_after=retry_after),
                                           retry_after))

    def set_blocked(self, chat_id: int | str, blocked: bool = True) -> None:
        """A user who blocked the bot: sends to the chat answer 403."""
        with self._lock:
            (self._blocked.add if blocked else self._blocked.discard)(_chat_key(chat_id))

    def set_webhook_status(self, token: str, *, pending_update_count: int = 0, last_error_message: str = "",
                           last_error_date: int | None = None) -> None:
        """What getWebhookInfo reports besides the URL (delivery backlog and the last delivery error)."""
        with self._lock:
            self._bots[token].webhook_status = {
                "pending_update_count": pending_update_count,
                "last_error_message": last_error_message,
                "last_error_date": last_error_date if last_error_date is not None else int(time.time()),
            } if last_error_message else {"pending_update_count": pending_update_count}

    def webhook(self, token: str) -> Json:
        """The bot's webhook as last set: url, secret_token, allowed_updates (empty when none)."""
        with self._lock:
            return copy.deepcopy(self._bots[token].webhook)

    def remember(self, token: str, message: Json) -> None:
        """Store a message the bot has seen (e.g. a simulated customer message) so replies can quote it."""
        with self._lock:
            key = (token, int(message["chat"]["id"]), int(message["message_id"]))
            self._messages[key] = copy.deepcopy(message)
            counter_key = (token, int(message["chat"]["id"]))
            self._counters[counter_key] = max(self._counters.get(counter_key, 0), int(message["message_id"]))

    def next_message_id(self, token: str, chat_id: int | str) -> int:
        """Allocate the chat's next message id (shared by the bot's and the customer's messages)."""
        with self._lock:
            key = (token, _chat_key(chat_id))
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]

    # ------------------------------------------------------------------------------------------- inspection

    def sent(self, chat_id: int | str | None = None) -> list[Json]:
        """Messages the bots sent (as Message objects, edits applied, deletions removed), oldest first."""
        with self._lock:
            wanted = None if chat_id is None else _chat_key(chat_id)
            return [copy.deepcopy(m) for m in self._sent if wanted is None or m["chat"]["id"] == wanted]

    def calls_of(self, method: str) -> list[Json]:
        with self._lock:
            return [copy.deepcopy(c) for c in self.calls if c["method"].lower() == method.lower()]

    def reset(self) -> None:
        """Forget calls, messages, failures and webhook state; bots and files stay."""
        with self._lock:
            self.calls.clear()
            self._sent.clear()
            self._messages.clear()
            self._counters.clear()
            self._failures.clear()
            self._blocked.clear()
            self._callbacks.clear()
            for bot in self._bots.values():
                bot.webhook, bot.webhook_status = {}, {}

    # ------------------------------------------------------------------------------------------------ HTTP

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Serve one HTTP request; `path` starts after the mount prefix and may carry a query string."""
        parts = urlsplit(path)
        try:
            if parts.path.rstrip("/") == "/_sent" and method.upper() == "GET":
                return self._introspect_sent(parts.query)
            if parts.path.rstrip("/") == "/_reset" and method.upper() == "POST":
                self.reset()
                return _json_response(200, {"ok": True})
            file_match = _FILE_PATH.match(parts.path)
            if file_match:
                return self._download(file_match["token"], file_match["file_path"])
            api_match = _BOT_PATH.match(parts.path)
            if not api_match:
                raise ApiError(404, "Not Found")
            params, files = parse_request(parts.query, headers, body)
            return self._api(api_match["token"], api_match["method"], params, files)
        except ApiError as error:
            return _error_response(error)

    def _introspect_sent(self, query: str) -> Response:
        chat_id = parse_qs(query).get("chat_id", [""])[-1]
        return _json_response(200, self.sent(chat_id or None))

    def _api(self, token: str, method: str, params: Json, files: Files) -> Response:
        with self._lock:
            call: Json = {"method": method, "token": token, "params": copy.deepcopy(params),
                          "files": dict(files), "status": 200}
            self.calls.append(call)
            try:
                bot = self._bot(token)
                handler = self._methods.get(method.lower())
                if handler is None:
                    raise ApiError(404, "Not Found: method not found")
                self._maybe_fail(method)
                return _json_response(200, {"ok": True, "result": handler(bot, params, files)})
            except ApiError as error:
                call["status"] = error.status
                raise

    def _bot(self, token: str) -> _Bot:
        bot = self._bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        return bot

    def _maybe_fail(self, method: str) -> None:
        for failure in self._failures:
            if failure.method == method.lower() and failure.remaining > 0:
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                params = {"retry_after": failure.retry_after} if failure.status == 429 else None
                raise ApiError(failure.status, failure.description, params)

    def _download(self, token: str, file_path: str) -> Response:
        with self._lock:
            self.calls.append({"method": "file", "token": token, "params": {"file_path": file_path},
                               "files": {}, "status": 200})
            try:
                self._bot(token)
                self._maybe_fail("file")
                found = next((f for f in self._files.values() if f.file_path == file_path), None)
                if found is None:
                    raise ApiError(404, "Not Found")
            except ApiError as error:
                self.calls[-1]["status"] = error.status
                raise
        mime = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return 200, {"Content-Type": mime, "Content-Length": str(len(found.data))}, found.data

    # ---------------------------------------------------------------------------------------------- methods

    def _get_me(self, bot: _Bot, params: Json, files: Files) -> Json:
        return dict(bot.user)

    def _set_webhook(self, bot: _Bot, params: Json, files: Files) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if url and not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = _json_param(params, "allowed_updates")
        bot.webhook = {"url": url, "secret_token": secret or "", "allowed_updates": allowed or []} if url else {}
        return True

    def _delete_webhook(self, bot: _Bot, params: Json, files: Files) -> bool:
        bot.webhook = {}
        return True

    def _get_webhook_info(self, bot: _Bot, params: Json, files: Files) -> Json:
        info: Json = {"url": bot.webhook.get("url", ""), "has_custom_certificate": False,
                      "pending_update_count": 0}
        if bot.webhook:
            info["max_connections"] = 40
            if bot.webhook.get("allowed_updates"):
                info["allowed_updates"] = list(bot.webhook["allowed_updates"])
        info.update(bot.webhook_status)
        return info

    def _send_message(self, bot: _Bot, params: Json, files: Files) -> Json:
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > TEXT_MAX:
            raise ApiError(400, "Bad Request: message is too long")
        content: Json = {"text": text}
        markup = _json_param(params, "reply_markup")
        if markup is not None:
            content["reply_markup"] = _inline_keyboard(markup)
        return self._new_message(bot, params, content)

    def press(self, token: str, chat_id: int, message_id: int, data: str, *, first_name: str = "Anna",
              language: str = "ru") -> Json:
        """The update Telegram posts when the customer presses an inline button of a message the bot sent."""
        with self._lock:
            message = self._messages.get((token, chat_id, message_id))
            if message is None:
                raise ApiError(400, "Bad Request: message not found")
            buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if not any(b.get("callback_data") == data for b in buttons):
                raise ApiError(400, "Bad Request: the message has no such button")
            query_id = str(next(_sim_update_ids))
            self._callbacks[query_id] = {"token": token, "answered": False, "text": ""}
            return {"update_id": next(_sim_update_ids), "callback_query": {
                "id": query_id, "chat_instance": str(abs(hash((token, chat_id))) % 10**12), "data": data,
                "from": {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": language},
                "message": copy.deepcopy(message)}}

    def callback_answers(self) -> list[Json]:
        with self._lock:
            return [{"id": k, **v} for k, v in self._callbacks.items() if v["answered"]]

    def _answer_callback_query(self, bot: _Bot, params: Json, files: Files) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self._callbacks.get(query_id)
        if query is None or query["token"] != bot.token or query["answered"]:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: text is too long")
        query.update(answered=True, text=str(params.get("text") or ""))
        return True

    def _send_media(self, method: str, bot: _Bot, params: Json, files: Files) -> Json:
        field_name, key, folder, extension, default_mime = _MEDIA[method]
        if field_name not in files and not params.get(field_name):
            raise ApiError(400, f"Bad Request: there is no {field_name} in the request")
        caption = str(params.get("caption") or "")
        if _utf16_len(caption) > CAPTION_MAX:
            raise ApiError(400, "Bad Request: message caption is too long")
        stored = self._media_file(field_name, params, files, folder, extension)
        content: Json = {key: self._media_object(key, stored, files.get(field_name), default_mime)}
        if caption:
            content["caption"] = caption
        return self._new_message(bot, params, content)

    def _media_file(self, field_name: str, params: Json, files: Files, folder: str, extension: str) -> _File:
        upload = files.get(field_name)
        if upload is None:
            existing = self._files.get(str(params.get(field_name) or ""))
            if existing is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return existing
        file_name, _mime, data = upload
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(data) > UPLOAD_MAX_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        self._file_seq += 1
        suffix = extension or ("." + file_name.rsplit(".", 1)[-1] if "." in file_name else "")
        stored = _File(f"fake-{field_name}-{self._file_seq}", f"AQAD{self._file_seq:06d}",
                       f"{folder}/file_{self._file_seq}{suffix}", data)
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _media_object(key: str, stored: _File, upload: tuple[str, str, bytes] | None, default_mime: str) -> Any:
        base: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                      "file_size": len(stored.data)}
        if key == "photo":
            width, height = _image_size(stored.data)
            return [{**base, "width": width, "height": height}]
        file_name, mime, _data = upload or (stored.file_path.rsplit("/", 1)[-1], "", b"")
        if mime in ("", "application/octet-stream"):
            mime = mimetypes.guess_type(file_name)[0] or default_mime
        if key == "voice":
            return {**base, "duration": 1, "mime_type": "audio/ogg"}
        if key in ("audio", "video"):
            return {**base, "duration": 1, "file_name": file_name, "mime_type": mime}
        return {**base, "file_name": file_name, "mime_type": mime}

    def _edit_message_text(self, bot: _Bot, params: Json, files: Files) -> Json:
        message = self._stored(bot, params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if message.get("from", {}).get("id") != bot.user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        if message.get("text") == text:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        message["text"] = text
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _delete_message(self, bot: _Bot, params: Json, files: Files) -> bool:
        message = self._stored(bot, params, missing="Bad Request: message to delete not found")
        self._forget(bot, message)
        return True

    def _delete_business_messages(self, bot: _Bot, params: Json, files: Files) -> bool:
        ids = _json_param(params, "message_ids") or []
        connection = str(params.get("business_connection_id") or "")
        for message in [m for m in self._sent if m.get("business_connection_id") == connection]:
            if message["message_id"] in ids:
                self._forget(bot, message)
        return True

    def _send_chat_action(self, bot: _Bot, params: Json, files: Files) -> bool:
        self._chat(params)
        if not params.get("action"):
            raise ApiError(400, "Bad Request: action is empty")
        return True

    def _ban_chat_member(self, bot: _Bot, params: Json, files: Files) -> bool:
        chat_id = self._chat(params)
        _int_param(params, "user_id", required=True)
        if isinstance(chat_id, int) and chat_id > 0:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        return True

    def _get_file(self, bot: _Bot, params: Json, files: Files) -> Json:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > self.download_max_bytes:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data), "file_path": stored.file_path}

    # ---------------------------------------------------------------------------------------------- helpers

    def _chat(self, params: Json) -> int | str:
        chat_id = _chat_key(params.get("chat_id"))
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _stored(self, bot: _Bot, params: Json, missing: str = "Bad Request: message to edit not found") -> Json:
        chat_id = self._chat(params)
        message_id = _int_param(params, "message_id", required=True)
        message = self._messages.get((bot.token, _chat_object(chat_id)["id"], message_id or 0))
        if message is None:
            raise ApiError(400, missing)
        return message

    def _forget(self, bot: _Bot, message: Json) -> None:
        self._messages.pop((bot.token, message["chat"]["id"], message["message_id"]), None)
        self._sent[:] = [m for m in self._sent if m is not message]

    def _new_message(self, bot: _Bot, params: Json, content: Json) -> Json:
        chat_id = self._chat(params)
        chat = _chat_object(chat_id)
        reply = self._reply_target(bot, chat["id"], params)
        message: Json = {"message_id": self.next_message_id(bot.token, chat["id"]),
                         "from": {k: bot.user[k] for k in ("id", "is_bot", "first_name", "username")},
                         "chat": chat, "date": int(time.time())}
        thread = _int_param(params, "message_thread_id")
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if params.get("business_connection_id"):
            message["business_connection_id"] = str(params["business_connection_id"])
        if reply is not None:
            message["reply_to_message"] = {k: v for k, v in reply.items() if k != "reply_to_message"}
        message.update(content)
        self._messages[(bot.token, chat["id"], message["message_id"])] = message
        self._sent.append(message)
        return copy.deepcopy(message)

    def _reply_target(self, bot: _Bot, chat_id: int, params: Json) -> Json | None:
        reply = _json_param(params, "reply_parameters")
        if reply is None and params.get("reply_to_message_id") not in (None, ""):
            reply = {"message_id": params["reply_to_message_id"],
                     "allow_sending_without_reply": params.get("allow_sending_without_reply")}
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
        message_id = _int_param(reply, "message_id", required=True)
        found = self._messages.get((bot.token, chat_id, message_id or 0))
        if found is None and reply.get("allow_sending_without_reply") not in (True, "true", "True", 1):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return copy.deepcopy(found) if found is not None else None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _inline_keyboard(markup: Any) -> Json:
    """InlineKeyboardMarkup as the Bot API checks it: rows of buttons with a text and 1-64 bytes of callback_data."""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array "
                            "of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return copy.deepcopy(markup)


def _image_size(data: bytes) -> tuple[int, int]:
    """PNG and GIF sizes from their headers; other images get a plausible default."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return 1280, 960


# ------------------------------------------------------------------------------------------------------ server


class FakeTelegramServer(FakeServer[FakeTelegram]):
    """`with FakeTelegramServer() as tg:` serves a `FakeTelegram` at `tg.url` (use it as TELEGRAM_API_URL)."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        super().__init__(fake or FakeTelegram(), name="fake-telegram")


# --- the customer simulator (see chalicelib/local/fakes/__init__.py) ---------------------------------------------

_sim_update_ids = itertools.count(int(time.time()) * 10)


def simulate_customer(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Any:
    """The update Telegram would post when a private-chat customer writes to the bot."""
    from chalicelib.local.fakes import SimulatedRequest

    chat_id = int(user_id) if user_id.lstrip("-").isdigit() else abs(hash(user_id)) % 10**9
    now = int(time.time())
    message: Json = {
        "message_id": next(_sim_update_ids) % 10**9, "date": now, "text": text,
        "from": {"id": chat_id, "is_bot": False, "first_name": name, "language_code": "ru"},
        "chat": {"id": chat_id, "type": "private", "first_name": name},
    }
    if reply_to:
        message["reply_to_message"] = {"message_id": int(reply_to), "date": now, "chat": {"id": chat_id,
                                                                                          "type": "private"}}
    body = json.dumps({"update_id": next(_sim_update_ids), "message": message}).encode()
    headers = {"Content-Type": "application/json",
               "X-Telegram-Bot-Api-Secret-Token": channel.secrets.get("webhook_secret", "")}
    return SimulatedRequest("POST", "", headers, body)


def customer_view(fake: FakeTelegram, external_conversation_id: str) -> list[Json]:
    """What the customer sees from the bots in that chat, oldest first."""
    view = []
    for m in fake.sent(external_conversation_id):
        buttons = [{"label": b["text"], "data": b["callback_data"]}
                   for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
                   if b.get("callback_data")]
        view.append({"id": str(m["message_id"]), "text": m.get("text") or m.get("caption") or "",
                     "attachments": [k for k in ("photo", "document", "voice", "audio", "video") if k in m],
                     "at": m.get("date"), **({"buttons": buttons} if buttons else {})})
    return view


def simulate_button(fake: FakeTelegram, channel: Any, *, user_id: str, name: str, message_id: str, data: str) -> Any:
    """The callback_query Telegram posts when the customer presses a button under the bot's message."""
    from chalicelib.local.fakes import SimulatedRequest

    chat_id = int(user_id) if user_id.lstrip("-").isdigit() else abs(hash(user_id)) % 10**9
    update = fake.press(channel.secrets.get("bot_token", ""), chat_id, int(message_id), data, first_name=name)
    headers = {"Content-Type": "application/json",
               "X-Telegram-Bot-Api-Secret-Token": channel.secrets.get("webhook_secret", "")}
    return SimulatedRequest("POST", "", headers, json.dumps(update).encode())
