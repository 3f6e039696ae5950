"""A site visitor sends files from the widget: told by their content, at most 10 MB, their own only; the operator
sees them like any channel's attachment. Refusals store nothing."""

from __future__ import annotations

import base64
import os
import secrets
import uuid

import pytest
import requests

from tests.e2e.test_widget_api import widget_site

pytestmark = pytest.mark.ddblocal

PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(200)
PDF = b"%PDF-1.7\n" + secrets.token_bytes(200)


def upload(visitor, name: str, data: bytes, **extra) -> requests.Response:
    return visitor.call("POST", "/uploads", json={"file_name": name, "data_base64": base64.b64encode(data).decode(),
                                                  **extra})


def stored_uploads(site) -> list[str]:
    """The visitors' files kept for this workspace (the embedded file store is a folder)."""
    from chalicelib.services.deps import deps

    folder = os.path.join(deps().files._root, site.ws.id, "widget-uploads")
    return sorted(name for _, _, files in os.walk(folder) for name in files if not name.endswith(".meta"))


def test_a_visitors_picture_and_pdf_reach_the_operator_as_attachments(stack):
    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Olga"})
    picture, paper = upload(visitor, "box.png", PNG), upload(visitor, "invoice.pdf", PDF, mime_type="image/png")
    assert picture.status_code == 201 and paper.status_code == 201, (picture.text, paper.text)
    assert picture.json()["mime_type"] == "image/png"
    assert paper.json()["mime_type"] == "application/pdf"  # the content decides, not the browser's word
    assert len(stored_uploads(site)) == 2

    sent = visitor.call("POST", "/messages", json={"client_message_id": str(uuid.uuid4()), "text": "",
                                                   "attachments": [picture.json()["upload_id"],
                                                                   paper.json()["upload_id"]]})
    assert sent.status_code == 201, sent.text
    site.ws.drain()
    (conv,) = site.ws.conversations(channel_id=site.ws.channel_id)
    (message,) = [m for m in site.ws.messages(conv["id"]) if m["direction"] == "in"]
    kinds = [(a["kind"], a["file_name"]) for a in message["attachments"]]
    assert kinds == [("image", "box.png"), ("document", "invoice.pdf")]
    assert requests.get(message["attachments"][0]["url"], timeout=10).content == PNG
    (mine,) = [m for m in visitor.history() if m["author"]["kind"] == "visitor"]
    assert [a["file_name"] for a in mine["attachments"]] == ["box.png", "invoice.pdf"]


@pytest.mark.parametrize("name, data, status", [
    ("run.exe", b"MZ\x90\x00" + secrets.token_bytes(100), 415),
    ("page.html", b"<html><script>alert(1)</script></html>", 415),
    ("fake.png", b"<svg onload=alert(1)>", 415),
    ("archive.zip", b"PK\x03\x04" + secrets.token_bytes(100), 415),  # a zip only as an office document
    ("empty.txt", b"", 400),
    ("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), 413),
])
def test_files_a_visitor_may_not_send_are_refused_and_nothing_is_stored(stack, name, data, status):
    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Ivan"})
    resp = upload(visitor, name, data)
    assert resp.status_code == status, resp.text[:300]
    assert stored_uploads(site) == []


def test_uploads_need_the_visitors_token_and_another_visitors_file_cannot_be_sent(stack):
    site = widget_site(stack, {"topics": {}})
    olga, ivan = site.visitor({"name": "Olga"}), site.visitor({"name": "Ivan"})
    refused = olga.call("POST", "/uploads", token="wrong", json={"file_name": "a.png",
                                                                  "data_base64": base64.b64encode(PNG).decode()})
    assert refused.status_code == 401
    theirs = upload(ivan, "ivan.png", PNG).json()["upload_id"]
    stolen = olga.call("POST", "/messages", json={"client_message_id": str(uuid.uuid4()), "text": "look",
                                                  "attachments": [theirs]})
    assert stolen.status_code == 400 and "unknown upload" in stolen.text


def test_the_eleventh_upload_within_a_minute_is_429(stack):
    from tests.e2e.test_widget_api import wait_for_fresh_window

    site = widget_site(stack, {"topics": {}})
    visitor = site.visitor({"name": "Spam"})
    wait_for_fresh_window(60, 10)
    answers = [upload(visitor, f"p{i}.png", PNG).status_code for i in range(11)]
    assert answers == [201] * 10 + [429]


def test_an_operator_typing_shows_in_that_visitors_widget_only_without_a_name(stack):
    from tests.e2e.test_runtime import receive_json
    from tests.e2e.test_team_support import Socket, add_user
    from tests.integration.test_websocket_emulation import Client

    site = widget_site(stack, {"topics": {}})
    olga, ivan = site.visitor({"name": "Olga"}), site.visitor({"name": "Ivan"})
    assert olga.write("where is my parcel?").status_code == 201
    assert ivan.write("hello").status_code == 201
    site.ws.drain()
    port = int(stack.url.rsplit(":", 1)[1])
    olga_live = Client(port, f"/ws?ticket={olga.call('POST', '/ws-ticket').json()['ticket']}")
    ivan_live = Client(port, f"/ws?ticket={ivan.call('POST', '/ws-ticket').json()['ticket']}")
    anna = add_user(stack, site.ws.id, "operator", name="Anna Secret")
    console = Socket.of(anna)
    assert (olga_live.status, ivan_live.status, console.status) == (101, 101, 101)
    try:
        console.send_json({"type": "typing", "conversation_id": olga.conversation_id})
        frames = receive_json(olga_live)
        assert {"type": "typing", "conversation_id": olga.conversation_id} == {
            k: v for k, v in frames[-1].items() if k != "at"}
        assert "Anna" not in str(frames) and anna.user_id not in str(frames)
        assert receive_json(ivan_live, deadline_s=2.0) == []  # the push to Olga is out already: Ivan gets none
    finally:
        console.drop()
        olga_live.drop()
        ivan_live.drop()
