"""The site-chat widget's API on the real stack: a visitor's session, messages, history and WebSocket, next to the
operator's REST API, all over HTTP."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.e2e.test_runtime import receive_json
from tests.integration.test_websocket_emulation import Client
from tests.support import Workspace, fresh

pytestmark = pytest.mark.ddblocal

ORIGIN = "https://brand.example"
SETTINGS = {
    "pre_chat": [{"name": "name", "label": "Name", "required": True, "type": "text"},
                 {"name": "email", "label": "E-mail", "required": True, "type": "email"},
                 {"name": "topic", "label": "Topic", "required": False, "type": "select"},
                 {"name": "order_number", "label": "Order", "required": False, "type": "text"}],
    "topics": {"delivery": ["delivery", "logistics"], "returns": ["returns"]},
    "allowed_origins": [ORIGIN],
}
FORM = {"name": "Olga", "email": "olga@example.org", "topic": "delivery", "custom": {"order_number": "1234"}}


@dataclass
class Visitor:
    site: Site
    token: str
    visitor_id: str
    conversation_id: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Origin": ORIGIN, "Authorization": f"Bearer {self.token if token is None else token}",
                   **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.site.base}{path}", headers=headers, timeout=30, **kwargs)

    def write(self, text: str, client_message_id: str | None = None) -> requests.Response:
        return self.call("POST", "/messages", json={"client_message_id": client_message_id or str(uuid.uuid4()),
                                                    "text": text})

    def history(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.call("GET", "/messages", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]


@dataclass
class Site:
    ws: Workspace

    @property
    def base(self) -> str:
        return f"{self.ws.stack.url}/api/widget/{self.ws.channel_id}"

    def open_session(self, form: dict[str, Any] | None = None, *, origin: str = ORIGIN) -> requests.Response:
        body = {"pre_chat": FORM if form is None else form, "page": {"url": f"{ORIGIN}/checkout", "lang": "ru"}}
        return requests.post(f"{self.base}/sessions", json=body, headers={"Origin": origin}, timeout=30)

    def visitor(self, form: dict[str, Any] | None = None) -> Visitor:
        resp = self.open_session(form)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        return Visitor(self, body["visitor_token"], body["visitor_id"], body["conversation_id"])


def widget_site(stack, settings: dict[str, Any] | None = None) -> Site:
    from chalicelib.auth.keys import create_api_key
    from chalicelib.domain.model import Channel
    from chalicelib.services import channels
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    d = deps()
    ws_id = fresh("ws")
    repo.put_workspace(ws_id, f"Shop {ws_id}", language="ru", now=d.now())
    created = channels.create_channel(d, ws_id, "widget", "Site chat", {})
    repo.put_channel(Channel(**{**created.__dict__, "settings": SETTINGS if settings is None else settings}),
                     now=d.now())
    key = create_api_key(ws_id, "admin", name="tests", now=d.now())
    return Site(Workspace(stack, ws_id, created.id, "", "", key))


def wait_for_fresh_window(seconds: int, needed: float) -> None:
    """Our limits count in fixed windows: start a burst where it cannot straddle two of them."""
    left = seconds - time.time() % seconds
    if left < needed:
        time.sleep(left + 0.05)


# --- sessions --------------------------------------------------------------------------------------------------


def test_a_session_without_a_required_pre_chat_field_is_400_naming_the_field(stack):
    site = widget_site(stack)
    resp = site.open_session({"name": "Olga", "topic": "delivery"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == "email" and "email" in error["message"]
    bad = site.open_session({**FORM, "email": "not-an-address"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "email"
    unknown_topic = site.open_session({**FORM, "topic": "weather"})
    assert unknown_topic.status_code == 400 and unknown_topic.json()["error"]["details"]["field"] == "topic"


def test_a_session_answers_a_token_once_and_the_ids_it_will_use(stack):
    site = widget_site(stack)
    resp = site.open_session()
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == {"visitor_token", "visitor_id", "conversation_id", "expires_at"}
    assert len(body["visitor_token"]) >= 43 and body["conversation_id"].startswith("c_")
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_site_that_is_not_allowed_cannot_open_a_session_nor_pass_the_preflight(stack):
    site = widget_site(stack)
    assert site.open_session(origin="https://evil.example").status_code == 403
    ok = requests.options(f"{site.base}/sessions", headers={"Origin": ORIGIN,
                                                            "Access-Control-Request-Method": "POST"}, timeout=10)
    assert ok.status_code == 204 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    evil = requests.options(f"{site.base}/messages", headers={"Origin": "https://evil.example"}, timeout=10)
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers


# --- messages -------------------------------------------------------------------------------------------------


def test_a_visitor_message_becomes_a_conversation_the_operator_sees_with_the_topics_tags(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    resp = visitor.write("Where is my parcel?")
    assert resp.status_code == 201, resp.text
    created = resp.json()
    site.ws.drain()

    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    assert conv["id"] == visitor.conversation_id == created["conversation_id"]
    assert conv["channel_kind"] == "widget" and conv["contact_name"] == "Olga"
    assert conv["tags"] == ["delivery", "logistics"] and conv["message_count"] == 1
    (msg,) = [m for m in site.ws.messages(conv["id"]) if m["direction"] == "in"]
    assert msg["id"] == created["message_id"] and msg["text"] == "Where is my parcel?"
    card = site.ws.api("GET", f"/conversations/{conv['id']}").json()["contact"]
    assert card["email"] == "olga@example.org"


def test_a_repeated_client_message_id_gets_the_same_answer_and_one_message(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    client_id = str(uuid.uuid4())
    first = visitor.write("only once", client_id)
    second = visitor.write("only once", client_id)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    site.ws.drain()
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    assert conv["message_count"] == 1
    assert [m["text"] for m in visitor.history() if m["author"]["kind"] == "visitor"] == ["only once"]


def test_text_with_a_script_tag_is_stored_and_returned_as_text(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    text = '<script>alert("x")</script> & <b>bold</b>'
    assert visitor.write(text).status_code == 201
    site.ws.drain()
    resp = visitor.call("GET", "/messages")
    assert resp.headers["Content-Type"].startswith("application/json")
    assert [m["text"] for m in resp.json()["items"] if m["author"]["kind"] == "visitor"] == [text]
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    assert [m["text"] for m in site.ws.messages(conv["id"]) if m["direction"] == "in"] == [text]


def test_an_operator_reply_is_in_the_visitors_history_and_pushed_over_the_websocket_but_notes_are_not(stack):
    site = widget_site(stack, {"topics": {}})  # no allowed origins: the raw-socket client sends no Origin
    visitor = site.visitor({"name": "Olga"})
    ticket = visitor.call("POST", "/ws-ticket")
    assert ticket.status_code == 201, ticket.text
    port = int(stack.url.rsplit(":", 1)[1])
    live = Client(port, f"/ws?ticket={ticket.json()['ticket']}")
    assert live.status == 101
    assert Client(port, f"/ws?ticket={ticket.json()['ticket']}").status == 403  # a ticket works once (API
    # Gateway refuses every non-2xx $connect answer with 403)

    assert visitor.write("Hello?").status_code == 201
    site.ws.drain()
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    assert site.ws.api("POST", f"/conversations/{conv['id']}/notes", json={"text": "VIP, be nice"}).ok
    assert site.ws.reply(conv["id"], "Hi Olga! Let me check.").status_code == 202
    site.ws.drain()

    frames = receive_json(live)
    live.drop()
    pushed = [f for f in frames if f["type"] == "message.new"]
    assert [f["message"]["author"]["kind"] for f in pushed] == ["bot", "operator"]
    assert pushed[1]["message"]["text"] == "Hi Olga! Let me check."
    assert all(f["conversation_id"] == visitor.conversation_id for f in pushed)
    assert [f["seq"] for f in pushed] == sorted(f["seq"] for f in pushed) and len({f["seq"] for f in pushed}) == 2
    assert not [f for f in frames if f["type"] == "conversation.updated"]  # consoles' broadcasts stay with consoles
    assert "VIP, be nice" not in str(frames)

    seen = visitor.history()
    assert [(m["author"]["kind"], m["text"]) for m in seen][0] == ("visitor", "Hello?")
    assert ("operator", "Hi Olga! Let me check.") in [(m["author"]["kind"], m["text"]) for m in seen]
    assert "VIP, be nice" not in [m["text"] for m in seen]
    reply = next(m for m in site.ws.messages(conv["id"]) if m["origin"] == "operator" and m["direction"] == "out")
    assert reply["status"] == "sent" and reply["external_message_id"] == reply["id"]


def test_history_after_a_cursor_returns_only_what_came_since(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    visitor.write("first")
    site.ws.drain()
    cursor = visitor.call("GET", "/messages").json()["next_cursor"]
    visitor.write("second")
    site.ws.drain()
    assert [m["text"] for m in visitor.history(after=cursor)] == ["second"]
    assert visitor.call("GET", "/messages", params={"after": "not-an-id"}).status_code == 400


# --- who may do what ------------------------------------------------------------------------------------------


def test_a_wrong_or_missing_visitor_token_is_401(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    assert visitor.call("GET", "/messages", token="zbv_" + secrets.token_urlsafe(32)).status_code == 401
    resp = requests.get(f"{site.base}/messages", headers={"Origin": ORIGIN}, timeout=10)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert visitor.call("POST", "/messages", token=site.ws.key, json={"client_message_id": "a", "text": "x"}
                        ).status_code == 401  # an operator's API key is not a visitor token
    other_site = widget_site(stack)
    stolen = requests.get(f"{other_site.base}/messages", timeout=10,
                          headers={"Origin": ORIGIN, "Authorization": f"Bearer {visitor.token}"})
    assert stolen.status_code == 401  # a token belongs to one channel


def test_another_visitor_cannot_read_this_conversation(stack):
    site = widget_site(stack)
    olga, mallory = site.visitor(), site.visitor({**FORM, "name": "Mallory"})
    olga.write("my address is secret")
    site.ws.drain()
    peek = mallory.call("GET", "/messages", params={"conversation_id": olga.conversation_id})
    assert peek.status_code == 404 and peek.json()["error"]["code"] == "not_found"
    write = mallory.call("POST", "/messages", json={"client_message_id": "x1", "text": "hi",
                                                    "conversation_id": olga.conversation_id})
    assert write.status_code == 404
    assert "my address is secret" not in str(mallory.history())
    assert [m["text"] for m in olga.history() if m["author"]["kind"] == "visitor"] == ["my address is secret"]


def test_the_eleventh_message_within_ten_seconds_is_429_with_retry_after(stack):
    site = widget_site(stack)
    visitor = site.visitor()
    wait_for_fresh_window(10, needed=6)
    answers = [visitor.write(f"message {n}").status_code for n in range(11)]
    assert answers == [201] * 10 + [429]
    refused = visitor.write("one more")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.headers["Access-Control-Expose-Headers"] == "Retry-After"


def test_the_twenty_first_session_from_one_ip_within_an_hour_is_429(stack):
    site = widget_site(stack)
    wait_for_fresh_window(3600, needed=30)
    answers = [site.open_session().status_code for _ in range(20)]
    assert answers == [201] * 20
    refused = site.open_session()
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 3600


def test_the_visitor_can_give_a_name_and_email_later(stack):
    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({})
    visitor.write("hi")
    site.ws.drain()
    resp = visitor.call("PATCH", "/visitor", json={"name": "Oleg", "email": "oleg@example.org"})
    assert resp.status_code == 200 and resp.json()["email"] == "oleg@example.org"
    assert visitor.call("PATCH", "/visitor", json={"email": "nope"}).status_code == 400
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    card = site.ws.api("GET", f"/conversations/{conv['id']}").json()
    assert card["contact_name"] == "Oleg" and card["contact"]["email"] == "oleg@example.org"


def test_the_operators_console_sees_the_visitor_typing(stack):
    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Olga"})
    visitor.write("one moment")
    site.ws.drain()
    port = int(stack.url.rsplit(":", 1)[1])
    console = Client(port, f"/ws?token={site.ws.key}")
    assert console.status == 101
    assert visitor.call("POST", "/typing").status_code == 200
    frames = receive_json(console)
    console.drop()
    assert {"type": "typing", "conversation_id": visitor.conversation_id, "who": "customer"} in frames


def test_an_operators_picture_reaches_the_visitor_as_a_link(stack):
    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Olga"})
    visitor.write("show me the box")
    site.ws.drain()
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    picture = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)
    up = site.ws.api("POST", "/uploads", json={"file_name": "box.png", "mime_type": "image/png",
                                               "data_base64": base64.b64encode(picture).decode()})
    assert up.status_code == 201, up.text
    assert site.ws.reply(conv["id"], "here it is", attachments=[up.json()["upload_id"]]).status_code == 202
    site.ws.drain()
    reply = next(m for m in visitor.history() if m["author"]["kind"] == "operator")
    (att,) = reply["attachments"]
    assert reply["text"] == "here it is" and att["kind"] == "image" and att["file_name"] == "box.png"
    assert requests.get(att["url"], timeout=10).content == picture


def test_edits_and_deletions_of_a_reply_are_pushed_to_the_visitor(stack):
    from chalicelib.channels.base import ConvRef
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Olga"})
    visitor.write("hi")
    site.ws.drain()
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    site.ws.reply(conv["id"], "Helo")
    site.ws.drain()
    reply = next(m for m in site.ws.messages(conv["id"]) if m["origin"] == "operator")
    port = int(stack.url.rsplit(":", 1)[1])
    live = Client(port, f"/ws?ticket={visitor.call('POST', '/ws-ticket').json()['ticket']}")
    adapter = deps().adapters.get("widget")  # what the edit / delete use cases call
    channel = repo.get_channel(site.ws.channel_id)
    adapter.edit_text(channel, ConvRef(visitor.visitor_id), reply["external_message_id"], "Hello")
    adapter.delete(channel, ConvRef(visitor.visitor_id), reply["external_message_id"])
    frames = receive_json(live)
    live.drop()
    assert [f["type"] for f in frames] == ["message.updated", "message.deleted"]
    assert frames[0]["message"]["text"] == "Hello" and frames[0]["message"]["edited"] is True
    assert frames[1]["message_id"] == reply["id"] and frames[1]["seq"] == frames[0]["seq"] + 1


def test_the_widget_reads_the_channels_form_without_secrets(stack):
    import requests

    from chalicelib.local import demo
    from chalicelib.services.deps import deps

    demo.seed(deps(), stack.fakes)
    resp = requests.get(f"{stack.url}/api/widget/ch_demo_widget/config", timeout=10)
    assert resp.status_code == 200
    form = resp.json()["pre_chat"]
    topic = next(f for f in form if f["name"] == "topic")
    assert topic["type"] == "select" and topic["required"] is True
    assert [o["value"] for o in topic["options"]] == ["delivery", "payment", "other"]
    assert "secret" not in resp.text and "token" not in resp.text
    assert requests.get(f"{stack.url}/api/widget/ch_nope/config", timeout=10).status_code == 404
