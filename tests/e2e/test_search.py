"""Full-text search over all history (B1) through the real API and stream: every message, note, client card and
conversation title, ranked and paged, per workspace; bad input is a clear 400."""

from __future__ import annotations

import secrets

import pytest

from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def chat() -> int:
    return 7_300_000 + secrets.randbelow(10**6)


def write(ws, text: str, *, chat_id: int | None = None, name: str = "Anna") -> dict:
    update = customer_message(chat_id or chat(), text, first_name=name)
    assert ws.post_update(update).status_code == 200
    ws.drain()
    return update


def search(ws, q: str, **params) -> dict:
    resp = ws.api("GET", "/search", params={"q": q, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def conv_of(ws, name: str) -> dict:
    return next(c for c in ws.conversations(limit=100) if c["contact_name"] == name)


@pytest.fixture
def ws(stack):
    return new_workspace(stack)


def test_old_messages_are_found_by_their_stems_with_a_marked_snippet(ws):
    chat_id = chat()
    write(ws, "Здравствуйте! Где мои заказы? Жду уже неделю", chat_id=chat_id, name="Ольга")
    write(ws, "И ещё: ёлка пришла сломанная", chat_id=chat_id, name="Ольга")
    write(ws, "Thanks, all good now", chat_id=chat_id, name="Ольга")  # the newest message is not the one we look for
    conv = conv_of(ws, "Ольга")

    [hit] = search(ws, "заказ")["items"]
    assert hit["kind"] == "message" and hit["conversation"]["id"] == conv["id"]
    assert [hit["snippet"][s:e] for s, e in hit["marks"]] == ["заказы"]
    assert hit["message_id"] in {m["id"] for m in ws.messages(conv["id"])}

    [tree] = search(ws, "елка")["items"]
    assert [tree["snippet"][s:e] for s, e in tree["marks"]] == ["ёлка"]


def test_operators_replies_notes_and_client_cards_are_searchable(ws):
    write(ws, "Hello, my parcel", name="Ivan")
    conv = conv_of(ws, "Ivan")
    assert ws.reply(conv["id"], "Your parcel has shipped").status_code == 202
    assert ws.api("POST", f"/conversations/{conv['id']}/notes", json={"text": "Checked the warehouse"}).ok
    card = ws.api("PATCH", f"/contacts/{conv['contact_id']}", json={
        "revision": 0, "phone": "+7 (912) 345-67-89", "email": "ivan@example.org", "custom_fields": {"City": "Казань"}})
    assert card.status_code == 200, card.text
    ws.drain()

    [reply] = search(ws, "shipping")["items"]
    assert reply["kind"] == "message" and reply["direction"] == "out"
    [note] = search(ws, "warehouses")["items"]
    assert note["kind"] == "note" and note["conversation"]["id"] == conv["id"]
    for query in ("79123456789", "ivan@example.org", "казани"):
        [hit] = search(ws, query)["items"]
        assert hit["kind"] == "contact" and hit["contact"]["id"] == conv["contact_id"], query
        assert hit["conversation"]["id"] == conv["id"]
    assert [h["kind"] for h in search(ws, "parcel", kind="note")["items"]] == []
    assert {h["kind"] for h in search(ws, "parcel")["items"]} == {"message"}


def test_the_index_follows_a_customers_edit(ws):
    update = write(ws, "order 1234 is late", name="Petr")
    edited = {"update_id": update["update_id"] + 1,
              "edited_message": {**update["message"], "text": "refund for order 1234", "edit_date": 1_716_200_090}}
    assert ws.post_update(edited).status_code == 200
    ws.drain()
    assert search(ws, "refund")["items"]
    assert search(ws, "late ")["items"] == []


def test_a_deleted_reply_leaves_the_index(ws):
    write(ws, "hi there", name="Vera")
    conv = conv_of(ws, "Vera")
    reply = ws.reply(conv["id"], "A promo code just for you").json()
    ws.drain()
    assert search(ws, "promo")["items"]
    assert ws.api("DELETE", f"/conversations/{conv['id']}/messages/{reply['id']}").status_code in (200, 202)
    ws.drain()
    assert search(ws, "promo")["items"] == []


def test_a_workspace_never_finds_another_workspaces_history(ws, stack):
    write(ws, "секретный заказ номер 77", name="Mine")
    other = new_workspace(stack)
    write(other, "другой заказ", name="Theirs")
    mine = search(ws, "заказ")["items"]
    theirs = search(other, "заказ")["items"]
    assert [h["conversation"]["contact_name"] for h in mine] == ["Mine"]
    assert [h["conversation"]["contact_name"] for h in theirs] == ["Theirs"]
    assert search(other, "секретный")["items"] == []


def test_results_page_by_an_opaque_cursor_without_repeats(ws):
    chat_id = chat()
    for i in range(7):
        write(ws, f"доставка номер {i}", chat_id=chat_id, name="Many")
    first = search(ws, "доставка", limit=3)
    second = search(ws, "доставка", limit=3, cursor=first["next_cursor"])
    third = search(ws, "доставка", limit=3, cursor=second["next_cursor"])
    ids = [h["message_id"] for page in (first, second, third) for h in page["items"]]
    assert len(ids) == 7 and len(set(ids)) == 7 and third["next_cursor"] is None
    other_query = ws.api("GET", "/search", params={"q": "заказ", "cursor": first["next_cursor"]})
    assert other_query.status_code == 400 and other_query.json()["error"]["details"]["field"] == "cursor"


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"), ({"q": "a"}, "q"), ({"q": "x" * 201}, "q"), ({"q": "?!"}, "q"),
    ({"q": "заказ", "kind": "secrets"}, "kind"), ({"q": "заказ", "limit": "0"}, "limit"),
    ({"q": "заказ", "limit": "51"}, "limit"), ({"q": "заказ", "cursor": "forged"}, "cursor"),
    ({"q": "заказ", "cursor": "eyJvIjo1MDAwMCwiaCI6IngifQ"}, "cursor"),
])
def test_bad_search_input_is_a_400_naming_the_parameter(ws, params, field):
    resp = ws.api("GET", "/search", params=params)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["details"]["field"] == field


