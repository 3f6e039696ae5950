"""Test helpers named like user actions: a workspace with a Telegram channel, a customer, an operator."""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import requests

_update_ids = itertools.count(900_000_000)
_message_ids = itertools.count(1000)


def live_events(frame_payload: bytes | str) -> list[dict[str, Any]]:
    """The events of one live-update frame: one event, or a stream batch's `{"type": "batch", "events": [...]}`."""
    value = json.loads(frame_payload)
    return list(value["events"]) if value.get("type") == "batch" else [value]


def fresh(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@dataclass
class Workspace:
    stack: Any
    id: str
    channel_id: str
    bot_token: str
    webhook_secret: str
    key: str
    session: requests.Session = field(default_factory=requests.Session)

    # --- operator actions (the REST API over real HTTP) ---

    def api(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.stack.url}/api{path}", headers=headers, timeout=30, **kwargs)

    def conversations(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.api("GET", "/conversations", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        resp = self.api("GET", f"/conversations/{conversation_id}/messages", params={"limit": 200})
        assert resp.status_code == 200, resp.text
        return list(reversed(resp.json()["items"]))

    def reply(self, conversation_id: str, text: str, **extra: Any) -> requests.Response:
        return self.api("POST", f"/conversations/{conversation_id}/replies", json={"text": text, **extra})

    # --- the provider side ---

    @property
    def bot_sent(self) -> list[dict[str, Any]]:
        return [c for c in self.stack.fake_telegram.calls if c.get("token") == self.bot_token
                and c["method"].lower().startswith("send")]

    def post_update(self, update: dict[str, Any], *, secret: str | None = None, raw: bytes | None = None
                    ) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        token = self.webhook_secret if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        body = raw if raw is not None else json.dumps(update).encode()
        return requests.post(f"{self.stack.url}/api/webhooks/telegram/{self.channel_id}", data=body,
                             headers=headers, timeout=30)

    def drain(self) -> int:
        return int(self.stack.pump.drain(timeout=30))


def customer_message(chat_id: int, text: str, *, first_name: str = "Anna", update_id: int | None = None,
                     reply_to: int | None = None, language: str = "ru", **message: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": next(_message_ids), "date": 1_716_200_000,
        "from": {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": language},
        "chat": {"id": chat_id, "type": "private", "first_name": first_name}, **message,
    }
    if text:
        msg["text"] = text
    if reply_to is not None:
        msg["reply_to_message"] = {"message_id": reply_to, "date": 1_716_200_000,
                                   "chat": {"id": chat_id, "type": "private"}, "text": "…"}
    return {"update_id": update_id if update_id is not None else next(_update_ids), "message": msg}


def new_workspace(stack: Any, *, role: str = "admin") -> Workspace:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws = fresh("ws")
    repo.put_workspace(ws, f"Shop {ws}", language="ru", now=d.now())
    token = f"{secrets.randbelow(10**9)}:{secrets.token_hex(8)}"
    stack.fake_telegram.add_bot(token, f"{ws}_bot")
    channel = channels.create_channel(d, ws, "telegram", "Support bot", {"bot_token": token})
    key = create_api_key(ws, role, name="tests", now=d.now())
    return Workspace(stack, ws, channel.id, token, channel.secrets["webhook_secret"], key)


# --- the webhook function's entry: a Lambda Function URL (chalicelib/events/function_url.py) ---

def function_url_event(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                       query: str = "", base64_body: bool = False, source_ip: str = "203.0.113.7") -> dict[str, Any]:
    """The event Lambda gives a function behind its Function URL (payload format 2.0): lower-case header names,
    `rawQueryString`, the body as text or, for binary content types, base64 with `isBase64Encoded`."""
    import base64
    from urllib.parse import parse_qs

    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": "abc123.lambda-url.us-east-1.on.aws", "x-forwarded-proto": "https",
                    **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc123", "domainName": "abc123.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc123", "requestId": fresh("req-"), "routeKey": "$default", "stage": "$default",
            "time": "03/Dec/2026:12:00:00 +0000", "timeEpoch": 1796299200000,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": "TelegramBot (like TwitterBot)"},
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parse_qs(query, keep_blank_values=True).items()}
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode("utf-8")
    return event


def lambda_context(function_name: str = "zabota-Webhook") -> Any:
    """A Lambda context as the runtime passes it (what Powertools' logger reads)."""
    from chalice.local import LambdaContext

    return LambdaContext(function_name, memory_size=512, max_runtime_ms=30_000)
