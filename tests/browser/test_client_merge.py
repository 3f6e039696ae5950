"""Client merge (C2) in the console: the card suggests the same person from another channel, the preview shows what
wins per field and lets the operator pick, the merge brings both channels' conversations onto one card, and Undo
puts both cards back."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def card(page):
    return page.get_by_role("complementary", name="Client card")


def test_the_operator_previews_a_merge_picks_a_side_merges_and_undoes_it(page, demo, live):
    user_id, name = fresh_customer("Irina")
    demo.customer_writes(user_id, name, "Hello from Telegram")
    telegram = demo.conversation_named(name)
    crm_name = name.upper()  # the same person as the CRM spells her
    sent = demo.api("POST", "/inbound", json={
        "external_conversation_id": f"crm-{secrets.token_hex(3)}", "text": "Hello from the CRM",
        "sender": {"id": f"crm-{user_id}", "name": crm_name, "email": f"irina-{user_id}@example.com"}})
    assert sent.status_code in (200, 201, 202), sent.text
    demo.conversation_named(crm_name)

    sign_in(page, demo)
    open_conversation(page, name)
    suggestions = card(page).get_by_role("region", name="Same person?")
    expect(suggestions).to_contain_text(crm_name)
    expect(suggestions).to_contain_text("same name")
    suggestions.get_by_role("button", name=f"Merge with {crm_name}").click()

    dialog = page.get_by_role("dialog", name=f"Merge {crm_name} into this card")
    expect(dialog.get_by_label("E-mail after the merge")).to_have_text(f"irina-{user_id}@example.com")
    expect(dialog.get_by_label("Name after the merge")).to_have_text(name)
    dialog.get_by_role("group", name="Which Name to keep").get_by_label("The other card").check()
    expect(dialog.get_by_label("Name after the merge")).to_have_text(crm_name)  # the preview follows the pick
    expect(dialog).to_contain_text("1 conversations")
    dialog.get_by_role("button", name="Merge", exact=True).click()
    expect(dialog).to_have_count(0)

    expect(card(page).get_by_role("heading", name=crm_name)).to_be_visible()
    expect(card(page).get_by_role("status")).to_contain_text(f"Merged with {crm_name}")
    history = card(page).locator(".history li")  # the client's other conversations: the CRM's now
    expect(history).to_have_count(1)
    expect(history).to_contain_text("Hello from the CRM")
    expect(card(page)).to_contain_text(f"irina-{user_id}@example.com")

    card(page).get_by_role("button", name="Undo merge").click()
    expect(card(page).get_by_role("heading", name=name)).to_be_visible()
    expect(card(page).locator(".history li")).to_have_count(0)
    expect(card(page).get_by_role("region", name="Same person?")).to_contain_text(crm_name)
    back = demo.api("GET", f"/contacts/{telegram['contact_id']}").json()
    assert back["contact"]["display_name"] == name and back["contact"]["email"] == ""
    assert [c["id"] for c in back["history"]] == [telegram["id"]]
