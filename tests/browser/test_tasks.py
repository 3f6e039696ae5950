"""Tasks in the console (F1-F4): an operator makes a task from a customer's message, escalates it to Engineering,
an engineer finishes it on the Tasks page, and the operator sees "Engineering fixed it" in the conversation.
Also the Tasks page's filters, keyboard, empty states, Markdown shown safely, and Russian."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, member_browser, open_conversation, thread

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def person(browser: Any, demo: Any, name: str) -> tuple[Any, str]:
    """An operator of the demo workspace in a browser of their own; (page, user id)."""
    page, user = member_browser(browser, demo, name)
    return page, user.user_id


def sign_in_to_tasks(page: Any, demo: Any) -> None:
    page.goto(f"{demo.url}/tasks")
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("tab", name="Current").wait_for()


def tasks_block(page: Any) -> Any:
    return page.get_by_role("region", name="Linked tasks")


def panel(page: Any) -> Any:
    return page.get_by_role("region", name="Task", exact=True)


def test_escalation_round_trip_from_a_message_to_engineering_and_back(browser, demo, live):
    suffix = secrets.token_hex(3)
    operator, _ = person(browser, demo, f"Olga {suffix}")
    engineer, engineer_id = person(browser, demo, f"Egor {suffix}")
    team = f"Engineering {suffix}"
    made = demo.api("POST", "/teams", json={"name": team, "member_ids": [engineer_id]})
    assert made.status_code == 201, made.text
    operator.reload()  # the teams are read when the console starts
    user_id, customer = fresh_customer("Vera")
    demo.customer_writes(user_id, customer, "The widget <b>crashes</b> on checkout")
    demo.conversation_named(customer)

    open_conversation(operator, customer)
    message = thread(operator).get_by_role("article", name=customer).first
    message.get_by_role("button", name="Create task").click()
    dialog = operator.get_by_role("dialog", name="New task")
    expect(dialog.get_by_label("Quoted message")).to_contain_text("The widget <b>crashes</b> on checkout")
    expect(dialog.get_by_label("Title")).to_have_value("The widget <b>crashes</b> on checkout")
    dialog.get_by_label("Title").fill(f"Checkout crash {suffix}")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_have_count(0)
    block = tasks_block(operator)
    line = block.get_by_role("link", name=re.compile(f"Checkout crash {suffix}"))
    expect(line).to_be_visible()

    line.click()  # the task opens on the Tasks page, linked to the conversation, the message quoted
    expect(operator).to_have_url(re.compile(r"/tasks/\d+$"))
    detail = panel(operator)
    expect(detail.get_by_role("heading", name=re.compile(f"Checkout crash {suffix}"))).to_be_visible()
    expect(detail.get_by_label("Quoted message")).to_contain_text("The widget <b>crashes</b> on checkout")
    detail.get_by_role("button", name="Escalate").click()
    form = detail.get_by_role("form", name="Escalate")
    form.get_by_label("Escalate to team").select_option(label=team)
    form.get_by_label("Note for that team").fill("Safari 17 only")
    form.get_by_role("button", name="Escalate").click()
    expect(detail).to_contain_text(f"Escalated to {team}: Safari 17 only")
    detail.get_by_role("link", name=f"Open the conversation with {customer}").click()
    expect(operator.get_by_role("region", name="Conversation").get_by_role("heading", name=customer)).to_be_visible()

    # the engineer's bell says a task came to the team; it opens on the Tasks page
    engineer.get_by_role("button", name=re.compile("^Notifications")).click()
    news = engineer.get_by_role("region", name="Notifications").get_by_role("button").filter(has_text=suffix)
    expect(news.first).to_be_visible(timeout=15_000)
    news.first.click()
    expect(engineer).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(panel(engineer).get_by_role("heading", name=re.compile(f"Checkout crash {suffix}"))).to_be_visible()

    engineer.get_by_role("navigation", name="Tasks").get_by_role("link", name="Tasks").click()
    engineer.get_by_label("Whose").select_option(label="My team")
    engineer.get_by_label("Team").select_option(label=team)
    row = engineer.get_by_role("navigation", name="Task list").get_by_role("link", name=re.compile(suffix))
    expect(row).to_have_count(1)
    row.click()
    panel(engineer).get_by_label("Status").select_option(label="Done")
    expect(panel(engineer).get_by_role("status")).to_have_text(f"{team} fixed it: tell the customer")

    # the operator, still in the conversation, sees it live
    expect(tasks_block(operator).get_by_role("status")).to_have_text(f"{team} fixed it: tell the customer")
    operator.reload()
    expect(tasks_block(operator).get_by_role("status")).to_have_text(f"{team} fixed it: tell the customer")
    # and the bell tells her, in her language (the workspace's is Russian), and leads to the conversation
    operator.get_by_role("button", name=re.compile("^Notifications")).click()
    bell = operator.get_by_role("region", name="Notifications")
    expect(bell).to_contain_text(f"{team} fixed it: tell the customer")
    for page in (operator, engineer):
        assert page.errors == [], page.errors
        page.context.close()


def test_the_tasks_page_filters_sorts_moves_by_keyboard_and_shows_markdown_as_text(page, demo):
    suffix = secrets.token_hex(3)
    for title, body in ((f"Alpha {suffix}", "**bold** and <script>alert(1)</script> [site](javascript:alert(1))"),
                        (f"Beta {suffix}", "- one\n- two")):
        extra = {"deadline": "2031-01-01T18:00", "timezone": "Asia/Vladivostok"} if title.startswith("Alpha") else {}
        assert demo.api("POST", "/tasks", json={"title": title, "description": body, **extra}).status_code == 201
    sign_in_to_tasks(page, demo)
    tasks_list = page.get_by_role("navigation", name="Task list")
    expect(tasks_list.get_by_role("link", name=re.compile(f"Alpha {suffix}"))).to_be_visible()
    page.get_by_label("Sort by").select_option(label="Created")
    first = tasks_list.get_by_role("link").first
    expect(first).to_contain_text(f"Beta {suffix}")
    page.keyboard.press("j")
    expect(panel(page).get_by_role("heading", name=re.compile(f"Beta {suffix}"))).to_be_visible()
    expect(panel(page).get_by_role("listitem").filter(has_text="two")).to_be_visible()
    page.keyboard.press("j")
    expect(panel(page)).to_contain_text("Jan 1, 2031, 6:00 PM")  # as it was set, in Vladivostok
    expect(panel(page)).to_contain_text("Asia/Vladivostok")
    description = panel(page).locator(".markdown")
    expect(description.locator("strong")).to_have_text("bold")
    expect(description).to_contain_text("<script>alert(1)</script>")  # shown, never run
    expect(description.get_by_role("link")).to_have_count(0)  # a javascript: link stays text
    page.keyboard.press("Escape")
    expect(panel(page)).to_contain_text("Pick a task")
    page.get_by_role("tab", name="Overdue").click()  # nothing in the demo workspace has a deadline past
    expect(page.get_by_text("Nothing is overdue. Well done!")).to_be_visible()
    page.keyboard.press("n")
    expect(page.get_by_role("dialog", name="New task")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="New task")).to_have_count(0)


def test_a_past_deadline_is_refused_in_the_dialog_with_the_reason_and_nothing_is_made(page, demo):
    sign_in_to_tasks(page, demo)
    page.get_by_role("button", name="New task").click()
    dialog = page.get_by_role("dialog", name="New task")
    dialog.get_by_label("Title").fill("Too late")
    dialog.get_by_label("Deadline", exact=True).fill("2020-01-01T10:00")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("the deadline is in the past (deadline_in_past)")
    dialog.get_by_role("button", name="Cancel").click()
    titles = [t["title"] for t in demo.api("GET", "/tasks", params={"limit": 100}).json()["items"]]
    assert "Too late" not in titles


def test_the_tasks_page_speaks_russian(page, demo):
    sign_in_to_tasks(page, demo)
    page.get_by_role("button", name="RU").click()
    expect(page.get_by_role("tab", name="Текущие")).to_be_visible()
    expect(page.get_by_role("tab", name="Просроченные")).to_be_visible()
    expect(page.get_by_role("button", name="Новая задача")).to_be_visible()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_tasks_page_panel_and_dialog_have_no_accessibility_violations(page, demo, language):
    from tests.browser.test_accessibility import violations

    made = demo.api("POST", "/tasks", json={"title": f"Axe {secrets.token_hex(3)}", "description": "**Check** it",
                                            "priority": "high", "tags": ["a11y"]})
    assert made.status_code == 201, made.text
    page.goto(f"{demo.url}/tasks/{made.json()['id']}")
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    expect(panel(page).get_by_role("heading", name=re.compile("Axe"))).to_be_visible()
    if language == "ru":
        page.get_by_role("button", name="RU").click()
    assert violations(page) == []
    page.keyboard.press("n")
    page.get_by_role("dialog").wait_for()
    assert violations(page, "dialog") == []
