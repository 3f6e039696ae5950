"""Tasks (F1-F4): read units of "my overdue" with 10,000 tasks in the workspace vs 100, and DynamoDB requests per
create.

Read units come from DynamoDB's own answer: every Query is sent with `ReturnConsumedCapacity=TOTAL` (a botocore
`before-parameter-build` hook on the app's clients) and the `ConsumedCapacity` of each answer is summed. Both
workspaces hold the same ten overdue tasks of mine; the big one adds 9,900 more (mine with later deadlines,
colleagues' current and overdue ones, finished ones), written straight to the table in the shape the service
writes them. The list and the badge should read the same either way: goal <= 1.2.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from typing import Any

from bench import harness
from bench.ddbcalls import DynamoCallCounter

GOAL_RATIO = 1.2
MY_OVERDUE = 10
CREATES = 20


class CapacityMeter(DynamoCallCounter):
    """DynamoCallCounter that also asks each Query for its consumed capacity and sums the read units."""

    def __init__(self, exclude: Any = ()) -> None:
        super().__init__(exclude)
        self.units = 0.0
        self.queries = 0

    OPERATIONS: tuple[str, ...] = ("Query",)  # the calls whose consumed capacity is asked for and summed

    def hook(self, client: Any) -> None:
        key = id(client)
        known = key in self._hooked
        super().hook(client)
        if known or key not in self._hooked:
            return
        uid = self._unique_id(key)
        for op in self.OPERATIONS:
            client.meta.events.register(f"before-parameter-build.dynamodb.{op}", self._ask, unique_id=f"{uid}-ask{op}")
            client.meta.events.register(f"after-call.dynamodb.{op}", self._read, unique_id=f"{uid}-read{op}")

    def uninstall(self) -> None:
        for key, client in list(self._hooked.items()):
            uid = self._unique_id(key)
            for op in self.OPERATIONS:
                client.meta.events.unregister(f"before-parameter-build.dynamodb.{op}", unique_id=f"{uid}-ask{op}")
                client.meta.events.unregister(f"after-call.dynamodb.{op}", unique_id=f"{uid}-read{op}")
        super().uninstall()

    @staticmethod
    def _ask(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def _read(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        capacity = (parsed or {}).get("ConsumedCapacity") or {}
        with self._lock:
            self.units += float(capacity.get("CapacityUnits", 0.0))
            self.queries += 1

    def take_units(self) -> tuple[float, int]:
        with self._lock:
            units, queries, self.units, self.queries = self.units, self.queries, 0.0, 0
        return units, queries


def _fill(ws: str, me: str, total: int, now: Any) -> int:
    """`total` tasks: MY_OVERDUE overdue of mine, then mine later, colleagues' (some overdue) and finished ones."""
    from chalicelib.domain.model import iso
    from chalicelib.services import tasks as service
    from chalicelib.store import tasks as store
    from chalicelib.store.models import TaskCounterItem, TaskItem

    others = [f"u_bench_{i}" for i in range(5)]
    with TaskItem.batch_write() as batch:
        for n in range(1, total + 1):
            if n <= MY_OVERDUE:
                who, status, deadline = me, "open", now - timedelta(hours=n)
            elif n <= MY_OVERDUE + total // 5:
                who, status, deadline = me, "in_progress", now + timedelta(hours=n)
            elif n % 5 == 0:
                who, status, deadline = others[n % 5], "done", now - timedelta(days=1)
            else:
                who, status, deadline = others[n % 5], "open", now + timedelta(hours=(n % 48) - 24)
            task = store.new_task(ws, str(n), number=n, title=f"Bench task {n}", description="x" * 200,
                                  status=status, priority="normal", deadline=iso(deadline), timezone="+03:00",
                                  remind_minutes=60, assignee_id=who, watchers=[], tags=["bench"], links=[],
                                  created_by="key:bench", created_at=iso(now), updated_at=iso(now), revision=1)
            service._index(task)
            batch.save(task)
    from chalicelib.store import keys

    pk, sk = keys.task_counter(ws)
    TaskCounterItem(pk, sk, type="taskcounter", workspace_id=ws, last_number=total).save()
    return total


