"""Issue 6 in the browser: an admin invites by e-mail, the invitee signs in through the link (no password, no
API key) and sees only what the role allows."""

from __future__ import annotations

import re
import secrets

import requests
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, reply_box, thread, wait_until


def invitation_link(demo, address: str) -> str:
    found: list[str] = []

    def arrived() -> bool:
        mails = requests.get(f"{demo.url}/_outbox/messages.json", params={"to": address}, timeout=10).json()
        found[:] = [m["link"] for m in mails if m.get("link")]
        return bool(found)

    wait_until(arrived, what=f"the invitation to {address}")
    return found[0]


def test_an_invited_read_only_member_signs_in_by_the_link_and_cannot_answer(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Где мой заказ?")
    demo.conversation_named(name)
    address = f"reader-{secrets.token_hex(3)}@example.org"
    invited = demo.api("POST", "/invites", json={"email": address, "role": "readonly"})
    assert invited.status_code == 201, invited.text
    link = invitation_link(demo, address)

    page.goto(link)
    expect(page.get_by_role("main")).to_contain_text(f"This invitation adds {address} to the workspace")
    expect(page.get_by_role("main")).to_contain_text("as read-only")
    page.get_by_role("button", name="Accept").click()
    page.get_by_role("tab", name="New").wait_for()
    expect(page.get_by_label("API key")).to_have_count(0)  # signed in by the cookie, no key pasted
    open_conversation(page, name)
    expect(thread(page).get_by_text("Где мой заказ?")).to_be_visible()
    expect(reply_box(page)).to_have_count(0)  # read-only: no reply box

    page.goto(link)  # the invitation is single use: its page says so before any click
    expect(page.get_by_text(re.compile("cannot be used", re.I))).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("It was accepted already")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
