"""The customer simulator: its backend (`/_sim`) for every demo channel whose fake can simulate a customer, and
its page at /simulator/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def simulated_channels(demo) -> list[dict]:
    import requests

    resp = requests.get(f"{demo.url}/_sim/channels", timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_the_simulator_lists_only_demo_channels_whose_fake_can_play_the_customer(demo):
    from chalicelib.local import demo as demo_seed
    from chalicelib.local.simulator import fake_module

    listed = {c["id"] for c in simulated_channels(demo)}
    expected = {c.id for c in demo_seed.DEMO_CHANNELS if fake_module(c.kind) is not None}
    assert listed == expected and demo.telegram in listed
    assert "ch_demo_widget" not in listed  # the widget is ours: no provider to simulate


def test_every_simulated_channel_carries_a_customer_message_through_the_real_webhook_and_shows_the_greeting(
        demo, live):
    channels = simulated_channels(demo)
    user_id, name = fresh_customer("Vera")
    sent = {c["id"]: demo.customer_writes(user_id, f"{name} {c['kind']}", f"hello from {c['kind']}",
                                          channel=c["id"])
            for c in channels}
    for channel in channels:
        conversation = sent[channel["id"]]["external_conversation_id"]
        wait_until(lambda ch=channel["id"], conv=conversation: any(
            "Здравствуйте" in m["text"] for m in demo.customer_sees(conv, channel=ch)),
            what=f"the greeting in {channel['kind']}")
        found = demo.api("GET", "/conversations", params={"channel_id": channel["id"], "limit": 100}).json()["items"]
        assert any(c["contact_name"].startswith(name) or c["last_message_preview"] == f"hello from {channel['kind']}"
                   for c in found), channel["kind"]


def test_the_simulator_refuses_unknown_channels_and_empty_messages(demo):
    import requests

    unknown = requests.post(f"{demo.url}/_sim/ch_nope/messages", json={"user_id": "1", "name": "A", "text": "x"},
                            timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    empty = requests.post(f"{demo.url}/_sim/{demo.telegram}/messages", json={"user_id": "1", "name": "A", "text": " "},
                          timeout=30)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "invalid_input"
    widget = requests.post(f"{demo.url}/_sim/ch_demo_widget/messages", json={"user_id": "1", "name": "A", "text": "x"},
                           timeout=30)
    assert widget.status_code == 404


def test_the_simulator_page_shows_texts_with_markup_as_text(page, demo, live):
    user_id, _ = fresh_customer()
    payload = "<img src=z onerror=alert('sim')>"
    page.goto(f"{demo.url}/simulator/")
    page.get_by_label("Customer id").fill(user_id)
    page.get_by_label("Customer id").press("Tab")
    page.get_by_label("Customer name").fill(payload)
    page.get_by_placeholder("Message").fill(payload)
    page.get_by_role("button", name="Send as the customer").click()
    expect(page.get_by_role("log").get_by_text(payload, exact=True)).to_be_visible()
    conversation = demo.conversation_named(payload)
    demo.api("POST", f"/conversations/{conversation['id']}/replies", json={"text": f"re: {payload}"})
    expect(page.get_by_role("log").get_by_text(f"re: {payload}", exact=True)).to_be_visible()
    assert page.locator("img[src='z']").count() == 0 and page.dialogs == []
