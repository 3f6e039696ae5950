"""Tasks (FEATURES F1-F4): internal tickets with numbers, deadlines, reminders, lists and escalation to a team.

Use cases for the API (create, change, comment, escalate, delete, lists, a conversation's tasks, teams) and the
stream's side of a change (`on_change`: timers, notifications, live pushes). Rules are in domain/tasks.py; every
DynamoDB call in store/tasks.py. Each change writes its timeline line and its action-log entry in the same
transaction as the task, so history and log hold exactly what happened.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalicelib.auth.keys import Principal
from chalicelib.domain import notifications as notification_rules
from chalicelib.domain import tasks as rules
from chalicelib.domain.model import iso, new_id, parse_iso
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.observability import logger
from chalicelib.services import notifications, timers
from chalicelib.services.deps import Deps
from chalicelib.store import keys, repo, team
from chalicelib.store import tasks as store
from chalicelib.store.models import (
    AuditItem,
    MainItem,
    TaskEventItem,
    TaskItem,
    TaskLinkItem,
    TaskTeamItem,
    TimerItem,
    plain,
)

CREATE_ATTEMPTS = 400  # 100 creates racing for one counter: each round one wins, the others learn the number
DONE_SORT_CAP = 1000  # a finished list sorted other than by creation sorts the newest 1,000 finished tasks
MAX_LIMIT = 100
TIMER_KINDS = {rules.REMINDER: "task-reminder", rules.DUE: "task-due"}

_last_known: dict[str, int] = {}  # workspace -> the counter as this process last saw it (saves a read per create)
# A warm Lambda serves one request at a time; the embedded runner serves many threads in one process, and those
# queue here instead of racing each other at DynamoDB. Across processes the counter's condition decides.
SERIALIZE = True
_create_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _one_create_at_a_time(ws: str) -> Iterator[None]:
    if not SERIALIZE:
        yield
        return
    with _locks_guard:
        lock = _create_locks.setdefault(ws, threading.Lock())
    with lock:
        yield


def _refused(err: rules.Refused) -> InvalidInput:
    return InvalidInput(err.message, code=err.code, details={"field": err.field} if err.field else None)


def _user(subject: str | None) -> str | None:
    """The user id of an actor ("user:<id>"); API keys and the system are nobody to notify."""
    return subject.removeprefix("user:") if subject and subject.startswith("user:") else None


# --- notifications: the one door to the notification service (services/notifications.py) -----------------------


for _text_key, _texts in rules.NOTIFICATION_TITLES.items():  # the titles in each reader's language
    notification_rules.TITLES.setdefault(_text_key, _texts)


def _notify(d: Deps, ws: str, user_ids: Iterable[str | None], kind: str, *, title: str, body: str = "",
            link: dict[str, str] | None = None, key: str, actor: str | None = None, task: TaskItem,
            text_key: str | None = None, team: str = "") -> int:
    params = {"number": str(int(task.number)), "title": task.title, "team": team}
    return notifications.notify(d, ws, [u for u in user_ids if u], kind, title=title, body=body, link=link,
                                key=key, actor=actor, text_key=text_key or kind, params=params)


# --- input ---------------------------------------------------------------------------------------------------


def _member(ws: str, user_id: Any, field: str) -> str:
    if not isinstance(user_id, str) or not user_id or len(user_id) > 100 or team.get_member(ws, user_id) is None:
        raise InvalidInput(f"{field}: {user_id!r} is not a member of this workspace", code="unknown_assignee"
                           if field == "assignee_id" else "unknown_member", details={"field": field})
    return user_id


def _watchers(ws: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > rules.MAX_WATCHERS:
        raise InvalidInput(f"watchers must be a list of at most {rules.MAX_WATCHERS} member ids",
                           code="invalid_watchers", details={"field": "watchers"})
    return [_member(ws, u, "watchers") for u in dict.fromkeys(value)]


def _links(ws: str, value: Any) -> list[dict[str, Any]]:
    """Conversation (and message) links: each must exist in this workspace; a message link quotes the message."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > rules.MAX_LINKS:
        raise InvalidInput(f"links must be a list of at most {rules.MAX_LINKS}", code="invalid_links",
                           details={"field": "links"})
    out: list[dict[str, Any]] = []
    for link in value:
        conv_id = link.get("conversation_id") if isinstance(link, dict) else None
        msg_id = link.get("message_id") if isinstance(link, dict) else None
        if not isinstance(conv_id, str) or not conv_id or len(conv_id) > 100 \
                or repo.get_conversation(ws, conv_id) is None:
            raise InvalidInput(f"conversation {conv_id!r} not found in this workspace", code="unknown_conversation",
                               details={"field": "links"})
        entry: dict[str, Any] = {"conversation_id": conv_id}
        if msg_id is not None:
            message = repo.get_message(ws, conv_id, msg_id) if isinstance(msg_id, str) and len(msg_id) <= 100 \
                else None
            if message is None:
                raise InvalidInput(f"message {msg_id!r} not found in conversation {conv_id}", code="unknown_message",
                                   details={"field": "links"})
            entry["message_id"] = msg_id
            entry["quote"] = (message.text or "")[: rules.MAX_QUOTE]
        if not any(e["conversation_id"] == conv_id and e.get("message_id") == entry.get("message_id") for e in out):
            out.append(entry)
    return out


