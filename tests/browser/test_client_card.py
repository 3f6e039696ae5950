"""The client card (C1) and the customer's mood (B8) in the console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def card(page):
    return page.get_by_role("complementary", name="Client card")


def test_an_operator_corrects_the_card_and_sets_the_mood_and_both_survive_a_reload(page, demo, live):
    user_id, name = fresh_customer("Irina")
    demo.customer_writes(user_id, name, "My e-mail changed")
    conversation = demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)

    card(page).get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit the client card")
    form.get_by_label("E-mail").fill("not an address")
    form.get_by_label("Phone").fill("+7 (912) 000-11-22")
    form.get_by_label("Notes").fill("Prefers <b>e-mail</b>; VIP")
    form.get_by_role("button", name="Add a field").click()
    form.get_by_label("Field").fill("Order")
    form.get_by_label("Value of Order").fill("4821")
    form.get_by_role("button", name="Save").click()
    assert form.get_by_label("E-mail").evaluate("el => el.validity.typeMismatch")  # the browser stops it first
    expect(form).to_be_visible()
    form.get_by_label("E-mail").fill("irina@example.com")
    form.get_by_role("button", name="Save").click()
    expect(form).to_have_count(0)
    expect(card(page)).to_contain_text("irina@example.com")

    page.get_by_role("group", name="Customer's mood").get_by_role("button", name="Negative").click()
    expect(page.get_by_role("button", name="Negative")).to_have_attribute("aria-pressed", "true")
    row = page.get_by_role("navigation", name="Conversations").get_by_role("link", name=re.compile(re.escape(name)))
    expect(row.get_by_role("img", name="Negative")).to_be_visible()

    page.reload()
    expect(card(page)).to_contain_text("+79120001122")
    expect(card(page)).to_contain_text("Prefers <b>e-mail</b>; VIP")  # shown as text
    expect(card(page)).to_contain_text("4821")
    expect(page.get_by_role("button", name="Negative")).to_have_attribute("aria-pressed", "true")

    # a colleague saves while this operator is editing: this edit is refused as stale, with a way to reload
    card(page).get_by_role("button", name="Edit").click()
    form.get_by_label("Notes").fill("mine")
    contact_id = conversation["contact_id"]
    revision = demo.api("GET", f"/contacts/{contact_id}").json()["contact"]["revision"]
    assert demo.api("PATCH", f"/contacts/{contact_id}", json={"revision": revision, "notes": "by a colleague"}
                    ).status_code == 200
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("alert")).to_contain_text("Someone else changed this card")
    assert demo.api("GET", f"/contacts/{contact_id}").json()["contact"]["notes"] == "by a colleague"
    form.get_by_role("button", name="Reload").click()
    expect(card(page)).to_contain_text("by a colleague")


def test_an_operator_forwards_the_conversation_by_e_mail_and_the_thread_notes_it(page, demo, live):
    import requests

    user_id, name = fresh_customer("Gleb")
    demo.customer_writes(user_id, name, "The invoice is wrong <b>twice</b>")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)
    page.get_by_role("button", name="Forward").click()
    dialog = page.get_by_role("dialog", name="Forward by e-mail")
    dialog.get_by_label("To").fill("billing@shop.example, not-an-address")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("alert")).to_contain_text("is not an e-mail address")
    address = f"billing-{user_id}@shop.example"
    dialog.get_by_label("To").fill(address)
    dialog.get_by_label("Note above the conversation (optional)").fill("Please fix the invoice")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Sent to {address}")
    dialog.get_by_role("button", name="Close").click()
    expect(page.get_by_role("log", name="Messages")).to_contain_text(f"Forwarded to {address}: Please fix the invoice")

    mails = requests.get(f"{demo.url}/_outbox/messages.json", params={"to": address}, timeout=10).json()
    assert len(mails) == 1 and mails[0]["kind"] == "forward"
    assert "The invoice is wrong <b>twice</b>" in mails[0]["text"]
    assert "&lt;b&gt;twice&lt;/b&gt;" in mails[0]["html"]
