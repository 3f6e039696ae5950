"""Presence in the console (B10): two operators, each in their own browser signed in by an e-mailed link, see who
has a conversation open and who is typing; a reply written after a colleague's answer asks before it goes out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, member_browser, open_conversation, reply_box, thread, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def operator(browser: Any, demo: Any, name: str) -> Any:
    """A new operator of the demo workspace, signed in by the e-mailed link in a browser of their own."""

    def lose_pushes(page: Any) -> None:
        # The live pushes of a message with this text never reach this console (lost on the way: a bad network).
        # What is lost is told by the push, not by when the relay sees it: Playwright runs the relay only while
        # the test is in one of its calls, so a push that came while the test did something else is relayed later.
        page.pushes_lost_of = ""

        def lost(event: dict[str, Any]) -> bool:
            return bool(page.pushes_lost_of) and page.pushes_lost_of in ((event.get("message") or {}).get("text") or "")

        def relay(socket: Any) -> None:
            server = socket.connect_to_server()

            def forward(frame: str | bytes) -> None:
                push = json.loads(frame) if page.pushes_lost_of and isinstance(frame, str) else {}
                events = push.get("events", []) if push.get("type") == "batch" else [push]
                kept = [event for event in events if not lost(event)]
                if len(kept) == len(events):
                    socket.send(frame)
                elif kept:
                    socket.send(json.dumps({"type": "batch", "events": kept}))

            server.on_message(forward)

        page.route_web_socket(re.compile(r"/ws(\?|$)"), relay)

    return member_browser(browser, demo, name, prepare=lose_pushes)[0]


@pytest.fixture
def anna_and_boris(browser: Any, demo: Any) -> Iterator[tuple[Any, Any, str, str]]:
    first, second = f"Anna {fresh_customer()[0]}", f"Boris {fresh_customer()[0]}"
    anna, boris = operator(browser, demo, first), operator(browser, demo, second)
    yield anna, boris, first, second
    for page in (anna, boris):
        page.context.close()
        assert page.errors == [], f"the page threw: {page.errors}"


def presence_of(page: Any) -> Any:
    return page.get_by_role("region", name="Conversation").get_by_role("status").filter(
        has_text=re.compile("viewing|typing"))


def test_colleagues_see_who_has_the_conversation_open_and_who_is_typing(anna_and_boris, demo, live):
    anna, boris, anna_name, boris_name = anna_and_boris
    user_id, customer = fresh_customer()
    demo.customer_writes(user_id, customer, "Is anyone there?")
    demo.conversation_named(customer)

    open_conversation(anna, customer)
    row = boris.get_by_role("navigation", name="Conversations").get_by_role("link", name=re.compile(customer))
    expect(row.get_by_role("img", name=re.compile(f"Open now: {anna_name}"))).to_be_visible()

    open_conversation(boris, customer)
    expect(presence_of(boris)).to_have_text(f"{anna_name} is viewing")
    expect(presence_of(anna)).to_have_text(f"{boris_name} is viewing")

    reply_box(boris).press_sequentially("Hello, I am on it")
    expect(presence_of(anna)).to_contain_text(f"{boris_name} is typing…")
    expect(presence_of(boris)).not_to_contain_text(boris_name)  # never oneself

    anna.go_back()  # the browser's Back: the thread closes
    expect(presence_of(boris)).to_have_count(0)
    assert anna_name not in boris.get_by_role("region", name="Conversation").inner_text()


def test_a_reply_after_a_colleagues_answer_asks_first_and_sends_once_when_confirmed(anna_and_boris, demo, live):
    anna, boris, anna_name, _ = anna_and_boris
    user_id, customer = fresh_customer()
    demo.customer_writes(user_id, customer, "Can I pay by card?")
    conversation = demo.conversation_named(customer)
    open_conversation(anna, customer)
    open_conversation(boris, customer)
    boris.pushes_lost_of = "Yes, any card."  # Boris gets no live push of Anna's answer: he saw only the question

    reply_box(anna).fill("Yes, any card.")
    reply_box(anna).press("Enter")
    expect(thread(anna).locator("article", has_text="Yes, any card.").locator("[data-status]")).to_have_attribute(
        "data-status", "sent")

    reply_box(boris).fill("Yes, Visa and Mir.")
    reply_box(boris).press("Enter")
    prompt = boris.get_by_role("alert").filter(has_text="answered meanwhile")
    expect(prompt).to_contain_text(f"{anna_name} answered meanwhile. Send yours anyway?")
    expect(prompt).to_contain_text("Yes, any card.")
    expect(reply_box(boris)).to_have_value("Yes, Visa and Mir.")  # nothing lost, nothing sent yet
    assert not any(m["text"] == "Yes, Visa and Mir." for m in demo.customer_sees(user_id))

    prompt.get_by_role("button", name="Send anyway").click()
    expect(thread(boris).locator("article", has_text="Yes, Visa and Mir.").locator("[data-status]")).to_have_attribute(
        "data-status", "sent")
    expect(prompt).to_have_count(0)
    wait_until(lambda: any(m["text"] == "Yes, Visa and Mir." for m in demo.customer_sees(user_id)), what="the reply")
    seen = [m["text"] for m in demo.customer_sees(user_id)]
    assert seen.count("Yes, Visa and Mir.") == 1 and seen.count("Yes, any card.") == 1
    messages = demo.api("GET", f"/conversations/{conversation['id']}/messages").json()["items"]
    assert [m["text"] for m in messages].count("Yes, Visa and Mir.") == 1


def test_cancel_keeps_the_draft_and_an_emoji_goes_in_at_the_caret(anna_and_boris, demo, live):
    anna, boris, _, _ = anna_and_boris
    user_id, customer = fresh_customer()
    demo.customer_writes(user_id, customer, "Thanks!")
    demo.conversation_named(customer)
    open_conversation(anna, customer)
    open_conversation(boris, customer)
    boris.pushes_lost_of = "You are welcome"
    reply_box(anna).fill("You are welcome")
    reply_box(anna).press("Enter")
    expect(thread(anna).locator("article", has_text="You are welcome").locator("[data-status]")).to_have_attribute(
        "data-status", "sent")

    box = reply_box(boris)
    box.fill("Have a nice day")
    box.press("End")
    boris.get_by_role("button", name="Emoji").click()
    grid = boris.get_by_role("group", name="Pick an emoji")
    expect(grid.get_by_role("button").first).to_be_focused()
    boris.keyboard.press("ArrowRight")
    boris.keyboard.press("Enter")  # the second emoji
    expect(box).to_have_value("Have a nice day😊")
    expect(grid).to_have_count(0)
    box.press("Enter")
    prompt = boris.get_by_role("alert").filter(has_text="answered meanwhile")
    prompt.get_by_role("button", name="Cancel").click()
    expect(prompt).to_have_count(0)
    expect(box).to_have_value("Have a nice day😊")
    assert not any("nice day" in m["text"] for m in demo.customer_sees(user_id))

    boris.get_by_role("button", name="Emoji").click()
    boris.keyboard.press("Escape")
    expect(boris.get_by_role("button", name="Emoji")).to_be_focused()
