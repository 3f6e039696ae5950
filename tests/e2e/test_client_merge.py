"""Client merge (C2) on DynamoDB Local with the stream: suggestions, a preview of what wins, the merge moving
identities and conversations (every message kept, new messages from either channel land on the survivor), undo
within 24 h restoring both cards, the action log, a message racing the merge, and bad input changing nothing."""

from __future__ import annotations

import secrets

import pytest

from tests.e2e.conftest import tick
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

CARD_FIELDS = ("display_name", "email", "phone", "notes", "custom_fields", "username")


def telegram_customer(ws, name: str, text: str = "hello from telegram") -> tuple[dict, int]:
    chat = 810_000_000 + secrets.randbelow(10**8)
    assert ws.post_update(customer_message(chat, text, first_name=name)).status_code == 200
    ws.drain()
    return next(c for c in ws.conversations() if c["contact_name"] == name), chat


def crm_customer(ws, sender: dict, text: str, thread: str) -> dict:
    """A customer writing through the integration API (a CRM): a second channel. Returns their conversation."""
    known = {c["id"]: c for c in ws.conversations()}
    resp = ws.api("POST", "/inbound", json={"external_conversation_id": thread, "sender": sender, "text": text})
    assert resp.status_code in (200, 201, 202), resp.text
    ws.drain()
    new = [c for c in ws.conversations() if c["id"] not in known]
    assert len(new) == 1, new
    return new[0]