def test_every_role_that_reads_conversations_searches(ws, stack):
    from chalicelib.auth.keys import create_api_key
    from chalicelib.services.deps import deps

    write(ws, "посылка потерялась", name="Roles")
    for role in ("readonly", "moderator", "operator", "analyst"):
        key = create_api_key(ws.id, role, name=role, now=deps().now())
        resp = ws.api("GET", "/search", params={"q": "посылка"}, key=key)
        assert resp.status_code == 200 and len(resp.json()["items"]) == 1, role


def test_a_lost_index_is_rebuilt_from_the_table_with_the_cli(ws):
    from chalicelib import cli
    from chalicelib.services.deps import deps

    chat_id = chat()
    write(ws, "первое сообщение про возврат", chat_id=chat_id, name="Old")
    write(ws, "второе про доставку", chat_id=chat_id, name="Old")
    conv = conv_of(ws, "Old")
    assert ws.api("POST", f"/conversations/{conv['id']}/notes", json={"text": "проверить склад"}).ok
    ws.drain()
    before = {q: search(ws, q)["items"] for q in ("возврат", "доставка", "склад", "Old")}
    assert all(before.values())
    deps().search.index_of(ws.id).clear()
    assert search(ws, "возврат")["items"] == []

    assert cli.main(["reindex-search", "--workspace", ws.id]) == 0
    after = {q: search(ws, q)["items"] for q in before}
    assert {q: [h["message_id"] for h in hits] for q, hits in after.items()} == \
        {q: [h["message_id"] for h in hits] for q, hits in before.items()}
    assert cli.main(["reindex-search", "--workspace", ws.id]) == 0  # twice: the same index
    assert deps().search.index_of(ws.id).count() == len({h["message_id"] for hits in before.values() for h in hits
                                                         if h["message_id"]}) + 2  # the greeting, the card
