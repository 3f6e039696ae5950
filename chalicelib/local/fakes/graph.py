"""A fake Meta Graph API for WhatsApp Cloud, Messenger and Instagram, speaking the real HTTP protocol.

`FakeGraph.handle(method, path, headers, body)` takes the path after the mount prefix (`/v25.0/{id}/messages`, …)
and answers with Graph's shapes: `{"messages": [{"id": "wamid…"}]}` (WhatsApp), `{"recipient_id", "message_id"}`
(Send API), `{"id"}` (comments, uploads) or `{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`. Tokens come as `Authorization: Bearer` or `access_token`; each belongs to a WhatsApp phone number
(with its WABA) or to a Page (optionally linked to an Instagram account). Media uploaded or registered here are
served under the fake's own prefix: WhatsApp media at `/_download/{id}` (bearer token required), Messenger /
Instagram attachments at `/_cdn/{asset}/{name}` (signed-looking URL, no token).
Comments are answered (`/{id}/comments`, Instagram `/{id}/replies`), hidden or shown again (`POST /{id}` with
`is_hidden` for a Page comment, `hide` for an Instagram one: each platform refuses the other's parameter), and
deleted; an unknown or deleted comment answers Graph's `(#100)` / subcode 33 error.

Also here: the customer simulator (`simulate_customer`, `customer_view`) and builders of the webhooks Meta would
post (`whatsapp_webhook`, `messaging_webhook`, `FakeGraph.customer_comment`), signed with the channel's app secret.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chalicelib.channels.meta import obj, signature
from chalicelib.local.fakes.server import FakeServer

Json = dict[str, Any]
Response = tuple[int, dict[str, str], bytes]

KINDS = ("whatsapp", "messenger", "instagram")  # the channel kinds this fake serves (the simulator reads it)
MOUNT = "/_fake/graph"
WA_TEXT_MAX = 4096
PAGE_TEXT_MAX = 2000
_VERSIONED = re.compile(r"^/v(?P<version>\d+\.\d+)(?P<rest>/.*)?$")
_WA_TYPES = ("text", "image", "document", "audio", "video", "sticker", "template", "location", "contacts",
             "interactive", "reaction")
_MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
_ids = itertools.count(int(time.time()) % 10**6 * 1000)


class GraphError(Exception):
    def __init__(self, status: int, message: str, code: int, subcode: int | None = None,
                 error_type: str = "OAuthException") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.subcode, self.error_type = status, message, code, subcode, error_type

    def payload(self) -> Json:
        error: Json = {"message": self.message, "type": self.error_type, "code": self.code,
                       "fbtrace_id": "A" + secrets.token_hex(10)}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


@dataclass
class _Account:
    token: str
    kind: str  # whatsapp | page
    id: str  # phone number id / page id
    name: str = ""
    waba_id: str = ""
    display_phone_number: str = ""
    ig_user_id: str = ""
    ig_username: str = ""


@dataclass
class _Comment:
    id: str
    account: str  # page id or Instagram account id
    post_id: str
    author_id: str
    author_name: str
    text: str
    created_time: int
    parent_id: str = ""
    hidden: bool = False
    deleted: bool = False
    private_reply: str = ""
    replies: list[Json] = field(default_factory=list)


@dataclass
class _Failure:
    path: str
    status: int
    code: int
    subcode: int | None
    message: str
    remaining: int


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body


def _parse(query: str, headers: dict[str, str], body: bytes) -> tuple[Json, dict[str, tuple[str, str, bytes]]]:
    from chalicelib.local.fakes.telegram import ApiError, parse_request

    try:
        params, files = parse_request(query, headers, body)
    except ApiError as err:
        raise GraphError(400, f"(#100) {err.description}", 100) from None
    for key in ("recipient", "message", "template", "context", "text"):
        value = params.get(key)
        if isinstance(value, str) and value[:1] in "{[":
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise GraphError(400, f"(#100) param {key} must be JSON", 100) from None
    return params, files


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class FakeGraph:
    """In-memory Graph API: accounts and tokens, sent messages, media, comments, recorded calls, failures."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[str, _Account] = {}
        self._media: dict[str, tuple[str, bytes, str]] = {}  # id -> (owner account id, data, mime)
        self._cdn: dict[str, tuple[bytes, str]] = {}
        self._comments: dict[str, _Comment] = {}
        self._last_inbound: dict[tuple[str, str], float] = {}
        self._failures: list[_Failure] = []
        self._sent: list[Json] = []
        self.calls: list[Json] = []
        self.moderation: list[Json] = []  # hide / unhide of comments, in order
        self.subscriptions: list[Json] = []
        self.public_url = ""  # where this fake is reachable; else derived from the request's Host header

    # --------------------------------------------------------------------------------------------------- setup

    def add_whatsapp_number(self, token: str, phone_number_id: str, waba_id: str, *,
                            display_phone_number: str = "15550001111", verified_name: str = "Zabota shop") -> None:
        with self._lock:
            self._accounts[token] = _Account(token, "whatsapp", phone_number_id, verified_name, waba_id=waba_id,
                                             display_phone_number=display_phone_number)

    def add_page(self, token: str, page_id: str, name: str = "Zabota shop", *, ig_user_id: str = "",
                 ig_username: str = "") -> None:
        with self._lock:
            self._accounts[token] = _Account(token, "page", page_id, name, ig_user_id=ig_user_id,
                                             ig_username=ig_username)

    def add_media(self, media_id: str, data: bytes, mime_type: str, *, phone_number_id: str = "") -> None:
        """Media a WhatsApp customer sent: `GET /{media_id}` then a download with the token."""
        with self._lock:
            self._media[media_id] = (phone_number_id, data, mime_type)

    def add_cdn_file(self, data: bytes, mime_type: str, name: str = "file.bin") -> str:
        """An attachment a Messenger / Instagram customer sent; returns its path under this fake's prefix."""
        asset = secrets.token_hex(8)
        with self._lock:
            self._cdn[asset] = (data, mime_type)
        return f"/_cdn/{asset}/{name}?oh={secrets.token_hex(6)}&oe={int(time.time()) + 3600:x}"

    def url(self, path: str) -> str:
        return f"{self.public_url}{path}"

    def customer_wrote(self, account_id: str, user_id: str, at: float | None = None) -> None:
        """The customer's last message time, for the 24-hour window (unknown customers are not checked)."""
        with self._lock:
            self._last_inbound[(account_id, user_id)] = time.time() if at is None else at

    def fail_next(self, path: str, status: int = 429, *, code: int = 4, subcode: int | None = None,
                  times: int = 1, message: str = "") -> None:
        """The next `times` calls whose path (after the version) contains `path` fail with a Graph error."""
        text = message or ("(#4) Application request limit reached" if code == 4 else f"(#{code}) Fake failure")
        with self._lock:
            self._failures.append(_Failure(path, status, code, subcode, text, times))

    def customer_comment(self, channel: Any, *, post_id: str, user_id: str, name: str, text: str,
                         parent_id: str = "", verb: str = "add", comment_id: str = "") -> Any:
        """A comment under one of the channel's posts: remembered here, and the webhook Meta would post."""
        kind = channel.kind
        account = channel.secrets["page_id"] if kind == "messenger" else channel.secrets["ig_user_id"]
        comment_id = comment_id or (f"{post_id}_{next(_ids)}" if kind == "messenger" else f"179{next(_ids):014d}")
        now = int(time.time())
        with self._lock:
            known = self._comments.get(comment_id)
            if known is None:
                self._comments[comment_id] = _Comment(comment_id, account, post_id, user_id, name, text, now,
                                                      parent_id)
            else:
                known.text = text
        if kind == "messenger":
            value = {"item": "comment", "verb": verb, "comment_id": comment_id, "post_id": post_id,
                     "parent_id": parent_id or post_id, "created_time": now, "from": {"id": user_id, "name": name},
                     "message": text}
            payload = {"object": "page", "entry": [{"id": account, "time": now,
                                                    "changes": [{"field": "feed", "value": value}]}]}
        else:
            value = {"id": comment_id, "text": text, "from": {"id": user_id, "username": name},
                     "media": {"id": post_id, "media_product_type": "FEED"}}
            if parent_id:
                value["parent_id"] = parent_id
            payload = {"object": "instagram", "entry": [{"id": account, "time": now,
                                                         "changes": [{"field": "comments", "value": value}]}]}
        return signed(channel, payload)

    def comment_deleted_by_author(self, comment_id: str) -> None:
        """The commenter removed their comment: Graph no longer knows it (no webhook is sent here)."""
        with self._lock:
            self._comments[comment_id].deleted = True

    # ---------------------------------------------------------------------------------------------- inspection

    def sent(self, recipient: str | None = None) -> list[Json]:
        """Messages sent by the accounts (WhatsApp `to`, Send API recipient), oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._sent if recipient is None or m["to"] == recipient]

    def comment(self, comment_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._comments[comment_id].__dict__)

    def comments_by(self, post_id: str, author_id: str) -> list[Json]:
        with self._lock:
            return [copy.deepcopy(c.__dict__) for c in self._comments.values()
                    if c.post_id == post_id and c.author_id == author_id]

    def api_calls(self, path_part: str = "", method: str | None = None) -> list[Json]:
        """Recorded calls (not the introspection or download paths) whose path contains `path_part`."""
        return [c for c in self.calls if path_part in c["path"] and (method is None or c["method"] == method)]

    # ------------------------------------------------------------------------------------------------- dispatch

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        split = urlsplit(path)
        base = self.public_url or f"http://{_header(headers, 'host')}{MOUNT}"
        try:
            if split.path.startswith("/_cdn/"):
                return self._cdn_get(split.path)
            if split.path.startswith("/_download/"):
                return self._download(split.path, headers, split.query)
            match = _VERSIONED.match(split.path)
            version, rest = (match["version"], match["rest"] or "/") if match else ("", split.path)
            params, files = _parse(split.query, headers, body)
            token = self._token(headers, params)
            call = {"method": method.upper(), "version": version, "path": rest, "params": params,
                    "files": {k: (v[0], v[1], v[2]) for k, v in files.items()}, "token": token, "at": time.time()}
            with self._lock:
                self.calls.append(call)
                self._maybe_fail(rest)
                account = self._account(token)
                result = self._route(method.upper(), [p for p in rest.split("/") if p], account, params, files, base)
            return _json_response(200, result)
        except GraphError as err:
            return _json_response(err.status, err.payload())

    def _token(self, headers: dict[str, str], params: Json) -> str:
        auth = _header(headers, "authorization")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return str(params.pop("access_token", "") or "")

    def _account(self, token: str) -> _Account:
        if not token:
            raise GraphError(400, "An active access token must be used to query information about the current user.",
                             2500)
        account = self._accounts.get(token)
        if account is None:
            raise GraphError(401, "Invalid OAuth access token - Cannot parse access token", 190)
        return account

    def _maybe_fail(self, path: str) -> None:
        for failure in self._failures:
            if failure.remaining > 0 and failure.path in path:
                failure.remaining -= 1
                raise GraphError(failure.status, failure.message, failure.code, failure.subcode)

    def _route(self, method: str, parts: list[str], account: _Account, params: Json,
               files: dict[str, tuple[str, str, bytes]], base: str) -> Json:
        if not parts:
            raise GraphError(400, "Unsupported request", 100)
        node = account.id if parts[0] == "me" and account.kind == "page" else parts[0]
        edge = parts[1] if len(parts) > 1 else ""
        if edge == "subscribed_apps" and method == "POST":
            return self._subscribe(account, node, params)
        if account.kind == "whatsapp" and node == account.id and edge:
            return self._whatsapp_edge(method, edge, account, params, files)
        if account.kind == "page" and node in (account.id, account.ig_user_id) and edge:
            return self._page_edge(method, edge, account, params, files)
        if edge in ("comments", "replies") and method == "POST":
            return self._reply_comment(account, node, edge, params)
        if not edge:
            return self._node(method, node, account, params, base)
        raise GraphError(400, f"Unknown path components: /{edge}", 2500)

    def _node(self, method: str, node: str, account: _Account, params: Json, base: str) -> Json:
        if method == "GET":
            return self._get_node(node, account, base)
        comment = self._own_comment(account, node)
        if method == "DELETE":
            comment.deleted = True
            return {"success": True}
        # Hide / unhide: a Page comment takes `is_hidden`, an Instagram comment `hide` (each refuses the other's)
        field_name = "hide" if comment.account == account.ig_user_id else "is_hidden"
        if method == "POST" and field_name in params:
            value = str(params[field_name]).lower()
            if value not in ("true", "false", "1", "0"):
                raise GraphError(400, f"(#100) Param {field_name} must be a boolean", 100)
            comment.hidden = _bool(params[field_name])
            self.moderation.append({"comment_id": comment.id, "hidden": comment.hidden, "at": time.time()})
            return {"success": True}
        raise GraphError(400, "(#100) Unsupported post request", 100)

    def _get_node(self, node: str, account: _Account, base: str) -> Json:
        if account.kind == "whatsapp" and node == account.id:
            return {"id": account.id, "display_phone_number": account.display_phone_number,
                    "verified_name": account.name, "quality_rating": "GREEN"}
        if account.kind == "page" and node == account.id:
            return {"id": account.id, "name": account.name}
        if account.kind == "page" and node == account.ig_user_id:
            return {"id": account.ig_user_id, "username": account.ig_username}
        media = self._media.get(node)
        if media is not None and account.kind == "whatsapp" and media[0] in ("", account.id):
            return {"messaging_product": "whatsapp", "id": node, "mime_type": media[2], "file_size": len(media[1]),
                    "sha256": "0" * 64, "url": f"{base}/_download/{node}?ext={int(time.time())}"}
        raise GraphError(400, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
                              "due to missing permissions, or does not support this operation", 100, 33)

    def _subscribe(self, account: _Account, node: str, params: Json) -> Json:
        if node not in (account.waba_id, account.id) or not node:
            raise GraphError(400, "(#200) Permissions error", 200)
        self.subscriptions.append({"id": node, "subscribed_fields": str(params.get("subscribed_fields") or "")})
        return {"success": True}

    # ------------------------------------------------------------------------------------------------ WhatsApp

    def _whatsapp_edge(self, method: str, edge: str, account: _Account, params: Json,
                       files: dict[str, tuple[str, str, bytes]]) -> Json:
        if method != "POST":
            raise GraphError(400, "(#100) Unsupported request", 100)
        if params.get("messaging_product") != "whatsapp":
            raise GraphError(400, "(#100) The parameter messaging_product is required.", 100)
        if edge == "media":
            upload = files.get("file")
            if upload is None or not upload[2]:
                raise GraphError(400, "(#100) The parameter file is required.", 100)
            media_id = str(next(_ids) + 10**15)
            self._media[media_id] = (account.id, upload[2], str(params.get("type") or upload[1]))
            return {"id": media_id}
        if edge == "block_users":
            users = [u.get("user") for u in params.get("block_users") or [] if isinstance(u, dict)]
            return {"messaging_product": "whatsapp", "block_users": {"added_users": [
                {"input": u, "wa_id": u} for u in users]}}
        if edge == "messages":
            return self._whatsapp_send(account, params)
        raise GraphError(400, f"Unknown path components: /{edge}", 2500)

    def _whatsapp_send(self, account: _Account, params: Json) -> Json:
        if params.get("status") == "read":
            return {"success": True}
        to, kind = str(params.get("to") or ""), params.get("type", "text")
        if not to:
            raise GraphError(400, "(#100) The parameter to is required.", 100)
        if kind not in _WA_TYPES or not isinstance(params.get(kind), dict):
            raise GraphError(400, f"(#100) Param {kind} is required for type {kind}", 100)
        content = params[kind]
        self._check_whatsapp_content(kind, content)
        last = self._last_inbound.get((account.id, to))
        if kind != "template" and last is not None and time.time() - last > 24 * 3600:
            raise GraphError(400, "(#131047) Re-engagement message", 131047, error_type="OAuthException")
        wamid = f"wamid.{secrets.token_urlsafe(24)}"
        body_text = content.get("body") if kind != "interactive" else (content.get("body") or {}).get("text")
        record = {"kind": "whatsapp", "account": account.id, "to": to, "id": wamid, "type": kind, kind: content,
                  "text": str(body_text or content.get("caption") or ""), "at": int(time.time())}
        context = params.get("context")
        if isinstance(context, dict) and context.get("message_id"):
            record["context"] = {"message_id": context["message_id"]}
        self._sent.append(record)
        message: Json = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [message]}

    def _check_whatsapp_content(self, kind: str, content: Json) -> None:
        if kind == "text":
            body = str(content.get("body") or "")
            if not body.strip() or len(body) > WA_TEXT_MAX:
                raise GraphError(400, "(#100) Param text['body'] must be 1 to 4096 characters", 100)
        elif kind in _MEDIA_TYPES:
            if content.get("id") not in self._media and not content.get("link"):
                raise GraphError(400, "(#131053) Media upload error", 131053)
        elif kind == "interactive":
            _check_interactive(content)
        elif kind == "template":
            language = content.get("language")
            if not content.get("name") or not isinstance(language, dict) or not language.get("code"):
                raise GraphError(400, "(#100) Param template['name'] and template['language']['code'] are required",
                                 100)

    # ------------------------------------------------------------------------------- Messenger / Instagram Send API

    def _page_edge(self, method: str, edge: str, account: _Account, params: Json,
                   files: dict[str, tuple[str, str, bytes]]) -> Json:
        if method != "POST":
            raise GraphError(400, "(#100) Unsupported request", 100)
        if edge == "message_attachments":
            return self._page_upload(params, files)
        if edge == "messages":
            return self._page_send(account, params)
        raise GraphError(400, f"Unknown path components: /{edge}", 2500)

    def _page_upload(self, params: Json, files: dict[str, tuple[str, str, bytes]]) -> Json:
        upload = files.get("filedata")
        message = params.get("message")
        if upload is None or not upload[2] or not isinstance(message, dict) or not isinstance(
                message.get("attachment"), dict):
            raise GraphError(400, "(#100) Upload attachment failure.", 100)
        attachment_id = str(next(_ids) + 2 * 10**15)
        self._media[attachment_id] = ("", upload[2], upload[1])
        return {"attachment_id": attachment_id}

    def _page_send(self, account: _Account, params: Json) -> Json:
        recipient = obj(params, "recipient")
        if params.get("sender_action"):
            return {"recipient_id": str(recipient.get("id") or "")}
        message = obj(params, "message")
        self._check_page_message(message)
        if recipient.get("comment_id"):
            to, comment_id = self._private_reply_target(account, str(recipient["comment_id"]))
        elif recipient.get("id"):
            to, comment_id = str(recipient["id"]), ""
            self._check_messaging_type(params)
        else:
            raise GraphError(400, "(#100) param recipient must be non-empty.", 100)
        mid = f"m_{secrets.token_urlsafe(24)}"
        record = {"kind": "page", "account": account.id, "to": to, "id": mid, "message": message,
                  "text": str(message.get("text") or ""), "messaging_type": params.get("messaging_type"),
                  "tag": params.get("tag"), "comment_id": comment_id, "at": int(time.time())}
        self._sent.append(record)
        if comment_id:
            self._comments[comment_id].private_reply = mid
        return {"recipient_id": to, "message_id": mid}

    @staticmethod
    def _check_page_message(message: Json) -> None:
        text = message.get("text")
        attachment = message.get("attachment")
        if text is not None and (not str(text).strip() or len(str(text)) > PAGE_TEXT_MAX):
            raise GraphError(400, "(#100) Length of param message[text] must be less than or equal to 2000", 100)
        if text is None and not isinstance(attachment, dict):
            raise GraphError(400, "(#100) Must send either message or state", 100)

    @staticmethod
    def _check_messaging_type(params: Json) -> None:
        kind = params.get("messaging_type")
        if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise GraphError(400, "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}", 100)
        if kind == "MESSAGE_TAG" and not params.get("tag"):
            raise GraphError(400, "(#100) Tag is required for MESSAGE_TAG messaging type.", 100)

    def _private_reply_target(self, account: _Account, comment_id: str) -> tuple[str, str]:
        comment = self._own_comment(account, comment_id)
        if comment.private_reply:
            raise GraphError(400, "(#10) This comment already has a private reply", 10, 2018034)
        if time.time() - comment.created_time > 7 * 24 * 3600:
            raise GraphError(400, "(#10) This message is sent outside of allowed window.", 10, 2018278)
        return comment.author_id, comment_id

    # -------------------------------------------------------------------------------------------------- comments

    def _own_comment(self, account: _Account, comment_id: str) -> _Comment:
        comment = self._comments.get(comment_id)
        if comment is None or comment.deleted or account.kind != "page" or comment.account not in (
                account.id, account.ig_user_id):
            raise GraphError(400, f"Unsupported request. Object with ID '{comment_id}' does not exist, cannot be "
                                  "loaded due to missing permissions, or does not support this operation", 100, 33)
        return comment

    def _reply_comment(self, account: _Account, comment_id: str, edge: str, params: Json) -> Json:
        comment = self._own_comment(account, comment_id)
        instagram = comment.account == account.ig_user_id
        if edge != ("replies" if instagram else "comments"):
            raise GraphError(400, f"Unknown path components: /{edge}", 2500)
        text = str(params.get("message") or "")
        if not text.strip():
            raise GraphError(400, "(#100) The parameter message is required", 100)
        reply_id = f"179{next(_ids):014d}" if instagram else f"{comment.post_id}_{next(_ids)}"
        comment.replies.append({"id": reply_id, "message": text, "at": int(time.time())})
        return {"id": reply_id}

    # ---------------------------------------------------------------------------------------------------- files

    def _cdn_get(self, path: str) -> Response:
        parts = path.split("/")
        with self._lock:
            found = self._cdn.get(parts[2]) if len(parts) > 2 else None
        if found is None:
            return 404, {"Content-Type": "text/plain"}, b"URL signature expired"
        return 200, {"Content-Type": found[1], "Content-Length": str(len(found[0]))}, found[0]

    def _download(self, path: str, headers: dict[str, str], query: str) -> Response:
        media_id = path.rsplit("/", 1)[-1]
        auth = _header(headers, "authorization")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with self._lock:
            media = self._media.get(media_id)
            account = self._accounts.get(token)
        if account is None or account.kind != "whatsapp":
            return _json_response(401, GraphError(401, "Invalid OAuth access token", 190).payload())
        if media is None or media[0] not in ("", account.id):
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        return 200, {"Content-Type": media[2], "Content-Length": str(len(media[1]))}, media[1]


# ------------------------------------------------------------------------------------------------------ server


class FakeGraphServer(FakeServer[FakeGraph]):
    """`with FakeGraphServer() as graph:` serves a `FakeGraph` at `graph.url` (use it as GRAPH_API_URL)."""

    def __init__(self, fake: FakeGraph | None = None) -> None:
        super().__init__(fake or FakeGraph(), name="fake-graph")


# --- webhooks Meta would post ------------------------------------------------------------------------------------


def _check_interactive(content: Json) -> None:
    """Reply buttons (1-3, titles up to 20, ids up to 256) or a list (10 rows in all, titles up to 24, ids up to
    200), with a body text up to 1024, as the Cloud API checks them."""
    kind = content.get("type")
    body = (content.get("body") or {}).get("text") if isinstance(content.get("body"), dict) else None
    action = content.get("action") if isinstance(content.get("action"), dict) else {}
    if not isinstance(body, str) or not 0 < len(body) <= 1024:
        raise GraphError(400, "(#100) Param interactive['body']['text'] must be 1 to 1024 characters", 100)
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3 or not all(
                isinstance(b, dict) and isinstance(b.get("reply"), dict)
                and 0 < len(str(b["reply"].get("title") or "")) <= 20
                and 0 < len(str(b["reply"].get("id") or "")) <= 256 for b in buttons):
            raise GraphError(400, "(#131009) Parameter value is not valid: 1 to 3 reply buttons", 131009)
    elif kind == "list":
        sections = action.get("sections")
        rows = [r for sec in sections for r in (sec.get("rows") or [])] if isinstance(sections, list) and all(
            isinstance(sec, dict) for sec in sections) else []
        if not action.get("button") or len(str(action["button"])) > 20 or not 1 <= len(rows) <= 10 or not all(
                isinstance(r, dict) and 0 < len(str(r.get("title") or "")) <= 24
                and 0 < len(str(r.get("id") or "")) <= 200 for r in rows):
            raise GraphError(400, "(#131009) Parameter value is not valid: a list has 1 to 10 rows", 131009)
    else:
        raise GraphError(400, "(#131009) Parameter value is not valid: interactive type", 131009)


def choices(message: Json) -> list[Json]:
    """The buttons or list rows of an interactive message the brand sent: [{label, data}]."""
    content = message.get("interactive") if message.get("type") == "interactive" else None
    if not isinstance(content, dict):
        return []
    action = content.get("action") or {}
    if content.get("type") == "button":
        return [{"label": b["reply"]["title"], "data": b["reply"]["id"]} for b in action.get("buttons") or []]
    rows = [r for sec in action.get("sections") or [] for r in sec.get("rows") or []]
    return [{"label": r["title"], "data": r["id"]} for r in rows]


def whatsapp_choice(user_id: str, sent: Json, data: str, *, wamid: str = "") -> Json:
    """The customer's pick of a row (list_reply) or a reply button (button_reply) under a message the brand sent."""
    picked = next((c for c in choices(sent) if c["data"] == data), None)
    if picked is None:
        raise KeyError("no such choice under that message")
    reply_kind = "button_reply" if sent["interactive"]["type"] == "button" else "list_reply"
    return {"from": user_id, "id": wamid or f"wamid.{secrets.token_urlsafe(18)}", "timestamp": str(int(time.time())),
            "type": "interactive", "context": {"from": "15550001111", "id": sent["id"]},
            "interactive": {"type": reply_kind, reply_kind: {"id": picked["data"], "title": picked["label"]}}}