def _my_overdue_units(meter: CapacityMeter, ws: str, me: str) -> dict[str, Any]:
    from chalicelib.auth.keys import Principal
    from chalicelib.services import tasks as service
    from chalicelib.services.deps import deps

    caller = Principal(ws, "operator", f"user:{me}", user_id=me)
    meter.take_units()
    page = service.list_tasks(deps(), caller, service.ListQuery(view="overdue", scope="mine", limit=100))
    list_units, list_queries = meter.take_units()
    badge = service.my_overdue_count(deps(), caller)
    badge_units, _ = meter.take_units()
    by_created = service.list_tasks(deps(), caller, service.ListQuery(view="overdue", scope="mine", sort="created",
                                                                      limit=100))
    sorted_units, _ = meter.take_units()
    # for contrast: all my current work sorted by status is sorted in memory, so it reads the whole partition
    service.list_tasks(deps(), caller, service.ListQuery(view="current", scope="mine", sort="status", limit=25))
    whole_units, whole_queries = meter.take_units()
    assert len(page.items) == MY_OVERDUE and badge == MY_OVERDUE and len(by_created.items) == MY_OVERDUE
    return {"list_read_units": list_units, "list_queries": list_queries, "badge_read_units": badge_units,
            "sorted_by_created_read_units": sorted_units,
            "contrast_mine_current_by_status_read_units": whole_units,
            "contrast_mine_current_by_status_queries": whole_queries}


def _create_requests(meter: CapacityMeter, channel: harness.Channel) -> dict[str, Any]:
    from chalicelib.auth.keys import Principal
    from chalicelib.services import tasks as service
    from chalicelib.services import team
    from chalicelib.services.deps import deps

    d = deps()
    ws = channel.workspace_id
    caller = Principal(ws, "operator", "key:bench")
    assignee = team.ensure_member(ws, f"{secrets.token_hex(4)}@bench.example", "operator", now=d.now()).user_id
    service.create_task(d, caller, {"title": "warm up"})  # the process learns the counter once (cold: +1 read)
    meter.take()
    for i in range(CREATES):
        service.create_task(d, caller, {"title": f"standalone {i}"})
    plain_ops, _ = meter.take()
    for i in range(CREATES):
        service.create_task(d, caller, {"title": f"assigned {i}", "assignee_id": assignee,
                                        "deadline": (d.now() + timedelta(days=1)).isoformat()})
    assigned_ops, _ = meter.take()
    service._last_known.pop(ws, None)
    service.create_task(d, caller, {"title": "cold"})
    cold_ops, _ = meter.take()
    return {
        "standalone_per_create": round(sum(plain_ops.values()) / CREATES, 2),
        "standalone_by_operation": _per(plain_ops, CREATES),
        "with_assignee_per_create": round(sum(assigned_ops.values()) / CREATES, 2),
        "with_assignee_by_operation": _per(assigned_ops, CREATES),
        "cold_process_first_create": sum(cold_ops.values()),
    }


def _per(counts: Counter[str], n: int) -> dict[str, float]:
    return {name: round(v / n, 2) for name, v in counts.most_common()}


def measure(stack: Any) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    now = deps().now()
    small, big = harness.new_channel(stack), harness.new_channel(stack)
    me_small, me_big = f"u_me_{secrets.token_hex(3)}", f"u_me_{secrets.token_hex(3)}"
    _fill(small.workspace_id, me_small, 100, now)
    _fill(big.workspace_id, me_big, 10_000, now)
    meter = CapacityMeter(exclude=[stack.pump._ddb]).install()
    try:
        at_100 = _my_overdue_units(meter, small.workspace_id, me_small)
        at_10k = _my_overdue_units(meter, big.workspace_id, me_big)
        creates = _create_requests(meter, harness.new_channel(stack))
    finally:
        meter.uninstall()
    ratio = at_10k["list_read_units"] / at_100["list_read_units"] if at_100["list_read_units"] else float("nan")
    return {
        "list_read_units_10k_over_100": round(ratio, 3), "goal_ratio": GOAL_RATIO,
        "my_overdue_at_100": at_100, "my_overdue_at_10k": at_10k,
        "create_requests": creates["standalone_per_create"], "creates": creates,
    }
