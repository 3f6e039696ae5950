"""A fake VK API and Callback API event builder that speak VK's real HTTP protocol.

`FakeVK` is transport-independent: `handle(method, path, headers, body)` takes the path after the mount prefix
(`/{method.name}`) and returns `(status, headers, body)`. Parameters arrive url-encoded (query or body) or as
multipart, `access_token` and `v` among them, and answers have the real shapes: HTTP 200 with `{"response": …}`
or `{"error": {"error_code", "error_msg", "request_params"}}`. Upload servers and attachment files are served
under the fake's own prefix (`/_upload/<ticket>`, `/_files/<name>`), so uploads and downloads go over HTTP too.
`FakeVKServer` serves it on 127.0.0.1 for tests; the embedded runner mounts `handle` at `/_fake/vk`.

Introspection over HTTP, under the same prefix: `GET /_sent?peer_id=`.

Module functions build the Callback API events VK would POST (`message_new`, `message_reply`, `wall_reply_new`,
signed with the channel's secret key) and implement the customer simulator's contract (`simulate_customer`,
`customer_view`, see `chalicelib/local/fakes/__init__.py`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import secrets
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

MOUNT = "/_fake/vk"
ENV = "VK_API_URL"
API_VERSION = "5.199"
TEXT_MAX = 4096
SERVERS_MAX = 10
FIRST_MESSAGE_ID = 100_000  # ids the communities' messages get; simulated customers use another range
CHAT_PEER_OFFSET = 2_000_000_000

_ERRORS = {
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    27: "Group authorization failed: method is unavailable with group auth.",
    100: "One of the parameters specified was missing or invalid",
    121: "Invalid hash",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    914: "Message is too long",
    2000: "Servers number limit is reached",
}


class VKError(Exception):
    """An error answer of the fake API."""

    def __init__(self, code: int, detail: str = "") -> None:
        text = _ERRORS.get(code, f"Error {code}")
        super().__init__(f"{text}: {detail}" if detail else text)
        self.code = code
        self.text = str(self)


@dataclass
class _Group:
    group_id: int
    access_token: str
    name: str
    screen_name: str
    confirmation_code: str
    servers: dict[int, Json] = field(default_factory=dict)
    settings: dict[int, Json] = field(default_factory=dict)
    banned: dict[int, Json] = field(default_factory=dict)
    denied: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Caller:
    group: _Group
    kind: str  # "group" (community token) | "user" (a community admin's user token)


@dataclass
class _Failure:
    method: str
    remaining: int
    error_code: int
    http_status: int | None


# ------------------------------------------------------------------------------------------------ request parsing


def parse_request(query: str, headers: dict[str, str], body: bytes) -> tuple[Json, Files]:
    """Parameters and files of a VK request: query string, url-encoded body or multipart form."""
    return forms.parse_request(query, headers, body, accept_json=False)


def _int(params: Json, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise VKError(100, f"{name} is a required parameter")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VKError(100, f"{name} not integer") from None


def _ids(params: Json, name: str) -> list[int]:
    text = str(params.get(name) or "")
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise VKError(100, f"{name} not integer") from None


def _json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body))}, body


def _error_response(error: VKError, method: str, params: Json) -> Response:
    request_params = [{"key": "method", "value": method}] + [
        {"key": k, "value": str(v)} for k, v in params.items() if k in ("v", "peer_id", "user_ids", "group_id")]
    return _json_response(200, {"error": {"error_code": error.code, "error_msg": error.text,
                                          "request_params": request_params}})


def _image_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1280, 960


# ------------------------------------------------------------------------------------------------------ the fake


class FakeVK:
    """In-memory VK API: communities and tokens, users, sent messages, wall comments, uploads, files, recorded
    calls and programmable failures."""

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url.rstrip("/")  # where this fake is reachable; else learnt from the Host header
        self._seen_base = ""
        self._lock = threading.RLock()
        self._groups: dict[int, _Group] = {}
        self._tokens: dict[str, tuple[int, str]] = {}
        self._users: dict[int, Json] = {}
        self._messages: list[Json] = []
        self._by_random: dict[tuple[int, int, int], Json] = {}
        self._comments: list[Json] = []
        self._by_guid: dict[tuple[int, str], Json] = {}
        self._tickets: dict[str, Json] = {}
        self._uploaded: dict[str, Json] = {}
        self._saved: dict[str, Json] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._failures: list[_Failure] = []
        self._seq = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self.calls: list[Json] = []
        self._methods: dict[str, Callable[[_Caller, Json], Any]] = {
            "messages.send": self._messages_send,
            "messages.edit": self._messages_edit,
            "messages.delete": self._messages_delete,
            "messages.setActivity": lambda caller, params: 1,
            "users.get": self._users_get,
            "groups.getById": self._groups_get_by_id,
            "groups.getCallbackConfirmationCode": self._confirmation_code,
            "groups.getCallbackServers": self._get_servers,
            "groups.addCallbackServer": self._add_server,
            "groups.editCallbackServer": self._edit_server,
            "groups.setCallbackSettings": self._set_settings,
            "groups.ban": self._ban,
            "wall.createComment": self._create_comment,
            "wall.deleteComment": self._delete_comment,
            "photos.getMessagesUploadServer": lambda caller, params: self._upload_server(caller, params, "photo"),
            "photos.saveMessagesPhoto": self._save_photo,
            "docs.getMessagesUploadServer": self._docs_upload_server,
            "docs.save": self._docs_save,
        }

    # ---------------------------------------------------------------------------------------------- setup

    def add_group(self, group_id: int, access_token: str, name: str = "", *, user_token: str = "",
                  confirmation_code: str = "") -> Json:
        """A community with its token (and optionally an admin's user token); returns the group object."""
        gid = abs(int(group_id))
        with self._lock:
            group = self._groups.get(gid) or _Group(gid, access_token, name or f"Community {gid}", f"club{gid}",
                                                    confirmation_code or secrets.token_hex(4))
            group.access_token = access_token
            self._groups[gid] = group
            self._tokens[access_token] = (gid, "group")
            if user_token:
                self._tokens[user_token] = (gid, "user")
            return self._group_object(group)

    def add_user(self, user_id: int, first_name: str, last_name: str = "", screen_name: str = "") -> None:
        with self._lock:
            self._users[int(user_id)] = {"id": int(user_id), "first_name": first_name, "last_name": last_name,
                                         "screen_name": screen_name or f"id{user_id}"}

    def deny_messages(self, group_id: int, user_id: int, denied: bool = True) -> None:
        """The user forbade the community to write (`message_deny`): sends answer error 901."""
        with self._lock:
            group = self._groups[abs(int(group_id))]
            (group.denied.add if denied else group.denied.discard)(int(user_id))

    def add_file(self, data: bytes, file_name: str, mime_type: str = "application/octet-stream") -> str:
        """A file VK would host (a customer's photo, a document); returns its direct URL."""
        with self._lock:
            name = f"{next(self._seq)}-{file_name}"
            self._files[name] = (mime_type, data)
            return f"{self._base()}/_files/{name}"

    def fail_next(self, method: str, error_code: int = 6, times: int = 1, http_status: int | None = None) -> None:
        """The next `times` calls of `method` (`upload`, `file` for those endpoints) fail: with VK's error
        `error_code` in an HTTP 200 answer, or with `http_status` and an HTML body when that is given."""
        with self._lock:
            self._failures.append(_Failure(method, times, error_code, http_status))

    def remember_comment(self, comment: Json) -> None:
        """A wall comment the fake should know (a customer's), so answers to it name its author."""
        with self._lock:
            self._comments.append(copy.deepcopy(comment))

    # ------------------------------------------------------------------------------------------- inspection

    def sent(self, peer_id: int | str | None = None) -> list[Json]:
        """Messages the communities sent (edits applied, deletions for all removed), oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages
                    if not m.get("deleted") and (peer_id is None or str(m["peer_id"]) == str(peer_id))]

    def comments(self, owner_id: int | None = None, post_id: int | None = None) -> list[Json]:
        """Comments the communities wrote (deleted ones left out), oldest first."""
        with self._lock:
            return [copy.deepcopy(c) for c in self._comments
                    if c.get("by_api") and not c.get("deleted") and owner_id in (None, c["owner_id"])
                    and post_id in (None, c["post_id"])]

    def callback_servers(self, group_id: int) -> list[Json]:
        with self._lock:
            return [copy.deepcopy(s) for s in self._groups[abs(int(group_id))].servers.values()]

    def callback_settings(self, group_id: int, server_id: int) -> Json:
        with self._lock:
            return copy.deepcopy(self._groups[abs(int(group_id))].settings.get(int(server_id), {}))

    def banned(self, group_id: int) -> dict[int, Json]:
        with self._lock:
            return copy.deepcopy(self._groups[abs(int(group_id))].banned)

    def confirmation_code(self, group_id: int) -> str:
        with self._lock:
            return self._groups[abs(int(group_id))].confirmation_code

    # ------------------------------------------------------------------------------------------------ HTTP

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(path)
        host = forms.header(headers, "host")
        if host and not self.base_url:
            self._seen_base = f"http://{host}{MOUNT}"
        route = parts.path.rstrip("/")
        if route.startswith("/_files/"):
            return self._download(route.removeprefix("/_files/"))
        if route == "/_sent":
            peer = parse_qs(parts.query).get("peer_id", [""])[-1]
            return _json_response(200, self.sent(peer or None))
        try:
            params, files = parse_request(parts.query, headers, body)
        except (ValueError, UnicodeDecodeError):
            return _json_response(400, {"error": "bad request"})
        if route.startswith("/_upload/"):
            return self._upload(route.removeprefix("/_upload/"), files)
        bearer = forms.header(headers, "authorization").removeprefix("Bearer ").strip()
        return self._api(route.lstrip("/"), params, bearer)

    def _base(self) -> str:
        return self.base_url or self._seen_base or os.environ.get(ENV, "").rstrip("/") or f"http://127.0.0.1{MOUNT}"

    def _api(self, method: str, params: Json, bearer: str) -> Response:
        with self._lock:
            token = str(params.pop("access_token", "") or bearer)
            call: Json = {"method": method, "params": copy.deepcopy(params), "token": token, "status": 200,
                          "error_code": None}
            self.calls.append(call)
            try:
                failure = self._take_failure(method)
                if failure is not None and failure.http_status:
                    call["status"] = failure.http_status
                    return failure.http_status, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"
                if not params.get("v"):
                    raise VKError(8)
                caller = self._caller(token)
                call["group_id"] = caller.group.group_id
                if failure is not None:
                    raise VKError(failure.error_code)
                handler = self._methods.get(method)
                if handler is None:
                    raise VKError(3, method)
                return _json_response(200, {"response": handler(caller, params)})
            except VKError as error:
                call["error_code"] = error.code
                return _error_response(error, method, params)

    def _caller(self, token: str) -> _Caller:
        found = self._tokens.get(token)
        if not token or found is None:
            raise VKError(5)
        return _Caller(self._groups[found[0]], found[1])

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.remaining > 0:
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _download(self, name: str) -> Response:
        with self._lock:
            self.calls.append({"method": "file", "params": {"name": name}, "token": "", "status": 200,
                               "error_code": None})
            failure = self._take_failure("file")
            if failure is not None:
                self.calls[-1]["status"] = failure.http_status or 500
                return failure.http_status or 500, {"Content-Type": "text/html"}, b"<html>error</html>"
            found = self._files.get(name)
        if found is None:
            return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"
        mime, data = found
        return 200, {"Content-Type": mime, "Content-Length": str(len(data))}, data

    # ------------------------------------------------------------------------------------------- messages

    def _peer(self, caller: _Caller, params: Json) -> tuple[int, bool]:
        peer_ids = _ids(params, "peer_ids")
        if peer_ids:
            return peer_ids[0], True
        peer = _int(params, "peer_id") or _int(params, "user_id")
        if peer is None:
            raise VKError(100, "peer_id is undefined")
        if peer in caller.group.denied:
            raise VKError(901)
        return peer, False

    def _next_message_id(self, group_id: int) -> int:
        counter = self._message_ids.setdefault(group_id, itertools.count(FIRST_MESSAGE_ID))
        return next(counter)

    def _messages_send(self, caller: _Caller, params: Json) -> Any:
        peer, many = self._peer(caller, params)
        random_id = _int(params, "random_id", required=True)
        text = str(params.get("message") or "")
        attachments = self._attachments(str(params.get("attachment") or ""))
        if not text.strip() and not attachments:
            raise VKError(100, "message is empty or invalid")
        if len(text) > TEXT_MAX:
            raise VKError(914)
        gid = caller.group.group_id
        keyboard = _keyboard(params.get("keyboard"))
        message = self._by_random.get((gid, peer, random_id or 0)) if random_id else None
        if message is None:
            message = self._new_message(gid, peer, text, attachments, params, random_id or 0)
            if keyboard is not None:
                message["keyboard"] = keyboard
        if many:
            return [{"peer_id": peer, "message_id": message["id"],
                     "conversation_message_id": message["conversation_message_id"]}]
        return message["id"]

    def _new_message(self, gid: int, peer: int, text: str, attachments: list[Json], params: Json,
                     random_id: int) -> Json:
        message_id = self._next_message_id(gid)
        cmid = 1 + sum(1 for m in self._messages if m["group_id"] == gid and m["peer_id"] == peer)
        in_chat = peer >= CHAT_PEER_OFFSET  # a community sees group-chat messages by conversation_message_id only
        message: Json = {"id": 0 if in_chat else message_id, "peer_id": peer, "from_id": -gid,
                         "date": int(time.time()), "out": 1, "text": text, "attachments": attachments,
                         "random_id": random_id, "conversation_message_id": cmid, "group_id": gid}
        reply_to = _int(params, "reply_to")
        if reply_to:
            message["reply_message"] = {"id": reply_to}
        if params.get("forward"):
            try:
                message["forward"] = json.loads(str(params["forward"]))
            except ValueError:
                raise VKError(100, "forward is invalid json") from None
        self._messages.append(message)
        if random_id:
            self._by_random[(gid, peer, random_id)] = message
        return message

    def _attachments(self, text: str) -> list[Json]:
        found: list[Json] = []
        for ref in (part.strip() for part in text.split(",") if part.strip()):
            item = self._saved.get(ref)
            if item is None:
                raise VKError(100, "attachment is invalid")
            found.append(copy.deepcopy(item))
        return found

    def _find(self, caller: _Caller, peer: int, params: Json, id_name: str, cmid_name: str) -> list[Json]:
        ids, cmids = _ids(params, id_name), _ids(params, cmid_name)
        return [m for m in self._messages if m["group_id"] == caller.group.group_id and m["peer_id"] == peer
                and not m.get("deleted") and ((m["id"] and m["id"] in ids) or m["conversation_message_id"] in cmids)]

    def _messages_edit(self, caller: _Caller, params: Json) -> int:
        peer = _int(params, "peer_id", required=True) or 0
        found = self._find(caller, peer, params, "message_id", "cmid")
        if not found:
            raise VKError(100, "message_id is undefined")
        text = str(params.get("message") or "")
        if not text.strip():
            raise VKError(100, "message is empty")
        found[0].update(text=text, update_time=int(time.time()))
        return 1

    def _messages_delete(self, caller: _Caller, params: Json) -> list[Json]:
        peer = _int(params, "peer_id") or 0
        wanted = _ids(params, "message_ids") or _ids(params, "cmids")
        found = self._find(caller, peer, params, "message_ids", "cmids")
        answers = []
        for message in found:
            message["deleted"] = True
            answers.append({"peer_id": peer, "message_id": message["id"],
                            "conversation_message_id": message["conversation_message_id"], "response": 1})
        by_id = bool(_ids(params, "message_ids"))
        known = {m["id"] if by_id else m["conversation_message_id"] for m in found}
        answers += [{"peer_id": peer, "message_id": i, "response": 0,
                     "error": {"code": 924, "description": "Can't delete this message for everybody"}}
                    for i in wanted if i not in known]
        return answers

    def _users_get(self, caller: _Caller, params: Json) -> list[Json]:
        ids = _ids(params, "user_ids")
        if not ids:
            raise VKError(100, "user_ids is undefined")
        fields = set(str(params.get("fields") or "").split(","))
        users = []
        for user_id in ids:
            user = dict(self._users.get(user_id) or {"id": user_id, "first_name": "User", "last_name": str(user_id),
                                                        "screen_name": f"id{user_id}"})
            user.update(can_access_closed=True, is_closed=False)
            if "photo_100" in fields:
                user["photo_100"] = f"https://sun1-1.userapi.com/impg/{user_id}/100.jpg"
            if "screen_name" not in fields:
                user.pop("screen_name", None)
            users.append(user)
        return users

    # --------------------------------------------------------------------------------------------- groups

    def _own_group(self, caller: _Caller, params: Json) -> _Group:
        gid = _int(params, "group_id") or (_ids(params, "group_ids") or [caller.group.group_id])[0]
        if abs(gid) != caller.group.group_id:
            raise VKError(15)
        return caller.group

    @staticmethod
    def _group_object(group: _Group) -> Json:
        return {"id": group.group_id, "name": group.name, "screen_name": group.screen_name, "is_closed": 0,
                "type": "group", "photo_50": f"https://sun1-2.userapi.com/g{group.group_id}/50.jpg"}

    def _groups_get_by_id(self, caller: _Caller, params: Json) -> Json:
        return {"groups": [self._group_object(self._own_group(caller, params))], "profiles": []}

    def _confirmation_code(self, caller: _Caller, params: Json) -> Json:
        return {"code": self._own_group(caller, params).confirmation_code}

    def _get_servers(self, caller: _Caller, params: Json) -> Json:
        servers = list(self._own_group(caller, params).servers.values())
        return {"count": len(servers), "items": copy.deepcopy(servers)}

    @staticmethod
    def _server_fields(params: Json) -> Json:
        url, title, secret_key = (str(params.get(k) or "") for k in ("url", "title", "secret_key"))
        if not url.startswith(("http://", "https://")):
            raise VKError(100, "url is invalid")
        if not title or len(title) > 14:
            raise VKError(100, "title is invalid")
        if len(secret_key) > 50:
            raise VKError(100, "secret_key is too long")
        return {"url": url, "title": title, "secret_key": secret_key}

    def _add_server(self, caller: _Caller, params: Json) -> Json:
        group = self._own_group(caller, params)
        if len(group.servers) >= SERVERS_MAX:
            raise VKError(2000)
        server_id = max(group.servers, default=0) + 1
        group.servers[server_id] = {"id": server_id, "creator_id": 0, "status": "unconfigured",
                                    **self._server_fields(params)}
        return {"server_id": server_id}

    def _server(self, group: _Group, params: Json) -> Json:
        server = group.servers.get(_int(params, "server_id", required=True) or 0)
        if server is None:
            raise VKError(100, "server_id is invalid")
        return server

    def _edit_server(self, caller: _Caller, params: Json) -> int:
        group = self._own_group(caller, params)
        self._server(group, params).update(self._server_fields(params))
        return 1

    def _set_settings(self, caller: _Caller, params: Json) -> int:
        group = self._own_group(caller, params)
        server = self._server(group, params)
        flags = {k: v for k, v in params.items() if k not in ("group_id", "server_id", "api_version", "v")}
        group.settings[server["id"]] = {"api_version": str(params.get("api_version") or ""),
                                        **{k: int(v) for k, v in flags.items() if str(v).isdigit()}}
        return 1

    def _ban(self, caller: _Caller, params: Json) -> int:
        if caller.kind != "user":
            raise VKError(27)
        group = self._own_group(caller, params)
        owner_id = _int(params, "owner_id", required=True) or 0
        group.banned[owner_id] = {"end_date": _int(params, "end_date") or 0, "comment": params.get("comment", "")}
        return 1

    # ----------------------------------------------------------------------------------------------- wall

    def _create_comment(self, caller: _Caller, params: Json) -> Json:
        gid = caller.group.group_id
        post_id = _int(params, "post_id", required=True) or 0
        owner_id = _int(params, "owner_id") or -gid
        guid = str(params.get("guid") or "")
        if guid and (gid, guid) in self._by_guid:
            return self._comment_answer(self._by_guid[(gid, guid)])
        text = str(params.get("message") or "")
        if not text.strip() and not params.get("attachments"):
            raise VKError(100, "message is empty")
        reply_to = _int(params, "reply_to_comment")
        comment: Json = {"id": 10_000 + next(self._seq), "owner_id": owner_id, "post_id": post_id,
                         "from_id": -gid, "date": int(time.time()), "text": text, "by_api": True, "guid": guid}
        if reply_to:
            comment["reply_to_comment"] = reply_to
            parent = next((c for c in self._comments if c["id"] == reply_to and c["owner_id"] == owner_id), None)
            if parent is not None:
                comment["reply_to_user"] = parent["from_id"]
        self._comments.append(comment)
        if guid:
            self._by_guid[(gid, guid)] = comment
        return self._comment_answer(comment)

    @staticmethod
    def _comment_answer(comment: Json) -> Json:
        parent = comment.get("reply_to_comment")
        return {"comment_id": comment["id"], "parents_stack": [parent] if parent else []}

    def _delete_comment(self, caller: _Caller, params: Json) -> int:
        if caller.kind != "user":
            raise VKError(27)
        comment_id = _int(params, "comment_id", required=True)
        owner_id = _int(params, "owner_id") or -caller.group.group_id
        found = next((c for c in self._comments if c["id"] == comment_id and c["owner_id"] == owner_id), None)
        if found is None or found.get("deleted"):
            raise VKError(100, "comment_id is invalid")
        found["deleted"] = True
        return 1

    # -------------------------------------------------------------------------------------------- uploads

    def _upload_server(self, caller: _Caller, params: Json, kind: str) -> Json:
        peer = _int(params, "peer_id") or 0
        if peer in caller.group.denied:
            raise VKError(901)
        ticket = secrets.token_hex(8)
        self._tickets[ticket] = {"kind": kind, "group_id": caller.group.group_id, "peer_id": peer}
        answer: Json = {"upload_url": f"{self._base()}/_upload/{ticket}"}
        if kind == "photo":
            answer.update(album_id=-64, user_id=0, group_id=caller.group.group_id)
        return answer

    def _docs_upload_server(self, caller: _Caller, params: Json) -> Json:
        kind = str(params.get("type") or "doc")
        if kind not in ("doc", "audio_message", "graffiti"):
            raise VKError(100, "type is invalid")
        return self._upload_server(caller, params, kind)

    def _upload(self, ticket: str, files: Files) -> Response:
        with self._lock:
            self.calls.append({"method": "upload", "params": {"ticket": ticket}, "token": "", "status": 200,
                               "error_code": None, "files": dict(files)})
            failure = self._take_failure("upload")
            if failure is not None:
                self.calls[-1]["status"] = failure.http_status or 500
                return failure.http_status or 500, {"Content-Type": "text/html"}, b"<html>error</html>"
            spec = self._tickets.get(ticket)
            if spec is None:
                return _json_response(200, {"error": "ERR_UPLOAD_BAD_URL: upload url is invalid"})
            upload = files.get("photo" if spec["kind"] == "photo" else "file")
            if upload is None or not upload[2]:
                if spec["kind"] == "photo":
                    return _json_response(200, {"server": 1, "photo": "[]", "hash": ""})
                return _json_response(200, {"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file is empty"})
            token = secrets.token_hex(12)
            self._uploaded[token] = {**spec, "file_name": upload[0], "mime_type": upload[1], "data": upload[2]}
            if spec["kind"] == "photo":
                photo = json.dumps([{"markers_restarted": True, "photo": token, "sizes": [], "kid": token[:8]}])
                digest = hashlib.md5(photo.encode(), usedforsecurity=False).hexdigest()
                return _json_response(200, {"server": 842, "photo": photo, "hash": digest})
            return _json_response(200, {"file": token})

    def _take_upload(self, caller: _Caller, token: str) -> Json:
        upload = self._uploaded.pop(token, None)
        if upload is None or upload["group_id"] != caller.group.group_id:
            raise VKError(100, "file is invalid")
        return upload

    def _store(self, upload: Json) -> tuple[int, str, str]:
        """Keep an uploaded file where the fake serves it: (id, access key, URL)."""
        number = 400_000 + next(self._seq)
        name = f"{number}-{upload['file_name']}"
        self._files[name] = (upload["mime_type"], upload["data"])
        return number, secrets.token_hex(5), f"{self._base()}/_files/{name}"

    def _save_photo(self, caller: _Caller, params: Json) -> list[Json]:
        photo = str(params.get("photo") or "")
        if hashlib.md5(photo.encode(), usedforsecurity=False).hexdigest() != str(params.get("hash") or ""):
            raise VKError(121)
        try:
            token = json.loads(photo)[0]["photo"]
        except (ValueError, LookupError, TypeError):
            raise VKError(100, "photo is invalid") from None
        upload = self._take_upload(caller, token)
        number, key, url = self._store(upload)
        width, height = _image_size(upload["data"])
        item = {"id": number, "owner_id": -caller.group.group_id, "album_id": -64, "access_key": key,
                "date": int(time.time()), "text": "",
                "sizes": [{"type": "x", "url": url, "width": width, "height": height}]}
        self._keep("photo", item)
        return [copy.deepcopy(item)]

    def _docs_save(self, caller: _Caller, params: Json) -> Json:
        upload = self._take_upload(caller, str(params.get("file") or ""))
        number, key, url = self._store(upload)
        owner = -caller.group.group_id
        title = str(params.get("title") or upload["file_name"])
        if upload["kind"] == "audio_message":
            item: Json = {"id": number, "owner_id": owner, "access_key": key, "duration": 1, "link_ogg": url,
                          "link_mp3": url, "waveform": [0, 1, 0]}
        else:
            item = {"id": number, "owner_id": owner, "access_key": key, "title": title, "size": len(upload["data"]),
                    "ext": title.rsplit(".", 1)[-1] if "." in title else "", "url": url, "date": int(time.time()),
                    "type": 8}
        kind = upload["kind"]
        self._keep("doc", item, kind)
        return {"type": kind, kind: copy.deepcopy(item)}

    def _keep(self, prefix: str, item: Json, kind: str = "") -> None:
        """A saved photo / document, found by its attachment string with or without the access key."""
        ref = f"{prefix}{item['owner_id']}_{item['id']}"
        attachment = {"type": kind or prefix, kind or prefix: item}
        self._saved[ref] = self._saved[f"{ref}_{item['access_key']}"] = attachment


# ------------------------------------------------------------------------------------------------------ server


class FakeVKServer(FakeServer[FakeVK]):
    """`with FakeVKServer() as vk:` serves a `FakeVK` at `vk.url` (use it as VK_API_URL)."""

    def __init__(self, fake: FakeVK | None = None) -> None:
        super().__init__(fake or FakeVK(), name="fake-vk")


# --- Callback API events, as VK posts them ------------------------------------------------------------------------

_customer_ids = itertools.count(500_000_000 + int(time.time()) % 10**6 * 100)


def _keyboard(raw: Any) -> Json | None:
    """messages.send's `keyboard` as VK checks it: JSON; an inline one has at most 10 buttons (6 rows of 5); a
    label up to 40 characters, a payload a JSON string up to 255."""
    if raw in (None, ""):
        return None
    try:
        keyboard = json.loads(str(raw))
    except ValueError:
        raise VKError(100, "keyboard is invalid json") from None
    rows = keyboard.get("buttons") if isinstance(keyboard, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise VKError(911, "keyboard format is invalid: buttons is an array of arrays")
    buttons = [b for r in rows for b in r]
    if keyboard.get("inline") and (len(rows) > 6 or any(len(r) > 5 for r in rows) or len(buttons) > 10):
        raise VKError(911, "keyboard format is invalid: too many buttons for an inline keyboard")
    for button in buttons:
        action = button.get("action") if isinstance(button, dict) else None
        if not isinstance(action, dict) or not 0 < len(str(action.get("label") or "")) <= 40:
            raise VKError(911, "keyboard format is invalid: each button has an action with a label")
        payload = action.get("payload")
        if payload is not None:
            try:
                json.loads(str(payload))
            except ValueError:
                raise VKError(911, "keyboard format is invalid: payload is not JSON") from None
            if len(str(payload)) > 255:
                raise VKError(911, "keyboard format is invalid: payload is longer than 255")
    return keyboard


def _group_of(channel: Any) -> int:
    return abs(int(channel.secrets.get("group_id") or channel.settings.get("group_id")))


def callback(channel: Any, event_type: str, obj: Json, *, event_id: str | None = None) -> Json:
    """The Callback API envelope, signed with the channel's secret key as VK would."""
    secret = channel.secrets.get("secret_key") or channel.secrets.get("webhook_secret", "")
    return {"group_id": _group_of(channel), "type": event_type, "event_id": event_id or secrets.token_hex(20),
            "v": API_VERSION, "object": obj, "secret": secret}


def message_new(channel: Any, *, user_id: int, text: str, message_id: int | None = None,
                reply_to: int | None = None, attachments: list[Json] | None = None, peer_id: int | None = None,
                event_id: str | None = None, payload: str | None = None) -> Json:
    """A customer's message to the community (private dialog unless `peer_id` names a group chat)."""
    number = message_id if message_id is not None else next(_customer_ids)
    message: Json = {"id": number, "date": int(time.time()), "peer_id": peer_id or user_id, "from_id": user_id,
                     "out": 0, "conversation_message_id": number % 10**6, "text": text,
                     "attachments": attachments or [], "fwd_messages": [], "important": False, "is_hidden": False,
                     "version": number}
    if payload is not None:  # a keyboard's text button: its label as the text, its payload beside it
        message["payload"] = payload
    if reply_to is not None:
        message["reply_message"] = {"id": reply_to, "date": int(time.time()), "from_id": -_group_of(channel),
                                    "peer_id": peer_id or user_id, "text": "…"}
    client_info = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
                   "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}
    return callback(channel, "message_new", {"message": message, "client_info": client_info}, event_id=event_id)


def message_reply(channel: Any, sent: Json, *, admin_author_id: int | None = None) -> Json:
    """VK's `message_reply` for a message the community sent (as `FakeVK.sent()` lists it)."""
    obj = {k: v for k, v in sent.items() if k not in ("group_id", "deleted", "forward")}
    if admin_author_id is not None:
        obj["admin_author_id"] = admin_author_id
    return callback(channel, "message_reply", obj)


def wall_reply_new(channel: Any, *, user_id: int, post_id: int, text: str, comment_id: int | None = None,
                   reply_to_comment: int | None = None, owner_id: int | None = None, fake: FakeVK | None = None,
                   event_id: str | None = None) -> Json:
    """A comment under a post of the community's wall (`fake`, if given, learns it so answers name the author)."""
    owner = owner_id if owner_id is not None else -_group_of(channel)
    comment: Json = {"id": comment_id if comment_id is not None else 5000 + next(_customer_ids) % 10**6,
                     "from_id": user_id, "date": int(time.time()), "text": text, "post_id": post_id,
                     "owner_id": owner, "parents_stack": [], "thread": {"count": 0}}
    if reply_to_comment is not None:
        comment.update(reply_to_comment=reply_to_comment, parents_stack=[reply_to_comment])
    if fake is not None:
        fake.remember_comment(comment)
    return callback(channel, "wall_reply_new", comment, event_id=event_id)


def as_request(event: Json) -> Any:
    """A Callback API event as the HTTP request VK sends (for the simulator's webhook path)."""
    from chalicelib.local.fakes import SimulatedRequest

    body = json.dumps(event, ensure_ascii=False).encode()
    return SimulatedRequest("POST", "", {"Content-Type": "application/json"}, body)


# --- the customer simulator (see chalicelib/local/fakes/__init__.py) ---------------------------------------------


def simulate_customer(channel: Any, *, user_id: str, name: str, text: str, reply_to: str | None = None) -> Any:
    """The `message_new` VK would post when a customer writes to the community in private messages."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    number = int(user_id) if user_id.lstrip("-").isdigit() else int(digest[:7], 16)
    reply = int(reply_to) if reply_to and reply_to.isdigit() else None
    return as_request(message_new(channel, user_id=number, text=text, reply_to=reply))


def customer_view(fake: FakeVK, external_conversation_id: str) -> list[Json]:
    """What the customer sees from the community, oldest first: dialog messages, or answers to their comments."""
    if external_conversation_id.startswith("wall"):
        owner, post, user = (int(p) for p in external_conversation_id.removeprefix("wall").rsplit("_", 2))
        return [{"id": str(c["id"]), "text": c["text"], "attachments": [], "at": c["date"]}
                for c in fake.comments(owner, post) if c.get("reply_to_user") == user]
    return [{"id": str(m["id"] or f"c{m['conversation_message_id']}"), "text": m["text"],
             "attachments": [a["type"] for a in m["attachments"]], "at": m["date"], **_buttons(m)}
            for m in fake.sent(external_conversation_id)]


def _buttons(message: Json) -> Json:
    found = [{"label": b["action"]["label"], "data": b["action"]["payload"]}
             for row in (message.get("keyboard") or {}).get("buttons", []) for b in row
             if b.get("action", {}).get("payload")]
    return {"buttons": found} if found else {}


def press(fake: FakeVK, channel: Any, *, user_id: int, message_id: int, data: str) -> Json:
    """The `message_new` VK posts when the customer presses a text button of the community's inline keyboard."""
    message = next((m for m in fake.sent(user_id) if m["id"] == message_id), None)
    button = next((b for b in _buttons(message or {}).get("buttons", []) if b["data"] == data), None)
    if button is None:
        raise KeyError("no such button under that message")
    return message_new(channel, user_id=user_id, text=button["label"], payload=data)


def simulate_button(fake: FakeVK, channel: Any, *, user_id: str, name: str, message_id: str, data: str) -> Any:
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    number = int(user_id) if user_id.lstrip("-").isdigit() else int(digest[:7], 16)
    return as_request(press(fake, channel, user_id=number, message_id=int(message_id), data=data))
