"""A team's own statuses (B1): admins add them in team settings, conversations move into them and show in their
own inbox tab, a customer's new message brings one back to work, and a status in use cannot be removed."""

from __future__ import annotations

import secrets

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal

WAITING = {"id": "waiting_customer", "label": "Ждём клиента"}


def test_a_custom_status_gets_its_tab_and_a_customer_message_brings_the_conversation_back(stack):
    ws, other = new_workspace(stack), new_workspace(stack)
    chat = 700_000_000 + secrets.randbelow(10**8)
    assert ws.post_update(customer_message(chat, "when?", first_name="Vera")).status_code == 200
    ws.drain()
    conv = ws.conversations(status="new")[0]

    refused = ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "waiting_customer"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_status"
    saved = ws.api("PUT", "/team/settings", json={"statuses": [WAITING]})
    assert saved.status_code == 200 and saved.json()["statuses"] == [WAITING]
    assert ws.api("GET", "/team/settings").json()["statuses"] == [WAITING]

    moved = ws.api("PATCH", f"/conversations/{conv['id']}", json={"status": "waiting_customer"})
    assert moved.status_code == 200 and moved.json()["status"] == "waiting_customer"
    assert [c["id"] for c in ws.conversations(status="waiting_customer")] == [conv["id"]]
    assert ws.conversations(status="new") == []
    other_tab = other.api("GET", "/conversations", params={"status": "waiting_customer"})
    assert other_tab.status_code == 400  # another workspace has no such status: nothing of ours leaks

    in_use = ws.api("PUT", "/team/settings", json={"statuses": []})
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "status_in_use"

    assert ws.post_update(customer_message(chat, "here is the photo", first_name="Vera")).status_code == 200
    ws.drain()
    assert [c["id"] for c in ws.conversations(status="in_progress")] == [conv["id"]]  # back to work
    assert ws.conversations(status="waiting_customer") == []
    assert ws.api("PUT", "/team/settings", json={"statuses": []}).status_code == 200


@pytest.mark.parametrize("statuses", [
    [{"id": "closed", "label": "Closed again"}],
    [{"id": "Bad-Id", "label": "x"}],
    [{"id": "ok_id", "label": ""}],
    [{"id": "ok_id", "label": "a"}, {"id": "ok_id", "label": "b"}],
    [{"id": f"s{i}x", "label": "x"} for i in range(11)],
    "waiting",
])
def test_invalid_statuses_are_refused_and_nothing_changes(stack, statuses):
    ws = new_workspace(stack)
    resp = ws.api("PUT", "/team/settings", json={"statuses": statuses})
    assert resp.status_code == 400, resp.text
    assert ws.api("GET", "/team/settings").json()["statuses"] == []
