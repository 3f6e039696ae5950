"""Analytics counters in the main table: one delta item per workspace per stream batch, folded later, exactly once.

Writing (the stream, once per batch): the deltas of a workspace's records in the batch are summed into ONE item of
`keys.counter_deltas(ws)` keyed `<change time of the first record, ms>#<its eventID>`, holding the sums (`z`,
zlib-compressed JSON, base64) and
the last record's sequence (`e`). A plain PutItem, 1 write unit under 1 KB: a batch that comes back (a crash, a
timeout, bisected in halves) starts at the same first record and overwrites the same key, and the records after
a split point start their own keys, so whatever batches finally go through, every record is in exactly one item.

Folding (readers, a weekly timer): the deltas below a cursor are added into the hour items (`<kind>#<hour>[#v]` in
`keys.counters(ws)`, the layout readers always read) in one transaction per at most 98 items with the cursor's
move (`CounterFoldItem`, compare-and-set). Each hour item keeps the cursor it was folded to (`fc`), so a reader
that saw an older cursor adds exactly the deltas that item does not hold yet. The cursor never passes now -
SETTLE. A record whose change time is older than LATE when it is counted (a stream behind, a batch retried much
later) does not overwrite: it takes the checked path (`_late`), a transaction that also moves the fold item's
version, so a fold in flight starts again; a delta that exists already is a marker (records up to its `e` are
counted), and one the cursor has passed is added into the hour items directly. SETTLE > LATE + the longest a
write may take after its decision (the client's timeouts), so no on-time write lands behind a fold.

An on-time delta also carries its batch's small search segment for the workspace (`s`, compressed: the full-text
index's operations, search/engines.py), so the search index costs no write of its own in a trickle of traffic.

Consumed units are summed in `STATS` (benchmarks).
"""

from __future__ import annotations

import base64
import json
import random
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.analytics import merge
from chalicelib.store import keys
from chalicelib.store.base import connection, epoch
from chalicelib.store.models import (
    DELTA_SEGMENT,
    TYPE_OF,
    CounterDeltaItem,
    CounterFoldItem,
    CounterItem,
    CounterSnapshotItem,
    MainItem,
)

MAX_ITEMS = 98  # a transaction holds 100 items: the fold cursor (or a delta) and at most 98 counter items
LATE = timedelta(seconds=30)  # a record changed longer ago than this when counted goes the checked path
SETTLE = timedelta(minutes=2)  # the fold's cursor stays this far behind now (> LATE + a write's longest time)
DELTA_DAYS = 14  # a delta lives this long; the weekly fold (services/analytics.py) folds it within 7 days
FOLD_AT = 16  # a reader folds when it finds at least this many foldable deltas (or one older than an hour)
READER_FOLD = 5000  # ... at most about this many in one request (a week of a busy workspace would take long)
STREAM_FOLD = 64  # the stream folds a workspace after this many of its batches in one warm process
MS_WIDTH = 13


@dataclass
class Stats:
    write_units: float = 0.0
    read_units: float = 0.0
    transactions: int = 0
    deltas_written: int = 0  # delta items put (1 write unit each under 1 KB)
    folds: int = 0  # fold transactions
    late: int = 0  # groups that took the checked path
    skipped_records: int = 0  # already counted (a replayed batch)


STATS = Stats()

Deltas = dict[tuple[str, str], dict[str, int]]
Record = tuple[str, str, int, Deltas]  # (event id, sequence, change time in epoch ms, {(ws, counter sk): metrics})


def _table() -> str:
    return str(MainItem.Meta.table_name)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def delta_key(at_ms: int, event_id: str) -> str:
    return f"{max(0, at_ms):0{MS_WIDTH}d}#{event_id}"


def _key_at(when: datetime) -> str:
    """The delta key prefix of a moment: every delta keyed below it changed before it."""
    return f"{max(0, _ms(when)):0{MS_WIDTH}d}"


