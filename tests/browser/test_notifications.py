"""The bell and the automation settings in the console (D3, E1, E2): a colleague's @mention reaches an operator's
bell live and opens the conversation; an admin sets working hours and an SLA policy, and a bad time zone is
refused with the server's reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, member_browser, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def signed_in(browser: Any, demo: Any, name: str, role: str) -> tuple[Any, Any]:
    return member_browser(browser, demo, name, role)


@pytest.fixture
def people(browser: Any, demo: Any) -> Iterator[dict[str, Any]]:
    tag = fresh_customer()[1].split()[1]
    handle = f"zoya{tag}"
    zoya, zoya_user = signed_in(browser, demo, f"Zoya{tag} Petrova", "operator")
    lead, lead_user = signed_in(browser, demo, f"Lead {tag}", "admin")
    yield {"zoya": zoya, "lead": lead, "handle": handle, "zoya_user": zoya_user, "lead_user": lead_user}
    for page in (zoya, lead):
        page.context.close()
        assert page.errors == [], f"the page threw: {page.errors}"


def test_a_mention_in_a_note_rings_the_bell_live_and_opens_the_conversation(people, demo, live):
    zoya, handle, lead_user = people["zoya"], people["handle"], people["lead_user"]
    bell = zoya.get_by_role("button", name=re.compile("^Notifications"))
    expect(bell).to_have_accessible_name("Notifications, 0 unread")
    bell.click()
    expect(zoya.get_by_text("No notifications yet")).to_be_visible()
    bell.click()

    user_id, customer = fresh_customer()
    demo.customer_writes(user_id, customer, "my parcel is lost")
    found: list = []
    wait_until(lambda: bool(found.extend(
        lead_user.api("GET", "/conversations", params={"q": customer}).json()["items"]) or found),
        what="the customer's conversation")
    conv_id = found[0]["id"]
    resp = lead_user.api("POST", f"/conversations/{conv_id}/notes", json={"text": f"@{handle} please call them back"})
    assert resp.status_code == 201, resp.text

    expect(bell).to_have_accessible_name("Notifications, 1 unread", timeout=15_000)
    expect(bell.get_by_test_id("bell-count")).to_have_text("1")
    bell.click()
    item = zoya.get_by_role("region", name="Notifications").get_by_role("button", name=re.compile("mentioned you"))
    expect(item).to_contain_text("please call them back")
    item.click()
    expect(zoya.get_by_role("region", name="Conversation").get_by_role("heading", name=customer)).to_be_visible()
    expect(bell).to_have_accessible_name("Notifications, 0 unread")
    assert requests.get(f"{demo.url}/api/notifications", timeout=10).status_code == 401


def test_an_admin_sets_working_hours_and_an_sla_policy_and_sees_a_bad_time_zone_refused(people, demo):
    lead, lead_user = people["lead"], people["lead_user"]
    lead.get_by_role("button", name="Automation").click()
    dialog = lead.get_by_role("dialog", name="Automation")
    try:
        dialog.get_by_label("We work on a schedule").check()
        dialog.get_by_label("Time zone").fill("Mars/Olympus")
        dialog.get_by_role("button", name="Add a policy").click()
        dialog.get_by_label("Name").fill("VIP")
        dialog.get_by_label("Tags (comma-separated, empty: any)").fill("vip")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog.get_by_role("alert")).to_contain_text("unknown time zone")
        assert lead_user.api("GET", "/team/settings").json()["working_hours"] is None  # nothing stored
        dialog.get_by_label("Time zone").fill("Europe/Moscow")
        dialog.get_by_label("Saturday", exact=True).check()
        dialog.get_by_label("Saturday from").fill("10:00")
        dialog.get_by_label("Saturday to").fill("15:00")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        saved = lead_user.api("GET", "/team/settings").json()
        assert saved["working_hours"]["time_zone"] == "Europe/Moscow"
        assert saved["working_hours"]["week"]["sat"] == [["10:00", "15:00"]]
        assert saved["working_hours"]["week"]["mon"] == [["09:00", "18:00"]]
        assert saved["sla_policies"][0]["name"] == "VIP" and saved["sla_policies"][0]["tags"] == ["vip"]
        lead.get_by_role("button", name="Automation").click()
        expect(dialog.get_by_label("Time zone")).to_have_value("Europe/Moscow")
        expect(dialog.get_by_label("Name")).to_have_value("VIP")
    finally:
        # the demo workspace is shared by the browser tests: working hours off again, no policies
        lead_user.api("PUT", "/team/settings", json={"working_hours": None, "sla_policies": []})


def test_an_operator_snoozes_a_conversation_out_of_the_queue_and_wakes_it(people, demo, live):
    from tests.browser.pages import open_conversation

    zoya = people["zoya"]
    user_id, customer = fresh_customer()
    demo.customer_writes(user_id, customer, "please call me tomorrow")
    expect(zoya.get_by_role("navigation", name="Conversations").get_by_text(customer)).to_be_visible(timeout=15_000)
    open_conversation(zoya, customer)
    header = zoya.get_by_role("region", name="Conversation")
    header.get_by_role("button", name="Snooze").click()
    header.get_by_role("group", name="Snooze").get_by_role("button", name=re.compile("^In an hour")).click()
    expect(header.get_by_role("status").filter(has_text="Snoozed until")).to_be_visible()
    rows = zoya.get_by_role("navigation", name="Conversations")
    expect(rows.get_by_text(customer)).to_be_hidden()  # out of New
    zoya.get_by_role("tab", name="Snoozed").click()
    expect(rows.get_by_text(customer)).to_be_visible()
    header.get_by_role("button", name="Wake now").click()
    expect(header.get_by_role("button", name="Snooze")).to_be_visible()
    header.get_by_role("button", name="Remind me").click()
    group = header.get_by_role("group", name="Remind me")
    group.get_by_label("What to remember (optional)").fill("ask about the courier")
    group.get_by_role("button", name=re.compile("^Tomorrow")).click()
    expect(header.get_by_role("status").filter(has_text="I will remind you")).to_be_visible()
    mine = people["zoya_user"].api("GET", "/reminders").json()["items"]
    assert [r["note"] for r in mine] == ["ask about the courier"]


def test_an_admin_writes_a_rule_tries_it_and_it_tags_the_next_customer(people, demo, live):
    lead, lead_user = people["lead"], people["lead_user"]
    word = f"refund{fresh_customer()[1].split()[1]}"
    lead.get_by_role("button", name="Automation").click()
    dialog = lead.get_by_role("dialog", name="Automation")
    dialog.get_by_role("tab", name="Rules").click()
    dialog.get_by_role("button", name="New rule").click()
    dialog.get_by_label("Rule name").fill(f"Refunds {word}")
    dialog.get_by_role("button", name="Add a condition").click()
    dialog.get_by_label("Text contains 1").fill(word)
    dialog.get_by_label("Add tag 1").fill(word)
    dialog.get_by_role("button", name="Try on the last 50 conversations").click()
    expect(dialog.get_by_role("status").filter(has_text="Would have matched 0 of the last")).to_be_visible()
    dialog.get_by_role("button", name="Save rule").click()
    expect(dialog.get_by_text(f"Refunds {word}")).to_be_visible()
    try:
        user_id, customer = fresh_customer()
        demo.customer_writes(user_id, customer, f"I want a {word} now")
        row = lead.get_by_role("navigation", name="Conversations").get_by_role("link", name=re.compile(customer))
        dialog.get_by_role("button", name="Close").click()
        expect(row).to_contain_text(word, timeout=15_000)
    finally:
        for rule in lead_user.api("GET", "/rules").json()["items"]:
            lead_user.api("DELETE", f"/rules/{rule['id']}")


def test_an_admin_adds_a_webhook_sees_its_secret_once_and_a_test_delivery_in_the_log(people, live):
    from tests.e2e.test_webhooks_out import Receiver

    lead, lead_user = people["lead"], people["lead_user"]
    receiver = Receiver()
    try:
        lead.get_by_role("button", name="Automation").click()
        dialog = lead.get_by_role("dialog", name="Automation")
        dialog.get_by_role("tab", name="Webhooks").click()
        dialog.get_by_label("Receiver URL").fill("http://10.0.0.7/hook")
        dialog.get_by_role("button", name="Add webhook").click()
        expect(dialog.get_by_role("alert")).to_contain_text("private or internal address")
        dialog.get_by_label("Receiver URL").fill(receiver.url)
        dialog.get_by_role("button", name="Add webhook").click()
        secret = dialog.get_by_role("status").filter(has_text="Signing secret").locator("code")
        expect(secret).to_contain_text("whsec_")
        dialog.get_by_role("button", name="Send a test").click()
        log = dialog.get_by_role("table", name="Deliveries")
        expect(log.get_by_role("row").filter(has_text="ping")).to_contain_text("delivered", timeout=15_000)
        assert len(receiver.calls) == 1 and receiver.calls[0]["headers"]["Zabota-Event"] == "ping"
        assert "secret" not in lead_user.api("GET", "/outgoing-webhooks").json()["items"][0]
    finally:
        receiver.server.shutdown()
        for hook in lead_user.api("GET", "/outgoing-webhooks").json()["items"]:
            lead_user.api("DELETE", f"/outgoing-webhooks/{hook['id']}")