def simulate_button(fake: FakeGraph, channel: Any, *, user_id: str, name: str, message_id: str, data: str) -> Any:
    """The signed webhook WhatsApp posts when the customer picks a list row or presses a reply button."""
    sent = next((m for m in fake.sent(user_id) if m["id"] == message_id), None)
    if sent is None or channel.kind != "whatsapp":
        raise KeyError("no such message with choices")
    payload = whatsapp_webhook(channel.secrets["phone_number_id"], waba_id=channel.secrets.get("waba_id", "0"),
                               contacts=[{"profile": {"name": name}, "wa_id": user_id}],
                               messages=[whatsapp_choice(user_id, sent, data)])
    return signed(channel, payload)


def signed(channel: Any, payload: Json) -> Any:
    """The POST Meta would make with `payload`, signed with the channel's app secret."""
    from chalicelib.local.fakes import SimulatedRequest

    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature-256": signature(channel.secrets.get("app_secret", ""), body)}
    return SimulatedRequest("POST", "", headers, body)


def whatsapp_webhook(phone_number_id: str, *, messages: list[Json] | None = None, statuses: list[Json] | None = None,
                     contacts: list[Json] | None = None, waba_id: str = "0") -> Json:
    value: Json = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id}}
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}]}


def messaging_webhook(kind: str, account_id: str, messaging: list[Json]) -> Json:
    return {"object": "page" if kind == "messenger" else "instagram",
            "entry": [{"id": account_id, "time": int(time.time() * 1000), "messaging": messaging}]}


