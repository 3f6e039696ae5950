"""The site chat widget on a plain page of another origin: one script tag, shadow DOM, pre-chat form, live replies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import served_page, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]

SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>button {{ background: rgb(255, 0, 0) !important; }} * {{ font-family: serif !important; }}</style></head>
<body><h1>Demo shop</h1><p>Shoes and bags.</p>
<script src="{zabota}/widget.js" data-channel="{channel}" async></script></body></html>"""


@pytest.fixture(scope="module")
def site_chat(demo: Any) -> str:
    """A widget channel whose pre-chat form asks a name (required) and an e-mail."""
    created = demo.api("POST", "/channels", json={"kind": "widget", "name": "Shop chat", "settings": {"pre_chat": [
        {"name": "name", "label": {"en": "Name", "ru": "Имя"}, "required": True},
        {"name": "email", "required": False}]}})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture
def shop(demo: Any, site_chat: str) -> Iterator[str]:
    """A brand's page on its own origin that embeds the widget with one script tag."""
    with served_page(SHOP_PAGE.format(zabota=demo.url, channel=site_chat)) as url:
        yield url


def widget_conversation(demo: Any, channel_id: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def look() -> bool:
        for status in ("new", "in_progress"):
            items = demo.api("GET", "/conversations", params={"status": status, "channel_id": channel_id,
                                                              "limit": 100}).json()["items"]
            found.update(next((c for c in items if c["contact_name"] == name), {}))
        return bool(found)

    wait_until(look, what=f"the widget conversation of {name}")
    return found


def start_chat(page: Any, name: str, text: str) -> None:
    """The visitor opens the widget, fills the pre-chat form and writes the first message."""
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Start the chat").click()
    page.get_by_role("textbox", name="Your message").fill(text)
    page.get_by_role("textbox", name="Your message").press("Enter")


def test_a_visitor_starts_a_chat_on_a_plain_page_and_gets_the_operators_reply_live(page, demo, live, site_chat,
                                                                                   shop):
    page.goto(shop)
    launcher = page.get_by_role("button", name="Chat with us")
    assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(255, 0, 0)"  # shadow DOM
    assert page.evaluate("document.getElementById('zabota-widget').shadowRoot !== null")
    launcher.click()
    page.get_by_label("Name").fill("Olga <b>Widget</b>")
    page.get_by_role("button", name="Start the chat").click()
    page.get_by_role("textbox", name="Your message").fill("Do you ship to Kazan?")
    page.get_by_role("textbox", name="Your message").press("Enter")
    chat = page.get_by_role("log")
    expect(chat.locator("[data-author='visitor']", has_text="Do you ship to Kazan?")).to_be_visible()
    expect(chat.locator("[data-author='visitor']").get_by_text("Sending…")).to_have_count(0)

    conversation = widget_conversation(demo, site_chat, "Olga <b>Widget</b>")
    answer = demo.api("POST", f"/conversations/{conversation['id']}/replies", json={"text": "Yes, in 3 days!"})
    assert answer.status_code == 202, answer.text
    expect(chat.get_by_text("Yes, in 3 days!")).to_be_visible()
    page.reload()
    page.get_by_role("button", name="Chat with us").click()
    expect(page.get_by_role("log")).to_contain_text("Do you ship to Kazan?")  # the session is remembered
    assert page.dialogs == []


def test_the_widget_fills_a_phone_screen(browser, demo, shop):
    context = browser.new_context(viewport={"width": 375, "height": 667}, has_touch=True)
    phone = context.new_page()
    phone.goto(shop)
    phone.get_by_role("button", name="Chat with us").click()  # the page's language (en) decides
    panel = phone.get_by_role("dialog")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] == 375 and box["height"] == 667
    expect(phone.get_by_role("button", name="Start the chat")).to_be_visible()
    context.close()


def test_a_visitor_sends_a_picture_and_sees_the_operators_file(page, demo, live, site_chat, shop, tmp_path):
    import base64
    import secrets

    picture = tmp_path / "box.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(300))
    page.goto(shop)
    start_chat(page, "Pavel Files", "Here is the damaged box")
    page.get_by_label("Attach a file").set_input_files(str(picture))
    chat = page.get_by_role("log")
    expect(chat.locator("[data-author='visitor'] img[alt='box.png']")).to_be_visible()

    conversation = widget_conversation(demo, site_chat, "Pavel Files")
    def attachments() -> list[dict[str, Any]]:
        items = demo.api("GET", f"/conversations/{conversation['id']}/messages").json()["items"]
        return [a for m in items if m["direction"] == "in" for a in m["attachments"]]
    wait_until(lambda: any(a["file_name"] == "box.png" and a["kind"] == "image" for a in attachments()),
               what="the picture at the operator")

    uploaded = demo.api("POST", "/uploads", json={"file_name": "label.pdf", "mime_type": "application/pdf",
                                                  "data_base64": base64.b64encode(b"%PDF-1.4 label").decode()})
    assert uploaded.status_code == 201, uploaded.text
    reply = demo.api("POST", f"/conversations/{conversation['id']}/replies",
                     json={"text": "Print this return label", "attachments": [uploaded.json()["upload_id"]]})
    assert reply.status_code == 202, reply.text
    expect(chat.get_by_role("link", name=re.compile("label.pdf"))).to_be_visible()

    bad = tmp_path / "run.exe"
    bad.write_bytes(b"MZ" + secrets.token_bytes(100))
    page.get_by_label("Attach a file").set_input_files(str(bad))
    expect(page.get_by_role("alert")).to_contain_text("This kind of file cannot be sent")
