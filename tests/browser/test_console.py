"""The operator console in a real browser (docs/frontend-spec.md): sign in, find, reply, live updates, safety."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, reply_box, sign_in, thread, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def test_a_new_operator_signs_in_with_the_key_finds_the_conversation_replies_and_the_customer_sees_it(
        page, demo, live):
    user_id, name = fresh_customer()
    simulator = page.context.new_page()
    simulator.goto(f"{demo.url}/simulator/")
    simulator.get_by_role("radio", name=re.compile("Telegram demo bot")).check()
    simulator.get_by_label("Customer id").fill(user_id)
    simulator.get_by_label("Customer id").press("Tab")
    simulator.get_by_label("Customer name").fill(name)
    simulator.get_by_placeholder("Message").fill("Where is my order #1234?")
    simulator.get_by_role("button", name="Send as the customer").click()
    expect(simulator.get_by_role("log")).to_contain_text("Здравствуйте")  # the auto-greeting came back

    sign_in(page, demo)
    open_conversation(page, name)
    expect(thread(page)).to_contain_text("Where is my order #1234?")
    reply_box(page).fill("Your parcel left the warehouse today.")
    reply_box(page).press("Enter")
    ours = thread(page).locator("article", has_text="Your parcel left the warehouse today.")
    expect(ours.locator("[data-status]")).to_have_attribute("data-status", "sent")
    expect(reply_box(page)).to_have_value("")

    expect(simulator.get_by_role("log")).to_contain_text("Your parcel left the warehouse today.")


def test_the_key_is_remembered_and_a_wrong_key_is_refused_with_the_reason(page, demo):
    page.goto(demo.url)
    page.get_by_label("API key").fill("zb_wrong_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    sign_in(page, demo)
    page.reload()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()


def test_a_new_customer_message_appears_in_the_open_console_without_reload(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "first question")
    sign_in(page, demo)
    open_conversation(page, name)
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    page.evaluate("window.__notReloaded = true")

    demo.customer_writes(user_id, name, "and one more thing")
    expect(thread(page)).to_contain_text("and one more thing")
    expect(page.get_by_role("link", name=re.compile(re.escape(name)))).to_contain_text("and one more thing")

    other_id, other = fresh_customer("Oleg")
    demo.customer_writes(other_id, other, "hello from a new customer")
    expect(page.get_by_role("link", name=re.compile(re.escape(other)))).to_contain_text("hello from a new customer")
    assert page.evaluate("window.__notReloaded") is True


def test_html_and_script_in_texts_names_and_tags_are_shown_as_text_and_run_nothing(page, demo, live):
    user_id, _ = fresh_customer()
    name = "<img src=x onerror=alert('name')>"
    text = "<script>alert('text')</script><b>bold?</b>"
    tag = "<svg onload=alert('tag')>"
    reply = "<img src=y onerror=alert('reply')> & done"
    demo.customer_writes(user_id, name, text)
    demo.conversation_named(name)

    sign_in(page, demo)
    row = page.get_by_role("link", name=re.compile(re.escape(name)))
    expect(row).to_contain_text(text)
    row.click()
    expect(page.get_by_role("heading", name=name, level=2)).to_be_visible()
    expect(thread(page).get_by_text(text, exact=True)).to_be_visible()
    page.get_by_label("Add tag").fill(tag)
    page.get_by_label("Add tag").press("Enter")
    expect(page.get_by_role("group", name="Tags")).to_contain_text(tag)
    reply_box(page).fill(reply)
    reply_box(page).press("Enter")
    expect(thread(page).get_by_text(reply, exact=True)).to_be_visible()
    page.reload()  # the reply moved it to "In progress"; the URL keeps it open
    expect(page.get_by_role("heading", name=name, level=2)).to_be_visible()
    page.get_by_role("tab", name="In progress").click()
    expect(page.get_by_role("link", name=re.compile(re.escape(name)))).to_contain_text(tag)

    assert page.locator("img[src='x'], img[src='y'], svg[onload], script:not([src])").count() == 0
    assert thread(page).locator("b").count() == 0
    page.wait_for_timeout(300)  # a handler would have fired by now
    assert page.dialogs == []


def test_a_failed_reply_shows_the_reason_and_retry_sends_it(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "are you there?")
    demo.conversation_named(name)
    wait_until(lambda: len(demo.customer_sees(user_id)) == 1, what="the greeting")
    sign_in(page, demo)
    open_conversation(page, name)
    demo.stack.fake_telegram.fail_next("sendMessage", status=500, times=4)  # SEND_MAX_ATTEMPTS in tests
    reply_box(page).fill("this one fails first")
    reply_box(page).press("Enter")
    ours = thread(page).locator("article", has_text="this one fails first")
    expect(ours.locator("[data-status]")).to_have_attribute("data-status", "failed")
    expect(ours).to_contain_text("Not sent")
    expect(ours).to_contain_text("provider_unavailable")
    ours.get_by_role("button", name="Retry").click()
    expect(ours.locator("[data-status]")).to_have_attribute("data-status", "sent")
    wait_until(lambda: any(m["text"] == "this one fails first" for m in demo.customer_sees(user_id)),
               what="the retried reply at the customer")


def test_an_internal_note_is_shown_as_a_note_and_never_reaches_the_customer(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "I want a refund")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)
    page.get_by_role("button", name="Internal note").click()
    note_box = page.get_by_role("textbox", name="Internal note (the customer never sees it)")
    note_box.fill("check the order in the CRM first")
    note_box.press("Enter")
    note = thread(page).locator("article.msg-note", has_text="check the order in the CRM first")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Internal note")
    page.wait_for_timeout(500)
    assert all("CRM" not in m["text"] for m in demo.customer_sees(user_id))


def test_a_quoted_reply_and_an_uploaded_image_reach_the_customer(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "which size should I take?")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)
    thread(page).locator("article", has_text="which size should I take?").get_by_role("button", name="Reply").click()
    expect(page.get_by_text("Replying to")).to_be_visible()
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
           b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
    page.get_by_text("Attach").set_input_files({"name": "sizes.png", "mimeType": "image/png", "buffer": png})
    expect(page.get_by_role("list", name="Attachments")).to_contain_text("sizes.png")
    reply_box(page).fill("Here is the size chart")
    reply_box(page).press("Enter")
    ours = thread(page).locator("article", has_text="Here is the size chart")
    expect(ours.locator("blockquote")).to_contain_text("which size should I take?")
    expect(ours.locator("img[alt='sizes.png']")).to_be_visible()
    expect(ours.locator("[data-status]")).to_have_attribute("data-status", "sent")
    sent = [c for c in demo.stack.fake_telegram.calls_of("sendPhoto") if str(c["params"].get("chat_id")) == user_id]
    assert sent and sent[-1]["params"]["caption"] == "Here is the size chart"
    assert "reply_parameters" in sent[-1]["params"]


def test_tabs_filters_and_keyboard_shortcuts_move_through_the_inbox(page, demo, live):
    tag = f"vip-{fresh_customer()[0]}"
    first_id, first = fresh_customer()
    second_id, second = fresh_customer()
    demo.customer_writes(first_id, first, "one")
    demo.customer_writes(second_id, second, "two")
    tagged = demo.conversation_named(second)
    untagged = demo.conversation_named(first)
    assert demo.api("PATCH", f"/conversations/{tagged['id']}", json={"tags": [tag]}).status_code == 200
    for user_id in (first_id, second_id):  # the greetings went out: the list order stays put from here on
        wait_until(lambda u=user_id: len(demo.customer_sees(u)) == 1, what="the greeting")

    sign_in(page, demo)
    tag_filter = page.get_by_role("searchbox", name="Tag")
    tag_filter.fill(tag)
    rows = page.get_by_role("navigation", name="Conversations").get_by_role("link")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(second)
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_role("checkbox", name="No tag").check()
    expect(page.get_by_role("link", name=re.compile(re.escape(first)))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(re.escape(second)))).to_have_count(0)
    page.get_by_role("button", name="Clear filters").click()

    assert demo.api("PATCH", f"/conversations/{untagged['id']}", json={"tags": [tag]}).status_code == 200
    tag_filter.fill(tag)  # just these two, whatever else the demo inbox holds
    tag_filter.evaluate("field => field.blur()")  # shortcuts never fire while typing in a field
    expect(rows).to_have_count(2)
    top, below = (rows.nth(i).get_attribute("data-conversation") for i in (0, 1))
    selected = page.locator("a.row[aria-current='true']")
    page.keyboard.press("j")
    expect(selected).to_have_attribute("data-conversation", top)
    page.keyboard.press("j")
    expect(selected).to_have_attribute("data-conversation", below)
    page.keyboard.press("k")
    expect(selected).to_have_attribute("data-conversation", top)
    page.keyboard.press("r")
    expect(reply_box(page)).to_be_focused()
    reply_box(page).press("Escape")
    page.keyboard.press("e")
    expect(rows).to_have_count(1)
    expect(selected).to_have_attribute("data-conversation", below)  # closing opens the next one
    page.get_by_role("tab", name="Closed").click()
    expect(page.locator(f"a.row[data-conversation='{top}']")).to_be_visible()
    assert demo.api("GET", f"/conversations/{top}").json()["status"] == "closed"


def test_the_console_speaks_the_browsers_language_and_switches(browser, demo):
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.goto(demo.url)
    expect(page.get_by_label("API-ключ")).to_be_visible()
    page.get_by_label("API-ключ").fill(demo.key)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("tab", name="Новые")).to_be_visible()
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
    page.reload()
    expect(page.get_by_role("tab", name="In progress")).to_be_visible()
    context.close()


def test_a_dropped_live_connection_shows_reconnecting_and_catches_up(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "before the drop")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)
    expect(page.locator(".live[data-state='open']")).to_be_visible()
    page.evaluate("""() => {  // every state the indicator shows, however briefly
        window.__liveStates = [];
        const indicator = document.querySelector('.live');
        new MutationObserver(() => window.__liveStates.push(indicator.dataset.state))
            .observe(indicator, {attributes: true, attributeFilter: ['data-state']});
    }""")
    demo.stack.hub.close_all(code=1012, reason="restart")
    wait_until(lambda: "reconnecting" in page.evaluate("window.__liveStates"), what="the reconnecting indicator")
    demo.customer_writes(user_id, name, "while you were away")
    wait_until(lambda: page.evaluate("window.__liveStates")[-1] == "open", what="the connection back")
    expect(page.locator(".live[data-state='open']")).to_be_visible()
    expect(thread(page)).to_contain_text("while you were away")


def test_an_operator_edits_then_deletes_a_sent_reply_and_the_customer_sees_both(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Когда доставка?")
    sign_in(page, demo)
    open_conversation(page, name)
    reply_box(page).fill("Завтра до 18:00, извините за ожидание")
    reply_box(page).press("Enter")
    ours = thread(page).locator("article.msg-out", has_text="Завтра до 18:00")
    expect(ours.locator("[data-status='sent']")).to_be_visible()
    ours.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Edit the reply").fill("Завтра до 15:00")
    page.get_by_role("button", name="Save").click()
    expect(thread(page).get_by_text("Завтра до 15:00")).to_be_visible()
    wait_until(lambda: any(m["text"] == "Завтра до 15:00" for m in demo.customer_sees(user_id)), what="the edit")
    edited = thread(page).locator("article.msg-out", has_text="Завтра до 15:00")
    edited.get_by_role("button", name="Delete").click()
    edited.get_by_role("button", name="Delete for everyone?").click()
    expect(thread(page).get_by_text("Завтра до 15:00")).to_have_count(0)
    wait_until(lambda: all(m["text"] != "Завтра до 15:00" for m in demo.customer_sees(user_id)), what="the delete")


def test_an_operator_blocks_a_spammer_and_the_thread_says_the_customer_is_blocked(page, demo, live):
    user_id, name = fresh_customer("Spam")
    demo.customer_writes(user_id, name, "buy cheap followers")
    sign_in(page, demo)
    open_conversation(page, name)
    page.get_by_role("button", name="Block", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="This customer is blocked")).to_be_visible()
    expect(page.get_by_role("button", name="Unblock", exact=True)).to_have_attribute("aria-pressed", "true")
    demo.customer_writes(user_id, name, "more spam")
    conv = demo.conversation_named(name)
    assert demo.api("GET", f"/conversations/{conv['id']}").json()["blocked"] is True
    page.get_by_role("button", name="Unblock", exact=True).click()
    expect(page.get_by_role("button", name="Block", exact=True)).to_be_visible()


def test_every_api_request_carries_what_cloudfront_s_signature_needs(page, demo, live):
    """Behind CloudFront (docs/DEPLOY.md) the credential travels in X-Zabota-Authorization too, and a request with a
    body states the body's SHA-256 in x-amz-content-sha256 (frontend/src/signing.ts)."""
    import hashlib

    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Do you ship abroad?")
    sent: list[tuple[str, str, dict[str, str], bytes]] = []
    page.on("request", lambda request: sent.append((request.method, request.url, request.headers,
                                                    request.post_data_buffer or b""))
            if "/api/" in request.url else None)
    sign_in(page, demo)
    open_conversation(page, name)
    reply_box(page).fill("Yes, to 40 countries.")
    reply_box(page).press("Enter")
    expect(thread(page).locator("article", has_text="Yes, to 40 countries.").locator("[data-status]")
           ).to_have_attribute("data-status", "sent")
    (reply,) = [r for r in sent if r[0] == "POST" and r[1].endswith("/replies")]
    assert hashlib.sha256(reply[3]).hexdigest() == reply[2]["x-amz-content-sha256"]
    assert b"Yes, to 40 countries." in reply[3]
    keyed = [r for r in sent if "authorization" in r[2] or "x-zabota-authorization" in r[2]]
    assert len(keyed) >= 3  # the inbox, the thread, the reply
    for _method, url, headers, _ in keyed:
        assert headers.get("x-zabota-authorization") == headers.get("authorization") == f"Bearer {demo.key}", url
    for method, url, headers, _ in sent:
        assert ("x-amz-content-sha256" in headers) == (method not in ("GET", "HEAD", "OPTIONS")), (method, url)