def _team(ws: str, team_id: Any) -> TaskTeamItem | None:
    if team_id is None or team_id == "":
        return None
    found = store.get_team(ws, team_id) if isinstance(team_id, str) else None
    if found is None:
        raise InvalidInput(f"team {team_id!r} not found", code="unknown_team", details={"field": "team_id"})
    return found


def _fields(d: Deps, ws: str, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The body's task fields, validated (every check before anything is written)."""
    now = d.now()
    out: dict[str, Any] = {}
    try:
        if creating or "title" in body:
            out["title"] = rules.clean_title(body.get("title"))
        if "description" in body:
            out["description"] = rules.clean_text(body["description"], "description", rules.MAX_DESCRIPTION)
        if "status" in body:
            out["status"] = rules.clean_choice(body["status"], "status", rules.STATUSES)
        if "priority" in body:
            out["priority"] = rules.clean_choice(body["priority"], "priority", rules.PRIORITIES)
        if "deadline" in body or "timezone" in body:
            deadline = rules.parse_deadline(body.get("deadline"), body.get("timezone"), now=now)
            out["deadline"] = deadline.utc if deadline else None
            out["timezone"] = deadline.timezone if deadline else None
        if "remind_minutes" in body:
            out["remind_minutes"] = rules.clean_remind(body["remind_minutes"])
        if "tags" in body:
            out["tags"] = rules.clean_tags(body["tags"])
    except rules.Refused as err:
        raise _refused(err) from err
    if "assignee_id" in body:
        out["assignee_id"] = _member(ws, body["assignee_id"], "assignee_id") if body["assignee_id"] else None
    if "watchers" in body:
        out["watchers"] = _watchers(ws, body["watchers"])
    if "team_id" in body:
        found = _team(ws, body["team_id"])
        out["team_id"] = found.team_id if found else None
    if "links" in body:
        out["links"] = _links(ws, body["links"])
    unknown = set(body) - {"title", "description", "status", "priority", "deadline", "timezone", "remind_minutes",
                           "tags", "assignee_id", "watchers", "team_id", "links", "revision"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}", code="unknown_field")
    return out


def _view(task: TaskItem) -> dict[str, Any]:
    """The tracked fields of a task, as compared for its history."""
    return {"title": task.title, "description": task.description or "", "status": task.status,
            "priority": task.priority, "deadline": task.deadline, "timezone": task.timezone,
            "remind_minutes": int(task.remind_minutes or 0), "assignee_id": task.assignee_id,
            "watchers": list(task.watchers or []), "tags": list(task.tags or []), "team_id": task.team_id,
            "links": list(task.links or [])}


def _apply(task: TaskItem, fields: dict[str, Any], *, actor: str, at: str) -> None:
    for name, value in fields.items():
        setattr(task, name, value)
    if "status" in fields:
        if task.status == "done" and not task.done_at:
            task.done_at, task.done_by = at, actor
        elif task.status != "done":
            task.done_at = task.done_by = None
    _index(task)


def _index(task: TaskItem) -> None:
    ws, number = task.workspace_id or "", int(task.number)
    sk = rules.index_sk(task.status, task.deadline, number)
    attrs = store.index_attrs(ws, status_bucket=rules.bucket(task.status), sort_key=sk,
                              assignee_id=task.assignee_id, team_id=task.team_id)
    for name, value in attrs.items():
        setattr(task, name, value)


def _audit(task: TaskItem, action: str, *, actor: str, at: str, before: Any = None, after: Any = None,
           note: str = "", audit_id: str | None = None) -> AuditItem:
    ws, links = task.workspace_id or "", list(task.links or [])
    conv = links[0]["conversation_id"] if links else None
    return team.new_audit(ws, audit_id or f"{action}#{task.task_id}#{int(task.revision)}", at=at, actor=actor,
                          action=action, target_type="task", target_id=task.task_id, conversation_id=conv,
                          before=before, after=after, note=note)


def _link_items(ws: str, task_id: str, links: list[dict[str, Any]]) -> dict[str, TaskLinkItem]:
    """One link item per linked conversation (several messages of one conversation share it)."""
    items: dict[str, TaskLinkItem] = {}
    for link in links:
        conv = link["conversation_id"]
        if conv not in items:
            items[conv] = store.new_link(ws, task_id, conv, link.get("message_id"))
    return items


# --- use cases -----------------------------------------------------------------------------------------------


def create_task(d: Deps, principal: Principal, body: dict[str, Any]) -> TaskItem:
    ws, actor = principal.workspace_id, principal.subject
    fields = _fields(d, ws, body, creating=True)
    with _one_create_at_a_time(ws):
        return _create(d, ws, actor, fields)


def _create(d: Deps, ws: str, actor: str, fields: dict[str, Any]) -> TaskItem:
    at = iso(d.now())
    last = _last_known.get(ws)
    if last is None:
        last = store.last_number(ws)
    for attempt in range(CREATE_ATTEMPTS):
        number = rules.next_number(last)
        task = store.new_task(ws, str(number), number=number, title=fields["title"], created_by=actor,
                              created_at=at, updated_at=at, updated_by=actor, revision=1, status="open",
                              priority="normal", remind_minutes=rules.DEFAULT_REMIND_MINUTES, watchers=[], tags=[],
                              links=[], description="")
        _apply(task, fields, actor=actor, at=at)
        extra: list[MainItem] = [
            store.new_event(ws, task.task_id, at=at, kind="created", actor=actor, revision=1, suffix="r000001",
                            changes=rules.changes({}, _view(task))),
            _audit(task, "task.create", actor=actor, at=at, after=_view(task)),
            *_link_items(ws, task.task_id, list(task.links or [])).values(),
        ]
        try:
            store.create_task(task, extra)
        except (store.NumberTaken, store.Contended) as lost:  # another process took it: back off, learn, retry
            d.sleep(random.uniform(0, min(0.25, 0.004 * 2 ** min(attempt, 8))))
            known = lost.last if isinstance(lost, store.NumberTaken) else None
            last = known if known is not None else store.last_number(ws)
            continue
        _last_known[ws] = number
        logger.info("task created", extra={"workspace_id": ws, "task_id": task.task_id})
        return task
    raise Conflict("too many tasks were created at once; try again", code="busy")


def require_task(ws: str, task_id: str) -> TaskItem:
    found = store.get_task(ws, task_id)
    if found is None:
        raise NotFound(f"task {task_id} not found")
    return found


def _save(d: Deps, principal: Principal, task_id: str, change: Any, *, expected: int | None = None,
          kind: str = "changed", action: str = "task.change", text: str = "", retries: int = 5) -> TaskItem:
    """Read, apply `change(task, at)` (which returns the fields it set), write under the revision read."""
    ws, actor = principal.workspace_id, principal.subject
    for _ in range(retries):
        task = require_task(ws, task_id)
        if expected is not None and int(task.revision) != expected:
            raise Conflict("the task changed meanwhile: reload it", code="stale",
                           details={"revision": int(task.revision)})
        before, read_revision = _view(task), int(task.revision)
        old_links = _link_items(ws, task_id, before["links"])
        at = iso(d.now())
        fields = change(task, at)
        after = _view(task)
        diff = rules.changes(before, after)
        if not diff and kind == "changed":
            return task
        task.revision = read_revision + 1
        task.updated_at, task.updated_by = at, actor
        _apply(task, fields, actor=actor, at=at)
        new_links = _link_items(ws, task_id, after["links"])
        added = [item for conv, item in new_links.items() if conv not in old_links]
        removed = [item for conv, item in old_links.items() if conv not in new_links]
        event = store.new_event(ws, task_id, at=at, kind=kind, actor=actor, revision=int(task.revision),
                                suffix=f"r{int(task.revision):06d}", changes=diff, text=text)
        entry = _audit(task, action, actor=actor, at=at, before={c["field"]: c["before"] for c in diff},
                       after={c["field"]: c["after"] for c in diff}, note=text)
        try:
            store.save_task(task, read_revision, [event, entry, *added], removed)
            return task
        except store.Stale:
            if expected is not None:
                raise Conflict("the task changed meanwhile: reload it", code="stale") from None
        except store.Contended:
            d.sleep(random.uniform(0.005, 0.05))
    raise Conflict("the task kept changing; try again", code="busy")


def update_task(d: Deps, principal: Principal, task_id: str, body: dict[str, Any]) -> TaskItem:
    ws = principal.workspace_id
    require_task(ws, task_id)  # another workspace's id is simply not found, before any validation
    fields = _fields(d, ws, body, creating=False)
    expected = body.get("revision")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise InvalidInput("revision must be the integer the task was read at", details={"field": "revision"})

    def change(task: TaskItem, at: str) -> dict[str, Any]:
        for name, value in fields.items():
            setattr(task, name, value)
        return fields

    return _save(d, principal, task_id, change, expected=expected)


def escalate_task(d: Deps, principal: Principal, task_id: str, body: dict[str, Any]) -> TaskItem:
    """Hand a task to another team's queue with a note (F4); the conversation links stay, the assignee is cleared
    (or set to one of that team), and whoever escalated first is told when it is done."""
    ws = principal.workspace_id
    require_task(ws, task_id)
    target = _team(ws, body.get("team_id"))
    if target is None:
        raise InvalidInput("team_id is required", code="unknown_team", details={"field": "team_id"})
    try:
        note = rules.clean_text(body.get("note"), "note", rules.MAX_NOTE).strip()
    except rules.Refused as err:
        raise _refused(err) from err
    assignee = _member(ws, body["assignee_id"], "assignee_id") if body.get("assignee_id") else None

    def change(task: TaskItem, at: str) -> dict[str, Any]:
        if task.status in rules.CLOSED_STATUSES:
            raise Conflict("a finished task cannot be escalated: reopen it first", code="task_finished")
        if task.team_id == target.team_id:
            raise Conflict(f"the task is already in {target.name}'s queue", code="same_team")
        fields = {"team_id": target.team_id, "assignee_id": assignee,
                  "status": "open" if task.status == "waiting" else task.status}
        task.escalation = {"from_team": task.team_id, "to_team": target.team_id, "to_team_name": target.name,
                           "by": principal.subject, "at": at, "note": note}
        task.escalated_by = task.escalated_by or principal.subject
        for name, value in fields.items():
            setattr(task, name, value)
        return fields

    return _save(d, principal, task_id, change, kind="escalated", action="task.escalate", text=note)


def comment_task(d: Deps, principal: Principal, task_id: str, body: dict[str, Any]) -> TaskEventItem:
    ws = principal.workspace_id
    task = require_task(ws, task_id)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is required", code="invalid_text", details={"field": "text"})
    if len(text) > rules.MAX_COMMENT:
        raise InvalidInput(f"text must be at most {rules.MAX_COMMENT} characters", code="invalid_text",
                           details={"field": "text"})
    at = iso(d.now())
    event = store.new_event(ws, task_id, at=at, kind="comment", actor=principal.subject, revision=int(task.revision),
                            suffix=new_id("c", d.now()), text=text.strip())
    entry = _audit(task, "task.comment", actor=principal.subject, at=at, after={"text": text.strip()[:500]},
                   audit_id=f"task.comment#{task_id}#{event.sk.rsplit('#', 1)[1]}")
    store.put_event(event, task, entry)
    return event


def delete_task(d: Deps, principal: Principal, task_id: str) -> None:
    ws = principal.workspace_id
    task = require_task(ws, task_id)
    links = list(_link_items(ws, task_id, list(task.links or [])).values())
    at = iso(d.now())
    try:
        store.delete_task(task, links, _audit(task, "task.delete", actor=principal.subject, at=at,
                                              before=_view(task)))
    except store.Stale as err:
        raise Conflict("the task changed meanwhile: reload it", code="stale") from err
    for prefix in TIMER_KINDS.values():
        repo.delete_timer(ws, f"{prefix}#{task_id}")
    store.delete_timeline(ws, task_id)


# --- lists (F3) ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    view: str = "current"
    scope: str = "all"
    team_id: str | None = None
    assignee: str | None = None
    sort: str | None = None
    limit: int = 25
    cursor: list[Any] | None = None


@dataclass(frozen=True)
class TaskPage:
    items: list[TaskItem]
    cursor: list[Any] | None
    sort: str
    team_id: str | None = None


def _partition(principal: Principal, q: ListQuery) -> tuple[store.Partition, str | None]:
    ws = principal.workspace_id
    bucket = rules.CLOSED if q.view == "done" else rules.OPEN
    if q.assignee or q.scope == "mine":
        who = q.assignee or principal.user_id
        if not who:
            raise InvalidInput("scope=mine needs a signed-in user (API keys have no tasks of their own); or pass "
                               "assignee", code="user_required")
        return store.Partition("gsi2", keys.tasks_of_assignee(ws, who, bucket)), None
    if q.scope == "team":
        team_id = q.team_id
        if not team_id:
            mine = [t for t in store.list_teams(ws) if principal.user_id and principal.user_id in (t.member_ids or [])]
            if not mine:
                raise InvalidInput("you are in no team: pass team", code="no_team", details={"field": "team"})
            team_id = sorted(mine, key=lambda t: (t.name.casefold(), t.team_id))[0].team_id
        elif store.get_team(ws, team_id) is None:
            raise InvalidInput(f"team {team_id!r} not found", code="unknown_team", details={"field": "team"})
        return store.Partition("gsi3", keys.tasks_of_team(ws, team_id, bucket)), team_id
    return store.Partition("gsi1", keys.tasks_all(ws, bucket)), None


def list_tasks(d: Deps, principal: Principal, q: ListQuery) -> TaskPage:
    """One Query of the list's partition. The list's own order (deadline for current work, creation for finished
    work) pages on the index from the cursor's key; other orders sort the partition's range in memory (current
    work is bounded; finished work: the newest DONE_SORT_CAP). Either way the cursor is the last row's sort key,
    so tasks that change meanwhile never make a page repeat or skip the others."""
    for name, value, allowed in (("view", q.view, rules.VIEWS), ("scope", q.scope, rules.SCOPES)):
        if value not in allowed:
            raise InvalidInput(f"{name} must be one of {', '.join(allowed)}", code=f"invalid_{name}")
    sort = q.sort or rules.native_sort(q.view)
    if sort not in rules.SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(rules.SORTS)}", code="invalid_sort")
    part, team_id = _partition(principal, q)
    now = d.now()
    high = rules.overdue_before(now) if q.view == "overdue" else None
    if sort == rules.native_sort(q.view):
        after = rules.cursor_to_sk(q.view, q.cursor) + " " if q.cursor else None
        if q.view == "done":
            found = list(store.query_partition(part, below=after.strip() if after else None, forward=False,
                                               limit=q.limit + 1))
        elif high is not None:
            found = list(store.query_partition(part, low=after, high=high, limit=q.limit + 1) if after
                         else store.query_partition(part, below=high, limit=q.limit + 1))
        else:
            found = list(store.query_partition(part, low=after, limit=q.limit + 1))
        page = found[: q.limit]
        more = len(found) > q.limit
        return TaskPage(page, rules.sort_key(_facts(page[-1], {}), sort) if more and page else None, sort, team_id)
    if q.view == "done":
        rows = list(store.query_partition(part, forward=False, limit=DONE_SORT_CAP))
    elif high is not None:
        rows = list(store.query_partition(part, below=high))
    else:
        rows = list(store.query_partition(part))
    names = _member_names(principal.workspace_id) if sort == "assignee" else {}
    items, cursor = rules.page_after([(rules.sort_key(_facts(t, names), sort), t) for t in rows], q.cursor, q.limit)
    return TaskPage(items, cursor, sort, team_id)


