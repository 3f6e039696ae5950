"""The two search engines behind one interface (`Engine`): the same SQLite FTS5 index, kept in two places.

- `LocalEngine` (embedded mode, tests): one file per workspace in `.data/search/`; the stream applies each
  change at once.
- `S3Engine` (AWS mode): per workspace `search/<ws>/base/<last segment>.sqlite` plus segments
  `search/<ws>/seg/<time-sortable id>.json` (the operations of one stream batch for that workspace). The stream
  Lambda writes one segment per batch and workspace (one PUT); the search Lambda lists the workspace's prefix
  (one LIST), downloads the newest base once and then only the segments it has not applied, into /tmp, and
  queries the file there; `compact()` folds the segments into a new base and removes them. Compaction needs no
  schedule (a schedule would LIST every minute, idle or not): after a segment is written, with a chance of
  1 / COMPACT_AFTER, the writer compacts that workspace, and a reader that finds 2 x COMPACT_AFTER segments does
  it too; so an idle workspace costs no request at all. A replayed batch writes another segment with the same
  operations: applied in order, the result is the same.
  A segment of at most SMALL_SEGMENT bytes (a trickle's batch: one message is a few hundred) is an item of the
  main table instead (`ItemSegments`: 1 write unit per KB, $0.625 per million, against a PUT's $5 per million at
  any size); the reader lists both stores and applies their segments in name order, and the compaction removes
  both.
  Cheaper still, a small segment rides in the batch's counter delta item for that workspace (store/analytics.py,
  attribute `s`, compressed), which the stream writes anyway: no write of its own (issue 14). `flush(carried)`
  hands those back to the caller instead of writing them; only an on-time delta carries one (a late batch's delta
  is keyed by an old time). The reader lists the deltas from CARRIED_MARGIN before its base's last segment (a delta
  is written at most LATE seconds after its key's time) and skips what the base already applied (the index keeps
  every applied segment's name); the compaction leaves them to their 14-day expiry, and a workspace's weekly
  counter fold compacts its index first (services/analytics.py), so none expires before a base holds it.

Why not OpenSearch Serverless: docs/ARCHITECTURE.md ("Full-text search").
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Protocol

from chalicelib.domain.model import new_id, stable_hash
from chalicelib.search.analyze import Query
from chalicelib.search.index import Filter, Hit, Op, SqliteIndex
from chalicelib.store import keys
from chalicelib.store.models import DELTA_SEGMENT

_SAFE = re.compile(r"[^A-Za-z0-9_-]")
COMPACT_AFTER = 20  # about this many segments of a workspace before they are folded into its base
SMALL_SEGMENT = 8 * 1024  # bytes: up to here an item (1 write unit per KB) costs less than an S3 PUT (8 units)
ITEM_TYPE = "searchseg"
ITEM_REF = "item:"  # a segment kept as an item: "item:<name>.json" beside S3's ".../seg/<name>.json"
CARRIED_REF = "delta:"  # a segment carried by a counter delta item: "delta:<name>.json"
CARRIED_MARGIN_MS = 10 * 60 * 1000  # deltas listed from this long before the base's last segment (a delta is late
# by at most LATE = 30 s plus the batch's run: store/analytics.py)


def segment_body(ops: Iterable[Op]) -> bytes:
    """What a segment stores: the batch's operations as compact JSON."""
    return json.dumps([op.to_json() for op in ops], ensure_ascii=False, separators=(",", ":")).encode()


def segment_name(ref: str) -> str:
    """`<time-sortable id>.json`, whichever store the segment is in."""
    return ref.removeprefix(ITEM_REF).removeprefix(CARRIED_REF).rsplit("/", 1)[-1]


def carried_name(delta_key: str) -> str:
    """A carried segment's name, in the same time-sortable form as `new_id`'s: from its delta's key
    (`<ms, 13 digits>#<eventID>`), so the same delta is always the same segment."""
    return f"s{int(delta_key[:13]):012x}{stable_hash(delta_key, length=8)}.json"


def name_ms(name: str) -> int:
    """The milliseconds in a segment's (or base's) name, 0 when it has none."""
    try:
        return int(name[1:13], 16)
    except ValueError:
        return 0


