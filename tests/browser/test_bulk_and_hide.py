"""Hiding a public comment (B4) and Select mode with one reply to many (B5), in the console against the fakes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, sign_in, thread, wait_until


def inbox(page):
    return page.get_by_role("navigation", name="Conversations")


def row_check(page, name):
    return inbox(page).get_by_role("checkbox", name=f"Select {name}")


def test_an_operator_hides_a_facebook_comment_then_shows_it_again(page, demo, live):
    _, name = fresh_customer("Spam")
    comment_id = demo.customer_comments(name, "Cheap followers at spam.example")
    demo.conversation_named(name)
    dm_user, dm_name = fresh_customer("Direct")
    demo.customer_writes(dm_user, dm_name, "a private question")
    demo.conversation_named(dm_name)
    graph = demo.stack.fakes["graph"]
    sign_in(page, demo)
    page.get_by_role("checkbox", name="Comments only").check()  # public comments only: the private chat leaves
    expect(inbox(page).get_by_role("link", name=re.compile(re.escape(dm_name)))).to_have_count(0)
    only_comments = demo.api("GET", "/conversations", params={"surface": "comment", "limit": 100}).json()["items"]
    assert only_comments and {c["surface"] for c in only_comments} == {"comment"}  # filtered by the server
    names = {c["contact_name"] for c in only_comments}
    assert name in names and dm_name not in names
    assert demo.api("GET", "/conversations", params={"surface": "wall"}).status_code == 400
    open_conversation(page, name)
    comment = thread(page).locator("article.msg-in", has_text="Cheap followers")
    expect(comment.get_by_text("Hidden from public")).to_have_count(0)
    comment.get_by_role("button", name="Hide").click()
    expect(comment.get_by_text("Hidden from public")).to_be_visible()
    expect(comment).to_have_attribute("data-hidden", "true")
    wait_until(lambda: graph.comment(comment_id)["hidden"] is True, what="the comment hidden at Facebook")
    comment.get_by_role("button", name="Unhide").click()
    expect(comment.get_by_text("Hidden from public")).to_have_count(0)
    wait_until(lambda: graph.comment(comment_id)["hidden"] is False, what="the comment shown again")
    assert [m["hidden"] for m in graph.moderation if m["comment_id"] == comment_id] == [True, False]


def test_select_three_conversations_and_reply_to_all_each_customer_gets_exactly_one(page, demo, live):
    customers = [fresh_customer(first) for first in ("Olga", "Pavel", "Rita")]
    for user_id, name in customers:
        demo.customer_writes(user_id, name, "Есть ли скидки?")
        demo.conversation_named(name)
    sign_in(page, demo)
    page.get_by_role("button", name="Select").click()
    first, last = customers[0][1], customers[-1][1]
    expect(row_check(page, first)).to_be_visible()
    row_check(page, last).click()
    row_check(page, first).click(modifiers=["Shift"])  # the range between them: all three (newest first)
    for _, name in customers:
        expect(row_check(page, name)).to_be_checked()
    expect(page.get_by_text("3 selected")).to_be_visible()
    page.get_by_role("button", name="Reply to 3").click()
    page.get_by_label("One reply to 3 conversations").fill("Скидка 10% до воскресенья")
    page.get_by_role("button", name="Send to 3").click()
    results = page.get_by_role("list", name="Result per conversation")
    expect(results.locator("li")).to_have_count(3)
    expect(results.locator("li[data-outcome='sent']")).to_have_count(3)
    page.get_by_role("button", name="Send to 3").click()  # the same request again: nothing goes out twice
    expect(results.locator("li[data-outcome='sent']")).to_have_count(3)

    def got_one_each() -> bool:
        return all(len([m for m in demo.customer_sees(user_id) if m["text"] == "Скидка 10% до воскресенья"]) == 1
                   for user_id, _ in customers)

    wait_until(got_one_each, what="one reply for each customer")
    live.pump.drain(timeout=30)
    assert got_one_each()


def test_bulk_close_shows_progress_and_the_conversations_leave_the_new_tab(page, demo, live):
    customers = [fresh_customer(first) for first in ("Semyon", "Tanya")]
    for user_id, name in customers:
        demo.customer_writes(user_id, name, "Спасибо, всё получил")
        demo.conversation_named(name)
    sign_in(page, demo)
    page.get_by_role("button", name="Select").click()
    for _, name in customers:
        row_check(page, name).click()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_role("button", name="Close selected").click()
    expect(page.get_by_text("Closing: 2 of 2")).to_be_visible()
    for _, name in customers:
        expect(inbox(page).get_by_role("link", name=re.compile(re.escape(name)))).to_have_count(0)
        assert demo.conversation_named(name, status="closed")["status"] == "closed"
    expect(page.get_by_text("0 selected")).to_be_visible()


def test_a_bulk_reply_shows_a_blocked_customer_as_failed_with_the_reason(page, demo, live):
    (ok_user, ok_name), (blocked_user, blocked_name) = fresh_customer("Vera"), fresh_customer("Yuri")
    for user_id, name in ((ok_user, ok_name), (blocked_user, blocked_name)):
        demo.customer_writes(user_id, name, "Когда откроетесь?")
    conv = demo.conversation_named(blocked_name)
    demo.conversation_named(ok_name)
    assert demo.api("POST", f"/conversations/{conv['id']}/block", json={"blocked": True}).status_code == 200
    sign_in(page, demo)
    page.get_by_role("button", name="Select").click()
    row_check(page, ok_name).click()
    row_check(page, blocked_name).click()
    page.get_by_role("button", name="Reply to 2").click()
    page.get_by_label("One reply to 2 conversations").fill("С 9 утра")
    page.get_by_role("button", name="Send to 2").click()
    results = page.get_by_role("list", name="Result per conversation")
    expect(results.locator("li[data-outcome='sent']", has_text=ok_name)).to_be_visible()
    expect(results.locator("li[data-outcome='failed']", has_text=blocked_name)).to_contain_text("blocked")
    wait_until(lambda: any(m["text"] == "С 9 утра" for m in demo.customer_sees(ok_user)), what="the reply")
    assert all(m["text"] != "С 9 утра" for m in demo.customer_sees(blocked_user))