def _member_names(ws: str) -> dict[str, str]:
    return {m.user_id: m.name or m.email for m in team.list_members(ws)}


def _facts(task: TaskItem, names: dict[str, str]) -> rules.Facts:
    name = (names.get(task.assignee_id, task.assignee_id) or "") if task.assignee_id else ""
    return rules.Facts(int(task.number), task.status, task.deadline, name)


def my_overdue_count(d: Deps, principal: Principal) -> int:
    if not principal.user_id:
        return 0
    part = store.Partition("gsi2", keys.tasks_of_assignee(principal.workspace_id, principal.user_id, rules.OPEN))
    return store.count_partition(part, high=rules.overdue_before(d.now()))


def tasks_of_conversation(ws: str, conv_id: str) -> list[TaskItem]:
    repo.require_conversation(ws, conv_id)
    links = store.links_of_conversation(ws, conv_id)
    return sorted(store.tasks_by_id(ws, [link.task_id for link in links]), key=lambda t: -int(t.number))


# --- teams ---------------------------------------------------------------------------------------------------

MAX_TEAM_NAME = 60
MAX_TEAMS = 50


def _team_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_TEAM_NAME:
        raise InvalidInput(f"name is 1..{MAX_TEAM_NAME} characters", code="invalid_name", details={"field": "name"})
    return " ".join(value.split())


