"""The rules engine (E3): what a rule looks like, whether it matches, and which actions it plans.

A rule is `when` (one trigger) + conditions (`all` or `any` of a list) + actions, in an order the admin sets.
Triggers: conversation_created, message_received, tag_added, no_answer (N minutes), customer_wrote_after_close.
Conditions: text contains a keyword, text matches a regex, channel, channel kind, has a tag, status, language,
surface (private / comment), assigned or not. Actions: assign (a user or round robin), add / remove a tag, set the
status or the priority, reply with a template, add a note, notify users, call an outgoing webhook.

Regexes are bounded: up to 200 characters, no back-references, no repeat inside a repeat (the shapes that
backtrack for ever, e.g. `(a+)+`), matched against the first 4,000 characters. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

try:  # Python 3.11 names the parser module `re._parser`; older ones `sre_parse`
    import re._parser as sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

TRIGGERS = ("conversation_created", "message_received", "tag_added", "no_answer", "customer_wrote_after_close")
CONDITIONS = ("text_contains", "text_regex", "channel_id", "channel_kind", "has_tag", "status", "language",
              "surface", "assigned")
ACTIONS = ("assign", "add_tag", "remove_tag", "set_status", "set_priority", "reply_template", "add_note", "notify",
           "webhook")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_RULES = 50
MAX_DEPTH = 3  # a change made by a rule may trigger other rules, up to this many steps
REGEX_MAX = 200
TEXT_MAX = 4000


class InvalidRule(ValueError):
    """The message says what to fix."""


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    enabled: bool
    trigger: str
    minutes: int = 0  # no_answer
    tag: str = ""  # tag_added: which tag ("" any)
    match: str = "all"
    conditions: tuple[tuple[str, Any], ...] = ()
    actions: tuple[tuple[str, Any], ...] = ()
    position: int = 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "enabled": self.enabled, "position": self.position,
                               "when": {"trigger": self.trigger}, "match": self.match,
                               "conditions": [{"type": t, "value": v} for t, v in self.conditions],
                               "actions": [{"type": t, "value": v} for t, v in self.actions]}
        if self.trigger == "no_answer":
            out["when"]["minutes"] = self.minutes
        if self.trigger == "tag_added" and self.tag:
            out["when"]["tag"] = self.tag
        return out


def _repeat_inside_repeat(parsed: Any, inside: bool = False) -> bool:
    for op, arg in parsed:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            if (inside and high != low) or _repeat_inside_repeat(sub, inside or high > 1):
                return True
        elif name == "BRANCH":
            if inside and len(arg[1]) > 1:
                return True  # (a|aa)* and the like: alternatives under a repeat
            if any(_repeat_inside_repeat(branch, inside) for branch in arg[1]):
                return True
        elif name == "SUBPATTERN":
            if _repeat_inside_repeat(arg[-1], inside):
                return True
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise InvalidRule("back-references are not allowed in a rule's regex")
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _repeat_inside_repeat(arg[1], inside):
                return True
    return False


def safe_regex(pattern: object) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern or len(pattern) > REGEX_MAX:
        raise InvalidRule(f"a regex is 1-{REGEX_MAX} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        parsed = sre_parse.parse(pattern)
    except re.error as err:
        raise InvalidRule(f"the regex does not compile: {err}") from err
    if _repeat_inside_repeat(parsed):
        raise InvalidRule("the regex nests repeats (like (a+)+ or (a|b)*), which can take forever: "
                          "use keywords or a simpler pattern")
    return compiled


def _words(value: object, what: str, *, limit: int = 20, size: int = 100) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > limit or not all(
            isinstance(v, str) and 0 < len(v.strip()) <= size for v in value):
        raise InvalidRule(f"{what}: 1-{limit} values of up to {size} characters")
    return tuple(v.strip() for v in value)


def parse_rule(raw: object, *, known: dict[str, set[str]], position: int = 0) -> Rule:
    """Validate a rule as the console sends it. `known` names what ids may be referred to: users, templates,
    hooks, channels, statuses."""
    if not isinstance(raw, dict):
        raise InvalidRule("a rule is an object")
    rid = raw.get("id") or ""
    name = raw.get("name")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 80:
        raise InvalidRule("a rule needs a name of up to 80 characters")
    when = raw.get("when")
    if not isinstance(when, dict) or when.get("trigger") not in TRIGGERS:
        raise InvalidRule(f"when.trigger is one of {', '.join(TRIGGERS)}")
    trigger = str(when["trigger"])
    minutes = 0
    if trigger == "no_answer":
        given = when.get("minutes")
        if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 7 * 24 * 60:
            raise InvalidRule("no_answer needs minutes: 1..10080")
        minutes = given
    tag = when.get("tag") or ""
    if not isinstance(tag, str) or len(tag) > 50:
        raise InvalidRule("when.tag is a tag of up to 50 characters")
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        raise InvalidRule("match is all or any")
    conditions = tuple(_condition(c, known) for c in _list(raw.get("conditions", []), "conditions", 20))
    actions = tuple(_action(a, known) for a in _list(raw.get("actions"), "actions", 10, at_least=1))
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidRule("enabled is true or false")
    return Rule(str(rid), name.strip(), enabled, trigger, int(minutes), tag.strip(), str(match), conditions, actions,
                position)


def _list(value: object, what: str, limit: int, at_least: int = 0) -> list[Any]:
    if not isinstance(value, list) or not at_least <= len(value) <= limit:
        raise InvalidRule(f"{what} is a list of {at_least}-{limit}")
    return value


def _typed(item: object, allowed: tuple[str, ...], what: str) -> tuple[str, Any]:
    if not isinstance(item, dict) or item.get("type") not in allowed:
        raise InvalidRule(f"each of {what} has a type: {', '.join(allowed)}")
    return str(item["type"]), item.get("value")


def _known(value: object, kind: str, known: dict[str, set[str]]) -> str:
    if not isinstance(value, str) or value not in known.get(kind, set()):
        raise InvalidRule(f"unknown {kind.rstrip('s')} {value!r}")
    return value


def _condition(item: object, known: dict[str, set[str]]) -> tuple[str, Any]:
    kind, value = _typed(item, CONDITIONS, "conditions")
    if kind == "text_contains":
        return kind, list(_words(value, "text_contains"))
    if kind == "text_regex":
        safe_regex(value)
        return kind, value
    if kind == "channel_id":
        return kind, [_known(v, "channels", known) for v in _words(value, "channel_id")]
    if kind == "status":
        return kind, [_known(v, "statuses", known) for v in _words(value, "status")]
    if kind in ("channel_kind", "has_tag", "language"):
        return kind, list(_words(value, kind))
    if kind == "surface":
        if value not in ("private", "comment"):
            raise InvalidRule("surface is private or comment")
        return kind, value
    if not isinstance(value, bool):
        raise InvalidRule("assigned is true or false")
    return kind, value


def _action(item: object, known: dict[str, set[str]]) -> tuple[str, Any]:
    kind, value = _typed(item, ACTIONS, "actions")
    if kind == "assign":
        return kind, "round_robin" if value == "round_robin" else _known(value, "users", known)
    if kind in ("add_tag", "remove_tag"):
        return kind, _words(value, kind, limit=1, size=50)[0]
    if kind == "set_status":
        return kind, _known(value, "statuses", known)
    if kind == "set_priority":
        if value not in PRIORITIES:
            raise InvalidRule(f"priority is one of {', '.join(PRIORITIES)}")
        return kind, value
    if kind == "reply_template":
        return kind, _known(value, "templates", known)
    if kind == "add_note":
        return kind, _words(value, "add_note", limit=1, size=2000)[0]
    if kind == "notify":
        who = _words(value, "notify", limit=20, size=64)
        return kind, [w if w in ("assignee", "admins") else _known(w, "users", known) for w in who]
    return kind, _known(value, "hooks", known)


@dataclass
class Facts:
    """What a rule is checked against: the conversation now, and the text that triggered it."""

    text: str = ""
    channel_id: str = ""
    channel_kind: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = ""
    language: str = ""
    surface: str = "private"
    assignee_id: str | None = None


def _holds(kind: str, value: Any, facts: Facts) -> bool:
    text = (facts.text or "")[:TEXT_MAX]
    if kind == "text_contains":
        low = text.lower().replace("ё", "е")
        return any(word.lower().replace("ё", "е") in low for word in value)
    if kind == "text_regex":
        return safe_regex(value).search(text) is not None
    if kind == "channel_id":
        return facts.channel_id in value
    if kind == "channel_kind":
        return facts.channel_kind in value
    if kind == "has_tag":
        return bool(set(value) & set(facts.tags))
    if kind == "status":
        return facts.status in value
    if kind == "language":
        return (facts.language or "").split("-")[0].lower() in [v.lower() for v in value]
    if kind == "surface":
        return facts.surface == value
    return bool(facts.assignee_id) == bool(value)


def matches(rule: Rule, trigger: str, facts: Facts, *, tag_added: str = "") -> bool:
    if not rule.enabled or rule.trigger != trigger:
        return False
    if trigger == "tag_added" and rule.tag and rule.tag != tag_added:
        return False
    if not rule.conditions:
        return True
    results = (_holds(kind, value, facts) for kind, value in rule.conditions)
    return all(results) if rule.match == "all" else any(results)


def ordered(rules: list[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (r.position, r.id))
