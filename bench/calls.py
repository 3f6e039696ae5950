"""Figure 1: DynamoDB API calls per inbound webhook (cold and warm) and per inbound message in the stream handler.

Webhooks are posted over HTTP to the runner, whose server thread runs in this process, so the hooked clients see
every call of the real path. Cold is the first webhook after `repo.forget_cached_channels()`; warm is the rest.
The first batch opens new conversations (the stream handler then also greets), the second follows up on them.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

import requests

from bench import harness
from bench.ddbcalls import DynamoCallCounter

GOAL_PER_WEBHOOK = 2


def per_unit(counts: Counter[str], units: int) -> dict[str, float]:
    """Counts divided by `units`, largest first."""
    return {name: round(n / units, 2) for name, n in counts.most_common()} if units else {}


def measure(stack: Any, channel: harness.Channel, *, webhooks: int = 50, customers: int = 10) -> dict[str, Any]:
    from chalicelib.store import repo

    counter = DynamoCallCounter(exclude=[stack.pump._ddb]).install()
    try:
        session = requests.Session()
        base = 10_000_000 + secrets.randbelow(10**6) * 1000
        chats = [base + i for i in range(customers)]
        statuses: Counter[int] = Counter()
        stack.pump.drain(timeout=60)  # nothing of the setup left in the stream
        counter.take()

        repo.forget_cached_channels()
        started = time.monotonic()
        cold_ops, cold_tables = _post(session, channel, [chats[0]], statuses, counter)
        warm_new = _post(session, channel, chats[1:], statuses, counter)
        stream_new, records_new = _drain(stack, counter)
        follow_chats = [chats[i % customers] for i in range(webhooks - customers)]
        warm_follow = _post(session, channel, follow_chats, statuses, counter)
        stream_follow, records_follow = _drain(stack, counter)
        elapsed = time.monotonic() - started
        hooked = counter.clients
    finally:
        counter.uninstall()

    warm_ops = warm_new[0] + warm_follow[0]
    warm_tables = warm_new[1] + warm_follow[1]
    warm_n = webhooks - 1
    stream_all = stream_new[0] + stream_follow[0]
    return {
        "goal_per_webhook": GOAL_PER_WEBHOOK,
        "webhooks": webhooks, "customers": customers, "statuses": dict(statuses), "hooked_clients": hooked,
        "seconds_from_cold_to_last": round(elapsed, 1),
        "cold": {"total": sum(cold_ops.values()), "by_operation": dict(cold_ops), "by_table": dict(cold_tables)},
        "warm": {"per_webhook": round(sum(warm_ops.values()) / warm_n, 2), "webhooks": warm_n,
                 "by_operation": per_unit(warm_ops, warm_n), "by_table": per_unit(warm_tables, warm_n)},
        "stream": {
            "per_message": round(sum(stream_all.values()) / webhooks, 2),
            "by_operation": per_unit(stream_all, webhooks),
            "new_conversation": _stream_figures(stream_new, customers, records_new),
            "follow_up": _stream_figures(stream_follow, webhooks - customers, records_follow),
        },
    }


def _post(session: requests.Session, channel: harness.Channel, chats: list[int], statuses: Counter[int],
          counter: DynamoCallCounter) -> tuple[Counter[str], Counter[str]]:
    counter.take()
    for chat in chats:
        statuses[harness.post(session, channel, harness.encode(harness.telegram_update(chat, "calls"))).status] += 1
    return counter.take()


def _drain(stack: Any, counter: DynamoCallCounter) -> tuple[tuple[Counter[str], Counter[str]], int]:
    counter.take()
    records = int(stack.pump.drain(timeout=120))
    return counter.take(), records


def _stream_figures(counts: tuple[Counter[str], Counter[str]], messages: int, records: int) -> dict[str, Any]:
    ops, tables = counts
    return {"messages": messages, "stream_records": records,
            "per_message": round(sum(ops.values()) / messages, 2) if messages else 0.0,
            "by_operation": per_unit(ops, messages), "by_table": per_unit(tables, messages)}