def _team_members(ws: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 200:
        raise InvalidInput("member_ids must be a list of member ids", code="invalid_members",
                           details={"field": "member_ids"})
    return [_member(ws, u, "member_ids") for u in dict.fromkeys(value)]


def _unique_name(ws: str, name: str, team_id: str | None) -> None:
    teams = store.list_teams(ws)
    if any(t.name.casefold() == name.casefold() and t.team_id != team_id for t in teams):
        raise Conflict(f"a team called {name} exists", code="team_exists", details={"field": "name"})
    if team_id is None and len(teams) >= MAX_TEAMS:
        raise Conflict(f"at most {MAX_TEAMS} teams", code="too_many_teams")


def create_team(d: Deps, principal: Principal, body: dict[str, Any]) -> TaskTeamItem:
    ws, now = principal.workspace_id, d.now()
    name = _team_name(body.get("name"))
    members = _team_members(ws, body.get("member_ids"))
    _unique_name(ws, name, None)
    item = store.new_team(ws, new_id("tm_", now), name=name, member_ids=members, created_at=iso(now),
                          updated_at=iso(now))
    entry = team.new_audit(ws, f"task_team.create#{item.team_id}", at=iso(now), actor=principal.subject,
                           action="task_team.create", target_type="team", target_id=item.team_id,
                           after={"name": name, "member_ids": members})
    store.put_team(item, entry, new=True)
    return item


def update_team(d: Deps, principal: Principal, team_id: str, body: dict[str, Any]) -> TaskTeamItem:
    ws, now = principal.workspace_id, d.now()
    item = store.get_team(ws, team_id)
    if item is None:
        raise NotFound(f"team {team_id} not found")
    before = {"name": item.name, "member_ids": list(item.member_ids or [])}
    if "name" in body:
        item.name = _team_name(body["name"])
        _unique_name(ws, item.name, team_id)
    if "member_ids" in body:
        item.member_ids = _team_members(ws, body["member_ids"])
    item.updated_at = iso(now)
    entry = team.new_audit(ws, new_id("task_team.change#", now), at=iso(now), actor=principal.subject,
                           action="task_team.change", target_type="team", target_id=team_id, before=before,
                           after={"name": item.name, "member_ids": list(item.member_ids or [])})
    if not store.put_team(item, entry, new=False):
        raise NotFound(f"team {team_id} not found")
    return item


def delete_team(d: Deps, principal: Principal, team_id: str) -> None:
    ws, now = principal.workspace_id, d.now()
    item = store.get_team(ws, team_id)
    if item is None:
        raise NotFound(f"team {team_id} not found")
    if store.any_in_team(ws, team_id, rules.OPEN):
        raise Conflict(f"{item.name} still has open tasks: move or finish them first", code="team_in_use")
    entry = team.new_audit(ws, new_id("task_team.delete#", now), at=iso(now), actor=principal.subject,
                           action="task_team.delete", target_type="team", target_id=team_id,
                           before={"name": item.name})
    if not store.delete_team(item, entry):
        raise NotFound(f"team {team_id} not found")


def ensure_teams(d: Deps, ws: str, names: Iterable[str], *, created_by: str) -> int:
    """Create these teams only if the workspace has none yet (idempotent: the demo seed runs on every start)."""
    if store.list_teams(ws):
        return 0
    made = 0
    for name in names:
        now = d.now()
        item = store.new_team(ws, new_id("tm_", now), name=name, member_ids=[], created_at=iso(now),
                              updated_at=iso(now))
        entry = team.new_audit(ws, f"task_team.create#{item.team_id}", at=iso(now), actor=created_by,
                               action="task_team.create", target_type="team", target_id=item.team_id,
                               after={"name": name, "member_ids": []})
        made += int(store.put_team(item, entry, new=True))
    return made


def team_json(t: TaskTeamItem) -> dict[str, Any]:
    return {"id": t.team_id, "name": t.name, "member_ids": list(t.member_ids or []), "created_at": t.created_at,
            "updated_at": t.updated_at}


# --- JSON ----------------------------------------------------------------------------------------------------


def task_json(t: TaskItem, now: Any = None) -> dict[str, Any]:
    escalation = dict(t.escalation) if t.escalation else None
    done_note = rules.done_message(escalation["to_team_name"]) if escalation and t.status == "done" else None
    return {
        "id": t.task_id, "number": int(t.number), "title": t.title, "description": t.description or "",
        "status": t.status, "priority": t.priority, "deadline": t.deadline, "timezone": t.timezone,
        "remind_minutes": int(t.remind_minutes or 0), "assignee_id": t.assignee_id,
        "watchers": list(t.watchers or []), "tags": list(t.tags or []), "team_id": t.team_id,
        "links": list(t.links or []), "escalation": escalation, "escalated_by": t.escalated_by,
        "created_by": t.created_by, "created_at": t.created_at, "updated_at": t.updated_at,
        "updated_by": t.updated_by, "done_at": t.done_at, "done_by": t.done_by,
        "comment_count": int(t.comment_count or 0), "revision": int(t.revision),
        "overdue": rules.is_overdue(t.status, t.deadline, now) if now is not None else False,
        "done_note": done_note,
    }


def event_json(e: TaskEventItem) -> dict[str, Any]:
    return {"id": e.sk.removeprefix("EVENT#"), "kind": e.kind, "actor": e.actor, "at": e.at,
            "changes": list(e.changes or []), "text": e.text or "", "revision": int(e.revision or 0)}


def detail_json(d: Deps, ws: str, t: TaskItem) -> dict[str, Any]:
    conversations = []
    for conv_id in dict.fromkeys(link["conversation_id"] for link in (t.links or [])):
        conv = repo.get_conversation(ws, conv_id)
        if conv is not None:
            conversations.append({"id": conv.conversation_id, "contact_name": conv.contact_name,
                                  "channel_kind": conv.channel_kind, "status": conv.status, "title": conv.title})
    return {**task_json(t, d.now()), "timeline": [event_json(e) for e in store.timeline(ws, t.task_id)],
            "conversations": conversations}


# --- the stream's side: timers, notifications, live pushes ---------------------------------------------------


def on_change(d: Deps, event_name: str, new: MainItem, old: MainItem | None) -> None:
    """Called by services/changes.py for task items and their timeline lines; every effect is idempotent."""
    if isinstance(new, TaskItem):
        previous = old if isinstance(old, TaskItem) else None
        sync_timers(d, new, previous)
        _notify_change(d, new, previous)
        if d.settings.websocket_endpoint:
            d.live.broadcast(new.workspace_id or "", {"type": "task.updated", "task": task_json(new, d.now())})
    elif isinstance(new, TaskEventItem) and event_name == "INSERT" and new.kind == "comment":
        task = store.get_task(new.workspace_id or "", new.task_id)
        if task is not None:
            _notify(d, new.workspace_id or "", [task.assignee_id, *(task.watchers or []), _user(task.created_by)],
                    "task_comment", title=f"#{int(task.number)} {task.title}: a new comment", body=new.text[:500],
                    link={"task_id": task.task_id}, key=f"task_comment#{task.task_id}#{new.sk}", actor=new.actor,
                    task=task)


def _timer_facts(t: TaskItem | None) -> tuple[Any, ...] | None:
    return None if t is None else (rules.bucket(t.status), t.deadline, int(t.remind_minutes or 0))


def sync_timers(d: Deps, task: TaskItem, old: TaskItem | None) -> None:
    """The task's reminder and due timers follow its deadline, lead time and status (put moves a timer)."""
    if old is not None and _timer_facts(old) == _timer_facts(task):
        return
    ws = task.workspace_id or ""
    plan = rules.timer_plan(task.status, task.deadline, int(task.remind_minutes or 0), d.now())
    for kind, due in plan.items():
        timer_id = f"{TIMER_KINDS[kind]}#{task.task_id}"
        if due is None:
            repo.delete_timer(ws, timer_id)
        else:
            repo.put_timer(ws, timer_id, kind, iso(due), {"task_id": task.task_id, "deadline": task.deadline or ""},
                           now=d.now())


def _notify_change(d: Deps, new: TaskItem, old: TaskItem | None) -> None:
    ws, rev, tid = new.workspace_id or "", int(new.revision), new.task_id
    actor = new.updated_by or new.created_by
    label = f"#{int(new.number)} {new.title}"
    if new.assignee_id and (old is None or old.assignee_id != new.assignee_id):
        _notify(d, ws, [new.assignee_id], "task_assigned", title=f"{label}: assigned to you",
                link={"task_id": tid}, key=f"task_assigned#{tid}#{rev}", actor=actor, task=new)
    escalation = dict(new.escalation) if new.escalation else None
    was = dict(old.escalation) if old is not None and old.escalation else None
    if escalation and (was is None or was.get("at") != escalation.get("at")):
        target = store.get_team(ws, escalation["to_team"])
        _notify(d, ws, list(target.member_ids or []) if target else [], "task_escalated",
                title=f"{label}: escalated to {escalation.get('to_team_name', '')}", body=escalation.get("note", ""),
                link={"task_id": tid}, key=f"task_escalated#{tid}#{rev}", actor=escalation.get("by"), task=new,
                team=str(escalation.get("to_team_name", "")))
    if new.status == "done" and (old is None or old.status != "done"):
        links = list(new.links or [])
        link = {"task_id": tid, **({"conversation_id": links[0]["conversation_id"]} if links else {})}
        title = rules.done_message(escalation["to_team_name"]) if escalation else f"{label}: done"
        _notify(d, ws, [_user(new.escalated_by), _user(new.created_by), *(new.watchers or [])], "task_done",
                title=title, body=label, link=link, key=f"task_done#{tid}#{rev}", actor=new.done_by, task=new,
                text_key="task_fixed" if escalation else None,
                team=str(escalation.get("to_team_name", "")) if escalation else "")


def _on_timer(d: Deps, timer: TimerItem) -> None:
    """A reminder or due timer fired: tell the assignee and watchers (the creator when nobody is assigned), once
    per task and deadline whatever the schedule repeats. A moved deadline has moved the timer; a finished task
    has none left, and the check here covers a timer that raced either."""
    target = plain(timer.target)
    ws, task_id = timer.workspace_id or "", str(target.get("task_id", ""))
    task = store.get_task(ws, task_id)
    if task is None or task.status not in rules.OPEN_STATUSES or task.deadline != target.get("deadline"):
        return
    kind = timer.kind
    people: list[str | None] = [task.assignee_id, *(task.watchers or [])]
    if not any(people):
        people = [_user(task.created_by)]
    when = parse_iso(task.deadline or "")
    title = f"#{int(task.number)} {task.title}: " + ("due soon" if kind == rules.REMINDER else "due now")
    _notify(d, ws, people, kind, title=title, body=f"deadline {iso(when)}", link={"task_id": task_id},
            key=f"{kind}#{task_id}#{task.deadline}", task=task)


timers.register(rules.REMINDER)(_on_timer)
timers.register(rules.DUE)(_on_timer)
