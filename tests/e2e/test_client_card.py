"""The client card (C1) and emotions (B8) over the REST API on DynamoDB Local with the stream: an operator's
corrections are validated, a stale edit is refused, the new name reaches the customer's conversations and search,
the action log names who changed what; another workspace's card is not found."""

from __future__ import annotations

import secrets

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def customer(ws, name: str) -> dict:
    chat = 800_000_000 + secrets.randbelow(10**8)
    assert ws.post_update(customer_message(chat, "hello", first_name=name)).status_code == 200
    ws.drain()
    return next(c for c in ws.conversations(status="new") if c["contact_name"] == name)


def test_an_operator_corrects_the_card_and_the_new_name_reaches_conversations_search_and_the_log(stack):
    ws = new_workspace(stack)
    conv = customer(ws, "Mariya")
    card = ws.api("GET", f"/contacts/{conv['contact_id']}").json()
    assert card["contact"]["revision"] == 0 and [c["id"] for c in card["history"]] == [conv["id"]]
    assert card["contact"]["identities"][0]["channel_kind"] == "telegram"

    saved = ws.api("PATCH", f"/contacts/{conv['contact_id']}", json={
        "revision": 0, "display_name": "Мария Соколова", "email": " Maria@Example.COM ", "phone": "+7 (912) 345-67-89",
        "notes": "VIP since 2021", "custom_fields": {"Order": "4821", "City": "Kazan", "Empty": " "}})
    assert saved.status_code == 200, saved.text
    contact = saved.json()["contact"]
    assert (contact["email"], contact["phone"], contact["revision"]) == ("maria@example.com", "+79123456789", 1)
    assert contact["custom_fields"] == {"Order": "4821", "City": "Kazan"}

    stale = ws.api("PATCH", f"/contacts/{conv['contact_id']}", json={"revision": 0, "notes": "overwrite?"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    assert ws.api("GET", f"/contacts/{conv['contact_id']}").json()["contact"]["notes"] == "VIP since 2021"

    ws.drain()  # the stream renames the conversations and re-indexes them for search
    assert ws.api("GET", f"/conversations/{conv['id']}").json()["contact_name"] == "Мария Соколова"
    found = ws.api("GET", "/conversations", params={"q": "соколова"}).json()["items"]
    assert [c["id"] for c in found] == [conv["id"]]
    log = ws.api("GET", "/audit", params={"action": "contact.edit"}).json()["items"]
    assert len(log) == 1 and log[0]["after"]["email"] == "maria@example.com"
    assert log[0]["before"]["display_name"] == "Mariya"


@pytest.mark.parametrize("patch, code", [
    ({"email": "not-an-email"}, "invalid_email"),
    ({"email": "a@b"}, "invalid_email"),
    ({"phone": "12-34"}, "invalid_phone"),
    ({"phone": "+7 912 abc"}, "invalid_phone"),
    ({"display_name": "  "}, "invalid_name"),
    ({"notes": "x" * 5001}, "invalid_notes"),
    ({"custom_fields": {f"f{i}": "v" for i in range(21)}}, "invalid_fields"),
    ({"custom_fields": {"Order": 4821}}, "invalid_fields"),
    ({}, "invalid_input"),
])
def test_invalid_corrections_are_refused_with_the_reason_and_change_nothing(stack, patch, code):
    ws = new_workspace(stack)
    conv = customer(ws, "Ivan")
    resp = ws.api("PATCH", f"/contacts/{conv['contact_id']}", json={"revision": 0, **patch})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == code, resp.text
    assert ws.api("GET", f"/contacts/{conv['contact_id']}").json()["contact"]["revision"] == 0


def test_another_workspaces_card_is_not_found_and_a_missing_revision_is_refused(stack):
    ws, other = new_workspace(stack), new_workspace(stack)
    conv = customer(ws, "Olga")
    assert other.api("GET", f"/contacts/{conv['contact_id']}").status_code == 404
    assert other.api("PATCH", f"/contacts/{conv['contact_id']}", json={"revision": 0, "notes": "x"}).status_code == 404
    no_revision = ws.api("PATCH", f"/contacts/{conv['contact_id']}", json={"notes": "x"})
    assert no_revision.status_code == 400 and no_revision.json()["error"]["code"] == "invalid_revision"


def test_an_operator_sets_and_clears_the_emotion_and_the_log_records_it(stack):
    ws = new_workspace(stack)
    conv = customer(ws, "Petr")
    for emotion in ("negative", "positive", None):
        resp = ws.api("PATCH", f"/conversations/{conv['id']}", json={"emotion": emotion})
        assert resp.status_code == 200 and resp.json()["emotion"] == emotion, resp.text
    bad = ws.api("PATCH", f"/conversations/{conv['id']}", json={"emotion": "angry"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_emotion"
    ws.drain()
    log = ws.api("GET", "/audit", params={"action": "emotion", "conversation_id": conv["id"]}).json()["items"]
    assert sorted((e["before"]["emotion"] or "", e["after"]["emotion"] or "") for e in log) == [
        ("", "negative"), ("negative", "positive"), ("positive", "")]
