"""Repository functions of tasks (F1-F4): every DynamoDB call about tasks, their timelines, links and teams.

A task is created in one transaction with the workspace's counter (a conditional update from the number read to
the next one), its first timeline line, its action-log entry and its conversation links: a number is used exactly
when its task exists, so numbers are gapless and unique whatever runs in parallel. A change is one transaction too,
guarded by the revision read. Lists are Queries on the overloaded indexes (keys.tasks_*), never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store import keys
from chalicelib.store.base import cancel_codes, connection, transact_if, typed
from chalicelib.store.models import (
    AuditItem,
    MainItem,
    TaskCounterItem,
    TaskEventItem,
    TaskItem,
    TaskLinkItem,
    TaskTeamItem,
)


class NumberTaken(Exception):
    """Someone else took the number meanwhile; `last` is the counter as the failed transaction saw it."""

    def __init__(self, last: int | None) -> None:
        super().__init__(f"task number taken (counter at {last})")
        self.last = last


class Contended(Exception):
    """DynamoDB cancelled the transaction because another one touched the same items at that moment."""


class Stale(Exception):
    """The task changed since it was read (its revision moved on), or it is gone."""


def last_number(ws: str) -> int:
    pk, sk = keys.task_counter(ws)
    try:
        return int(TaskCounterItem.get(pk, sk, consistent_read=True).last_number or 0)
    except DoesNotExist:
        return 0


def index_attrs(ws: str, *, status_bucket: str, sort_key: str, assignee_id: str | None,
                team_id: str | None) -> dict[str, str]:
    return {
        "gsi1pk": keys.tasks_all(ws, status_bucket), "gsi1sk": sort_key,
        "gsi2pk": keys.tasks_of_assignee(ws, assignee_id, status_bucket), "gsi2sk": sort_key,
        "gsi3pk": keys.tasks_of_team(ws, team_id, status_bucket), "gsi3sk": sort_key,
    }


def new_task(ws: str, task_id: str, **attrs: Any) -> TaskItem:
    pk, sk = keys.task(ws, task_id)
    return typed(TaskItem, pk, sk, workspace_id=ws, task_id=task_id, **attrs)


def new_event(ws: str, task_id: str, *, at: str, kind: str, actor: str, revision: int, suffix: str,
              changes: list[dict[str, Any]] | None = None, text: str = "") -> TaskEventItem:
    pk, _ = keys.task(ws, task_id)
    return typed(TaskEventItem, pk, f"EVENT#{at}#{suffix}", workspace_id=ws, task_id=task_id, kind=kind,
                 actor=actor, at=at, changes=changes or [], text=text, revision=revision, created_at=at)


def new_link(ws: str, task_id: str, conversation_id: str, message_id: str | None) -> TaskLinkItem:
    pk, sk = keys.task_link(ws, conversation_id, task_id)
    return typed(TaskLinkItem, pk, sk, workspace_id=ws, task_id=task_id, conversation_id=conversation_id,
                 message_id=message_id)


def _raise_for(err: TransactWriteError, counter_index: int | None = None) -> None:
    codes = cancel_codes(err)
    if "TransactionConflict" in codes:
        raise Contended() from err
    if counter_index is not None and codes[counter_index] == "ConditionalCheckFailed":
        reason = err.cancellation_reasons[counter_index]
        raw = reason.raw_item if reason is not None else None
        last = int(raw["last_number"]["N"]) if raw and "last_number" in raw else None
        raise NumberTaken(last) from err
    if "ConditionalCheckFailed" in codes:
        raise Stale() from err
    raise err


def create_task(task: TaskItem, extra: Iterable[MainItem]) -> None:
    """Take number `task.number` (the counter must stand at the number before) and write the task with `extra`
    (timeline, action log, links) in one transaction. NumberTaken / Contended: read again and retry."""
    ws, number = task.workspace_id or "", int(task.number)
    pk, sk = keys.task_counter(ws)
    counter = typed(TaskCounterItem, pk, sk, workspace_id=ws)
    expected = TaskCounterItem.last_number == number - 1
    if number == 1:
        expected = expected | TaskCounterItem.pk.does_not_exist()
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(counter, actions=[TaskCounterItem.last_number.set(number),
                                        TaskCounterItem.type.set("taskcounter"),
                                        TaskCounterItem.workspace_id.set(ws)],
                      condition=expected, return_values="ALL_OLD")
            tx.save(task, condition=TaskItem.pk.does_not_exist())
            for item in extra:
                tx.save(item, condition=type(item).pk.does_not_exist())
    except TransactWriteError as err:
        _raise_for(err, counter_index=0)


def save_task(task: TaskItem, expected_revision: int, extra: Iterable[MainItem] = (),
              remove: Iterable[MainItem] = ()) -> None:
    """Write the task's new state if it is still at `expected_revision`, with the timeline line and action-log entry
    of the change and the link items it adds or removes, in one transaction."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(task, condition=TaskItem.revision == expected_revision)
            for item in extra:
                tx.save(item)
            for item in remove:
                tx.delete(item)
    except TransactWriteError as err:
        _raise_for(err)


def delete_task(task: TaskItem, links: Iterable[TaskLinkItem], audit: AuditItem) -> None:
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(task, condition=TaskItem.revision == task.revision)
            for link in links:
                tx.delete(link)
            tx.save(audit)
    except TransactWriteError as err:
        _raise_for(err)


