"""The rules engine (E3) on DynamoDB Local through the real stream: a table of trigger x condition x action,
order, loops stopped, the dry run, the action log, and refusals of bad rules."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import tick
from tests.e2e.test_automation_sla import chat_id, customer_writes, kinds
from tests.e2e.test_team_support import add_user
from tests.support import new_workspace

pytestmark = pytest.mark.ddblocal


def workspace(stack):
    ws = new_workspace(stack)
    assert ws.api("PUT", "/team/settings", json={"sla_minutes": 10080}).status_code == 200
    return ws


def add_rule(ws, **rule) -> dict:
    rule.setdefault("name", "a rule")
    resp = ws.api("POST", "/rules", json=rule)
    assert resp.status_code == 201, resp.text
    return resp.json()


def conv(ws, conv_id: str) -> dict:
    return ws.api("GET", f"/conversations/{conv_id}").json()


def notes(ws, conv_id: str) -> list[str]:
    return [m["text"] for m in ws.messages(conv_id) if m["direction"] == "note"]


CASES = [
    # (trigger, conditions, the customer's text, actions, what to check)
    ("conversation_created", [], "hello", [{"type": "add_tag", "value": "new-customer"}],
     lambda ws, c: conv(ws, c)["tags"] == ["new-customer"]),
    ("message_received", [{"type": "text_contains", "value": ["refund", "возврат"]}], "хочу ВОЗВРАТ денег",
     [{"type": "set_priority", "value": "high"}], lambda ws, c: conv(ws, c)["priority"] == "high"),
    ("message_received", [{"type": "text_contains", "value": ["refund"]}], "just saying hi",
     [{"type": "set_priority", "value": "high"}], lambda ws, c: conv(ws, c)["priority"] is None),
    ("message_received", [{"type": "text_regex", "value": r"order\s*#?\d{3,}"}], "where is order #12345?",
     [{"type": "add_note", "value": "order question"}], lambda ws, c: notes(ws, c) == ["order question"]),
    ("message_received", [{"type": "channel_kind", "value": ["vk"]}], "hi from telegram",
     [{"type": "add_tag", "value": "vk"}], lambda ws, c: conv(ws, c)["tags"] == []),
    ("conversation_created", [{"type": "channel_kind", "value": ["telegram"]}, {"type": "assigned", "value": False}],
     "first", [{"type": "set_status", "value": "in_progress"}], lambda ws, c: conv(ws, c)["status"] == "in_progress"),
    ("message_received", [{"type": "text_contains", "value": ["urgent"]}, {"type": "language", "value": ["en"]}],
     "urgent please", [{"type": "add_tag", "value": "a"}, {"type": "add_tag", "value": "b"}],
     lambda ws, c: conv(ws, c)["tags"] == []),  # match all: the customer writes in Russian (language ru)
]


@pytest.mark.parametrize("trigger, conditions, text, actions, check", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trigger_condition_action_table(stack, trigger, conditions, text, actions, check):
    ws = workspace(stack)
    add_rule(ws, when={"trigger": trigger}, conditions=conditions, actions=actions)
    conv_id = customer_writes(ws, chat_id(), text)
    ws.drain()
    assert check(ws, conv_id)


def test_match_any_and_the_reply_template_and_notify_actions(stack):
    ws = workspace(stack)
    lead = add_user(stack, ws.id, "admin")
    template = ws.api("POST", "/templates", json={"title": "Delivery", "text": "Hi {customer_name}, we are on it.",
                                                   "shortcut": "dlv"}).json()
    add_rule(ws, when={"trigger": "message_received"}, match="any",
             conditions=[{"type": "text_contains", "value": ["courier"]}, {"type": "has_tag", "value": ["vip"]}],
             actions=[{"type": "reply_template", "value": template["id"]}, {"type": "notify", "value": ["admins"]}])
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "the courier is late")
    ws.drain()
    out = [m["text"] for m in ws.messages(conv_id) if m["direction"] == "out" and m["origin"] == "rule"]
    assert out == [f"Hi Customer {chat}, we are on it."]
    assert kinds(lead) == ["rule"]
    assert any(c["params"].get("text") == out[0] for c in ws.bot_sent)


def test_tag_added_and_after_close_triggers_and_no_answer_timer(stack, clock):
    ws = workspace(stack)
    add_rule(ws, name="escalate", when={"trigger": "tag_added", "tag": "bug"},
             actions=[{"type": "set_priority", "value": "urgent"}])
    add_rule(ws, name="welcome back", when={"trigger": "customer_wrote_after_close"},
             actions=[{"type": "add_note", "value": "came back after closing"}])
    add_rule(ws, name="nudge", when={"trigger": "no_answer", "minutes": 45},
             actions=[{"type": "add_tag", "value": "waiting-45"}])
    chat = chat_id()
    conv_id = customer_writes(ws, chat, "it crashes")
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"tags": ["bug"]}).status_code == 200
    ws.drain()
    assert conv(ws, conv_id)["priority"] == "urgent"
    clock.advance(minutes=44)
    tick()
    ws.drain()
    assert "waiting-45" not in conv(ws, conv_id)["tags"]
    clock.advance(minutes=1)
    tick()
    ws.drain()
    assert "waiting-45" in conv(ws, conv_id)["tags"]
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"status": "closed"}).status_code == 200
    ws.drain()
    assert notes(ws, conv_id) == []
    customer_writes(ws, chat, "one more thing")
    ws.drain()
    assert notes(ws, conv_id) == ["came back after closing"]


def test_a_ping_pong_of_two_rules_stops_at_the_depth_limit_and_a_rule_ignores_its_own_change(stack):
    from chalicelib.domain.rules import MAX_DEPTH

    ws = workspace(stack)
    # ping: a -> b, pong: b -> a; without a limit they would swap the tag for ever
    add_rule(ws, name="ping", position=1, when={"trigger": "tag_added", "tag": "a"},
             actions=[{"type": "remove_tag", "value": "a"}, {"type": "add_tag", "value": "b"},
                      {"type": "add_note", "value": "ping"}])
    add_rule(ws, name="pong", position=2, when={"trigger": "tag_added", "tag": "b"},
             actions=[{"type": "remove_tag", "value": "b"}, {"type": "add_tag", "value": "a"},
                      {"type": "add_note", "value": "pong"}])
    add_rule(ws, name="self", position=3, when={"trigger": "tag_added", "tag": "self"},
             actions=[{"type": "remove_tag", "value": "self"}, {"type": "add_tag", "value": "self"},
                      {"type": "add_note", "value": "self"}])
    conv_id = customer_writes(ws, chat_id(), "hi")
    assert ws.api("PATCH", f"/conversations/{conv_id}", json={"tags": ["a", "self"]}).status_code == 200
    ws.drain()
    ran = notes(ws, conv_id)
    assert sorted(ran) == sorted(["ping", "pong", "ping", "self"][:MAX_DEPTH + 1]), ran
    assert ran.count("self") == 1  # its own change (self removed and added back) does not run it again
    log = ws.api("GET", "/audit", params={"conversation_id": conv_id}).json()["items"]
    fired = [e for e in log if e["action"] == "rule"]
    assert len(fired) == len(ran) and all(e["actor"].startswith("rule:") for e in fired)
    assert any(e["action"] == "tag" and e["actor"].startswith("rule:") for e in log)


def test_replayed_triggers_change_nothing(stack):
    from chalicelib.services import rules
    from chalicelib.services.deps import deps
    from chalicelib.store import repo

    ws = workspace(stack)
    add_rule(ws, when={"trigger": "message_received"}, actions=[{"type": "add_note", "value": "seen"}])
    conv_id = customer_writes(ws, chat_id(), "hello")
    ws.drain()
    message = next(m for m in ws.messages(conv_id) if m["direction"] == "in")
    item = repo.get_message(ws.id, conv_id, message["id"])
    assert rules.on_change(deps(), "INSERT", item, None) == 1  # the rule matches again...
    ws.drain()
    assert notes(ws, conv_id) == ["seen"]  # ...and writes nothing new


def test_dry_run_shows_what_would_have_matched_and_changes_nothing(stack):
    ws = workspace(stack)
    a = customer_writes(ws, chat_id(), "my parcel is broken")
    customer_writes(ws, chat_id(), "thanks, all good")
    resp = ws.api("POST", "/rules/dry-run", json={"limit": 10, "rule": {
        "name": "broken", "when": {"trigger": "message_received"},
        "conditions": [{"type": "text_contains", "value": ["broken"]}],
        "actions": [{"type": "add_tag", "value": "damage"}]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["checked"] == 2 and [m["conversation_id"] for m in body["matched"]] == [a]
    assert body["matched"][0]["actions"] == ["add_tag"]
    assert conv(ws, a)["tags"] == [] and ws.api("GET", "/rules").json()["items"] == []


@pytest.mark.parametrize("rule, why", [
    ({"when": {"trigger": "message_received"}, "conditions": [{"type": "text_regex", "value": "(a+)+$"}],
      "actions": [{"type": "add_tag", "value": "x"}]}, "nests repeats"),
    ({"when": {"trigger": "message_received"}, "conditions": [{"type": "text_regex", "value": "(a"}],
      "actions": [{"type": "add_tag", "value": "x"}]}, "does not compile"),
    ({"when": {"trigger": "message_received"}, "actions": [{"type": "reply_template", "value": "tpl_nope"}]},
     "unknown template"),
    ({"when": {"trigger": "message_received"}, "actions": [{"type": "assign", "value": "u_nobody"}]}, "unknown user"),
    ({"when": {"trigger": "sometimes"}, "actions": [{"type": "add_tag", "value": "x"}]}, "when.trigger"),
    ({"when": {"trigger": "no_answer"}, "actions": [{"type": "add_tag", "value": "x"}]}, "minutes"),
    ({"when": {"trigger": "message_received"}, "actions": []}, "actions"),
    ({"when": {"trigger": "message_received"}, "actions": [{"type": "set_status", "value": "limbo"}]},
     "unknown status"),
])
def test_bad_rules_are_refused_with_the_reason_and_nothing_is_stored(stack, rule, why):
    ws = workspace(stack)
    resp = ws.api("POST", "/rules", json={"name": "bad", **rule})
    assert resp.status_code == 400, resp.text
    assert why in resp.json()["error"]["message"]
    assert ws.api("GET", "/rules").json()["items"] == []


def test_disabled_rules_do_not_run_and_edits_keep_their_id(stack):
    ws = workspace(stack)
    rule = add_rule(ws, when={"trigger": "message_received"}, actions=[{"type": "add_tag", "value": "seen"}])
    resp = ws.api("PATCH", f"/rules/{rule['id']}", json={"enabled": False})
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    conv_id = customer_writes(ws, chat_id(), "hi")
    ws.drain()
    assert conv(ws, conv_id)["tags"] == []
    assert ws.api("DELETE", f"/rules/{rule['id']}").status_code == 204
    assert ws.api("DELETE", f"/rules/{rule['id']}").status_code == 404


def test_timers_fire_when_no_answer_rule_minutes_pass_only_while_waiting(stack, clock):
    ws = workspace(stack)
    add_rule(ws, when={"trigger": "no_answer", "minutes": 10}, actions=[{"type": "add_tag", "value": "late"}])
    conv_id = customer_writes(ws, chat_id(), "hello?")
    assert ws.reply(conv_id, "hi!").status_code == 202
    ws.drain()
    clock.advance(minutes=11)
    tick()
    ws.drain()
    assert conv(ws, conv_id)["tags"] == []


def test_a_rule_whose_template_was_removed_is_listed_as_invalid(stack):
    ws = workspace(stack)
    template = ws.api("POST", "/templates", json={"title": "T", "text": "hi", "shortcut": "tt"}).json()
    add_rule(ws, when={"trigger": "message_received"}, actions=[{"type": "reply_template", "value": template["id"]}])
    assert [r["valid"] for r in ws.api("GET", "/rules").json()["items"]] == [True]
    assert ws.api("DELETE", f"/templates/{template['id']}").status_code == 200
    assert [r["valid"] for r in ws.api("GET", "/rules").json()["items"]] == [False]
