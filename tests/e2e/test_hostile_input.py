"""Hostile input on the public routes, sent as an outside sender would, through the real stack over HTTP.

Every case is refused with a 4xx that names the reason (or, for an authenticated provider payload we cannot use,
acknowledged as the provider's retry rules require), and nothing of it is stored: the stream has nothing to do
afterwards and no conversation appears.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests

from chalicelib.channels.registry import WEBHOOK_KINDS
from chalicelib.local.fakes.graph import signed
from tests.e2e.test_channel_meta import open_shop
from tests.e2e.test_channel_vk import customer, vk_shop
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

META = ("whatsapp", "messenger", "instagram")
DEEP = b"[" * 5000 + b"]" * 5000
HUGE = 10**30


def chat() -> int:
    return 6_000_000 + secrets.randbelow(10**6)


def error_of(resp: requests.Response) -> dict[str, Any]:
    assert resp.headers["Content-Type"].startswith("application/json"), resp.text
    error = resp.json()["error"]
    assert error["code"] and error["message"]
    return dict(error)


def webhook(stack: Any, kind: str, channel_id: str = "ch_nosuchchannel", *, method: str = "POST",
            body: bytes = b"{}", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.request(method, f"{stack.url}/api/webhooks/{kind}/{channel_id}", data=body,
                            headers={"Content-Type": "application/json", **(headers or {})}, timeout=30)


def settled(ws: Any) -> Any:
    """A new workspace once the stream has carried out its own setup (channel, greetings): nothing left to do."""
    ws.drain()
    return ws


def nothing_to_process(stack: Any) -> bool:
    return int(stack.pump.drain(timeout=30)) == 0


# --- the guard: on every webhook kind, before any channel is read ------------------------------------------------


@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
def test_json_nested_thousands_deep_is_400_on_every_kind(stack, kind):
    stack.pump.drain(timeout=30)
    resp = webhook(stack, kind, body=DEEP)
    assert resp.status_code == 400 and error_of(resp)["code"] == "too_deep"
    assert nothing_to_process(stack)


def test_deep_json_signed_with_the_telegram_secret_is_400_and_stores_nothing(stack):
    ws = settled(new_workspace(stack))
    assert ws.post_update({}, raw=b'{"update_id": 1, "message": ' + DEEP + b"}").status_code == 400
    assert ws.drain() == 0 and ws.conversations() == []


@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
def test_a_channel_id_of_thousands_of_characters_is_404_on_every_kind(stack, kind):
    resp = webhook(stack, kind, "ch_" + "x" * 4000)
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
    assert "channel id" in error_of(resp)["message"]


def test_an_unknown_kind_is_404(stack):
    resp = webhook(stack, "fax")
    assert resp.status_code == 404 and "kinds" in error_of(resp)["message"]


@pytest.mark.parametrize("kind", META)
def test_integers_outside_64_bits_in_signed_meta_payloads_are_422(stack, kind):
    shop = settled(open_shop(stack, kind))
    payload = {"object": "whatsapp_business_account" if kind == "whatsapp" else "page" if kind == "messenger"
               else "instagram", "entry": [{"id": HUGE, "time": HUGE, "messaging": [], "changes": []}]}
    resp = shop.post(payload)
    assert resp.status_code == 422 and error_of(resp)["code"] == "number_out_of_range"
    assert nothing_to_process(stack) and shop.conversations() == []


def test_integers_outside_64_bits_in_telegram_updates_are_422_and_not_stored(stack):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "hello")
    update["message"]["date"] = HUGE
    resp = ws.post_update(update)
    assert resp.status_code == 422 and error_of(resp)["code"] == "number_out_of_range"
    assert ws.drain() == 0 and ws.conversations() == []


def test_integers_outside_64_bits_in_vk_callbacks_are_422_and_not_stored(stack):
    shop = settled(vk_shop(stack))
    event = {"type": "message_new", "event_id": secrets.token_hex(8), "group_id": shop.group_id,
             "secret": shop.webhook_secret, "object": {"message": {
                 "id": 1, "date": HUGE, "peer_id": customer(), "from_id": HUGE, "text": "hi"}}}
    resp = shop.post_event(event)
    assert resp.status_code == 422 and error_of(resp)["code"] == "number_out_of_range"
    assert shop.drain() == 0 and shop.conversations() == []


def test_a_lone_surrogate_and_invalid_utf8_are_400(stack):
    ws = settled(new_workspace(stack))
    lone = ws.post_update({}, raw=b'{"update_id": 5, "message": {"text": "\\ud800"}}')
    assert lone.status_code == 400 and error_of(lone)["code"] == "invalid_utf8"
    broken = ws.post_update({}, raw=b'{"update_id": 5, "message": {"text": "\xff\xfe"}}')
    assert broken.status_code == 400 and error_of(broken)["code"] == "invalid_utf8"
    assert ws.drain() == 0 and ws.conversations() == []


def test_a_webhook_body_over_the_limit_is_413_and_an_unexpected_type_is_415(stack):
    too_big = webhook(stack, "telegram", body=b'{"a": "' + b"x" * (600 * 1024) + b'"}')
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "payload_too_large"
    html = webhook(stack, "telegram", body=b"<html/>", headers={"Content-Type": "text/html"})
    assert html.status_code == 415 and error_of(html)["code"] == "unsupported_media_type"
    latin = webhook(stack, "telegram", headers={"Content-Type": "application/json; charset=latin-1"})
    assert latin.status_code == 415


# --- methods --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["telegram", "vk", "ok", "email"])
def test_a_get_with_a_body_to_a_post_only_webhook_is_405_and_stores_nothing(stack, kind):
    ws = settled(new_workspace(stack))
    channel_id = ws.channel_id if kind == "telegram" else "ch_nosuchchannel"
    body = json.dumps(customer_message(chat(), "stored by a GET?")).encode()
    resp = webhook(stack, kind, channel_id, method="GET", body=body,
                   headers={"X-Telegram-Bot-Api-Secret-Token": ws.webhook_secret})
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"
    assert error_of(resp)["code"] == "method_not_allowed"
    assert ws.drain() == 0 and ws.conversations() == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("kind", ["telegram", "whatsapp"])
def test_other_methods_on_a_webhook_are_405_with_the_kinds_allow(stack, kind, method):
    resp = webhook(stack, kind, method=method)
    assert resp.status_code == 405 and error_of(resp)["code"] == "method_not_allowed"
    assert resp.headers["Allow"] == ("GET, POST" if kind in META else "POST")


@pytest.mark.parametrize("kind", ["telegram", "instagram"])
def test_head_on_a_webhook_is_405_with_the_kinds_allow(stack, kind):
    resp = requests.head(f"{stack.url}/api/webhooks/{kind}/ch_nosuchchannel", timeout=30)
    assert resp.status_code == 405 and resp.headers["Allow"] == ("GET, POST" if kind in META else "POST")


def test_meta_verification_get_still_answers_and_stores_nothing(stack):
    shop = open_shop(stack, "whatsapp")
    resp = requests.get(shop.webhook_url, params={"hub.mode": "subscribe", "hub.challenge": "4242",
                                                  "hub.verify_token": shop.channel.secrets["webhook_secret"]},
                        timeout=30)
    assert resp.status_code == 200 and resp.text == "4242"


def test_a_method_no_route_declares_is_405_in_our_error_shape(stack):
    ws = settled(new_workspace(stack))
    resp = ws.api("PUT", "/health")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]
    assert error_of(resp)["code"] == "method_not_allowed"


# --- per-channel payload validation: acknowledged as the provider needs, never stored ------------------------------


@pytest.mark.parametrize("missing", ["date", "chat", "message_id"])
def test_a_telegram_update_missing_a_required_field_is_acknowledged_and_not_stored(stack, missing):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "half a message")
    del update["message"][missing]
    resp = ws.post_update(update)
    assert resp.status_code == 200 and resp.headers["X-Zabota-Ignored"] == "invalid_payload"
    assert ws.drain() == 0 and ws.conversations() == []


def test_a_telegram_sender_without_its_required_fields_is_acknowledged_and_not_stored(stack):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "who am I")
    update["message"]["from"] = {"id": {"nested": 1}}
    resp = ws.post_update(update)
    assert resp.status_code == 200 and resp.headers["X-Zabota-Ignored"] == "invalid_payload"
    assert ws.drain() == 0 and ws.conversations() == []


def test_a_vk_message_without_peer_id_is_answered_ok_and_not_stored(stack):
    shop = settled(vk_shop(stack))
    event = {"type": "message_new", "event_id": secrets.token_hex(8), "group_id": shop.group_id,
             "secret": shop.webhook_secret, "object": {"message": {"id": 1, "date": 1716200000, "text": "hi"}}}
    resp = shop.post_event(event)
    assert resp.status_code == 200 and resp.text == "ok" and resp.headers["X-Zabota-Ignored"] == "invalid_payload"
    assert shop.drain() == 0 and shop.conversations() == []


def test_a_signed_meta_body_without_entries_is_acknowledged_and_not_stored(stack):
    shop = open_shop(stack, "messenger")
    request = signed(shop.channel, {"object": "page"})
    resp = shop.post_request(request)
    assert resp.status_code == 200 and resp.text == "EVENT_RECEIVED"
    assert resp.headers["X-Zabota-Ignored"] == "invalid_payload"


# --- the other body-reading routes: console API, integration API, widget -----------------------------------------


@pytest.mark.parametrize("path", ["/inbound", "/templates", "/replies/bulk"])
def test_console_and_integration_routes_refuse_hostile_bodies(stack, path):
    ws = settled(new_workspace(stack))
    assert error_of(ws.api("POST", path, data=DEEP, headers={"Content-Type": "application/json"}))["code"] == "too_deep"
    big_int = ws.api("POST", path, data=b'{"text": "x", "n": 1' + b"0" * 40 + b"}",
                     headers={"Content-Type": "application/json"})
    assert big_int.status_code == 422 and error_of(big_int)["code"] == "number_out_of_range"
    nan = ws.api("POST", path, data=b'{"n": NaN}', headers={"Content-Type": "application/json"})
    assert nan.status_code == 422
    xml = ws.api("POST", path, data=b"<a/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415 and error_of(xml)["code"] == "unsupported_media_type"
    broken = ws.api("POST", path, data=b'{"text": "\xc3"}', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and error_of(broken)["code"] == "invalid_utf8"
    ws.drain()
    assert ws.conversations() == []


def test_a_path_id_of_the_wrong_shape_is_404_before_any_lookup(stack):
    ws = settled(new_workspace(stack))
    for method, path in (("GET", "/conversations/" + "c" * 500), ("GET", "/conversations/a%20b/messages"),
                         ("POST", "/channels/not-a-channel/health")):
        resp = ws.api(method, path)
        assert resp.status_code == 404 and error_of(resp)["code"] == "not_found", path


def test_a_get_with_a_body_on_the_console_api_is_400(stack):
    ws = settled(new_workspace(stack))
    resp = ws.api("GET", "/conversations", data=b'{"status": "new"}', headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and error_of(resp)["code"] == "unexpected_body"


def test_the_widget_refuses_deep_and_huge_bodies_before_any_channel_is_read(stack):
    for body, status in ((DEEP, 400), (b'{"client_message_id": "a", "n": ' + b"9" * 30 + b"}", 422)):
        resp = requests.post(f"{stack.url}/api/widget/ch_nosuchchannel/messages", data=body,
                             headers={"Content-Type": "application/json"}, timeout=30)
        assert resp.status_code == status, resp.text


# --- edits: an edit of the original, shown as edited, the earlier text in the action log --------------------------


def audit_edits(ws: Any, conversation_id: str) -> list[dict[str, Any]]:
    resp = ws.api("GET", "/audit", params={"conversation_id": conversation_id, "action": "edit", "limit": 50})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def edited(update: dict[str, Any], text: str, *, edit_date: int) -> dict[str, Any]:
    return {"update_id": update["update_id"] + 1,
            "edited_message": {**update["message"], "text": text, "edit_date": edit_date}}


def test_a_telegram_edit_in_the_same_second_replaces_the_text_and_the_log_keeps_the_earlier_one(stack):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "order #1234")
    ws.post_update(update)
    ws.drain()
    fix = edited(update, "order #1243", edit_date=update["message"]["date"])  # Telegram dates in whole seconds
    assert ws.post_update(fix).status_code == 200
    assert ws.post_update(fix).status_code == 200  # redelivered: applied once
    ws.drain()
    (conv,) = ws.conversations()
    (msg,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert msg["text"] == "order #1243" and msg["edited"] is True
    (entry,) = audit_edits(ws, conv["id"])
    assert entry["before"] == {"text": "order #1234"} and entry["after"] == {"text": "order #1243"}
    assert entry["target"]["id"] == msg["id"] and entry["actor"].startswith("contact:")


def test_two_telegram_edits_keep_each_earlier_text_and_an_older_edit_arriving_late_changes_nothing(stack):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "v1")
    ws.post_update(update)
    ws.drain()
    second, third = edited(update, "v2", edit_date=1_716_200_010), edited(update, "v3", edit_date=1_716_200_020)
    third["update_id"] += 1
    ws.post_update(second)
    ws.drain()
    ws.post_update(third)
    ws.drain()
    late = edited(update, "v1.5", edit_date=1_716_200_005)
    late["update_id"] += 5
    ws.post_update(late)
    ws.drain()
    (conv,) = ws.conversations()
    (msg,) = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert msg["text"] == "v3"
    assert sorted((e["before"]["text"], e["after"]["text"]) for e in audit_edits(ws, conv["id"])) == [
        ("v1", "v2"), ("v2", "v3")]


def test_a_telegram_edit_that_arrives_before_its_message_is_the_message_once(stack):
    ws = settled(new_workspace(stack))
    update = customer_message(chat(), "first words")
    ws.post_update(edited(update, "better words", edit_date=1_716_200_030))
    ws.drain()
    ws.post_update(update)  # the original's record comes after its edit's
    ws.drain()
    (conv,) = ws.conversations()
    inbound = [m for m in ws.messages(conv["id"]) if m["direction"] == "in"]
    assert [(m["text"], m["edited"]) for m in inbound] == [("better words", True)]
    assert conv["message_count"] == 1