def get_task(ws: str, task_id: str, *, consistent: bool = True) -> TaskItem | None:
    if not task_id or len(task_id) > 20:
        return None
    pk, sk = keys.task(ws, task_id)
    try:
        return TaskItem.get(pk, sk, consistent_read=consistent)
    except DoesNotExist:
        return None


def timeline(ws: str, task_id: str) -> list[TaskEventItem]:
    """The task's history and comments, oldest first (one query of its partition)."""
    pk, _ = keys.task(ws, task_id)
    return list(TaskEventItem.query(pk, TaskEventItem.sk.startswith("EVENT#"), consistent_read=True))


def delete_timeline(ws: str, task_id: str) -> int:
    """A deleted task's history and comments (the action log keeps what happened)."""
    events = timeline(ws, task_id)
    with TaskEventItem.batch_write() as batch:
        for event in events:
            batch.delete(event)
    return len(events)


def put_event(event: TaskEventItem, task: TaskItem, audit: AuditItem) -> None:
    """A comment, with the task's comment count and revision raised and its action-log entry, in one transaction."""
    with TransactWrite(connection=connection()) as tx:
        tx.save(event, condition=TaskEventItem.pk.does_not_exist())
        tx.save(audit)
        tx.update(task, actions=[TaskItem.comment_count.add(1), TaskItem.revision.add(1),
                                 TaskItem.updated_at.set(event.at), TaskItem.updated_by.set(event.actor)],
                  condition=TaskItem.pk.exists())


def links_of_conversation(ws: str, conv_id: str) -> list[TaskLinkItem]:
    pk, _ = keys.conversation(ws, conv_id)
    return list(TaskLinkItem.query(pk, TaskLinkItem.sk.startswith(keys.TASK_LINK_PREFIX), consistent_read=True))


def tasks_by_id(ws: str, task_ids: list[str]) -> list[TaskItem]:
    wanted = list(dict.fromkeys(task_ids))
    found = list(TaskItem.batch_get([keys.task(ws, t) for t in wanted])) if wanted else []
    order = {t: i for i, t in enumerate(wanted)}
    return sorted(found, key=lambda t: order.get(t.task_id, 0))


@dataclass(frozen=True)
class Partition:
    index: str  # gsi1 | gsi2 | gsi3
    key: str


def query_partition(part: Partition, *, low: str | None = None, high: str | None = None, forward: bool = True,
                    limit: int | None = None, below: str | None = None) -> Iterator[TaskItem]:
    """A list partition in index order: keys in [low, high] (or < below), at most `limit` items."""
    index = {"gsi1": TaskItem.gsi1, "gsi2": TaskItem.gsi2, "gsi3": TaskItem.gsi3}[part.index]
    attr = {"gsi1": TaskItem.gsi1sk, "gsi2": TaskItem.gsi2sk, "gsi3": TaskItem.gsi3sk}[part.index]
    cond: Any = None
    if below is not None:
        cond = attr < below
    elif low is not None and high is not None:
        cond = attr.between(low, high)
    elif low is not None:
        cond = attr >= low
    elif high is not None:
        cond = attr <= high
    page_size = min(limit + 1, 500) if limit else 500
    return index.query(part.key, cond, scan_index_forward=forward, limit=limit, page_size=page_size)


def count_partition(part: Partition, *, high: str) -> int:
    index = {"gsi1": TaskItem.gsi1, "gsi2": TaskItem.gsi2, "gsi3": TaskItem.gsi3}[part.index]
    attr = {"gsi1": TaskItem.gsi1sk, "gsi2": TaskItem.gsi2sk, "gsi3": TaskItem.gsi3sk}[part.index]
    return int(index.count(part.key, attr < high))


# --- teams ----------------------------------------------------------------------------------------------------


def list_teams(ws: str) -> list[TaskTeamItem]:
    return list(TaskTeamItem.query(keys.task_teams(ws), TaskTeamItem.sk.startswith("TEAM#"), consistent_read=True))


def get_team(ws: str, team_id: str) -> TaskTeamItem | None:
    if not team_id or len(team_id) > 64:
        return None
    try:
        return TaskTeamItem.get(keys.task_teams(ws), f"TEAM#{team_id}", consistent_read=True)
    except DoesNotExist:
        return None


def new_team(ws: str, team_id: str, **attrs: Any) -> TaskTeamItem:
    return typed(TaskTeamItem, keys.task_teams(ws), f"TEAM#{team_id}", workspace_id=ws, team_id=team_id, **attrs)


def put_team(team: TaskTeamItem, audit: AuditItem, *, new: bool) -> bool:
    def build(tx: TransactWrite) -> None:
        tx.save(team, condition=TaskTeamItem.pk.does_not_exist() if new else TaskTeamItem.pk.exists())
        tx.save(audit)

    return transact_if(build)


def delete_team(team: TaskTeamItem, audit: AuditItem) -> bool:
    def build(tx: TransactWrite) -> None:
        tx.delete(team, condition=TaskTeamItem.pk.exists())
        tx.save(audit)

    return transact_if(build)


def any_in_team(ws: str, team_id: str, bucket: str) -> bool:
    return any(True for _ in TaskItem.gsi3.query(keys.tasks_of_team(ws, team_id, bucket), limit=1))