class ItemSegments:
    """Small segments as items of the main table: pk `keys.search_segments`, sk the segment's name, the operations
    in `ops`.
    The stream's filter drops their records (no consumer reads this type) and backups leave them out (no
    workspace id: `reindex-search` rebuilds an index); the compaction deletes them once folded into a base."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def _pk(self, ws: str) -> dict[str, str]:
        return {"S": keys.search_segments(ws)}

    def put(self, ws: str, name: str, body: bytes) -> None:
        self.client.put_item(TableName=self.table, Item={"pk": self._pk(ws), "sk": {"S": name},
                                                         "type": {"S": ITEM_TYPE}, "ops": {"B": body}})

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        """The items of one strongly consistent Query, page after page."""
        params = {"TableName": self.table, "ConsistentRead": True, **params}
        while True:
            page = self.client.query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def listing(self, ws: str) -> dict[str, bytes]:
        """Every segment item of the workspace: name -> operations (one strongly consistent Query, paged)."""
        items = self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": self._pk(ws)})
        return {item["sk"]["S"]: bytes(item["ops"]["B"]) for item in items}

    def delete(self, ws: str, name: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": self._pk(ws), "sk": {"S": name}})

    def carried(self, ws: str, since_ms: int) -> dict[str, bytes]:
        """The segments the workspace's counter deltas carry, from `since_ms` on: name -> operations (one strongly
        consistent Query, paged; deltas carrying none are read too, and left out)."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk >= :since", FilterExpression="attribute_exists(#s)",
            ProjectionExpression="sk, #s", ExpressionAttributeNames={"#s": DELTA_SEGMENT},
            ExpressionAttributeValues={":pk": {"S": keys.counter_deltas(ws)}, ":since": {"S": f"{since_ms:013d}"}})
        return {carried_name(item["sk"]["S"]): zlib.decompress(bytes(item[DELTA_SEGMENT]["B"])) for item in items}


def _carried(pending: Mapping[str, list[Op]], carried: Collection[str]) -> dict[str, bytes]:
    """The small segments of the workspaces in `carried`."""
    bodies = {ws: segment_body(ops) for ws, ops in pending.items() if ws in carried and ops}
    return {ws: body for ws, body in bodies.items() if len(body) <= SMALL_SEGMENT}


def file_name(ws: str) -> str:
    return _SAFE.sub("_", ws)[:120] or "_"


class Engine(Protocol):
    def add(self, ws: str, ops: Iterable[Op]) -> None: ...

    def flush(self, carried: Collection[str] = ()) -> dict[str, bytes]: ...

    def search(self, ws: str, query: Query, flt: Filter, *, limit: int, offset: int) -> list[Hit]: ...

    def index_of(self, ws: str) -> SqliteIndex: ...


