"""Helpers of the team tests (this module holds no tests): people who sign in through the real e-mailed link and
then use the API with their session cookie, and a WebSocket client that sends cookies and an Origin."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from chalicelib.local.websocket import OP_TEXT, encode_frame, read_frame
from tests.support import fresh, live_events


def outbox_link(email: str, kind: str = "login") -> str:
    from chalicelib.auth.mail import OUTBOX

    found = [m for m in OUTBOX.to(email) if m.kind == kind]
    assert found, f"no {kind} e-mail to {email}"
    return found[-1].link


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


@dataclass
class User:
    """A signed-in person: their browser's cookies, their CSRF token, the workspace they act in."""

    stack: Any
    email: str
    user_id: str
    workspace_id: str
    csrf: str
    http: requests.Session = field(repr=False)

    def api(self, method: str, path: str, *, workspace: str | None = None, csrf: str | None = None,
            **kwargs: Any) -> requests.Response:
        headers = {"X-Workspace": workspace or self.workspace_id, "X-CSRF-Token": self.csrf if csrf is None else csrf,
                   **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.stack.url}/api{path}", headers=headers, timeout=30,
                                 allow_redirects=False, **kwargs)

    @property
    def session_cookie(self) -> str:
        return self.http.cookies.get("zb_session") or ""


def sign_in_by_link(stack: Any, email: str, http: requests.Session | None = None) -> tuple[requests.Session, dict]:
    http = http or requests.Session()
    resp = http.post(f"{stack.url}/api/auth/login-link", json={"email": email}, timeout=30)
    assert resp.status_code == 202, resp.text
    resp = http.post(f"{stack.url}/api/auth/link", json={"token": token_of(outbox_link(email))}, timeout=30)
    assert resp.status_code == 200, resp.text
    return http, resp.json()


def add_user(stack: Any, workspace_id: str, role: str, *, name: str = "") -> User:
    """A member with this role (created as an admin's tooling would), signed in by the e-mailed link."""
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    email = f"{fresh('op')}@team.example"
    member = team.ensure_member(workspace_id, email, role, now=deps().now(), name=name or email.split("@")[0])
    http, body = sign_in_by_link(stack, email)
    assert body["user"]["id"] == member.user_id
    return User(stack, email, member.user_id, workspace_id, body["csrf_token"], http)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


class Socket:
    """A console's WebSocket (masked frames as RFC 6455 wants), with the cookies and Origin a browser sends."""

    def __init__(self, stack: Any, path: str, headers: dict[str, str] | None = None) -> None:
        port = int(stack.url.rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.stream = self.sock.makefile("rb")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{extra}\r\n").encode())
        self.status = int(self.stream.readline().decode().split()[1])
        while self.stream.readline().decode().strip():
            pass

    @classmethod
    def of(cls, user: User, *, origin: str | None = None) -> Socket:
        cookie = "; ".join(f"{c.name}={c.value}" for c in user.http.cookies)
        return cls(user.stack, f"/ws?workspace={user.workspace_id}",
                   {"Cookie": cookie, "Origin": origin if origin is not None else user.stack.url})

    def send_json(self, payload: dict[str, Any]) -> None:
        self.sock.sendall(encode_frame(OP_TEXT, json.dumps(payload).encode(), mask=os.urandom(4)))

    def receive_json(self, deadline_s: float = 5.0, *, until: Callable[[dict], bool] | None = None) -> list[dict]:
        """Frames within the deadline (stops once `until` matches one, or the socket is quiet for 1 s)."""
        self.sock.settimeout(1.0)
        got: list[dict] = []
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                frame = read_frame(self.stream, require_mask=False)
            except (TimeoutError, OSError):
                if got and until is None:
                    break
                continue
            events = live_events(frame.payload)
            got.extend(events)
            if until is not None and any(until(e) for e in events):
                break
        return got

    def drop(self) -> None:
        self.stream.close()
        self.sock.close()
