"""The rules engine (E3), run from the stream: a trigger, the workspace's rules in order, their actions.

Triggers come from changes: a conversation INSERT (conversation_created), a customer's message INSERT
(message_received), tags added to a conversation (tag_added), a closed conversation the customer wrote to again
(customer_wrote_after_close), and a timer per waiting conversation and no_answer rule (no_answer).

Loops stop two ways: a change a rule made names it (`changed_by = rule:<id>`), and that rule is not run on it
again; and every change by a rule carries its depth (`rule_depth`), so a chain of rules triggering each other
stops after MAX_DEPTH steps. Each firing is idempotent: its writes are keyed by the rule and the trigger (a
replayed record or a re-fired timer adds no second note, reply, notification or delivery). Every firing is in
the action log with the rule as the actor; the conversation changes it made are there too, by the same actor.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain import rules as domain
from chalicelib.domain.model import derived_id, iso, parse_iso, stable_hash
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services import assignment, notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import hooks as hook_store
from chalicelib.store import repo, team
from chalicelib.store import rules as store
from chalicelib.store import templates as template_store
from chalicelib.store.models import ConversationItem, MainItem, MessageItem, RuleItem, TimerItem, plain
from chalicelib.warm import WarmCache

_cache: WarmCache[list[domain.Rule]] = WarmCache(10.0)
DRY_RUN_MAX = 200


def _parse(item: RuleItem, known: dict[str, set[str]]) -> domain.Rule | None:
    try:
        raw = {**dict(item.definition or {}), "id": item.rule_id}
        return domain.parse_rule(raw, known=known, position=int(item.position or 0))
    except domain.InvalidRule as err:
        logger.warning("rule no longer valid", extra={"rule_id": item.rule_id, "reason": str(err)})
        return None


def rules_of(ws: str) -> list[domain.Rule]:
    """The workspace's rules, in order (a warm Lambda keeps them 10 s; one Query otherwise)."""
    known = _known(ws, lenient=True)
    return _cache.get(ws, lambda: domain.ordered([r for r in (_parse(i, known) for i in store.list_rules(ws))
                                                  if r is not None]))


class _Everything(set[str]):
    def __contains__(self, item: object) -> bool:
        return isinstance(item, str)


def _known(ws: str, *, lenient: bool = False) -> dict[str, set[str]]:
    if lenient:  # stored rules were checked when saved; at run time a missing target fails that action alone
        anything = _Everything()
        return {k: anything for k in ("users", "templates", "hooks", "channels", "statuses")}
    from chalicelib.services import team as team_service

    return {"users": {m.user_id for m in team.list_members(ws)},
            "templates": {t.template_id for t in template_store.list_templates(ws)},
            "hooks": {h.hook_id for h in hook_store.list_hooks(ws)},
            "channels": {c.pk.removeprefix("CH#") for c in repo.list_channels(ws)},
            "statuses": set(team_service.statuses_of(ws))}


# --- the API ---------------------------------------------------------------------------------------------------


def _validated(ws: str, body: dict[str, Any], position: int) -> domain.Rule:
    try:
        return domain.parse_rule(body, known=_known(ws), position=position)
    except domain.InvalidRule as err:
        raise InvalidInput(str(err), code="invalid_rule") from err


def list_json(ws: str) -> list[dict[str, Any]]:
    """The admin's list: `valid` is false when a rule names a colleague, template, webhook, channel or status that
    is gone (checked strictly here; at run time such an action fails alone and the others still run)."""
    items = sorted(store.list_rules(ws), key=lambda i: (int(i.position or 0), i.rule_id))
    known = _known(ws)
    return [{**dict(i.definition or {}), "id": i.rule_id, "position": int(i.position or 0),
             "updated_at": i.updated_at, "valid": _parse(i, known) is not None} for i in items]