def card(ws, contact_id: str) -> dict:
    resp = ws.api("GET", f"/contacts/{contact_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def fields(c: dict) -> dict:
    return {f: c["contact"][f] for f in CARD_FIELDS}


def two_cards_of_maria(ws):
    tg, chat = telegram_customer(ws, "Мария Соколова")
    ws.api("PATCH", f"/contacts/{tg['contact_id']}", json={
        "revision": 0, "phone": "8 (912) 345-67-89", "notes": "prefers Telegram", "custom_fields": {"City": "Kazan"}})
    sender = {"id": f"crm-{secrets.token_hex(3)}", "name": "соколова мария", "email": "Maria@Example.com",
              "phone": "+7 912 345 67 89"}
    crm = crm_customer(ws, sender, "hello from the crm", thread=f"t-{secrets.token_hex(3)}")
    assert crm["contact_id"] != tg["contact_id"]
    ws.api("PATCH", f"/contacts/{crm['contact_id']}", json={"revision": 0, "notes": "ordered twice",
                                                            "custom_fields": {"Order": "4821", "City": "Moscow"}})
    ws.drain()
    return tg, chat, crm, sender


def test_merge_preview_merge_and_undo_keep_every_message_and_restore_both_cards(stack):
    ws = new_workspace(stack)
    tg, chat, crm, sender = two_cards_of_maria(ws)
    a, b = tg["contact_id"], crm["contact_id"]
    before_a, before_b = card(ws, a), card(ws, b)
    messages = {c: ws.messages(c) for c in (tg["id"], crm["id"])}

    found = ws.api("GET", f"/contacts/{a}/duplicates").json()["items"]
    assert [(s["contact_id"], s["reasons"]) for s in found] == [(b, ["phone", "name"])]

    preview = ws.api("POST", f"/contacts/{a}/merge/preview", json={"other_id": b, "choices": {"display_name": "other"}})
    assert preview.status_code == 200, preview.text
    plan = {f["field"]: f for f in preview.json()["fields"]}
    assert plan["display_name"]["result"] == "соколова мария"  # picked by the operator
    assert plan["email"]["side"] == "other" and plan["email"]["result"] == "Maria@Example.com"  # filled beats empty
    assert plan["notes"]["result"] == "prefers Telegram\n\nordered twice"
    assert plan["custom_fields"]["result"] == {"City": "Kazan", "Order": "4821"}  # the survivor's City wins
    assert preview.json()["moves"] == {"identities": 1, "conversations": 1}
    assert card(ws, a) == before_a and card(ws, b) == before_b  # a preview changes nothing

    merged = ws.api("POST", f"/contacts/{a}/merge", json={
        "other_id": b, "choices": {"display_name": "other"}, "revisions": preview.json()["revisions"]})
    assert merged.status_code == 201, merged.text
    merge_id = merged.json()["merge"]["id"]
    after = merged.json()["card"]
    assert {i["channel_kind"] for i in after["contact"]["identities"]} == {"telegram", "api"}
    history = [c["id"] for c in after["history"]]
    assert sorted(history) == sorted([tg["id"], crm["id"]])
    activity = [c["last_activity_at"] for c in after["history"]]
    assert activity == sorted(activity, reverse=True)  # every channel's conversations, in time order
    assert card(ws, b)["merged_into"] == a
    ws.drain()
    assert {c: ws.messages(c) for c in messages} == messages  # every message kept

    # new messages from either channel land on the survivor
    assert ws.post_update(customer_message(chat, "me again", first_name="Мария Соколова")).status_code == 200
    crm_customer(ws, sender, "and a new question", thread=f"t-{secrets.token_hex(3)}")
    ws.drain()
    convs = card(ws, a)["history"]
    assert len(convs) == 3 and all(c["contact_id"] == a for c in convs)

    log = ws.api("GET", "/audit", params={"action": "contact.merge"}).json()["items"]
    assert len(log) == 1 and log[0]["after"]["merged"] == b

    undone = ws.api("POST", f"/merges/{merge_id}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["merge"]["state"] == "undone"
    ws.drain()
    again_a, again_b = card(ws, a), card(ws, b)
    assert fields(again_a) == fields(before_a) and fields(again_b) == fields(before_b)
    assert again_b["merged_into"] is None
    assert [i["channel_kind"] for i in again_a["contact"]["identities"]] == ["telegram"]
    assert [i["channel_kind"] for i in again_b["contact"]["identities"]] == ["api"]
    assert {c["channel_kind"] for c in again_a["history"]} == {"telegram"}
    assert len(again_b["history"]) == 2 and {c["channel_kind"] for c in again_b["history"]} == {"api"}
    for conv_id, kept in messages.items():
        assert ws.messages(conv_id)[: len(kept)] == kept
    assert len(ws.api("GET", "/audit", params={"action": "contact.unmerge"}).json()["items"]) == 1
    assert ws.api("POST", f"/merges/{merge_id}/undo").json()["error"]["code"] == "already_undone"


def test_merging_a_card_with_itself_another_workspaces_or_a_merged_one_is_refused_and_changes_nothing(stack):
    ws, other_ws = new_workspace(stack), new_workspace(stack)
    first, _ = telegram_customer(ws, "Olga")
    second, _ = telegram_customer(ws, "Olga K")
    third, _ = telegram_customer(ws, "Olga M")
    foreign, _ = telegram_customer(other_ws, "Olga")
    a, b, c = first["contact_id"], second["contact_id"], third["contact_id"]
    cards = {x: card(ws, x) for x in (a, b, c)}

    itself = ws.api("POST", f"/contacts/{a}/merge", json={"other_id": a})
    assert itself.status_code == 400 and itself.json()["error"]["code"] == "same_contact"
    assert ws.api("POST", f"/contacts/{a}/merge", json={"other_id": foreign["contact_id"]}).status_code == 404
    assert other_ws.api("POST", f"/contacts/{foreign['contact_id']}/merge", json={"other_id": a}).status_code == 404
    assert ws.api("POST", f"/contacts/{a}/merge/preview", json={"other_id": b,
                                                                "choices": {"phone": "both"}}).status_code == 400
    assert ws.api("POST", f"/contacts/{a}/merge", json={"other_id": b, "choices": {"age": "other"}}).status_code == 400
    assert ws.api("POST", f"/contacts/{a}/merge", json={"other_id": b,
                                                        "revisions": {"survivor": 7}}).status_code == 409
    assert {x: card(ws, x) for x in (a, b, c)} == cards  # nothing changed

    assert ws.api("POST", f"/contacts/{a}/merge", json={"other_id": b}).status_code == 201
    for survivor, other in ((c, b), (b, c)):
        again = ws.api("POST", f"/contacts/{survivor}/merge", json={"other_id": other})
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_merged"
    assert card(ws, c) == cards[c]
    edit = ws.api("PATCH", f"/contacts/{b}", json={"revision": card(ws, b)["contact"]["revision"], "notes": "x"})
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "already_merged"
    merge_id = card(ws, a)["merges"][0]["id"]
    assert other_ws.api("POST", f"/merges/{merge_id}/undo").status_code == 404


def test_undo_is_refused_after_24_hours(stack, clock):
    ws = new_workspace(stack)
    first, _ = telegram_customer(ws, "Petr")
    second, _ = telegram_customer(ws, "Petr I")
    done = ws.api("POST", f"/contacts/{first['contact_id']}/merge", json={"other_id": second["contact_id"]})
    clock.advance(hours=24, minutes=1)
    late = ws.api("POST", f"/merges/{done.json()['merge']['id']}/undo")
    assert late.status_code == 409 and late.json()["error"]["code"] == "undo_expired"
    assert card(ws, second["contact_id"])["merged_into"] == first["contact_id"]


def test_a_conversation_that_raced_the_merge_sits_on_a_card_that_exists_and_the_sweep_moves_it(stack, clock):
    from chalicelib.store import merges

    ws = new_workspace(stack)
    tg, _ = telegram_customer(ws, "Anna")
    sender = {"id": f"crm-{secrets.token_hex(3)}", "name": "Anna B"}
    crm = crm_customer(ws, sender, "first", thread=f"t-{secrets.token_hex(3)}")
    a, b = tg["contact_id"], crm["contact_id"]
    assert ws.api("POST", f"/contacts/{a}/merge", json={"other_id": b}).status_code == 201
    # the inbound record of a message sent during the merge read the identity before it moved
    ident = card(ws, a)["contact"]["identities"]
    api_ident = next(i for i in ident if i["channel_kind"] == "api")
    assert merges.move_identity(ws.id, api_ident["channel_id"], api_ident["external_user_id"], a, b)
    late = crm_customer(ws, sender, "sent during the merge", thread=f"t-{secrets.token_hex(3)}")
    assert late["contact_id"] == b and card(ws, b)["merged_into"] == a  # on a card that exists, pointing on
    clock.advance(minutes=3)
    tick()
    ws.drain()
    assert late["id"] in [c["id"] for c in card(ws, a)["history"]]
    assert card(ws, b)["history"] == []
    assert ws.api("GET", f"/conversations/{late['id']}").json()["contact_id"] == a
