"""Outgoing webhooks (E5) against a real local receiver on its own port: signed deliveries from the real stream,
retries with backoff through the one-minute tick, an outage that loses nothing, redelivery, SSRF refusals."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.domain import webhooks_out as rules
from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes, kinds
from tests.e2e.test_team_support import add_user
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


class Receiver:
    """The customer's system: records each POST; answers `status` (500 while it is 'down')."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.calls.append({"headers": dict(self.headers), "body": body, "answered": receiver.status})
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/zabota"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, secret: str, *, now: int) -> list[dict[str, Any]]:
        """Every call that the receiver would accept (signature checked as docs/WEBHOOKS.md shows), as JSON."""
        with self.lock:
            calls = list(self.calls)
        good = []
        for call in calls:
            assert rules.verify(secret, call["headers"]["Zabota-Signature"], call["body"], now=now, tolerance=10**9)
            good.append({**json.loads(call["body"]), "answered": call["answered"],
                         "delivery": call["headers"]["Zabota-Delivery"]})
        return good


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def subscribe(ws, url: str, events: list[str]) -> dict:
    resp = ws.api("POST", "/outgoing-webhooks", json={"url": url, "events": events})
    assert resp.status_code == 201, resp.text
    return resp.json()


def quiet_workspace(stack):
    ws = new_workspace(stack)
    assert ws.api("PUT", "/team/settings", json={"sla_minutes": 10080}).status_code == 200
    return ws


