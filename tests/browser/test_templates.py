"""Reply templates in the console (B7): `/` in the reply box lists them, the picked one is filled in and sent."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, open_conversation, reply_box, sign_in, thread, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def templates_list(page):
    return page.get_by_role("listbox", name="Reply templates")


def test_an_operator_types_a_slash_shortcut_picks_the_template_and_the_customer_gets_it_filled_in(
        page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "Где мой заказ?")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)

    reply_box(page).press_sequentially("/deliv")
    options = templates_list(page).get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("/delivery")
    expect(options.first).to_have_attribute("aria-selected", "true")
    reply_box(page).press("Enter")

    expect(templates_list(page)).to_have_count(0)
    expect(reply_box(page)).to_have_value(f"{name}, здравствуйте! Ваш заказ уже в пути, курьер позвонит за час до "
                                          "приезда. Если что-то изменится, напишите нам.\nDemo shop\n")
    reply_box(page).press("End")
    reply_box(page).press_sequentially(" Анна")  # the operator may still edit the text
    reply_box(page).press("Enter")

    ours = thread(page).locator("article", has_text=f"{name}, здравствуйте!")
    expect(ours.locator("[data-status]")).to_have_attribute("data-status", "sent")
    expect(reply_box(page)).to_have_value("")
    wait_until(lambda: any(m["text"].startswith(f"{name}, здравствуйте! Ваш заказ уже в пути")
                           and m["text"].endswith("Demo shop\n Анна") for m in demo.customer_sees(user_id)),
               what="the filled-in template at the customer")


def test_the_list_narrows_moves_with_the_arrows_and_escape_closes_it_leaving_the_text(page, demo, live):
    user_id, name = fresh_customer()
    demo.customer_writes(user_id, name, "hello")
    demo.conversation_named(name)
    sign_in(page, demo)
    open_conversation(page, name)

    reply_box(page).press_sequentially("Hi /")
    options = templates_list(page).get_by_role("option")
    expect(options).to_have_count(2)
    reply_box(page).press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    reply_box(page).press("Escape")
    expect(templates_list(page)).to_have_count(0)
    expect(reply_box(page)).to_have_value("Hi /")
    expect(reply_box(page)).to_be_focused()

    reply_box(page).fill("")
    reply_box(page).press_sequentially("/thank")
    templates_list(page).get_by_role("option", name="/thanks").click()
    expect(reply_box(page)).to_have_value(f"Thank you, {name}! Glad we could help. Write any time.\n")