def create(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    existing = store.list_rules(ws)
    if len(existing) >= domain.MAX_RULES:
        raise InvalidInput(f"a workspace has up to {domain.MAX_RULES} rules")
    position = body.get("position", max([int(i.position or 0) for i in existing], default=0) + 1)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 10_000:
        raise InvalidInput("position is 0..10000")
    rule = _validated(ws, body, position)
    rule_id = f"rl_{secrets.token_hex(5)}"
    definition = {k: v for k, v in rule.as_json().items() if k not in ("id", "position")}
    store.put_rule(ws, rule_id, definition, position, by=principal.subject, now=d.now(), new=True)
    _cache.forget(ws)
    return {**definition, "id": rule_id, "position": position}


def update(d: Deps, principal: Principal, rule_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ws = principal.workspace_id
    item = store.get_rule(ws, rule_id) if len(rule_id) < 40 else None
    if item is None:
        raise NotFound(f"no rule {rule_id}")
    merged = {**dict(item.definition or {}), **body}
    position = merged.pop("position", int(item.position or 0))
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 10_000:
        raise InvalidInput("position is 0..10000")
    rule = _validated(ws, merged, position)
    definition = {k: v for k, v in rule.as_json().items() if k not in ("id", "position")}
    store.put_rule(ws, rule_id, definition, position, by=principal.subject, now=d.now(), new=False)
    _cache.forget(ws)
    return {**definition, "id": rule_id, "position": position}


def delete(principal: Principal, rule_id: str) -> None:
    item = store.get_rule(principal.workspace_id, rule_id) if len(rule_id) < 40 else None
    if item is None:
        raise NotFound(f"no rule {rule_id}")
    store.delete_rule(item)
    _cache.forget(principal.workspace_id)


def dry_run(d: Deps, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Which of the last N conversations the rule would have matched, and what it would have done. Changes nothing."""
    ws = principal.workspace_id
    limit = body.get("limit", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= DRY_RUN_MAX:
        raise InvalidInput(f"limit is 1..{DRY_RUN_MAX} conversations")
    raw = body.get("rule")
    if not isinstance(raw, dict):
        raise InvalidInput("send rule: the rule to try (as saved) and limit")
    rule = _validated(ws, {**raw, "enabled": True}, 0)
    from chalicelib.services import team as team_service

    recent: list[ConversationItem] = []
    for status in team_service.statuses_of(ws):
        recent += repo.query_inbox(ws, status=status, limit=limit, cursor=None).items
    recent.sort(key=lambda c: c.last_activity_at, reverse=True)
    recent = recent[:limit]
    now = d.now()
    matched = []
    for conv in recent:
        last = repo.latest_inbound_message(ws, conv.conversation_id)
        facts = _facts(conv, last.text if last else conv.last_message_preview)
        tag = rule.tag if rule.trigger == "tag_added" else ""
        if rule.trigger == "tag_added" and not (rule.tag in (conv.tags or []) if rule.tag else conv.tags):
            continue
        if rule.trigger == "no_answer" and not (conv.awaiting_since and parse_iso(conv.awaiting_since)
                                                <= now - timedelta(minutes=rule.minutes)):
            continue
        if domain.matches(rule, rule.trigger, facts, tag_added=tag):
            matched.append({"conversation_id": conv.conversation_id, "contact_name": conv.contact_name,
                            "status": conv.status, "text": (facts.text or "")[:200],
                            "actions": [t for t, _ in rule.actions]})
    return {"checked": len(recent), "matched": matched}


# --- from the stream -------------------------------------------------------------------------------------------


def _facts(conv: ConversationItem, text: str) -> domain.Facts:
    return domain.Facts(text=text or "", channel_id=conv.channel_id, channel_kind=conv.channel_kind,
                        tags=list(conv.tags or []), status=conv.status, language=conv.language or "",
                        surface=conv.surface or "private", assignee_id=conv.assignee_id)


def _origin(conv: ConversationItem) -> tuple[int, str | None]:
    """(depth of the change, the rule that made it) for a conversation image."""
    by = conv.changed_by or ""
    if by.startswith("rule:"):
        return int(conv.rule_depth or 1), by.removeprefix("rule:")
    return 0, None


def no_answer_timer(rule_id: str, conv_id: str) -> str:
    return f"rule#{rule_id}#{conv_id}"


def on_change(d: Deps, event_name: str, new: MainItem, old: MainItem | None) -> int:
    ws = new.workspace_id or ""
    if not ws or not isinstance(new, (ConversationItem, MessageItem)):
        return 0
    rules = rules_of(ws)
    if not rules:
        return 0
    if isinstance(new, MessageItem):
        if event_name != "INSERT" or new.direction != "in":
            return 0
        conv = repo.get_conversation(ws, new.conversation_id)
        return fire(d, rules, conv, "message_received", key=new.message_id, text=new.text,
                    at=new.created_at or iso(d.now())) if conv else 0
    before = old if isinstance(old, ConversationItem) else None
    fired = 0
    if event_name == "INSERT":
        fired += fire(d, rules, new, "conversation_created", key=new.conversation_id,
                      text=new.last_message_preview or "", at=new.created_at or new.last_activity_at)
    if before is None:  # created with its first message (store/repo.py): the customer waits from the start
        if new.awaiting_since:
            _no_answer_timers(d, rules, new, None)
        return fired
    depth, by_rule = _origin(new)
    for tag in [t for t in (new.tags or []) if t not in (before.tags or [])]:
        fired += fire(d, rules, new, "tag_added", key=f"{new.conversation_id}#{tag}#{new.changed_at or new.revision}",
                      text=new.last_message_preview or "", tag=tag, depth=depth, skip=by_rule,
                      at=new.changed_at or new.last_activity_at)
    if before.status == "closed" and new.status != "closed" and new.last_inbound_at != before.last_inbound_at:
        fired += fire(d, rules, new, "customer_wrote_after_close", key=f"{new.conversation_id}#{new.last_inbound_at}",
                      text=new.last_message_preview or "", at=new.last_inbound_at or new.last_activity_at)
    if new.awaiting_since != before.awaiting_since:
        _no_answer_timers(d, rules, new, before)
    return fired


def _no_answer_timers(d: Deps, rules: list[domain.Rule], new: ConversationItem, old: ConversationItem | None
                      ) -> None:
    ws = new.workspace_id or ""
    for rule in rules:
        if rule.trigger != "no_answer":
            continue
        timer = no_answer_timer(rule.id, new.conversation_id)
        if new.awaiting_since:
            due = parse_iso(new.awaiting_since) + timedelta(minutes=rule.minutes)
            repo.put_timer(ws, timer, "rule-no-answer", iso(due), {
                "rule_id": rule.id, "conversation_id": new.conversation_id, "since": new.awaiting_since}, now=d.now())
        elif old is not None and old.awaiting_since:
            repo.delete_timer(ws, timer)


@timers.register("rule-no-answer")
def no_answer(d: Deps, timer: TimerItem) -> None:
    target = plain(timer.target)
    ws = timer.workspace_id or ""
    conv = repo.get_conversation(ws, str(target["conversation_id"]), consistent=True)
    if conv is None or conv.awaiting_since != target["since"]:
        return
    rules = [r for r in rules_of(ws) if r.id == target["rule_id"]]
    fire(d, rules, conv, "no_answer", key=f"{conv.conversation_id}#{target['since']}",
         text=conv.last_message_preview or "", at=timer.due_at)


def fire(d: Deps, rules: list[domain.Rule], conv: ConversationItem, trigger: str, *, key: str, text: str, at: str,
         tag: str = "", depth: int = 0, skip: str | None = None) -> int:
    """Run every matching rule, in order. `key` and `at` identify the trigger: what a rule writes derives from
    them, so the same trigger handled twice writes nothing new."""
    if depth >= domain.MAX_DEPTH:
        logger.warning("rule chain stopped at the depth limit", extra={"conversation_id": conv.conversation_id})
        return 0
    fired = 0
    facts = _facts(conv, text)
    for rule in rules:
        if rule.id == skip or not domain.matches(rule, trigger, facts, tag_added=tag):
            continue
        run(d, rule, conv, trigger, key=key, at=at, depth=depth + 1)
        fired += 1
    return fired


def run(d: Deps, rule: domain.Rule, conv: ConversationItem, trigger: str, *, key: str, at: str,
        depth: int) -> list[str]:
    """Carry out a matched rule's actions; returns what was done (for the action log)."""
    ws, conv_id, actor = conv.workspace_id or "", conv.conversation_id, f"rule:{rule.id}"
    now = d.now()
    written = parse_iso(at) + timedelta(milliseconds=2)  # after the customer's message in the thread
    done: list[str] = []
    field_actions = [(t, v) for t, v in rule.actions if t in ("add_tag", "remove_tag", "set_status", "set_priority")
                     or (t == "assign" and v != "round_robin")]
    if field_actions:
        _change_fields(ws, conv_id, field_actions, actor=actor, depth=depth, at=iso(now))
        done += [t for t, _ in field_actions]
    for kind, value in rule.actions:
        try:
            if kind == "assign" and value == "round_robin":
                fresh = repo.get_conversation(ws, conv_id, consistent=True)
                if fresh is not None and not fresh.assignee_id and assignment.round_robin(d, fresh):
                    done.append(kind)
            elif kind == "reply_template" and not conv.blocked:
                if _reply(ws, conv, str(value), actor=actor, key=f"{rule.id}#{key}", when=written):
                    done.append(kind)
            elif kind == "add_note":
                note = repo.new_message(ws, conv_id, derived_id("m", written, "rule-note", rule.id, key),
                                        channel_id=conv.channel_id, direction="note", origin="rule", author_id=actor,
                                        text=f"{value}", status="received", created_at=iso(written))
                if repo.put_message_once(note):
                    done.append(kind)
            elif kind == "notify":
                who = _people(ws, conv, value)
                notifications.notify(d, ws, who, "rule", title=f"{rule.name}: {conv.contact_name or conv_id}",
                                     body=(conv.last_message_preview or "")[:300], link={"conversation_id": conv_id},
                                     key=f"rule#{rule.id}#{key}", actor=actor, text_key="rule",
                                     params={"rule": rule.name, "name": conv.contact_name or conv_id})
                done.append(kind)
            elif kind == "webhook":
                if _queue_hook(d, ws, str(value), rule, conv, trigger, key):
                    done.append(kind)
        except Exception:  # noqa: BLE001 - one action failing must not undo the others; it is in the log
            logger.exception("rule action failed", extra={"rule_id": rule.id, "action": kind})
    team.put_audit(team.new_audit(ws, f"rule#{rule.id}#{stable_hash(key, length=16)}", at=iso(now), actor=actor,
                                  action="rule", target_type="conversation", target_id=conv_id, conversation_id=conv_id,
                                  after={"rule": rule.name, "trigger": trigger, "actions": done}), once=True)
    return done


def _change_fields(ws: str, conv_id: str, actions: list[tuple[str, Any]], *, actor: str, depth: int, at: str) -> None:
    status = next((v for t, v in actions if t == "set_status"), None)

    def mutate(conv: ConversationItem) -> list[Any]:
        tags = list(conv.tags or [])
        out: list[Any] = []
        for kind, value in actions:
            if kind == "add_tag" and value not in tags:
                tags.append(value)
            elif kind == "remove_tag" and value in tags:
                tags.remove(value)
            elif kind == "set_priority" and conv.priority != value:
                out.append(ConversationItem.priority.set(value))
            elif kind == "assign" and conv.assignee_id != value:
                out += repo.assignee_actions(conv, value)
        if tags != list(conv.tags or []):
            out.append(ConversationItem.tags.set(tags))
        if status == "closed" and conv.status != "closed":
            out += [ConversationItem.closed_at.set(at), ConversationItem.awaiting_since.remove()]
        if out or (status and status != conv.status):
            out += [ConversationItem.changed_by.set(actor), ConversationItem.changed_at.set(at),
                    ConversationItem.rule_depth.set(depth)]
        return out

    assigns = any(t == "assign" for t, _ in actions)
    repo.change_conversation(ws, conv_id, mutate, status=(lambda conv: status) if status and not assigns else None)
    if status and assigns:  # assignee and status both move index keys: two steps (change_conversation's rule)
        repo.change_conversation(ws, conv_id, lambda conv: [], status=lambda conv: status)


def _reply(ws: str, conv: ConversationItem, template_id: str, *, actor: str, key: str, when: datetime) -> bool:
    template = template_store.get_template(ws, template_id)
    if template is None:
        return False
    workspace = repo.get_workspace(ws)
    text = (template.text.replace("{customer_name}", conv.contact_name or "").replace("{operator_name}", "")
            .replace("{workspace_name}", workspace.name if workspace else "")).strip()
    message = repo.new_message(ws, conv.conversation_id, derived_id("m", when, "rule-reply", key),
                               channel_id=conv.channel_id, direction="out", origin="rule", author_id=actor, text=text,
                               status="pending", created_at=iso(when))
    return repo.put_message_once(message)


def _people(ws: str, conv: ConversationItem, who: list[str]) -> list[str]:
    out: list[str] = []
    for w in who:
        if w == "assignee":
            out += [conv.assignee_id] if conv.assignee_id else []
        elif w == "admins":
            out += [m.user_id for m in team.list_members(ws) if m.role == "admin"]
        else:
            out.append(w)
    return out


def _queue_hook(d: Deps, ws: str, hook_id: str, rule: domain.Rule, conv: ConversationItem, trigger: str,
                key: str) -> bool:
    from chalicelib.api.serialize import conversation_json

    hook = hook_store.get_hook(ws, hook_id)
    if hook is None or not hook.enabled:
        return False
    delivery_id = f"dl_{stable_hash(hook_id, 'rule', rule.id, key, length=20)}"
    at = iso(d.now())
    body = json.dumps({"id": delivery_id, "type": "rule.triggered", "created_at": at, "workspace_id": ws,
                       "data": {"rule": {"id": rule.id, "name": rule.name, "trigger": trigger},
                                "conversation": conversation_json(conv)}}, ensure_ascii=False, separators=(",", ":"))
    return hook_store.put_delivery(ws, hook_id, delivery_id, event="rule.triggered", event_at=at, payload=body,
                                   now=d.now())
