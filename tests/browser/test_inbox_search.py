"""Search and the overdue filter of the inbox (B1) in a real browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, sign_in, thread

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def conversations(page):
    return page.get_by_role("navigation", name="Conversations")


def test_search_finds_a_customer_in_any_status_and_says_when_nothing_matches(page, demo, live):
    user_id, name = fresh_customer("Ёжик")
    demo.customer_writes(user_id, name, "Хочу вернуть кроссовки")
    found = demo.conversation_named(name)
    assert demo.api("PATCH", f"/conversations/{found['id']}", json={"status": "closed"}).status_code == 200
    sign_in(page, demo)
    expect(conversations(page).get_by_role("link", name=re.compile(re.escape(name)))).to_have_count(0)  # "New" tab

    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search conversations")
    expect(search).to_be_focused()
    search.fill(name.replace("Ё", "е").lower())  # as people type it: lower case, е for ё
    expect(page.get_by_role("status").filter(has_text="in every status")).to_be_visible()
    expect(conversations(page).get_by_role("link", name=re.compile(re.escape(name)))).to_be_visible()
    expect(page.get_by_role("tab", name="New")).to_have_attribute("aria-selected", "false")

    search.fill("<b>nobody</b>")
    expect(page.get_by_text("Nothing found for “<b>nobody</b>”")).to_be_visible()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(page.get_by_role("tab", name="New")).to_have_attribute("aria-selected", "true")


def test_the_overdue_tab_lists_customers_waiting_past_the_sla_with_how_long(page, demo, live):
    from chalicelib.domain.model import iso
    from chalicelib.local import demo as demo_seed
    from chalicelib.services.deps import deps
    from chalicelib.store import keys
    from chalicelib.store.models import ConversationItem

    user_id, name = fresh_customer("Olga")
    demo.customer_writes(user_id, name, "Still no answer?")
    found = demo.conversation_named(name)
    pk, sk = keys.conversation(demo_seed.WORKSPACE, found["id"])  # the customer has waited 95 minutes
    ConversationItem(pk, sk).update(actions=[
        ConversationItem.awaiting_since.set(iso(deps().now() - timedelta(minutes=95)))])

    page.clock.install()  # the page's timers and Date, moved on below without waiting
    sign_in(page, demo)
    page.get_by_role("tab", name="Overdue").click()
    expect(page.get_by_role("status").filter(has_text="longest first")).to_be_visible()
    row = conversations(page).get_by_role("link", name=re.compile(re.escape(name)))
    expect(row).to_contain_text("waits 95 min")
    page.clock.fast_forward("02:00")  # no push says a wait grew: the minute timer redraws it
    expect(row).to_contain_text("waits 97 min")
    row.click()
    expect(thread(page)).to_contain_text("Still no answer?")  # the thread is open before the operator types
    box = page.get_by_role("textbox", name="Reply to the customer")
    box.fill("Sorry, here is the answer")
    expect(box).to_have_value("Sorry, here is the answer")
    box.press("Enter")
    sent = thread(page).locator("article", has_text="Sorry, here is the answer").locator("[data-status]")
    expect(sent).to_have_attribute("data-status", "sent")
    expect(row).to_have_count(0)  # answered: no longer overdue


def test_an_admin_adds_a_status_its_tab_appears_and_a_status_in_use_cannot_be_removed(page, demo, live):
    user_id, name = fresh_customer("Vera")
    demo.customer_writes(user_id, name, "I'll send the photo tomorrow")
    found = demo.conversation_named(name)
    sign_in(page, demo)
    page.get_by_role("button", name="Team settings").click()
    dialog = page.get_by_role("dialog", name="Team settings")
    dialog.get_by_label("Answer within (minutes)").fill("45")
    dialog.get_by_role("textbox", name=re.compile("New status")).fill("Ждём клиента")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.locator("code")).to_have_text("zhdem_klienta")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    assert demo.api("GET", "/team/settings").json()["sla_minutes"] == 45

    page.get_by_role("link", name=re.compile(re.escape(name))).click()
    page.get_by_label("Status").select_option(label="Ждём клиента")
    page.get_by_role("tab", name="Ждём клиента").click()
    expect(conversations(page).get_by_role("link", name=re.compile(re.escape(name)))).to_be_visible()

    page.get_by_role("button", name="Team settings").click()
    dialog.get_by_role("button", name="Remove Ждём клиента").click()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("still in status zhdem_klienta")
    dialog.get_by_role("button", name="Cancel").click()

    assert demo.api("PATCH", f"/conversations/{found['id']}", json={"status": "in_progress"}).status_code == 200
    restored = demo.api("PUT", "/team/settings", json={"statuses": [], "sla_minutes": 30})
    assert restored.status_code == 200, restored.text
