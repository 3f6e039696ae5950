"""Tasks (internal tickets, FEATURES F1-F4): the rules, with no storage and no clock of their own.

Numbering, statuses and their buckets, deadlines with a time zone, when a task is overdue, when its reminders are
due, the keys its list indexes sort by, the order of every list sort, and what changed between two versions.
Standard library only; times are aware UTC datetimes and every function takes `now` when it needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATUSES = ("open", "in_progress", "waiting", "done", "cancelled")
OPEN_STATUSES = ("open", "in_progress", "waiting")  # "current" work
CLOSED_STATUSES = ("done", "cancelled")
PRIORITIES = ("low", "normal", "high", "urgent")
VIEWS = ("current", "overdue", "done")
SCOPES = ("all", "mine", "team")
SORTS = ("created", "deadline", "status", "assignee")

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_WATCHERS = 20
MAX_LINKS = 10
MAX_QUOTE = 1000
MAX_COMMENT = 10_000
MAX_NOTE = 2000
DEFAULT_REMIND_MINUTES = 60
MAX_REMIND_MINUTES = 7 * 24 * 60
NUMBER_WIDTH = 10  # index keys hold numbers zero-padded, so text order is number order

NO_DEADLINE = "~"  # sorts after every ISO time: tasks without a deadline come last, and are never overdue
OPEN, CLOSED = "open", "closed"


class Refused(ValueError):
    """A rule says no: `code` and a sentence for the caller (the service turns it into a 4xx)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def next_number(last: int | None) -> int:
    """The number after the workspace's last one: 1, 2, 3... (the counter item holds `last`)."""
    return (last or 0) + 1


def bucket(status: str) -> str:
    """Which list a status belongs to: current work (open) or finished (closed: done and cancelled)."""
    return CLOSED if status in CLOSED_STATUSES else OPEN


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Deadline:
    at: datetime  # aware
    timezone: str  # IANA name or a UTC offset like "+03:00": how the person who set it reads it

    @property
    def utc(self) -> str:
        return iso(self.at)


def parse_deadline(value: Any, timezone: Any, *, now: datetime) -> Deadline | None:
    """A deadline from the API: ISO 8601 with an offset, or a local time with an IANA `timezone`. Past is refused."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise Refused("invalid_deadline", "deadline must be an ISO 8601 date and time", "deadline")
    zone: ZoneInfo | None = None
    if timezone not in (None, ""):
        if not isinstance(timezone, str) or len(timezone) > 64 or ".." in timezone:
            raise Refused("invalid_timezone", "timezone must be an IANA name such as Europe/Moscow", "timezone")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise Refused("invalid_timezone", f"unknown time zone {timezone!r}", "timezone") from err
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise Refused("invalid_deadline", "deadline must be an ISO 8601 date and time", "deadline") from err
    if at.tzinfo is None:
        if zone is None:
            raise Refused("invalid_deadline", "deadline needs a time zone: an offset (+03:00) or `timezone`",
                          "deadline")
        at = at.replace(tzinfo=zone)
    if at <= now:
        raise Refused("deadline_in_past", "the deadline is in the past", "deadline")
    label = timezone if isinstance(timezone, str) and timezone else _offset_label(at)
    return Deadline(at, label)


def _offset_label(at: datetime) -> str:
    offset = at.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def is_overdue(status: str, deadline_utc: str | None, now: datetime) -> bool:
    """Current work whose deadline has passed (strictly: at the deadline itself it is due, not yet overdue)."""
    return bool(deadline_utc) and status in OPEN_STATUSES and parse_time(deadline_utc or "") < now


def reminder_due(deadline_utc: str | None, remind_minutes: int | None) -> datetime | None:
    """When to remind before the deadline (the lead time), or None without a deadline or a lead time."""
    if not deadline_utc or not remind_minutes:
        return None
    return parse_time(deadline_utc) - timedelta(minutes=int(remind_minutes))


REMINDER, DUE = "task_due_soon", "task_due"


def timer_plan(status: str, deadline_utc: str | None, remind_minutes: int | None, now: datetime
               ) -> dict[str, datetime | None]:
    """The timers a task should have: kind -> due time (None: no such timer). A finished task has none; a reminder
    whose time has passed when the deadline is set is skipped (the due notice still comes)."""
    if status not in OPEN_STATUSES or not deadline_utc:
        return {REMINDER: None, DUE: None}
    early = reminder_due(deadline_utc, remind_minutes)
    return {REMINDER: early if early is not None and early > now else None, DUE: parse_time(deadline_utc)}


# --- list indexes: what each list's query sorts by ----------------------------------------------------------


def padded(number: int) -> str:
    return f"{number:0{NUMBER_WIDTH}d}"


def index_sk(status: str, deadline_utc: str | None, number: int) -> str:
    """Sort key of a task in its list partitions. Current work sorts by deadline (the overdue list is the range
    before now); finished work by number, that is by creation (read newest first)."""
    if bucket(status) == OPEN:
        return f"D#{deadline_utc or NO_DEADLINE}#{padded(number)}"
    return f"C#{padded(number)}"


def overdue_before(now: datetime) -> str:
    """Upper bound of the overdue range in an open partition: every key with a deadline before now."""
    return f"D#{iso(now)}"


def native_sort(view: str) -> str:
    """The order a list's index gives without sorting in memory."""
    return "created" if view == "done" else "deadline"