def deliveries(ws, hook_id: str) -> list[dict]:
    resp = ws.api("GET", f"/outgoing-webhooks/{hook_id}/deliveries")
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_events_are_delivered_signed_once_each_and_a_replay_sends_nothing_new(stack, clock, receiver):
    ws = quiet_workspace(stack)
    hook = subscribe(ws, receiver.url, ["conversation.created", "message.received", "message.sent"])
    assert hook["secret"].startswith("whsec_")
    listed = ws.api("GET", "/outgoing-webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    conv_id = customer_writes(ws, chat_id(), "hello there")
    assert ws.reply(conv_id, "hi!").status_code == 202
    ws.drain()
    got = receiver.received(hook["secret"], now=int(clock().timestamp()))
    assert sorted(g["type"] for g in got) == ["conversation.created", "message.received", "message.sent",
                                              "message.sent"]  # the greeting and the reply
    received = next(g for g in got if g["type"] == "message.received")
    assert received["data"]["message"]["text"] == "hello there" and received["workspace_id"] == ws.id
    assert {g["delivery"] for g in got} == {g["id"] for g in got}
    # the stream hands the same records over again: nothing is sent twice
    from chalicelib.services import webhooks_out
    from chalicelib.store import repo

    conv = repo.get_conversation(ws.id, conv_id)
    from chalicelib.services.deps import deps

    assert webhooks_out.on_change(deps(), "INSERT", conv, None) == 0
    ws.drain()
    assert len(receiver.calls) == 4
    assert {d["state"] for d in deliveries(ws, hook["id"])} == {"delivered"}


def test_a_failing_receiver_is_retried_with_backoff_and_a_ten_minute_outage_loses_nothing(stack, clock, receiver):
    ws = quiet_workspace(stack)
    hook = subscribe(ws, receiver.url, ["message.received"])
    receiver.status = 500
    chat = chat_id()
    for n in range(5):
        customer_writes(ws, chat, f"message {n}")
        clock.advance(minutes=2)
        tick()
        ws.drain()
    assert {d["state"] for d in deliveries(ws, hook["id"])} == {"retrying"}
    receiver.status = 200  # back after ten minutes
    for _ in range(12):
        clock.advance(minutes=1)
        tick()
        ws.drain()
    states = deliveries(ws, hook["id"])
    assert len(states) == 5 and {d["state"] for d in states} == {"delivered"}
    ok = [g for g in receiver.received(hook["secret"], now=int(clock().timestamp())) if g["answered"] == 200]
    assert sorted(g["data"]["message"]["text"] for g in ok) == [f"message {n}" for n in range(5)]  # once each
    first = states[-1]
    assert first["attempts"] >= 2 and first["last_status"] == 200
    calls = len(receiver.calls)
    clock.advance(hours=3)
    tick()
    assert len(receiver.calls) == calls  # success is never repeated


def test_backoff_grows_with_jitter_and_stops_after_24_hours():
    import random
    from datetime import UTC, datetime

    rng = random.Random(7)
    first = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    delays = []
    now = first
    for attempt in range(1, 60):
        nxt = rules.next_attempt(attempt, first, now, rng)
        if nxt is None:
            break
        delays.append((nxt - now).total_seconds())
        now = nxt
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and max(delays) <= 3600
    assert now == first + timedelta(hours=24) and rules.next_attempt(99, first, now, rng) is None
    assert len(set(delays[:5])) == 5


def test_repeated_failure_switches_the_webhook_off_and_tells_the_admins(stack, clock, receiver):
    ws = quiet_workspace(stack)
    lead = add_user(stack, ws.id, "admin")
    hook = subscribe(ws, receiver.url, ["message.received"])
    receiver.status = 503
    chat = chat_id()
    for n in range(rules.DISABLE_AFTER_FAILED):
        customer_writes(ws, chat, f"down {n}")
    for _ in range(26):
        clock.advance(hours=1)
        tick()
        ws.drain()
    states = deliveries(ws, hook["id"])
    assert {d["state"] for d in states} == {"failed"} and all(d["last_status"] == 503 for d in states)
    (listed,) = ws.api("GET", "/outgoing-webhooks").json()["items"]
    assert listed["enabled"] is False and "in a row" in listed["disabled_reason"]
    assert "webhook_disabled" in kinds(lead)
    calls = len(receiver.calls)
    customer_writes(ws, chat, "while switched off")
    assert len(receiver.calls) == calls
    # switched on again, an admin redelivers one of the failed ones
    receiver.status = 200
    assert ws.api("PATCH", f"/outgoing-webhooks/{hook['id']}", json={"enabled": True}).status_code == 200
    resp = ws.api("POST", f"/outgoing-webhooks/{hook['id']}/deliveries/{states[0]['id']}/redeliver")
    assert resp.status_code == 200, resp.text
    ws.drain()
    assert receiver.calls[-1]["headers"]["Zabota-Delivery"] == states[0]["id"]
    assert deliveries(ws, hook["id"])[0]["state"] == "delivered"
    again = ws.api("POST", f"/outgoing-webhooks/{hook['id']}/deliveries/nope/redeliver")
    assert again.status_code == 404


@pytest.mark.parametrize("url", ["http://10.0.0.5/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://192.168.1.10:8080/", "http://[fd00::1]/", "http://100.64.0.1/",
                                 "ftp://example.org/", "http://user:pw@127.0.0.1/", "not a url", ""])
def test_private_or_odd_receiver_urls_are_refused_and_nothing_is_stored(stack, url):
    ws = quiet_workspace(stack)
    resp = ws.api("POST", "/outgoing-webhooks", json={"url": url, "events": ["message.received"]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "url_refused" and resp.json()["error"]["message"]
    assert ws.api("GET", "/outgoing-webhooks").json()["items"] == []


def test_in_aws_mode_only_public_https_receivers_are_taken():
    public = lambda host, port, proto: [(2, 1, 6, "", ("93.184.216.34", port))]  # noqa: E731
    inner = lambda host, port, proto: [(2, 1, 6, "", ("10.1.2.3", port))]  # noqa: E731
    assert rules.check_url("https://hooks.example.org/z", allow_http=False, allow_loopback=False, resolve=public)
    for url, resolve in (("http://hooks.example.org/z", public), ("https://hooks.example.org/z", inner),
                         ("https://127.0.0.1/z", lambda h, p, proto: [(2, 1, 6, "", ("127.0.0.1", p))])):
        with pytest.raises(rules.RefusedUrl):
            rules.check_url(url, allow_http=False, allow_loopback=False, resolve=resolve)


def test_unknown_events_and_other_workspaces_hooks_are_refused(stack, receiver):
    ws, other = quiet_workspace(stack), quiet_workspace(stack)
    bad = ws.api("POST", "/outgoing-webhooks", json={"url": receiver.url, "events": ["everything"]})
    assert bad.status_code == 400
    hook = subscribe(ws, receiver.url, ["ping"])
    assert other.api("GET", f"/outgoing-webhooks/{hook['id']}/deliveries").status_code == 404
    assert other.api("DELETE", f"/outgoing-webhooks/{hook['id']}").status_code == 404
    assert ws.api("POST", f"/outgoing-webhooks/{hook['id']}/ping").status_code == 202
    ws.drain()
    deadline = time.monotonic() + 5
    while not receiver.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(receiver.calls[0]["body"])["type"] == "ping"
    assert ws.api("DELETE", f"/outgoing-webhooks/{hook['id']}").status_code == 204