def _get(key: Mapping[str, Any], *, consistent: bool) -> dict[str, Any] | None:
    """One item of the main table by its key, or None (read units summed in STATS)."""
    raw = connection().client.get_item(TableName=_table(), Key=dict(key), ConsistentRead=consistent,
                                       ReturnConsumedCapacity="TOTAL")
    _units(raw, "read")
    item = raw.get("Item")
    return dict(item) if item else None


def _units(response: Mapping[str, Any], kind: str = "write") -> None:
    consumed = response.get("ConsumedCapacity")
    total = sum(float(c.get("CapacityUnits", 0)) for c in consumed) if isinstance(consumed, list) \
        else float((consumed or {}).get("CapacityUnits", 0))
    if kind == "write":
        STATS.write_units += total
    else:
        STATS.read_units += total


def _sum(records: Sequence[Record]) -> dict[str, dict[str, int]]:
    summed: dict[str, dict[str, int]] = {}
    for _, _, _, deltas in records:
        for (_, sk), metrics in deltas.items():
            merge(summed.setdefault(sk, {}), metrics)
    return {sk: {k: v for k, v in m.items() if v} for sk, m in summed.items() if any(m.values())}


def _delta_item(ws: str, key: str, sums: Mapping[str, Mapping[str, int]], last: str, now: datetime,
                recent: Sequence[Sequence[str]] = (), segment: bytes | None = None) -> dict[str, Any]:
    body = json.dumps({"c": sums, "r": list(recent)} if recent else {"c": sums},
                      separators=(",", ":"), sort_keys=True).encode()
    item: dict[str, Any] = {
        "pk": {"S": keys.counter_deltas(ws)}, "sk": {"S": key}, "type": {"S": TYPE_OF[CounterDeltaItem]},
        "z": {"S": base64.b64encode(zlib.compress(body, 9)).decode()}, "e": {"S": last},
        "expires_at": {"N": str(epoch(now) + DELTA_DAYS * 86400)}}
    if segment:
        item[DELTA_SEGMENT] = {"B": zlib.compress(segment, 9)}
    return item