def whatsapp_text(user_id: str, text: str, *, reply_to: str | None = None, wamid: str = "") -> Json:
    message: Json = {"from": user_id, "id": wamid or f"wamid.{secrets.token_urlsafe(18)}",
                     "timestamp": str(int(time.time())), "type": "text", "text": {"body": text}}
    if reply_to:
        message["context"] = {"from": "15550001111", "id": reply_to}
    return message


def page_text(user_id: str, account_id: str, text: str, *, reply_to: str | None = None, mid: str = "") -> Json:
    message: Json = {"mid": mid or f"m_{secrets.token_urlsafe(18)}", "text": text}
    if reply_to:
        message["reply_to"] = {"mid": reply_to}
    return {"sender": {"id": user_id}, "recipient": {"id": account_id}, "timestamp": int(time.time() * 1000),
            "message": message}


def customer_payload(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Json:
    """The webhook body of one customer text message in a WhatsApp, Messenger or Instagram channel."""
    if channel.kind == "whatsapp":
        return whatsapp_webhook(channel.secrets["phone_number_id"], waba_id=channel.secrets.get("waba_id", "0"),
                                contacts=[{"profile": {"name": name}, "wa_id": user_id}],
                                messages=[whatsapp_text(user_id, text, reply_to=reply_to)])
    account = channel.secrets["page_id"] if channel.kind == "messenger" else channel.secrets["ig_user_id"]
    return messaging_webhook(channel.kind, account, [page_text(user_id, account, text, reply_to=reply_to)])


# --- the customer simulator (see chalicelib/local/fakes/__init__.py) ---------------------------------------------


def simulate_customer(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Any:
    """The signed webhook Meta would post when a customer writes to the channel (any of the three kinds)."""
    return signed(channel, customer_payload(channel, user_id=user_id, name=name, text=text, reply_to=reply_to))


def customer_view(fake: FakeGraph, external_conversation_id: str) -> list[Json]:
    """What the customer sees from the brand: DMs to them, or the replies to their comments under a post."""
    if external_conversation_id.startswith(("fbpost:", "igpost:")):
        _, post_id, author_id = external_conversation_id.split(":", 2)
        view = []
        for comment in fake.comments_by(post_id, author_id):
            view += [{"id": r["id"], "text": r["message"], "attachments": [], "at": r["at"]}
                     for r in comment["replies"]]
            view += [{"id": m["id"], "text": m["text"], "attachments": [], "at": m["at"], "private": True}
                     for m in fake.sent() if m.get("comment_id") == comment["id"]]
        return sorted(view, key=lambda item: item["at"])
    view = []
    for m in fake.sent(external_conversation_id):
        kinds = [k for k in _MEDIA_TYPES if k in m]
        attachment = (m.get("message") or {}).get("attachment")
        if isinstance(attachment, dict):
            kinds.append(str(attachment.get("type")))
        found = choices(m)
        view.append({"id": m["id"], "text": m["text"], "attachments": kinds, "at": m["at"],
                     **({"buttons": found} if found else {})})
    return view
