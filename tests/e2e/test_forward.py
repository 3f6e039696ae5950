"""Forward a conversation by e-mail (B11): the transcript reaches each address once, HTML-escaped, with a note in
the thread; a retried request sends nothing twice; bad input, another workspace and too many forwards refused."""

from __future__ import annotations

import secrets
import uuid

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def customer(ws, name: str, *texts: str) -> dict:
    chat = 900_000_000 + secrets.randbelow(10**8)
    for text in texts:
        assert ws.post_update(customer_message(chat, text, first_name=name)).status_code == 200
    ws.drain()
    return next(c for c in ws.conversations(status="new") if c["contact_name"] == name)


def inbox(address: str) -> list:
    from chalicelib.auth import mail

    return mail.OUTBOX.to(address)


def test_the_transcript_goes_to_each_address_once_escaped_and_the_thread_says_so(stack):
    ws = new_workspace(stack)
    conv = customer(ws, "Eve <script>", "Refund <b>please</b>", "Order #4821")
    assert ws.reply(conv["id"], "Passing this to billing").status_code == 202
    ws.drain()
    billing, legal = f"billing-{uuid.uuid4().hex[:8]}@shop.example", f"legal-{uuid.uuid4().hex[:8]}@shop.example"
    request = {"to": [billing, legal.upper()], "note": "Please check <the> refund", "request_id": uuid.uuid4().hex}

    first = ws.api("POST", f"/conversations/{conv['id']}/forward", json=request)
    assert first.status_code == 201, first.text
    again = ws.api("POST", f"/conversations/{conv['id']}/forward", json=request)  # the answer was lost: retry
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]

    for address in (billing, legal):
        mails = inbox(address)
        assert len(mails) == 1, address
        sent = mails[0]
        assert sent.subject.startswith("Fwd: Eve <script>")
        assert "Refund <b>please</b>" in sent.text and "Passing this to billing" in sent.text
        assert "Refund &lt;b&gt;please&lt;/b&gt;" in sent.html and "<b>please</b>" not in sent.html
        assert "Eve &lt;script&gt;" in sent.html and "<script>" not in sent.html
        assert sent.text.index("Refund") < sent.text.index("Order #4821") < sent.text.index("Passing this")
    notes = [m for m in ws.messages(conv["id"]) if m["direction"] == "note"]
    assert len(notes) == 1 and billing in notes[0]["text"] and "Please check <the> refund" in notes[0]["text"]


@pytest.mark.parametrize("body, status", [
    ({"to": ["not-an-address"], "request_id": "r" * 10}, 400),
    ({"to": [], "request_id": "r" * 10}, 400),
    ({"to": [f"a{i}@x.example" for i in range(6)], "request_id": "r" * 10}, 400),
    ({"to": ["a@x.example"]}, 400),
    ({"to": ["a@x.example"], "request_id": "r" * 10, "note": "n" * 2001}, 400),
])
def test_bad_forwards_are_refused_and_send_nothing(stack, body, status):
    ws = new_workspace(stack)
    conv = customer(ws, "Bad", "hi")
    resp = ws.api("POST", f"/conversations/{conv['id']}/forward", json=body)
    assert resp.status_code == status, resp.text
    assert not [m for m in inbox("a@x.example") if "Bad" in m.subject]
    assert [m for m in ws.messages(conv["id"]) if m["direction"] == "note"] == []


def test_another_workspace_cannot_forward_and_too_many_forwards_wait(stack, monkeypatch):
    from chalicelib.services import forward

    ws, other = new_workspace(stack), new_workspace(stack)
    conv = customer(ws, "Limit", "hi")
    body = {"to": ["ops@x.example"], "request_id": uuid.uuid4().hex}
    assert other.api("POST", f"/conversations/{conv['id']}/forward", json=body).status_code == 404

    monkeypatch.setattr(forward, "FORWARDS_PER_HOUR", 2)
    for _ in range(2):
        ok = ws.api("POST", f"/conversations/{conv['id']}/forward", json={**body, "request_id": uuid.uuid4().hex})
        assert ok.status_code == 201, ok.text
    refused = ws.api("POST", f"/conversations/{conv['id']}/forward", json={**body, "request_id": uuid.uuid4().hex})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