def _by_workspace(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Each workspace's records, each with only its own deltas, in sequence order."""
    by_ws: dict[str, list[Record]] = {}
    for record in records:
        for ws in dict.fromkeys(ws for ws, _ in record[3]):
            by_ws.setdefault(ws, []).append((record[0], record[1], record[2],
                                             {k: v for k, v in record[3].items() if k[0] == ws}))
    return by_ws


def on_time(records: Sequence[Record], *, now: datetime) -> set[str]:
    """The workspaces whose delta `apply` writes on time (a plain put that may carry more: see `apply`)."""
    late_before = _ms(now - LATE)
    return {ws for ws, group in _by_workspace(records).items() if _sum(group) and group[0][2] >= late_before}


def apply(records: Sequence[Record], *, now: datetime, sleep: Any = time.sleep,
          recent: Mapping[str, Sequence[Sequence[str]]] | None = None,
          segments: Mapping[str, bytes] | None = None) -> int:
    """Count these records (one shard's, in sequence order), each exactly once. Returns delta items written.
    Carried in the same item, on time only (`on_time` says which; a late batch's delta is keyed by an old time):
    `recent`, per workspace, the batch's customer messages for repeat-request detection (store/clusters.py);
    `segments`, per workspace, the batch's small search segment (search/engines.py)."""
    timely: list[dict[str, Any]] = []
    written = 0
    late_before = _ms(now - LATE)
    for ws, group in _by_workspace(records).items():
        sums = _sum(group)
        if not sums:
            continue
        first = group[0]
        if first[2] >= late_before:
            timely.append(_delta_item(ws, delta_key(first[2], first[0]), sums, group[-1][1], now,
                                      (recent or {}).get(ws, ()), (segments or {}).get(ws)))
        else:
            written += _late(ws, group, now=now, sleep=sleep)
    for start in range(0, len(timely), 25):
        _batch_put(timely[start:start + 25], sleep=sleep)
        written += len(timely[start:start + 25])
    STATS.deltas_written += len(timely)
    return written


def _batch_put(items: list[dict[str, Any]], *, sleep: Any, attempts: int = 8) -> None:
    client = connection().client
    pending: dict[str, list[dict[str, Any]]] = {_table(): [{"PutRequest": {"Item": item}} for item in items]}
    for attempt in range(attempts):
        response = client.batch_write_item(RequestItems=pending, ReturnConsumedCapacity="TOTAL")
        _units(response)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        sleep(random.uniform(0, 0.05 * 2 ** attempt))
    raise RuntimeError("counter deltas left unprocessed: the batch is retried")  # the same keys: idempotent


def _transact(items: list[dict[str, Any]], *, sleep: Any, retries: int = 8) -> list[str | None] | None:
    """Write a transaction: None when done, else the cancellation codes of a failed condition."""
    client = connection().client
    for attempt in range(retries):
        try:
            response = client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
            _units(response)
            STATS.transactions += 1
            return None
        except ClientError as err:
            reasons = err.response.get("CancellationReasons") or []
            codes = [r.get("Code") if r.get("Code") not in (None, "None") else None for r in reasons]
            if "ConditionalCheckFailed" in codes:
                return codes
            retryable = err.response.get("Error", {}).get("Code") in (
                "TransactionCanceledException", "TransactionConflictException", "ThrottlingException",
                "ProvisionedThroughputExceededException")
            if attempt == retries - 1 or not retryable:
                raise
            sleep(random.uniform(0, 0.05 * 2 ** attempt))  # another writer holds an item: full jitter
    raise RuntimeError("unreachable")  # pragma: no cover - the loop raises on its last attempt


def _add(ws: str, sk: str, metrics: Mapping[str, int], *, cursor: str | None) -> dict[str, Any]:
    names = {"#type": "type"}
    values: dict[str, Any] = {":type": {"S": TYPE_OF[CounterItem]}}
    adds = []
    for i, (name, n) in enumerate(sorted(metrics.items())):
        names[f"#m{i}"] = name
        values[f":v{i}"] = {"N": str(int(n))}
        adds.append(f"#m{i} :v{i}")
    sets = "#type = :type"
    if cursor is not None:
        values[":fc"] = {"S": cursor}
        sets += ", fc = :fc"
    return {"Update": {"TableName": _table(), "Key": {"pk": {"S": keys.counters(ws)}, "sk": {"S": sk}},
                       "UpdateExpression": f"SET {sets} ADD {', '.join(adds)}",
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


def _fold_key(ws: str) -> dict[str, Any]:
    return {"pk": {"S": keys.counters(ws)}, "sk": {"S": keys.COUNTER_FOLD}}


def _runs(group: Sequence[Record], start: int) -> int:
    """The end (exclusive) of the run from `start` whose counter items fit one transaction."""
    touched: set[str] = set()
    end = start
    while end < len(group):
        more = touched | {sk for _, sk in group[end][3]}
        if len(more) > MAX_ITEMS and end > start:
            break
        touched, end = more, end + 1
    return end


def _late(ws: str, group: Sequence[Record], *, now: datetime, sleep: Any) -> int:
    """The checked path for records changed long ago: exactly once however the batches were cut before."""
    STATS.late += 1
    written = 0
    i = 0
    while i < len(group):
        end = _runs(group, i)
        run = group[i:end]
        sums = _sum(run)
        key = delta_key(run[0][2], run[0][0])
        if not sums:
            i = end
            continue
        item = _delta_item(ws, key, sums, run[-1][1], now)
        delta = {"Put": {"TableName": _table(), "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        ahead = {"Update": {"TableName": _table(), "Key": _fold_key(ws),
                            "UpdateExpression": "SET #type = :t ADD v :one",
                            "ConditionExpression": "attribute_not_exists(cur) OR cur <= :key",
                            "ExpressionAttributeNames": {"#type": "type"},
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":key": {"S": key},
                                                          ":t": {"S": TYPE_OF[CounterFoldItem]}}}}
        codes = _transact([delta, ahead], sleep=sleep)
        if codes is not None and codes[0] is None:  # the cursor has passed: straight into the hour items
            item["f"] = {"N": "1"}
            codes = _transact([delta, *[_add(ws, sk, m, cursor=None) for sk, m in sorted(sums.items())]], sleep=sleep)
        if codes is None:
            written += 1
            i = end
            continue
        until = _delta_until(ws, key)  # counted before (this run, or a longer one from the same record)
        skip = i
        while skip < len(group) and group[skip][1].zfill(40) <= until.zfill(40):
            skip += 1
        STATS.skipped_records += skip - i
        i = max(skip, i + 1)
    return written


def _delta_until(ws: str, key: str) -> str:
    item = _get({"pk": {"S": keys.counter_deltas(ws)}, "sk": {"S": key}}, consistent=True) or {}
    return str((item.get("e") or {}).get("S", ""))


# --- folding ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tail:
    """The deltas not folded yet, as a reader found them: (delta sort key, {counter sk: metrics}), in key order."""

    cursor: str
    deltas: tuple[tuple[str, dict[str, dict[str, int]]], ...]

    def foldable(self, now: datetime) -> list[str]:
        limit = _key_at(now - SETTLE)
        return [sk for sk, _ in self.deltas if sk < limit]


def _fold_state(ws: str, *, consistent: bool) -> dict[str, Any] | None:
    return _get(_fold_key(ws), consistent=consistent)


def _cursor(state: Mapping[str, Any] | None) -> str:
    return str(((state or {}).get("cur") or {}).get("S", ""))


def _items(pk: str, condition: str, values: Mapping[str, Any], *, consistent: bool = False) -> Iterator[dict[str, Any]]:
    """The raw items of one partition's key condition, page after page (read units summed in STATS)."""
    client = connection().client
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": f"pk = :pk AND {condition}",
                                  "ExpressionAttributeValues": {":pk": {"S": pk}, **values},
                                  "ConsistentRead": consistent, "ReturnConsumedCapacity": "TOTAL"}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.query(**kwargs)
        _units(page, "read")
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _deltas(ws: str, low: str, high: str | None, *, consistent: bool,
            max_items: int | None = None) -> list[tuple[str, dict[str, dict[str, int]]]]:
    values: dict[str, Any] = {":a": {"S": low or "0"}}
    if high is not None:
        values[":b"] = {"S": high}
    out: list[tuple[str, dict[str, dict[str, int]]]] = []
    for raw in _items(keys.counter_deltas(ws), "sk BETWEEN :a AND :b" if high is not None else "sk >= :a", values,
                      consistent=consistent):
        if "f" not in raw:  # a late delta added straight into the hour items: a marker only
            out.append((raw["sk"]["S"], sums_of(raw)))
        if max_items is not None and len(out) >= max_items:
            break
    return out


def sums_of(raw: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """A delta item's sums: `z` is zlib-compressed JSON in base64 (sort keys and metric names repeat: under half
    the size; a string, so backups carry it like any other attribute): {"c": sums, "r": recent messages}."""
    return dict(_body(raw).get("c") or {})


def _body(raw: Mapping[str, Any]) -> dict[str, Any]:
    if "z" not in raw:
        return {}
    body = json.loads(zlib.decompress(base64.b64decode(raw["z"]["S"])))
    return dict(body) if isinstance(body, dict) else {}


def recent_entries(ws: str, since: datetime) -> list[list[str]]:
    """The customer messages carried by the delta items keyed at or after `since` (one Query, oldest first)."""
    items = _items(keys.counter_deltas(ws), "sk >= :a", {":a": {"S": _key_at(since)}})
    return [[str(v) for v in entry] for raw in items for entry in _body(raw).get("r") or [] if len(entry) == 5]


def _low(cursor: str) -> str:
    """Where the unfolded deltas start: a cursor inside a delta (`<delta>!<pieces>`) still reads that delta."""
    return cursor.split("!", 1)[0]


def tail(ws: str, *, now: datetime, fold_at: int = FOLD_AT) -> Tail:
    """The unfolded deltas of a workspace (two small reads); folds first when many of them are final."""
    found = _read_tail(ws, consistent=False)
    ready = found.foldable(now)
    if ready and (len(ready) >= fold_at or ready[0] < _key_at(now - timedelta(hours=1))):
        fold(ws, now=now, max_deltas=READER_FOLD)
        found = _read_tail(ws, consistent=True)
    return found


def _read_tail(ws: str, *, consistent: bool) -> Tail:
    cursor = _cursor(_fold_state(ws, consistent=consistent))
    return Tail(cursor, tuple(_deltas(ws, _low(cursor), None, consistent=consistent)))


Chunk = tuple[str, str, dict[str, dict[str, int]], int]  # (new cursor, the items' fc, sums, deltas completed)


def _chunks(pending: Sequence[tuple[str, dict[str, dict[str, int]]]], cursor: str, limit: str) -> list[Chunk]:
    """The deltas to fold cut into transactions of at most MAX_ITEMS counter items. A cut falls between two
    milliseconds, so a cursor is 13 digits (hour items carry it: it stays short). A millisecond whose deltas touch
    more items than one transaction holds is folded delta by delta, each in pieces: the cursor `<delta>!<pieces>`
    says how far (readers then still read that delta, and the items already holding it have fc `<delta>!`)."""
    by_ms: dict[str, list[tuple[str, dict[str, dict[str, int]]]]] = {}
    for sk, deltas in pending:
        by_ms.setdefault(sk[:MS_WIDTH], []).append((sk, deltas))
    done_pieces = int(cursor.split("!", 1)[1]) if "!" in cursor else 0
    chunks: list[Chunk] = []
    sums: dict[str, dict[str, int]] = {}
    count = 0
    for ms, group in by_ms.items():
        touched = {counter for _, deltas in group for counter in deltas}
        if len(touched) > MAX_ITEMS:
            if sums:
                chunks.append((ms, ms, sums, count))
                sums, count = {}, 0
            for sk, deltas in group:
                items = sorted(deltas)
                pieces = [items[i:i + MAX_ITEMS] for i in range(0, len(items), MAX_ITEMS)]
                for index, piece in enumerate(pieces):
                    if sk == cursor.split("!", 1)[0] and index < done_pieces:
                        continue  # folded by an earlier run
                    last = index == len(pieces) - 1
                    chunks.append((f"{sk}~" if last else f"{sk}!{index + 1}", f"{sk}~" if last else f"{sk}!",
                                   {counter: deltas[counter] for counter in piece}, int(last)))
            continue
        if sums and len(set(sums) | touched) > MAX_ITEMS:
            chunks.append((ms, ms, sums, count))
            sums, count = {}, 0
        for _, deltas in group:
            for counter, metrics in deltas.items():
                merge(sums.setdefault(counter, {}), metrics)
            count += 1
    chunks.append((limit, limit, sums, count))
    return chunks


def fold(ws: str, *, now: datetime, sleep: Any = time.sleep, max_deltas: int | None = None) -> int:
    """Add the final deltas (below now - SETTLE) into the hour items, moving the cursor with them: all of them, or
    about the oldest `max_deltas` (a bounded share of work; the next fold goes on). Returns the deltas folded; stops
    (harmlessly) when another fold or a late delta moved the cursor item meanwhile."""
    folded = 0
    for _ in range(4):
        state = _fold_state(ws, consistent=True)
        cursor = _cursor(state)
        version = str(((state or {}).get("v") or {}).get("N", "0"))
        limit = _key_at(now - SETTLE)
        if cursor >= limit:
            return folded
        pending = _deltas(ws, _low(cursor), limit, consistent=True,
                          max_items=None if max_deltas is None else max_deltas + 1)
        if max_deltas is not None and len(pending) > max_deltas and pending[max_deltas][0][:MS_WIDTH] > cursor:
            limit = pending[max_deltas][0][:MS_WIDTH]  # cut between two milliseconds, as a chunk is
            pending = [p for p in pending if p[0] < limit]
        chunks = _chunks(pending, cursor, limit)
        moved = True
        for new_cursor, folded_to, chunk, n in chunks:
            condition = "cur = :cur AND v = :v" if state and "cur" in state else \
                "attribute_not_exists(cur) AND v = :v" if state else "attribute_not_exists(pk)"
            values: dict[str, Any] = {":new": {"S": new_cursor}, ":t": {"S": TYPE_OF[CounterFoldItem]},
                                      ":zero": {"N": "0"}}
            if state:
                values[":v"] = {"N": version}
                if "cur" in state:
                    values[":cur"] = {"S": cursor}
            move = {"Update": {"TableName": _table(), "Key": _fold_key(ws),
                               "UpdateExpression": "SET cur = :new, #type = :t, v = if_not_exists(v, :zero)",
                               "ConditionExpression": condition, "ExpressionAttributeNames": {"#type": "type"},
                               "ExpressionAttributeValues": values}}
            adds = [_add(ws, sk, m, cursor=folded_to) for sk, m in sorted(chunk.items()) if m]
            if _transact([move, *adds], sleep=sleep) is not None:
                moved = False
                break
            STATS.folds += 1
            folded += n
            state = {"cur": {"S": new_cursor}, "v": {"N": version}}
            cursor = new_cursor
        if moved:
            return folded
    return folded


# --- reading --------------------------------------------------------------------------------------------------


def query(ws: str, low: str, high: str, tail: Tail | None = None) -> Iterator[tuple[str, dict[str, int]]]:
    """Counter items whose sort key is between low and high (both included): (sort key, metrics), with the
    unfolded deltas of `tail` an item does not hold yet (those at or after the cursor it was folded to)."""
    seen: set[str] = set()
    deltas = tail.deltas if tail else ()
    for raw in _items(keys.counters(ws), "sk BETWEEN :a AND :b", {":a": {"S": low}, ":b": {"S": high}}):
        sk = raw["sk"]["S"]  # a kind's range: never the `fold` cursor or an `s#` snapshot
        seen.add(sk)
        metrics = metrics_of(raw)
        folded_to = str((raw.get("fc") or {}).get("S", ""))
        for key, sums in deltas:
            if key >= folded_to and sk in sums:
                merge(metrics, sums[sk])
        yield sk, metrics
    extra: dict[str, dict[str, int]] = {}
    for _, sums in deltas:  # counter items no fold has made yet
        for sk, metrics in sums.items():
            if low <= sk <= high and sk not in seen:
                merge(extra.setdefault(sk, {}), metrics)
    yield from sorted(extra.items())


def metrics_of(raw: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in raw.items() if isinstance(value, dict) and "N" in value
            and name not in ("expires_at",)}


SNAPSHOT_DAYS = 3  # a snapshot serves one window end hour; kept a little longer than the 48 hours it sums


def snapshot(ws: str, end_hour: str) -> dict[str, Any] | None:
    """The dashboard's settled sums for the window ending at this hour, or None if no dashboard made them yet."""
    item = _get({"pk": {"S": keys.counters(ws)}, "sk": {"S": f"s#{end_hour}"}}, consistent=False)
    if not item:
        return None
    return dict(json.loads(item.get("data", {}).get("S", "{}")))


def put_snapshot(ws: str, end_hour: str, data: Mapping[str, Any], *, now: datetime) -> None:
    """Store the settled sums (two dashboards racing write the same content: a plain put)."""
    connection().client.put_item(TableName=_table(), Item={
        "pk": {"S": keys.counters(ws)}, "sk": {"S": f"s#{end_hour}"}, "type": {"S": TYPE_OF[CounterSnapshotItem]},
        "workspace_id": {"S": ws}, "data": {"S": json.dumps(data, separators=(",", ":"), sort_keys=True)},
        "expires_at": {"N": str(epoch(now) + SNAPSHOT_DAYS * 86400)}})
