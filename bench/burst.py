"""Figure 3: a burst of webhooks from many threads, with duplicates; nothing may be lost, doubled or refused.

2,000 POSTs from 16 threads: 1,800 unique updates from 200 customers plus 200 of them posted a second time, in a
shuffled order (some duplicates race their original). After the burst the stream is drained and the stored
inbound messages of the burst's workspace are counted by their unique texts. Throughput is compared with bare
PutItem calls from as many threads on the same DynamoDB Local (measured before and after the burst, averaged).
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench import bare, harness


def measure(stack: Any, channel: harness.Channel, *, total: int = 2000, threads: int = 16,
            duplicate_share: float = 0.1, customers: int = 200, drain_timeout: float = 300) -> dict[str, Any]:
    from chalicelib.services.deps import deps

    main_table = deps().settings.main_table
    ddb = bare.client(stack.ddb.endpoint, pool=threads * 2)
    bare.create_table_like(ddb, main_table)
    duplicates = int(total * duplicate_share)
    unique = total - duplicates
    tag = secrets.token_hex(3)
    base = 30_000_000 + secrets.randbelow(10**6) * 1000
    texts = [f"burst {tag} #{k}" for k in range(unique)]
    bodies = [harness.encode(harness.telegram_update(base + k % customers, text)) for k, text in enumerate(texts)]
    rng = random.Random(7)
    posts = bodies + rng.sample(bodies, duplicates)
    rng.shuffle(posts)

    template = bare.sample_inbound_item(ddb, main_table)
    sessions = threading.local()

    failed_ordinals: list[int] = []

    def send(body: bytes) -> harness.Posted:
        if not hasattr(sessions, "session"):
            sessions.session, sessions.sent = requests.Session(), 0
        sessions.sent += 1
        posted = harness.post(sessions.session, channel, body)
        if posted.status != 200:
            failed_ordinals.append(sessions.sent)  # 1: the thread's first request, on a new connection
        return posted

    with _count_pool_warnings() as pool_full:
        bare_before = _throughput(lambda _: bare.put(ddb, template), range(total), threads)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(send, posts))
        wall = time.perf_counter() - started
        bare_after = _throughput(lambda _: bare.put(ddb, template), range(total), threads)

    parked_before = stack.pump.stats.parked
    drain_started = time.perf_counter()
    drained = int(stack.pump.drain(timeout=drain_timeout))
    drain_seconds = time.perf_counter() - drain_started
    stored = _stored_inbound(ddb, main_table, channel.workspace_id)
    # the webhook's items: a customer's message is queued under its provider-id pointer, other events as IN#
    inbound_items = _count(ddb, main_table, "#t IN (:t, :q) AND channel_id = :c",
                           {":t": {"S": "inbound"}, ":q": {"S": "inmsg"}, ":c": {"S": channel.channel_id}})
    conversations = _count(ddb, main_table, "#t = :t AND workspace_id = :w",
                           {":t": {"S": "conversation"}, ":w": {"S": channel.workspace_id}})

    statuses = Counter(posted.status for posted in results)
    errors = Counter(posted.error for posted in results if posted.error)
    expected = set(texts)
    stored_set = set(stored)
    throughput = total / wall
    bare_rate = (bare_before + bare_after) / 2
    return {
        "goal": "0 5xx, 0 non-200, 0 lost, 0 doubled",
        "posts": total, "unique_updates": unique, "duplicate_posts": duplicates, "threads": threads,
        "customers": customers, "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "status_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "non_200": sum(v for k, v in statuses.items() if k != 200),
        "client_errors": dict(errors.most_common(5)),
        "never_acknowledged": _never_acknowledged(posts, results),
        "failed_post_ordinals_per_thread": sorted(failed_ordinals)[:20],
        "stored_messages": len(stored), "lost": len(expected - stored_set),
        "doubled": len(stored) - len(stored_set), "unexpected": len(stored_set - expected),
        "inbound_items": inbound_items, "conversations": conversations,
        "wall_seconds": round(wall, 2), "webhooks_per_second": round(throughput, 1),
        "bare_puts_per_second": round(bare_rate, 1), "bare_before": round(bare_before, 1),
        "bare_after": round(bare_after, 1), "slowdown": round(bare_rate / throughput, 2) if throughput else None,
        "drain_seconds": round(drain_seconds, 1), "drained_records": drained,
        "drain_records_per_second": round(drained / drain_seconds, 1) if drain_seconds else None,
        "parked_records": stack.pump.stats.parked - parked_before, "pool_full_warnings": pool_full.count,
    }


class _PoolFull(logging.Handler):
    """Counts urllib3's "Connection pool is full, discarding connection" warnings instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


@contextlib.contextmanager
def _count_pool_warnings() -> Iterator[_PoolFull]:
    """While inside: urllib3 pool warnings (clients whose pool is smaller than their threads) are counted."""
    target = logging.getLogger("urllib3.connectionpool")
    handler, propagate = _PoolFull(), target.propagate
    target.addHandler(handler)
    target.propagate = False
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        target.propagate = propagate


def _never_acknowledged(posts: Sequence[bytes], results: Sequence[harness.Posted]) -> int:
    """Updates none of whose POSTs got a 200 (a provider would retry those; the benchmark does not)."""
    acknowledged = {body for body, posted in zip(posts, results, strict=True) if posted.status == 200}
    return len(set(posts) - acknowledged)


def _throughput(task: Callable[[int], Any], items: Sequence[int], threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(task, items))
    return len(items) / (time.perf_counter() - started)


def _scan(ddb: Any, table: str, condition: str, values: dict[str, Any], project: str) -> list[dict[str, Any]]:
    """Every item matching `condition` (`#t` names the `type` attribute), with only attribute `project`."""
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": condition, "ConsistentRead": True,
                              "ExpressionAttributeNames": {"#t": "type", "#p": project},
                              "ExpressionAttributeValues": values, "ProjectionExpression": "#p"}
    items: list[dict[str, Any]] = []
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _count(ddb: Any, table: str, condition: str, values: dict[str, Any]) -> int:
    return len(_scan(ddb, table, condition, values, "pk"))


def _stored_inbound(ddb: Any, table: str, workspace_id: str) -> list[str]:
    """Texts of the inbound messages stored in the workspace's conversations (one entry per stored message)."""
    items = _scan(ddb, table, "#t = :t AND workspace_id = :w AND direction = :d",
                  {":t": {"S": "message"}, ":w": {"S": workspace_id}, ":d": {"S": "in"}}, "text")
    return [item.get("text", {}).get("S", "") for item in items]