@dataclass(frozen=True)
class Facts:
    """What a list sorts by."""

    number: int
    status: str
    deadline_utc: str | None
    assignee_name: str  # "" when unassigned


STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}


def sort_key(facts: Facts, sort: str) -> list[Any]:
    """Ascending key of a task in a list sorted by `sort`; ties are broken by number, so every order is total.

    created: newest first; deadline: soonest first, none last; status: open, in progress, waiting, done,
    cancelled, then by deadline; assignee: by name, unassigned last.
    """
    if sort == "created":
        return [-facts.number]
    deadline = facts.deadline_utc or NO_DEADLINE
    if sort == "deadline":
        return [deadline, facts.number]
    if sort == "status":
        return [STATUS_ORDER.get(facts.status, len(STATUSES)), deadline, facts.number]
    if sort == "assignee":
        name = facts.assignee_name.casefold()
        return [0 if name else 1, name, facts.number]
    raise Refused("invalid_sort", f"sort must be one of {', '.join(SORTS)}", "sort")


CURSOR_SHAPES: dict[str, tuple[type, ...]] = {
    "created": (int,), "deadline": (str, int), "status": (int, str, int), "assignee": (int, str, int),
}


def valid_cursor(cursor: Any, sort: str) -> bool:
    """Does a cursor from a client have the shape of this sort's keys (so comparing it cannot fail)?"""
    shape = CURSOR_SHAPES.get(sort)
    return (shape is not None and isinstance(cursor, list) and len(cursor) == len(shape)
            and all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(cursor, shape, strict=True)))


def page_after(items: Iterable[tuple[list[Any], Any]], cursor: list[Any] | None, limit: int
               ) -> tuple[list[Any], list[Any] | None]:
    """A page of (key, item) pairs in key order after `cursor` (the last key of the page before): a task added or
    edited meanwhile never makes the next page repeat or skip the ones that did not change."""
    ordered = sorted(items, key=lambda pair: pair[0])
    if cursor is not None:
        ordered = [p for p in ordered if p[0] > cursor]
    page = ordered[:limit]
    more = len(ordered) > limit
    return [item for _, item in page], (page[-1][0] if more and page else None)


def cursor_to_sk(view: str, cursor: list[Any]) -> str:
    """A native list's cursor (its sort key) as the index key of that task."""
    if view == "done":
        return f"C#{padded(-int(cursor[0]))}"
    return f"D#{cursor[0]}#{padded(int(cursor[1]))}"


# --- history: who changed what ------------------------------------------------------------------------------

TRACKED = ("title", "description", "status", "priority", "deadline", "timezone", "remind_minutes", "assignee_id",
           "watchers", "tags", "team_id", "links")


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tracked fields that differ, with the value before and after (for the history and the action log)."""
    found = []
    for name in TRACKED:
        if name in after and before.get(name) != after.get(name):
            found.append({"field": name, "before": before.get(name), "after": after.get(name)})
    return found


TAG = re.compile(r"^[^\s,][^,]*$")


def clean_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise Refused("invalid_tags", f"tags must be a list of at most {MAX_TAGS}", "tags")
    out: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG or not TAG.match(tag.strip()):
            raise Refused("invalid_tags", f"each tag is 1..{MAX_TAG} characters without commas", "tags")
        if tag.strip() not in out:
            out.append(tag.strip())
    return out


def clean_title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refused("invalid_title", "title is required", "title")
    if len(value) > MAX_TITLE:
        raise Refused("invalid_title", f"title must be at most {MAX_TITLE} characters (got {len(value)})", "title")
    return " ".join(value.split())


def clean_text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused(f"invalid_{name}", f"{name} must be text", name)
    if len(value) > limit:
        raise Refused(f"invalid_{name}", f"{name} must be at most {limit} characters (got {len(value)})", name)
    return value


def clean_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Refused(f"invalid_{name}", f"{name} must be one of {', '.join(allowed)}", name)
    return str(value)


def clean_remind(value: Any) -> int:
    if value is None:
        return DEFAULT_REMIND_MINUTES
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REMIND_MINUTES:
        raise Refused("invalid_remind_minutes", f"remind_minutes must be 0..{MAX_REMIND_MINUTES} (0: no early "
                      "reminder)", "remind_minutes")
    return value


def done_message(team_name: str) -> str:
    """What the operator who escalated sees when the other team finishes (F4)."""
    return f"{team_name} fixed it: tell the customer"


# Notification titles by text key and language (params: number, title, team), as domain/notifications.TITLES has
# them for the other kinds; the console's dictionaries hold the same keys (ntitle_<key>).
NOTIFICATION_TITLES: dict[str, dict[str, str]] = {
    "task_assigned": {"en": "#{number} {title}: assigned to you", "ru": "№{number} {title}: назначена вам"},
    "task_comment": {"en": "#{number} {title}: a new comment", "ru": "№{number} {title}: новый комментарий"},
    "task_due_soon": {"en": "#{number} {title}: due soon", "ru": "№{number} {title}: скоро срок"},
    "task_due": {"en": "#{number} {title}: due now", "ru": "№{number} {title}: срок наступил"},
    "task_escalated": {"en": "#{number} {title}: escalated to {team}",
                       "ru": "№{number} {title}: передана команде «{team}»"},
    "task_done": {"en": "#{number} {title}: done", "ru": "№{number} {title}: выполнена"},
    "task_fixed": {"en": "{team} fixed it: tell the customer", "ru": "{team}: готово, сообщите клиенту"},
}
