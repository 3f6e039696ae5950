"""One assignee's conversations come from a keys-only index whose keys a message does not move (issue 14).

The listing still answers as the inbox does: newest activity first, filters, pages that join up; closed ones page
in the index's own order; a conversation written before the index existed moves there on its next change.
"""

from __future__ import annotations

import secrets

import pytest

from chalicelib.store import repo
from chalicelib.store.models import ConversationItem
from tests.support import customer_message, new_workspace

pytestmark = pytest.mark.ddblocal


def conversations_of(ws, n: int) -> list[str]:
    chats = [7_000_000 + secrets.randbelow(10**6) * 10 + i for i in range(n)]
    for chat in chats:
        assert ws.post_update(customer_message(chat, f"hello from {chat}")).status_code == 200
    ws.drain()
    return [c["id"] for c in ws.conversations(limit=n)]


def assign(ws, conv_ids: list[str], user: str) -> None:
    for conv_id in conv_ids:
        repo.change_conversation(ws.id, conv_id, lambda conv: repo.assignee_actions(conv, user))


def test_an_assignees_list_is_newest_activity_first_pages_join_up_and_a_message_moves_it_up(stack):
    ws = new_workspace(stack)
    ids = conversations_of(ws, 5)
    assign(ws, ids, "u_anna")
    assign(ws, ids[:1], "u_anna")  # no change
    listed = repo.query_inbox(ws.id, status="new", limit=10, cursor=None, assignee="u_anna")
    assert [c.conversation_id for c in listed.items] == ids  # the inbox's order: newest activity first
    first = repo.query_inbox(ws.id, status="new", limit=2, cursor=None, assignee="u_anna")
    assert first.cursor is not None
    second = repo.query_inbox(ws.id, status="new", limit=2, cursor=first.cursor, assignee="u_anna")
    third = repo.query_inbox(ws.id, status="new", limit=2, cursor=second.cursor, assignee="u_anna")
    assert [c.conversation_id for c in first.items + second.items + third.items] == ids
    assert third.cursor is None

    oldest = repo.get_conversation(ws.id, ids[-1], consistent=True)
    assert oldest is not None
    chat = int(oldest.external_conversation_id)
    assert ws.post_update(customer_message(chat, "one more thing")).status_code == 200
    ws.drain()
    again = repo.query_inbox(ws.id, status="new", limit=10, cursor=None, assignee="u_anna")
    assert again.items[0].conversation_id == ids[-1]
    moved = repo.get_conversation(ws.id, ids[-1], consistent=True)
    assert moved is not None and moved.gsi4sk == oldest.gsi4sk  # the message moved nothing in gsi4


def test_filters_unassigned_and_another_assignee_are_kept_apart(stack):
    ws = new_workspace(stack)
    ids = conversations_of(ws, 4)
    assign(ws, ids[:2], "u_anna")
    assign(ws, ids[2:3], "u_boris")
    mine = repo.query_inbox(ws.id, status="new", limit=10, cursor=None, assignee="u_anna")
    assert {c.conversation_id for c in mine.items} == set(ids[:2])
    free = repo.query_inbox(ws.id, status="new", limit=10, cursor=None, unassigned=True)
    assert [c.conversation_id for c in free.items] == ids[3:]
    text = repo.get_conversation(ws.id, ids[1], consistent=True)
    assert text is not None
    found = repo.query_inbox(ws.id, status="new", limit=10, cursor=None, assignee="u_anna",
                             query=text.last_message_preview.split()[-1])
    assert [c.conversation_id for c in found.items] == [ids[1]]
    with pytest.raises(ValueError):
        repo.query_inbox(ws.id, status="new", limit=10, cursor='{"gsi1sk":{"S":"x"}}', assignee="u_anna")
    assert [c.conversation_id for c in repo.conversations_of_assignee(ws.id, "u_boris")] == ids[2:3]


def test_closed_ones_page_in_the_index_order_without_reading_the_rest(stack):
    ws = new_workspace(stack)
    ids = conversations_of(ws, 5)
    assign(ws, ids, "u_anna")
    for conv_id in ids:
        repo.change_conversation(ws.id, conv_id, lambda conv: [], status=lambda conv: "closed")
    pages, cursor = [], None
    while True:
        page = repo.query_inbox(ws.id, status="closed", limit=2, cursor=cursor, assignee="u_anna")
        pages.append([c.conversation_id for c in page.items])
        cursor = page.cursor
        if cursor is None:
            break
    seen = [c for p in pages for c in p]
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    assert all(len(p) <= 2 for p in pages)


def test_a_conversation_written_before_the_keys_only_indexes_moves_there_on_its_next_change(stack):
    ws = new_workspace(stack)
    (conv_id,) = conversations_of(ws, 1)
    conv = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert conv is not None
    legacy = {"gsi2pk": f"{ws.id}#ASSIGNEE#-", "gsi2sk": f"new#{conv.last_activity_at}#{conv_id}",
              "gsi3pk": conv.gsi5pk, "gsi3sk": conv.gsi5sk}
    conv.update(actions=[*(getattr(ConversationItem, k).set(v) for k, v in legacy.items()),
                         ConversationItem.gsi5pk.remove(), ConversationItem.gsi5sk.remove()])
    _, history = repo.contact_history(ws.id, conv.contact_id)
    assert [c.conversation_id for c in history] == [conv_id]  # found on the old index meanwhile

    assign(ws, [conv_id], "u_anna")
    moved = repo.get_conversation(ws.id, conv_id, consistent=True)
    assert moved is not None
    assert (moved.gsi2pk, moved.gsi3pk) == (None, None) and moved.gsi5pk == legacy["gsi3pk"]
    _, history = repo.contact_history(ws.id, conv.contact_id)
    assert [c.conversation_id for c in history] == [conv_id]
    assert [c.conversation_id for c in repo.conversations_of_assignee(ws.id, "u_anna")] == [conv_id]
