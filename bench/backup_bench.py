"""Backups (I2): export of a workspace of 100,000 items, in seconds and peak memory, on the embedded stack.

The workspace holds 1,000 conversations of 99 messages each plus the conversations (100,000 items, ~400 bytes of
message text and attributes each), written straight to the table in the shape the app writes them (marked as
restored, so the stream pump leaves them alone, as it does after an import). Figures:
- `backup.export_100k_s`: wall time of `export_workspace` of the 100,000 items into a file (a paged Scan of the
  table; the table then holds 110,000 items: a Scan's time follows the table, not only the workspace);
- `backup.process_rss_growth_mib_during_100k_export`: how much the process's peak resident memory grew during that
  export, after a 10,000-item export ran first (streamed: about nothing; holding the items would be hundreds of MB);
- `backup.export_peak_mib_100k` over `backup.export_peak_mib_10k`: peak Python memory (tracemalloc, in a second,
  traced run) of the 100,000-item export over that of the 10,000-item one: about one Scan page each (goal <= 1.5);
- `backup.export_over_bare_scan_10k`: export time over a bare paged Scan with the same filter and no output, on the
  10,000-item table (same run: what writing the lines adds to reading);
- `backup.import_10k_s`: check, then write the 10,000 items as a workspace the stack does not hold.
"""

from __future__ import annotations

import os
import resource
import secrets
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from typing import Any

GOAL_PEAK_RATIO = 1.5  # streamed: exporting ten times the items needs about the same memory
GOAL_RSS_GROWTH_MIB = 16  # a streamed export holds one Scan page (<= 1 MB of items) at a time
CONVERSATIONS = 1000
PER_CONVERSATION = 99
TEXT = ("Здравствуйте! Заказ 4821 до сих пор не пришёл, курьер не звонил, в приложении статус «передан в доставку» "
        "уже третий день. Подскажите, пожалуйста, что с ним и когда ждать? ")


def _items(ws: str, conversations: range, per_conversation: int, at: str) -> Iterator[dict[str, Any]]:
    for c in conversations:
        conv = f"c_{ws}_{c:05d}"
        pk = {"S": f"WS#{ws}#CONV#{conv}"}
        yield {"pk": pk, "sk": {"S": "CONV"}, "type": {"S": "conversation"}, "workspace_id": {"S": ws},
               "conversation_id": {"S": conv}, "channel_id": {"S": "ch_bench"}, "channel_kind": {"S": "telegram"},
               "contact_id": {"S": f"k{c}"}, "external_conversation_id": {"S": str(c)},
               "status": {"S": "new"}, "last_activity_at": {"S": at}, "restored": {"S": "bench"}}
        for m in range(per_conversation):
            yield {"pk": pk, "sk": {"S": f"MSG#m{m:05d}"}, "type": {"S": "message"}, "workspace_id": {"S": ws},
                   "message_id": {"S": f"m{m:05d}"}, "conversation_id": {"S": conv}, "channel_id": {"S": "ch_bench"},
                   "direction": {"S": "in"}, "origin": {"S": "customer"}, "text": {"S": TEXT},
                   "attachments": {"S": "[]"}, "status": {"S": "received"}, "created_at": {"S": at},
                   "restored": {"S": "bench"}}


