"""Full-text search in the inbox (B1) and the knowledge base from the reply box and its own page (H1), in a real
browser."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, reply_box, sign_in, thread, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def conversations(page):
    return page.get_by_role("navigation", name="Conversations")


def test_search_finds_an_old_message_by_its_stem_and_marks_the_word_as_text(page, demo, live):
    word = f"zq{secrets.token_hex(3)}"  # a word only this test writes
    user_id, name = fresh_customer("Marta")
    demo.customer_writes(user_id, name, f"<b>Где</b> мои заказы {word}? Жду неделю")
    demo.customer_writes(user_id, name, "Всё, спасибо")  # the newest message is not the one searched for
    found = demo.conversation_named(name)
    sign_in(page, demo)

    page.keyboard.press("/")
    page.get_by_role("searchbox", name="Search conversations").fill(f"заказ {word}")
    hit = conversations(page).get_by_role("link", name=re.compile(re.escape(name)))
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("<b>Где</b> мои")  # the customer's markup is text, never HTML
    expect(hit.locator("b")).to_have_count(0)
    expect(hit.locator("mark")).to_have_text(["заказы", word])
    hit.click()
    expect(thread(page)).to_contain_text("Всё, спасибо")
    assert page.url.endswith(f"/c/{found['id']}")

    page.get_by_role("searchbox", name="Search conversations").fill(f"{word}nothing")
    expect(page.get_by_text(f"Nothing found for “{word}nothing”")).to_be_visible()


def test_ctrl_k_in_the_reply_box_inserts_an_article_and_the_sent_reply_counts_one_use(page, demo, live):
    tag = secrets.token_hex(3)
    created = demo.api("POST", "/articles", json={
        "category": "Доставка", "status": "published", "url": f"https://help.example.org/{tag}",
        "versions": {"ru": {"title": f"Сроки доставки {tag}", "body": f"Доставляем за два дня ({tag})."}}})
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Когда привезёте?")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)

    reply_box(page).fill("Здравствуйте! ")
    reply_box(page).press("Control+k")
    picker = page.get_by_role("dialog", name="Insert from the knowledge base")
    search = picker.get_by_role("searchbox", name="Search articles")
    expect(search).to_be_focused()
    search.fill(f"доставка {tag}")
    option = picker.get_by_role("option")
    expect(option).to_have_count(1)
    expect(option).to_contain_text(f"Сроки доставки {tag}")
    expect(option.locator("mark")).to_have_text([tag])  # the body matched the tag, the title the stem
    search.press("Enter")
    expect(picker).to_have_count(0)
    expect(reply_box(page)).to_have_value(f"Здравствуйте! Доставляем за два дня ({tag}).")

    reply_box(page).press("Control+k")
    picker.get_by_role("searchbox", name="Search articles").fill(f"сроки {tag}")
    picker.get_by_role("button", name="Insert link").click()
    expect(reply_box(page)).to_have_value(f"Здравствуйте! Доставляем за два дня ({tag}).\n"
                                          f"Сроки доставки {tag}: https://help.example.org/{tag}")
    reply_box(page).press("Enter")
    sent = thread(page).locator("article", has_text=f"https://help.example.org/{tag}").locator("[data-status]")
    expect(sent).to_have_attribute("data-status", "sent")
    wait_until(lambda: demo.api("GET", f"/articles/{article_id}").json()["uses"] == 1, what="one use counted")


def test_an_admin_writes_an_article_on_the_knowledge_base_page(page, demo, live):
    tag = secrets.token_hex(3)
    sign_in(page, demo)
    page.get_by_role("link", name="Knowledge base").click()
    main = page.get_by_role("main", name="Knowledge base")
    main.get_by_role("button", name="New article").click()
    editor = main.get_by_role("form", name="Article")
    editor.get_by_label("Category").fill(f"Returns {tag}")
    editor.get_by_label("Status").select_option("published")
    editor.get_by_role("group", name="English version").get_by_label("Title").fill(f"How to return {tag}")
    editor.get_by_role("group", name="English version").get_by_label("Text (Markdown)").fill(
        "Send it back **within 14 days**. <script>alert(1)</script>")
    editor.get_by_role("button", name="Save").click()

    article = main.get_by_role("article", name=f"How to return {tag}")
    expect(article.locator("strong")).to_have_text("within 14 days")
    expect(article).to_contain_text("<script>alert(1)</script>")  # shown as text
    expect(main.get_by_role("region", name=f"Returns {tag}").get_by_role("link")).to_have_text(f"How to return {tag}")
    main.get_by_role("button", name="Back to the inbox").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
