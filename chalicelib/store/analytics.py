"""Analytics counters in the main table: one write per counter item per stream batch, exactly once.

Exactly once under stream retries: the counters of a run of records are added in ONE transaction with a marker
keyed by the run's first record (its stream `eventID`) that holds the run's last sequence number. A batch that
comes back (a crash, a timeout, a lost answer) starts at a record that began a run: the marker's condition fails,
the records up to its sequence are skipped, and the rest are applied as the next run. Records of one batch come
from one shard in sequence order, so "up to the marker's sequence" is well defined.

Counter items are small (only non-zero metrics; no histograms per tag), so an update costs 2 write units in the
transaction; the marker another 2, once per batch. (There is no gauge item: services/analytics.py counts waits
from the inbox.) Consumed units are summed in `STATS` (benchmarks).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.store import keys
from chalicelib.store.base import cancel_codes, connection, epoch
from chalicelib.store.models import TYPE_OF, CounterItem, CounterMarkItem, CounterSnapshotItem, MainItem

MAX_ITEMS = 99  # a transaction holds 100 items: the marker and 99 counter items
MARK_DAYS = 2  # a stream keeps records 24 h: a marker older than that guards nothing
SEQ_WIDTH = 40  # sequence numbers are decimal strings of varying length: padded, they compare as text


@dataclass
class Stats:
    write_units: float = 0.0
    read_units: float = 0.0
    transactions: int = 0
    items_written: int = 0  # markers and counter items: x2 write units each by AWS's rule (items under 1 KB)
    skipped_records: int = 0  # already applied (a replayed batch)


STATS = Stats()


@dataclass
class Run:
    """Records of one batch with counter deltas, in sequence order: (event id, sequence, {(ws, sk): metrics})."""

    records: list[tuple[str, str, dict[tuple[str, str], dict[str, int]]]] = field(default_factory=list)


def _seq(sequence: str) -> str:
    return sequence.zfill(SEQ_WIDTH)


def _table() -> str:
    return str(MainItem.Meta.table_name)


def _update(ws: str, sk: str, metrics: Mapping[str, int]) -> dict[str, Any]:
    names = {"#type": "type"}
    values: dict[str, Any] = {":type": {"S": TYPE_OF[CounterItem]}}
    adds = []
    for i, (name, n) in enumerate(sorted(metrics.items())):
        names[f"#m{i}"] = name
        values[f":v{i}"] = {"N": str(int(n))}
        adds.append(f"#m{i} :v{i}")
    return {"TableName": _table(), "Key": {"pk": {"S": keys.counters(ws)}, "sk": {"S": sk}},
            "UpdateExpression": f"SET #type = :type ADD {', '.join(adds)}",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def _mark(event_id: str, last_sequence: str, now: datetime) -> dict[str, Any]:
    pk, sk = keys.counter_mark(event_id)
    return {"TableName": _table(), "ConditionExpression": "attribute_not_exists(pk)",
            "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "type": {"S": TYPE_OF[CounterMarkItem]},
                     "e": {"S": _seq(last_sequence)}, "expires_at": {"N": str(epoch(now) + MARK_DAYS * 86400)}}}


def _marked_until(event_id: str) -> str:
    pk, sk = keys.counter_mark(event_id)
    raw = _get(pk, sk, consistent=True)
    STATS.read_units += float((raw.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
    return str(((raw.get("Item") or {}).get("e") or {}).get("S", ""))


def _get(pk: str, sk: str, *, consistent: bool) -> dict[str, Any]:
    return dict(connection().client.get_item(TableName=_table(), Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                             ConsistentRead=consistent, ReturnConsumedCapacity="TOTAL"))


def _chunks(records: Sequence[tuple[str, str, dict[tuple[str, str], dict[str, int]]]], start: int) -> int:
    """The end (exclusive) of the run that starts at `start`: as many records as fit one transaction."""
    touched: set[tuple[str, str]] = set()
    end = start
    while end < len(records):
        more = touched | set(records[end][2])
        if len(more) > MAX_ITEMS and end > start:
            break
        touched = more
        end += 1
    return end


def apply(records: Sequence[tuple[str, str, dict[tuple[str, str], dict[str, int]]]], *, now: datetime,
          retries: int = 8, sleep: Any = time.sleep) -> int:
    """Add the deltas of these records (one shard's, in order), each record exactly once. Returns the number of
    transactions written."""
    records = [r for r in records if r[2]]
    written = 0
    i = 0
    while i < len(records):
        end = _chunks(records, i)
        summed: dict[tuple[str, str], dict[str, int]] = {}
        for _, _, deltas in records[i:end]:
            for key, metrics in deltas.items():
                target = summed.setdefault(key, {})
                for name, n in metrics.items():
                    target[name] = target.get(name, 0) + n
        updates = [_update(ws, sk, m) for (ws, sk), m in summed.items() if any(m.values())]
        event_id, last = records[i][0], records[end - 1][1]
        outcome = _transact(_mark(event_id, last, now), updates, retries=retries, sleep=sleep)
        if outcome:
            written += 1
            i = end
            continue
        until = _marked_until(event_id)  # this run (or a longer one from the same record) was applied already
        skip = i
        while skip < len(records) and _seq(records[skip][1]) <= until:
            skip += 1
        STATS.skipped_records += skip - i
        i = max(skip, i + 1)
    return written


def _transact(mark: dict[str, Any], updates: list[dict[str, Any]], *, retries: int, sleep: Any) -> bool:
    for attempt in range(retries):
        try:
            result = connection().transact_write_items([], [], [mark], updates, return_consumed_capacity="TOTAL")
            STATS.transactions += 1
            STATS.items_written += 1 + len(updates)
            STATS.write_units += sum(float(c.get("CapacityUnits", 0)) for c in result.get("ConsumedCapacity") or [])
            return True
        except TransactWriteError as err:
            codes = cancel_codes(err)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            retryable = not any(codes) or bool({"TransactionConflict", "ThrottlingError"} & set(codes))
            if attempt == retries - 1 or not retryable:
                raise
            sleep(random.uniform(0, 0.05 * 2 ** attempt))  # another shard's batch holds an item: full jitter
    return False  # pragma: no cover - the loop raises on its last attempt


# --- reading --------------------------------------------------------------------------------------------------


def query(ws: str, low: str, high: str) -> Iterator[tuple[str, dict[str, int]]]:
    """Counter items whose sort key is between low and high (both included): (sort key, metrics)."""
    client = connection().client
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": _table(), "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":pk": {"S": keys.counters(ws)}, ":a": {"S": low}, ":b": {"S": high}},
            "ReturnConsumedCapacity": "TOTAL"}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.query(**kwargs)
        STATS.read_units += float((page.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
        for raw in page.get("Items", []):
            yield raw["sk"]["S"], metrics_of(raw)
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def metrics_of(raw: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in raw.items() if isinstance(value, dict) and "N" in value
            and name not in ("expires_at",)}


SNAPSHOT_DAYS = 3  # a snapshot serves one window end hour; kept a little longer than the 48 hours it sums


def snapshot(ws: str, end_hour: str) -> dict[str, Any] | None:
    """The dashboard's settled sums for the window ending at this hour, or None if no dashboard made them yet."""
    raw = _get(keys.counters(ws), f"s#{end_hour}", consistent=False)
    STATS.read_units += float((raw.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
    item = raw.get("Item")
    if not item:
        return None
    return dict(json.loads(item.get("data", {}).get("S", "{}")))


def put_snapshot(ws: str, end_hour: str, data: Mapping[str, Any], *, now: datetime) -> None:
    """Store the settled sums (two dashboards racing write the same content: a plain put)."""
    connection().client.put_item(TableName=_table(), Item={
        "pk": {"S": keys.counters(ws)}, "sk": {"S": f"s#{end_hour}"}, "type": {"S": TYPE_OF[CounterSnapshotItem]},
        "workspace_id": {"S": ws}, "data": {"S": json.dumps(data, separators=(",", ":"), sort_keys=True)},
        "expires_at": {"N": str(epoch(now) + SNAPSHOT_DAYS * 86400)}})