class LocalEngine:
    """Embedded mode: `<root>/<ws>.sqlite`, written as each change arrives (nothing to flush)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._open: dict[str, SqliteIndex] = {}
        self._lock = threading.Lock()
        self._batch = threading.local()  # this thread's stream batch: ws -> its operations (what a delta carries)

    def index_of(self, ws: str) -> SqliteIndex:
        with self._lock:
            if ws not in self._open:
                self._open[ws] = SqliteIndex(os.path.join(self.root, file_name(ws) + ".sqlite"))
            return self._open[ws]

    def add(self, ws: str, ops: Iterable[Op]) -> None:
        batch = list(ops)
        if batch:
            self.index_of(ws).apply(batch)
            pending = getattr(self._batch, "ops", None)
            if pending is None:
                pending = self._batch.ops = defaultdict(list)
            pending[ws].extend(batch)

    def flush(self, carried: Collection[str] = ()) -> dict[str, bytes]:
        """Applied already; what AWS mode's delta items would carry is handed back all the same, so that embedded
        mode writes the same delta items (and the benchmarks count their real size)."""
        pending = getattr(self._batch, "ops", None) or {}
        self._batch.ops = None
        return _carried(pending, carried)

    def search(self, ws: str, query: Query, flt: Filter, *, limit: int, offset: int) -> list[Hit]:
        return self.index_of(ws).search(query, flt, limit=limit, offset=offset)


class S3Engine:
    """AWS mode: base + segments in S3 (see the module's docstring); `client` is a boto3 S3 client."""

    def __init__(self, bucket: str, client: Any, cache_dir: str, *, prefix: str = "search/",
                 chance: Any = random.random, items: ItemSegments | None = None) -> None:
        self.bucket, self.client, self.cache_dir, self.prefix = bucket, client, cache_dir, prefix
        self._chance = chance
        self.items = items  # small segments as table items (None: every segment is an S3 object)
        self._item_bodies: dict[tuple[str, str], bytes] = {}  # (ws, name) -> operations, from the last listing
        self._pending: dict[str, list[Op]] = defaultdict(list)
        self._cached: dict[str, tuple[str, SqliteIndex]] = {}  # ws -> (base key, index built from it)
        self._lock = threading.Lock()
        self.requests: dict[str, int] = defaultdict(int)  # S3 calls by kind (benchmarks, tests)

    # --- the writer (stream Lambda) ---

    def add(self, ws: str, ops: Iterable[Op]) -> None:
        self._pending[ws].extend(ops)

    def flush(self, carried: Collection[str] = ()) -> dict[str, bytes]:
        """One segment per workspace touched by the batch; called once at the end of the batch. A small one of a
        workspace in `carried` is handed back (its counter delta item carries it) instead of written."""
        pending, self._pending = self._pending, defaultdict(list)
        handed = _carried(pending, carried) if self.items is not None else {}
        for ws, ops in pending.items():
            if not ops:
                continue
            if ws not in handed:  # a handed one is written by the caller, in the delta item
                body = segment_body(ops)
                name = f"{new_id('s')}.json"
                if self.items is not None and len(body) <= SMALL_SEGMENT:
                    self.requests["item_put"] += 1
                    self.items.put(ws, name, body)
                else:
                    self._call("put", Bucket=self.bucket, Key=f"{self._ws(ws)}seg/{name}", Body=body,
                               ContentType="application/json")
            if self._chance() < 1 / COMPACT_AFTER:
                self.compact(ws)
        return handed

    # --- the reader (API Lambda) ---

    def index_of(self, ws: str) -> SqliteIndex:
        """The workspace's index in /tmp, brought up to date with S3: one LIST, then only what is new."""
        try:
            index, segments = self._sync(ws)
        except self.client.exceptions.ClientError:  # a compaction removed what was listed: list again, once
            index, segments = self._sync(ws)
        if len(segments) >= 2 * COMPACT_AFTER:
            self.compact(ws)
        return index

    def _sync(self, ws: str) -> tuple[SqliteIndex, list[str]]:
        with self._lock:
            base, segments = self._listing(ws)
            cached = self._cached.get(ws)
            if cached is None or cached[0] != base:
                if cached is not None:
                    cached[1].close()
                path = os.path.join(self.cache_dir, f"{file_name(ws)}.{file_name(base or 'empty')}.sqlite")
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)
                os.makedirs(self.cache_dir, exist_ok=True)
                if base:
                    self._call("get_file", self.bucket, base, path)
                cached = (base, SqliteIndex(path))
                self._cached[ws] = cached
            index = cached[1]
            done = index.applied()
            for key in segments:
                name = segment_name(key)
                if name not in done:
                    index.apply(self._segment_ops(ws, key), segment=name)
            return index, segments

    def search(self, ws: str, query: Query, flt: Filter, *, limit: int, offset: int) -> list[Hit]:
        return self.index_of(ws).search(query, flt, limit=limit, offset=offset)

    # --- compaction ---

    def compact(self, ws: str) -> bool:
        """Fold the workspace's segments into a new base (named after the last one), then remove the old files."""
        base, segments = self._listing(ws)
        if not segments:
            return False
        index = self._sync(ws)[0]
        index.optimize()
        last = segment_name(segments[-1]).removesuffix(".json")
        new_base = f"{self._ws(ws)}base/{last}.sqlite"
        self._call("put_file", index.path, self.bucket, new_base)
        for key in [*segments, *([base] if base else [])]:
            if key.startswith(CARRIED_REF):
                continue  # the delta item is the counters' too: it expires with them
            if key.startswith(ITEM_REF) and self.items is not None:
                self.requests["item_delete"] += 1
                self.items.delete(ws, segment_name(key))
            else:
                self._call("delete", Bucket=self.bucket, Key=key)
        return True

    # --- S3 ---

    def _ws(self, ws: str) -> str:
        return f"{self.prefix}{file_name(ws)}/"

    def _listing(self, ws: str) -> tuple[str, list[str]]:
        """The newest base and the segments after it, in order."""
        keys = [o["Key"] for page in self._pages(Prefix=self._ws(ws)) for o in page.get("Contents", [])]
        bases = sorted(k for k in keys if "/base/" in k)
        base = bases[-1] if bases else ""
        covered = base.rsplit("/", 1)[-1].removesuffix(".sqlite") if base else ""
        refs = [k for k in keys if "/seg/" in k]
        carried: list[str] = []
        if self.items is not None:
            self.requests["item_list"] += 1
            bodies = self.items.listing(ws)
            riding = self.items.carried(ws, max(0, name_ms(covered) - CARRIED_MARGIN_MS) if covered else 0)
            self._item_bodies = {key: body for key, body in self._item_bodies.items() if key[0] != ws}
            self._item_bodies.update({(ws, name): body for name, body in [*bodies.items(), *riding.items()]})
            refs += [ITEM_REF + name for name in bodies]
            carried = [CARRIED_REF + name for name in riding]  # those the base holds: skipped as applied (_sync)
        kept = [r for r in refs if segment_name(r).removesuffix(".json") > covered]
        return base, sorted([*kept, *carried], key=segment_name)

    def _pages(self, **params: Any) -> Iterable[dict[str, Any]]:
        token = None
        while True:
            extra: dict[str, Any] = {"ContinuationToken": token} if token else {}
            page = self._call("list", Bucket=self.bucket, **params, **extra)
            yield page
            token = page.get("NextContinuationToken")
            if not token:
                return

    def _segment_ops(self, ws: str, key: str) -> list[Op]:
        if key.startswith((ITEM_REF, CARRIED_REF)):
            body = self._item_bodies[(ws, segment_name(key))]  # read by the listing just before
        else:
            body = self._call("get", Bucket=self.bucket, Key=key)["Body"].read()
        return [Op.from_json(v) for v in json.loads(body)]

    def _call(self, kind: str, *args: Any, **kwargs: Any) -> Any:
        self.requests[kind] += 1
        method = {"put": self.client.put_object, "get": self.client.get_object, "list": self.client.list_objects_v2,
                  "delete": self.client.delete_object, "get_file": self.client.download_file,
                  "put_file": self.client.upload_file}[kind]
        return method(*args, **kwargs)
