"""A CSAT survey in the site chat widget (G4): the operator closes the chat, the visitor sees stars and rates once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import served_page, wait_until
from tests.browser.test_widget import SHOP_PAGE, start_chat, widget_conversation

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def test_the_visitor_rates_the_closed_chat_with_stars_once(page, demo, live):
    created = demo.api("POST", "/channels", json={"kind": "widget", "name": "Rated chat", "settings": {"pre_chat": [
        {"name": "name", "label": {"en": "Name", "ru": "Имя"}, "required": True}]}})
    assert created.status_code == 201, created.text
    channel = str(created.json()["id"])
    before = demo.api("GET", "/surveys/settings").json()
    assert demo.api("PUT", "/surveys/settings", json={"csat_enabled": True, "delay_minutes": 0,
                                                       "channels": ["widget"]}).status_code == 200
    try:
        with served_page(SHOP_PAGE.format(zabota=demo.url, channel=channel)) as url:
            page.goto(url)
            start_chat(page, "Rita Rating", "Is my order ready?")
            conversation = widget_conversation(demo, channel, "Rita Rating")
            wait_until(lambda: demo.api("GET", f"/conversations/{conversation['id']}").json()["message_count"] >= 1,
                       what="the visitor's message stored")
            closed = demo.api("PATCH", f"/conversations/{conversation['id']}", json={"status": "closed"})
            assert closed.status_code == 200, closed.text
            rating = page.get_by_role("group", name="Rate the answer")
            expect(rating).to_be_visible(timeout=30000)  # the stream on a busy machine
            stars = rating.get_by_role("button")
            expect(stars).to_have_count(5)
            rating.get_by_role("button", name="4 / 5").click()
            expect(page.get_by_role("status").filter(has_text="Thank you for your rating!")).to_be_visible()

            def answered() -> bool:
                items = demo.api("GET", f"/conversations/{conversation['id']}/surveys").json()["items"]
                return bool(items) and items[0]["score"] == 4

            wait_until(answered, what="the stored rating")
            page.reload()
            page.get_by_role("button", name="Chat with us").click()
            page.get_by_role("group", name="Rate the answer").get_by_role("button", name="1 / 5").click()
            expect(page.get_by_text("This survey is closed.")).to_be_visible()  # once only
            assert demo.api("GET", f"/conversations/{conversation['id']}/surveys").json()["items"][0]["score"] == 4
    finally:
        demo.api("PUT", "/surveys/settings", json={k: before[k] for k in ("csat_enabled", "delay_minutes",
                                                                           "channels")})


