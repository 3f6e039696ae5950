"""Analytics (G1-G5): `measure(stack) -> dict`.

1. `analytics.dashboard_read_units_100k_over_1k`: read units of opening the dashboard (every DynamoDB read it makes,
   from DynamoDB's own `ConsumedCapacity`) in a workspace whose counters hold 100,000 messages against one with
   1,000, over the same 48 hours, 3 channels, 5 operators and 4 tags (goal <= 1.1); also the first open in an
   hour, which folds the deltas and sums the window's final hours into that hour's snapshot (services/analytics.py).
   The counters are written the way the stream writes them: the same pure deltas (domain/analytics.py) from items
   shaped as the stream decodes them, 25 messages (about 100 stream records) per batch through store/analytics.py,
   each batch counted as its first change comes in (one delta item per batch).
2. `analytics.stream_writes_per_message`: write units the counters add per inbound follow-up message through the
   real stream (webhook -> pump -> handler), for a burst drained in full batches (goal <= 1), and for one message
   per batch (the worst case, at a trickle of traffic): one delta item (1 unit under 1 KB) per workspace per batch.
3. `analytics.export_100k_s_over_library`: time to export 100,000 rows as XLSX through services/exports.py against
   openpyxl's write-only workbook writing the same rows alone (goal <= 1.5), in the same run; CSV the same against
   the csv module; and the export's peak memory (tracemalloc) at 10,000 and 100,000 rows.
"""

from __future__ import annotations

import csv
import os
import random
import secrets
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import requests

from bench import harness
from bench.tasks_bench import CapacityMeter

GOALS = {"dashboard_read_units_100k_over_1k": 1.1, "stream_writes_per_message": 1.0,
         "export_100k_s_over_library": 1.5}
PER_BATCH = 25  # messages per stream batch: about 100 records (inbound, message, conversation, counters)


class ReadMeter(CapacityMeter):
    """CapacityMeter that also sums the read units of GetItem calls (snapshots, team settings)."""

    OPERATIONS = ("Query", "GetItem")