def _fill(ws: str, conversations: int, per_conversation: int, now: datetime, *, threads: int = 4) -> int:
    """The workspace's items, written 25 at a time from a few threads (DynamoDB Local takes writes in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.store import backup, repo

    repo.put_workspace(ws, f"Bench {ws}", language="ru", now=now)
    at = now.isoformat()

    def write(part: range) -> int:
        written, batch = 0, []
        for item in _items(ws, part, per_conversation, at):  # made as written: the fill holds 25 at a time
            batch.append(item)
            if len(batch) == 25:
                backup._batch_put(batch)
                written, batch = written + 25, []
        if batch:
            backup._batch_put(batch)
        return written + len(batch)

    step = max(1, conversations // (threads * 4))
    parts = [range(s, min(s + step, conversations)) for s in range(0, conversations, step)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(write, parts)) + 1  # and the workspace


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(ws: str, now: datetime, *, trace: bool) -> tuple[float, int, int]:
    from chalicelib.store import backup

    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        with open(path, "w", encoding="utf-8") as out:
            summary = backup.export_workspace(ws, out, files=None, now=now)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        return seconds, peak, summary.items
    finally:
        os.remove(path)


def _bare_scan(ws: str) -> float:
    from chalicelib.store import backup

    started = time.perf_counter()
    sum(1 for _ in backup._scan_workspace(ws))
    return time.perf_counter() - started


def _import(ws: str, now: datetime) -> tuple[float, int]:
    """Export to a file, give it a workspace id the stack does not hold, import it: check + write."""
    from chalicelib.store import backup

    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    fresh = f"bimp{secrets.token_hex(3)}"
    try:
        with open(path, "w", encoding="utf-8") as out:
            backup.export_workspace(ws, out, files=None, now=now)
        renamed = path + ".renamed"
        with open(path, encoding="utf-8") as src, open(renamed, "w", encoding="utf-8") as dst:
            _rename(src, dst, ws, fresh)
        started = time.perf_counter()
        summary = backup.import_workspace(lambda: open(renamed, encoding="utf-8"), files=None, restore_id="bench")
        return time.perf_counter() - started, summary.items
    finally:
        for p in (path, path + ".renamed"):
            if os.path.exists(p):
                os.remove(p)


def _rename(src: Any, dst: Any, ws: str, fresh: str) -> None:
    """The same file for another workspace id (keys and hash rewritten): what a restore into a new id would read."""
    import hashlib
    import json

    digest = hashlib.sha256()
    counts = {"items": 0, "users": 0, "files": 0}
    for line in src:
        value = json.loads(line)
        if "end" in value:
            break
        text = line.replace(f"WS#{ws}", f"WS#{fresh}").replace(f'"{ws}"', f'"{fresh}"')
        digest.update(text.encode())
        dst.write(text)
        for kind in ("item", "user", "file"):
            counts[f"{kind}s"] += 1 if kind in value else 0
    dst.write(json.dumps({"end": {**counts, "sha256": digest.hexdigest()}}, separators=(",", ":"),
                         sort_keys=True) + "\n")


def measure(stack: Any) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    now = deps().now()
    big, small = f"bbig{secrets.token_hex(3)}", f"bsmall{secrets.token_hex(3)}"
    started = time.perf_counter()
    items_small = _fill(small, CONVERSATIONS // 10, PER_CONVERSATION, now)  # first: its scans read 10,000 items
    _, peak_small, _ = _export(small, now, trace=True)
    seconds_small, _, _ = _export(small, now, trace=False)
    scan_small = _bare_scan(small)
    import_seconds, imported = _import(small, now)
    items_big = _fill(big, CONVERSATIONS, PER_CONVERSATION, now)
    fill_seconds = time.perf_counter() - started
    rss_before = _rss_mib()
    seconds, _, exported = _export(big, now, trace=False)
    rss_growth = _rss_mib() - rss_before
    _, peak_big, _ = _export(big, now, trace=True)
    return {
        "export_100k_s": round(seconds, 1), "items_exported": exported, "items_written": items_big,
        "export_over_bare_scan_10k": round(seconds_small / scan_small, 2) if scan_small else None,
        "export_10k_s": round(seconds_small, 1), "bare_scan_10k_s": round(scan_small, 1),
        "export_peak_mib_10k": round(peak_small / 2**20, 2), "export_peak_mib_100k": round(peak_big / 2**20, 2),
        "peak_100k_over_10k": round(peak_big / peak_small, 2) if peak_small else None,
        "goal_peak_ratio": GOAL_PEAK_RATIO,
        "process_rss_growth_mib_during_100k_export": round(rss_growth, 1),
        "goal_rss_growth_mib": GOAL_RSS_GROWTH_MIB, "small_workspace_items": items_small,
        "import_10k_s": round(import_seconds, 1), "items_imported": imported,
        "fill_s": round(fill_seconds, 1),
        "note": "the export Scans the whole table: its time follows the table's size, not only the workspace's",
    }
