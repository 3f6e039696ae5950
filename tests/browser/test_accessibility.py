"""Keyboard and screen-reader basics, checked by axe-core (the engine of Chrome's Lighthouse) in the real page:
contrast, names of buttons and fields, landmarks, ARIA use. Every screen an operator, a customer or a tester meets
is scanned in both languages; any WCAG 2 A/AA violation fails with the rule and the offending elements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import emailed_link, fresh_customer, new_member, open_conversation, served_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(page: Any, context: str = "document") -> list[str]:
    """axe's WCAG A/AA findings on the page as it is now, one line per rule with the first offending elements."""
    if not AXE.is_file():
        pytest.fail("axe-core is missing from node_modules: run `make setup`")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async ([context, tags]) => {
            const result = await axe.run(context === 'document' ? document : document.querySelector(context),
                                         {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} -> ` +
                v.nodes.slice(0, 3).map(n => `${n.target.join(' ')} [${(n.any[0] || n.all[0] || {}).message}]`)
                       .join(' | '));
        }""", [context, TAGS])
    return list(found)


def test_the_sign_in_screen_has_no_accessibility_violations(page, demo):
    page.goto(demo.url)
    page.get_by_label("API key").wait_for()
    page.get_by_role("link", name="Sign in with Local test provider").wait_for()
    assert violations(page) == []


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_emailed_links_pages_have_no_accessibility_violations(browser, demo, language):
    link = f"{emailed_link(demo, new_member())}&lang={language}"
    context = browser.new_context(bypass_csp=True)  # the page's CSP would refuse axe's script, as any other
    try:
        page = context.new_page()
        page.goto(link)  # a link that signs in
        page.locator("form button").wait_for()
        assert violations(page) == []
        page.goto(f"{demo.url}/api/auth/link?token={'x' * 43}&lang={language}")  # one that cannot
        page.locator("form input[type=email]").wait_for()
        assert violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_inbox_and_an_open_conversation_have_no_accessibility_violations(page, demo, live, language):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Where is my order?")
    demo.conversation_named(name)
    sign_in(page, demo)
    if language == "ru":
        page.get_by_role("button", name="RU").click()
        expect(page.locator("html")).to_have_attribute("lang", "ru")
    open_conversation(page, name) if language == "en" else page.get_by_role("link", name=name).first.click()
    page.get_by_role("log").get_by_text("Where is my order?").wait_for()
    assert violations(page) == []


def test_the_simulator_has_no_accessibility_violations(page, demo):
    page.goto(f"{demo.url}/simulator/")
    page.get_by_role("group", name="Channel").get_by_role("radio").first.wait_for()
    assert violations(page) == []


def test_the_widget_and_its_pre_chat_form_have_no_accessibility_violations(page, demo):
    widget = next(c for c in demo.api("GET", "/channels").json()["items"] if c["kind"] == "widget")
    shop = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><main>'
            f'<h1>Shop</h1><script src="{demo.url}/widget.js" data-channel="{widget["id"]}" async></script>'
            '</main></body></html>')
    with served_page(shop) as url:
        page.goto(url)
        launcher = page.get_by_role("button", name="Chat with us")
        launcher.wait_for()
        assert violations(page) == []
        launcher.click()
        page.get_by_role("button", name="Start the chat").wait_for()
        assert violations(page) == []


def test_the_team_settings_dialog_and_the_emoji_grid_have_no_accessibility_violations(page, demo):
    sign_in(page, demo)
    page.get_by_role("button", name="Team settings").click()
    page.get_by_role("dialog", name="Team settings").wait_for()
    assert violations(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("navigation", name="Conversations").get_by_role("link").first.click()
    page.get_by_role("button", name="Emoji").click()
    page.get_by_role("group", name="Pick an emoji").wait_for()
    assert violations(page) == []