def _fill_counters(ws: str, messages: int, now: datetime, seed: int) -> int:
    """Counters of `messages` customer messages (and their conversations, replies, first responses, closes) over
    the last 48 hours, written batch by batch as the stream would. Returns the delta items written."""
    from chalicelib.domain import analytics as rules
    from chalicelib.domain.model import iso, parse_iso
    from chalicelib.store import analytics as store

    rng = random.Random(seed)
    channels = [f"ch_bench_{i}" for i in range(3)]
    operators = [f"u_bench_{i}" for i in range(5)]
    tags = ["refund", "delivery", "vip", "bug"]
    written = 0
    records: list[store.Record] = []
    start = now - timedelta(hours=48)
    for n in range(messages):
        at = start + timedelta(seconds=(n * 48 * 3600) // messages)
        channel, operator = rng.choice(channels), rng.choice(operators)
        batch: list[tuple[str, str, Any, Any]] = []
        message = SimpleNamespace(workspace_id=ws, channel_id=channel, created_at=iso(at), occurred_at=None,
                                  direction="in", origin="customer", author_id="")
        batch.append(("INSERT", "message", message, None))
        if n % 10 == 0:  # every tenth message opens a conversation, which is answered and closed
            base = dict(workspace_id=ws, channel_id=channel, assignee_id=operator, tags=[rng.choice(tags)],
                        created_at=iso(at), status="new", first_response_at=None, first_response_seconds=None,
                        first_inbound_at=iso(at), closed_at=None, changed_at=None, changed_by=None,
                        last_activity_at=iso(at), sla_breaches=0, sla_breached_at=None, awaiting_since=iso(at),
                        blocked=False)
            new = SimpleNamespace(**base)
            answered_at = at + timedelta(seconds=rng.randint(20, 3600))
            answered = SimpleNamespace(**{**base, "first_response_at": iso(answered_at), "status": "in_progress",
                                          "first_response_seconds": int((answered_at - at).total_seconds()),
                                          "awaiting_since": None})
            closed = SimpleNamespace(**{**vars(answered), "status": "closed",
                                        "closed_at": iso(answered_at + timedelta(minutes=5))})
            batch += [("INSERT", "conversation", new, None), ("MODIFY", "conversation", answered, new),
                      ("MODIFY", "conversation", closed, answered)]
            reply = SimpleNamespace(**{**vars(message), "direction": "out", "origin": "operator",
                                       "author_id": f"user:{operator}", "created_at": iso(answered_at)})
            batch.append(("INSERT", "message", reply, None))
        for event, kind, item, old in batch:
            deltas = _deltas(event, kind, item, old)
            if deltas:
                changed = parse_iso(rules.change_time(item))
                records.append((secrets.token_hex(16), str(10**20 + len(records)), int(changed.timestamp() * 1000),
                                deltas))
        if (n + 1) % PER_BATCH == 0 or n == messages - 1:  # counted as the batch's first change comes in
            written += store.apply(records, now=datetime.fromtimestamp(records[0][2] / 1000 + 1, UTC)) if records else 0
            records = []
    return written


def _deltas(event: str, kind: str, new: Any, old: Any) -> dict[tuple[str, str], dict[str, int]]:
    """What services/analytics.deltas_of gives for a decoded item of this kind (the same pure functions)."""
    from chalicelib.domain import analytics as rules

    batch = rules.Batch()
    if kind == "conversation":
        for delta in rules.conversation_deltas(event, new, old):
            batch.add(delta)
    else:
        for delta in rules.message_deltas(event, new):
            batch.add(delta)
    return batch.nonzero()


def _dashboard_units(meter: ReadMeter, ws: str) -> tuple[float, int, float]:
    """Read units and requests of an open of the dashboard, and of the first open in the hour before it (which
    sums the window's final hours into the hour's snapshot; it also warms the team settings' 30 s cache, as in a
    warm Lambda)."""
    from chalicelib.services import analytics
    from chalicelib.services.deps import deps

    meter.take_units()
    analytics.dashboard(deps(), ws)
    first, _ = meter.take_units()
    board = analytics.dashboard(deps(), ws)
    units, queries = meter.take_units()
    assert board["current"]["messages_in"] > 0
    return units, queries, first


def dashboard_figure(stack: Any) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    now = deps().now()
    small, big = harness.new_channel(stack).workspace_id, harness.new_channel(stack).workspace_id
    started = time.perf_counter()
    tx_small = _fill_counters(small, 1_000, now, 1)
    tx_big = _fill_counters(big, 100_000, now, 2)
    fill_s = time.perf_counter() - started
    meter = ReadMeter()
    meter.install()
    try:
        small_units, small_q, small_first = _dashboard_units(meter, small)
        big_units, big_q, big_first = _dashboard_units(meter, big)
    finally:
        meter.uninstall()
    return {"dashboard_read_units_100k_over_1k": round(big_units / small_units, 3),
            "read_units_100k": big_units, "read_units_1k": small_units, "requests_100k": big_q,
            "requests_1k": small_q, "first_open_of_the_hour_read_units_100k": big_first,
            "first_open_of_the_hour_read_units_1k": small_first, "delta_items_100k": tx_big,
            "delta_items_1k": tx_small,
            "fill_seconds": round(fill_s, 1)}


def stream_figure(stack: Any) -> dict[str, Any]:
    from chalicelib.store import analytics as store

    def drain() -> None:
        stack.pump.drain(timeout=600)  # to the end: a shared machine may be slow, the figure counts everything

    channel = harness.new_channel(stack)
    session = requests.Session()
    chats = [700_000_000 + i for i in range(20)]
    for chat in chats:  # the conversations exist: what follows are follow-ups
        assert harness.post(session, channel, harness.encode(harness.telegram_update(chat, "hello"))).status == 200
    drain()

    def burst(count: int, per_drain: int) -> tuple[float, int, float]:
        before, deltas = store.STATS.write_units, store.STATS.deltas_written
        for n in range(count):
            update = harness.telegram_update(chats[n % len(chats)], f"follow-up {n}")
            assert harness.post(session, channel, harness.encode(update)).status == 200
            if (n + 1) % per_drain == 0:
                drain()
        drain()
        # AWS's rule: 1 write unit per delta item under 1 KB (one per workspace per batch)
        return (store.STATS.deltas_written - deltas) / count, store.STATS.deltas_written - deltas, \
            (store.STATS.write_units - before) / count

    burst_units, burst_items, burst_local = burst(200, 200)
    single_units, single_items, single_local = burst(20, 1)
    return {"stream_writes_per_message": round(burst_units, 3), "burst_messages": 200,
            "burst_delta_items": burst_items, "one_message_per_batch_write_units": round(single_units, 3),
            "one_message_per_batch_delta_items": single_items, "pump_batch_size": stack.pump.batch_size,
            "dynamodb_local_reported_burst": round(burst_local, 3),
            "dynamodb_local_reported_one_per_batch": round(single_local, 3)}


def _rows(n: int) -> Any:
    for i in range(n):
        yield [f"c{i:010d}", "2026-12-03 10:00:00", "Telegram bot", f"Customer {i}", "closed", "Olga", "refund, vip",
               i % 977, "2026-12-03 11:00:00", i % 3607, 4, 0, "normal"]


HEADER = ["conversation_id", "created", "channel", "contact", "status", "assignee", "tags", "first_response_s",
          "closed", "resolution_s", "messages", "sla_breaches", "priority"]


def _library_xlsx(path: str, n: int) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("report")
    sheet.append(HEADER)
    for row in _rows(n):
        sheet.append(row)
    book.save(path)


def _library_csv(path: str, n: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(_rows(n))


def export_figure() -> dict[str, Any]:
    from chalicelib.services import exports

    n = 100_000
    folder = tempfile.mkdtemp(prefix="zabota-export-bench-")
    out: dict[str, Any] = {}
    try:
        for fmt, library in (("xlsx", _library_xlsx), ("csv", _library_csv)):
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(2):  # interleaved, best of two each: the machine is shared
                started = time.perf_counter()
                library(os.path.join(folder, f"lib.{fmt}"), n)
                theirs.append(time.perf_counter() - started)
                started = time.perf_counter()
                exports.write_rows(os.path.join(folder, f"ours.{fmt}"), fmt, HEADER, _rows(n),
                                   text_columns=exports.CONVERSATION_TEXT)
                ours.append(time.perf_counter() - started)
            out[f"{fmt}_100k_s"] = round(min(ours), 2)
            out[f"{fmt}_library_100k_s"] = round(min(theirs), 2)
            out[f"{fmt}_100k_s_over_library"] = round(min(ours) / min(theirs), 3)
            for rows in (10_000, n):
                tracemalloc.start()
                exports.write_rows(os.path.join(folder, f"mem.{fmt}"), fmt, HEADER, _rows(rows),
                                   text_columns=exports.CONVERSATION_TEXT)
                out[f"{fmt}_peak_kb_{rows // 1000}k"] = round(tracemalloc.get_traced_memory()[1] / 1024)
                tracemalloc.stop()
            out[f"{fmt}_file_kb_100k"] = round(os.path.getsize(os.path.join(folder, f"ours.{fmt}")) / 1024)
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    out["export_100k_s_over_library"] = out["xlsx_100k_s_over_library"]
    return out


def measure(stack: Any) -> dict[str, Any]:
    started = datetime.now(UTC)
    result: dict[str, Any] = {"goals": GOALS}
    result.update(dashboard_figure(stack))
    result.update(stream_figure(stack))
    result.update(export_figure())
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    return result


if __name__ == "__main__":  # python -m bench.analytics_bench: this section alone, on its own stack
    import json

    stack = harness.start_stack()
    try:
        print(json.dumps(measure(stack), indent=2))
    finally:
        harness.stop_stack(stack)
